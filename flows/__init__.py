"""Orchestration: Prefect flows that fan jobs out as Ray tasks and log to MLflow; the CLI."""
