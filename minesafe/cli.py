"""The `minesafe` command: Django's management commands under one name (`minesafe run`, `minesafe audit verify`)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minesafe.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["minesafe", *sys.argv[1:]])


if __name__ == "__main__":
    main()
