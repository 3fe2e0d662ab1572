#!/usr/bin/env python
from minesafe.cli import main

if __name__ == "__main__":
    main()
