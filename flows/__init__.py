"""Orchestration: Prefect flows that fan jobs out as Ray tasks and log to MLflow; the CLI."""

import os as _os

# Defaults that must be in place before prefect is imported. On a busy 2-core machine the
# ephemeral Prefect server can need more than its 20 s default to start (and migrate SQLite).
_os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
_os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
_os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
