#!/usr/bin/env bash
# Prefect server for syslab (foreground). Needed for schedules (cron) and for Ray workers on
# other machines, which report task state to PREFECT_API_URL.
#
#   infra/prefect-server.sh                      # SQLite under $PREFECT_HOME (Prefect's default)
#   eval "$(infra/postgres.sh start | sed 's/^/export /')"
#   infra/prefect-server.sh                      # now backed by PostgreSQL (asyncpg)
#
# Settings (environment):
#   PREFECT_API_DATABASE_CONNECTION_URL  e.g. postgresql+asyncpg://user:pass@db:5432/prefect (unset: SQLite)
#   SYSLAB_PREFECT_HOST / SYSLAB_PREFECT_PORT  bind address (default 127.0.0.1:4200; 0.0.0.0 to serve a cluster)
# Clients: export PREFECT_API_URL=http://<host>:<port>/api
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST="${SYSLAB_PREFECT_HOST:-127.0.0.1}"
PORT="${SYSLAB_PREFECT_PORT:-4200}"
PREFECT="${SYSLAB_PREFECT_BIN:-$REPO/.venv/bin/prefect}"
[[ -x "$PREFECT" ]] || PREFECT="$(command -v prefect)"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
db="${PREFECT_API_DATABASE_CONNECTION_URL:-sqlite (PREFECT_HOME=${PREFECT_HOME:-~/.prefect})}"
echo "prefect server on http://$HOST:$PORT/api  database=${db%%@*}@..." >&2
exec "$PREFECT" server start --host "$HOST" --port "$PORT"
