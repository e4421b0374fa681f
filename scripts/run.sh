#!/usr/bin/env bash
# Set up, create the database (SQLite in instance/ unless DATABASE_URL is set), deploy the
# diagrams in workflows/, seed the demo department and serve Meezan on http://127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask deploy-workflows
.venv/bin/flask seed-demo
echo "Meezan is running on http://${MEEZAN_HOST:-127.0.0.1}:${MEEZAN_PORT:-5000} — sign in as ro1 / meezan-demo (see README)"
exec .venv/bin/gunicorn --workers "${MEEZAN_WORKERS:-2}" --threads 4 \
  --bind "${MEEZAN_HOST:-127.0.0.1}:${MEEZAN_PORT:-5000}" --access-logfile - wsgi:app
