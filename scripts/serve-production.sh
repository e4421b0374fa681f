#!/usr/bin/env bash
# Run Meezan locally the way production runs it: PostgreSQL, migrations, the diagrams deployed,
# gunicorn with several workers (gunicorn.conf.py), the timer worker and the notification worker,
# JSON logs on stdout. Ctrl-C (or SIGTERM) stops all three gracefully.
#
#   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/meezan scripts/serve-production.sh [--demo]
#
# SECRET_KEY comes from the environment; if it is unset, a random key is kept in
# instance/production_secret_key (mode 600) so local restarts keep sessions. A real deployment
# passes it from its secret store. --demo seeds the demo department (never on a real install).
set -euo pipefail
cd "$(dirname "$0")/.."

demo=0
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    *) echo "usage: $0 [--demo]" >&2; exit 2 ;;
  esac
done

: "${DATABASE_URL:?set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/meezan}"
case "$DATABASE_URL" in
  postgres://*|postgresql://*|postgresql+psycopg://*) ;;
  *) echo "production runs on PostgreSQL; DATABASE_URL is $DATABASE_URL" >&2; exit 2 ;;
esac
if [ -z "${SECRET_KEY:-}" ]; then
  mkdir -p instance
  key_file=instance/production_secret_key
  if [ ! -s "$key_file" ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_hex(32))' > "$key_file")
  fi
  SECRET_KEY="$(cat "$key_file")"
fi
export DATABASE_URL SECRET_KEY
export MEEZAN_ENV=production FLASK_APP=wsgi
export MEEZAN_LOG_FORMAT="${MEEZAN_LOG_FORMAT:-json}"

[ -x .venv/bin/gunicorn ] || scripts/setup.sh
.venv/bin/flask db upgrade
.venv/bin/flask deploy-workflows
if [ "$demo" = 1 ]; then
  .venv/bin/flask seed-demo
fi

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

.venv/bin/flask run-timers --interval "${MEEZAN_TIMER_INTERVAL:-30}" &
pids+=($!)
.venv/bin/flask send-notifications --interval "${MEEZAN_NOTIFY_INTERVAL:-15}" &
pids+=($!)
.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app &
pids+=($!)
echo "Meezan (production mode) on http://${MEEZAN_HOST:-127.0.0.1}:${MEEZAN_PORT:-8000}; health: /healthz" >&2
# Exit (and stop the others) as soon as any of the three stops.
wait -n "${pids[@]}"
