#!/usr/bin/env bash
# MLflow tracking server for syslab (foreground; run it under a supervisor or in the background).
#
#   infra/mlflow-server.sh                       # SQLite backend in $SYSLAB_HOME (the embedded default)
#   eval "$(infra/postgres.sh start | sed 's/^/export /')"
#   infra/mlflow-server.sh                       # now backed by PostgreSQL
#
# Settings (environment):
#   MLFLOW_BACKEND_STORE_URI  runs/params/metrics store (default sqlite:///$SYSLAB_HOME/mlflow.db;
#                             e.g. postgresql+psycopg2://user:pass@db:5432/mlflow -- name the driver:
#                             SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, not installed)
#   SYSLAB_ARTIFACT_ROOT      where the server stores artifacts (default $SYSLAB_HOME/artifacts;
#                             any MLflow artifact URI: s3://bucket/syslab, gs://..., a shared mount)
#   SYSLAB_MLFLOW_HOST / SYSLAB_MLFLOW_PORT   bind address (default 127.0.0.1:5000)
# Clients then use MLFLOW_TRACKING_URI=http://<host>:<port>: artifacts are proxied by the server
# (--serve-artifacts), so workers need no access to the artifact store itself, and only the
# server writes to the database (no SQLite "database is locked" between processes).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${SYSLAB_HOME:-$REPO/.syslab}"
mkdir -p "$HOME_DIR"
BACKEND="${MLFLOW_BACKEND_STORE_URI:-sqlite:///$HOME_DIR/mlflow.db}"
ARTIFACTS="${SYSLAB_ARTIFACT_ROOT:-$HOME_DIR/artifacts}"
HOST="${SYSLAB_MLFLOW_HOST:-127.0.0.1}"
PORT="${SYSLAB_MLFLOW_PORT:-5000}"
MLFLOW="${SYSLAB_MLFLOW_BIN:-$REPO/.venv/bin/mlflow}"
[[ -x "$MLFLOW" ]] || MLFLOW="$(command -v mlflow)"
case "$ARTIFACTS" in *://*) ;; *) mkdir -p "$ARTIFACTS" ;; esac
echo "mlflow server on http://$HOST:$PORT  backend=${BACKEND%%@*}@...  artifacts=$ARTIFACTS" >&2
exec "$MLFLOW" server --host "$HOST" --port "$PORT" --backend-store-uri "$BACKEND" \
    --artifacts-destination "$ARTIFACTS" --serve-artifacts --workers "${SYSLAB_MLFLOW_WORKERS:-1}"
