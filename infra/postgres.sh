#!/usr/bin/env bash
# A local PostgreSQL for syslab's services: one cluster, two databases (mlflow, prefect).
#
#   infra/postgres.sh start     # initdb on first use, start, create the databases; prints the URLs
#   infra/postgres.sh urls      # print the MLflow and Prefect connection URLs (export-able lines)
#   infra/postgres.sh status | stop
#
# Settings (environment):
#   SYSLAB_PG_DATA   data directory          (default $SYSLAB_HOME/postgres, SYSLAB_HOME default <repo>/.syslab)
#   SYSLAB_PG_PORT   TCP port on 127.0.0.1   (default 5433, so it does not clash with a system PostgreSQL)
#   SYSLAB_PG_USER   superuser name          (default syslab)
#   SYSLAB_PG_BIN    directory of initdb/pg_ctl (default: found on PATH or /usr/lib/postgresql/*/bin)
#
# The MLflow URL names the driver (postgresql+psycopg2://): SQLAlchemy 2.1 maps a bare
# postgresql:// to psycopg 3, which syslab's lock file does not install.
# Authentication is `trust` on 127.0.0.1 only: a single-user development/CI setup. For a shared
# or remote database use a managed PostgreSQL with passwords/TLS and put its URL in
# MLFLOW_BACKEND_STORE_URI / PREFECT_API_DATABASE_CONNECTION_URL (see infra/README.md).
# PostgreSQL refuses to run as root: when run as root the server runs as the `postgres` user
# (Debian package), so the data directory's parents must be traversable by that user.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${SYSLAB_HOME:-$REPO/.syslab}"
PGDATA="${SYSLAB_PG_DATA:-$HOME_DIR/postgres}"
PORT="${SYSLAB_PG_PORT:-5433}"
PGUSER_NAME="${SYSLAB_PG_USER:-syslab}"
HOST=127.0.0.1

find_bin() {
    if [[ -n "${SYSLAB_PG_BIN:-}" ]]; then
        [[ -x "$SYSLAB_PG_BIN/initdb" ]] || { echo "error: SYSLAB_PG_BIN=$SYSLAB_PG_BIN has no initdb" >&2; exit 2; }
        echo "$SYSLAB_PG_BIN"; return
    fi
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
    echo "error: PostgreSQL server binaries (initdb, pg_ctl) not found; install them (Debian: apt-get install -y postgresql) or set SYSLAB_PG_BIN" >&2
    exit 2
}

# Run a server-side command as the data directory's owner (postgres when we are root).
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || { echo "error: running as root needs a 'postgres' user (Debian package creates it)" >&2; exit 2; }
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

psql_cmd() {
    local psql="$BIN/psql"
    [[ -x "$psql" ]] || psql="$(command -v psql || true)"
    [[ -n "$psql" ]] || { echo "error: psql not found next to $BIN or on PATH" >&2; exit 2; }
    "$psql" -h "$HOST" -p "$PORT" -U "$PGUSER_NAME" -d postgres -v ON_ERROR_STOP=1 -qtAX "$@"; }

urls() {
    echo "MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://$PGUSER_NAME@$HOST:$PORT/mlflow"
    echo "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://$PGUSER_NAME@$HOST:$PORT/prefect"
}

cmd="${1:-}"
case "$cmd" in
  start)
    BIN="$(find_bin)"
    if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
        mkdir -p "$PGDATA"
        [[ "$(id -u)" == 0 ]] && chown postgres: "$PGDATA"
        chmod 700 "$PGDATA"
        as_owner "$BIN/initdb" -D "$PGDATA" -U "$PGUSER_NAME" --auth=trust -E UTF8 --no-locale >"$PGDATA/../initdb-$(basename "$PGDATA").log" 2>&1 \
            || { echo "error: initdb failed; see $PGDATA/../initdb-$(basename "$PGDATA").log" >&2; exit 1; }
    fi
    if as_owner "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        echo "postgres already running in $PGDATA" >&2
    else
        # Socket in the data dir (no /var/run/postgresql needed); TCP on 127.0.0.1 only.
        as_owner "$BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
            -o "-p $PORT -k $PGDATA -c listen_addresses=$HOST" start >/dev/null \
            || { echo "error: postgres did not start; see $PGDATA/server.log" >&2; tail -20 "$PGDATA/server.log" >&2 || true; exit 1; }
    fi
    for db in mlflow prefect; do
        exists="$(psql_cmd -c "select 1 from pg_database where datname='$db'")"
        [[ "$exists" == "1" ]] || psql_cmd -c "create database $db"
    done
    urls
    ;;
  urls)
    urls
    ;;
  status)
    BIN="$(find_bin)"
    as_owner "$BIN/pg_ctl" -D "$PGDATA" status
    ;;
  stop)
    BIN="$(find_bin)"
    as_owner "$BIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop
    ;;
  *)
    echo "usage: $0 start|stop|status|urls" >&2
    exit 2
    ;;
esac
