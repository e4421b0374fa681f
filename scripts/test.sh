#!/usr/bin/env bash
# Set up, lint, and run the whole test suite twice: on SQLite, then on PostgreSQL
# (MEEZAN_TEST_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test).
# Extra arguments go to pytest (e.g. scripts/test.sh -k api).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check .

PG_URL="${MEEZAN_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if ! .venv/bin/python - "$PG_URL" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("+psycopg", ""), connect_timeout=5).close()
except Exception as exc:
    sys.exit(f"PostgreSQL is not reachable at {sys.argv[1]}: {exc}")
PY
then
  exit 1
fi

echo "== pytest on SQLite =="
env -u MEEZAN_TEST_DATABASE_URL .venv/bin/python -m pytest "$@"
echo "== pytest on PostgreSQL ($PG_URL) =="
MEEZAN_TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "$@"
