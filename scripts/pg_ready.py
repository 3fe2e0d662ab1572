"""Exit 0 when the PostgreSQL server in the given URL accepts a connection."""

import sys

import psycopg

try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:  # any failure means "not ready"
    print(f"PostgreSQL not ready: {exc}", file=sys.stderr)
    sys.exit(1)
