"""Static and dry-run checks of infra/: scripts parse, take their settings, the worker image pins."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
SCRIPTS = sorted(INFRA.glob("*.sh"))


def test_scripts_exist_are_executable_and_parse():
    assert {p.name for p in SCRIPTS} >= {"postgres.sh", "mlflow-server.sh", "prefect-server.sh"}
    for p in SCRIPTS:
        assert os.access(p, os.X_OK), f"{p} is not executable"
        r = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
        assert r.returncode == 0, f"{p}: {r.stderr}"


def test_postgres_script_errors_are_clear(tmp_path):
    r = subprocess.run([str(INFRA / "postgres.sh")], capture_output=True, text=True)
    assert r.returncode == 2 and "usage:" in r.stderr
    r = subprocess.run([str(INFRA / "postgres.sh"), "start"], capture_output=True, text=True,
                       env={**os.environ, "SYSLAB_PG_BIN": str(tmp_path), "SYSLAB_PG_DATA": str(tmp_path / "d")})
    assert r.returncode == 2 and "has no initdb" in r.stderr
    r = subprocess.run([str(INFRA / "postgres.sh"), "urls"], capture_output=True, text=True,
                       env={**os.environ, "SYSLAB_PG_PORT": "6543"})
    assert r.stdout.split() == ["MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://syslab@127.0.0.1:6543/mlflow",
                                "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://syslab@127.0.0.1:6543/prefect"]


def _dry(script: str, env: dict[str, str]) -> list[str]:
    """Run a server script with ``echo`` as the server binary: returns the command it would exec."""
    r = subprocess.run([str(INFRA / script)], capture_output=True, text=True, timeout=30,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_mlflow_server_script_uses_backend_and_artifact_root(tmp_path):
    args = _dry("mlflow-server.sh", {"SYSLAB_MLFLOW_BIN": "/bin/echo", "SYSLAB_HOME": str(tmp_path),
                                     "MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg2://u@db:5432/mlflow",
                                     "SYSLAB_ARTIFACT_ROOT": "s3://bucket/syslab", "SYSLAB_MLFLOW_PORT": "5999"})
    assert args[:5] == ["server", "--host", "127.0.0.1", "--port", "5999"]
    assert args[args.index("--backend-store-uri") + 1] == "postgresql+psycopg2://u@db:5432/mlflow"
    assert args[args.index("--artifacts-destination") + 1] == "s3://bucket/syslab" and "--serve-artifacts" in args
    args = _dry("mlflow-server.sh", {"SYSLAB_MLFLOW_BIN": "/bin/echo", "SYSLAB_HOME": str(tmp_path),
                                     "MLFLOW_BACKEND_STORE_URI": "", "SYSLAB_ARTIFACT_ROOT": ""})
    assert args[args.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/mlflow.db"
    assert (tmp_path / "artifacts").is_dir()


def test_prefect_server_script_binds_where_asked():
    args = _dry("prefect-server.sh", {"SYSLAB_PREFECT_BIN": "/bin/echo", "SYSLAB_PREFECT_HOST": "0.0.0.0",
                                      "SYSLAB_PREFECT_PORT": "4300"})
    assert args == ["server", "start", "--host", "0.0.0.0", "--port", "4300"]


def _copy_sources(text: str) -> list[str]:
    out = []
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        parts = line.split()
        out += [p for p in parts[:-1] if not p.startswith("--")]
    return out


def test_worker_image_installs_the_pinned_lock_file_and_bakes_in_the_code():
    text = (INFRA / "worker.Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert re.search(r"pip install .*-r requirements/lock\.txt", text)
    assert "pip install --no-deps -e ." in text  # syslab itself must not re-resolve the pins
    sources = _copy_sources(text)
    for src in sources:
        assert (REPO / src).exists(), f"COPY source {src} missing from the repo"
    for pkg in ("systems", "flows", "prefect.yaml", "requirements/lock.txt"):
        assert pkg in sources, f"{pkg} is not baked into the image"
    assert "VOLUME" not in text and re.search(r"^ENV .*SYSLAB_GIT_SHA=\$\{SYSLAB_GIT_SHA\}", text, re.M | re.S)
    assert re.search(r"^USER 1000$", text, re.M)
    lock = (REPO / "requirements" / "lock.txt").read_text()
    pins = dict(line.split("==", 1) for line in lock.splitlines() if "==" in line and not line.startswith("#"))
    for pkg in ("prefect", "prefect-ray", "mlflow", "torch", "psycopg2-binary", "asyncpg", "ray"):
        assert pkg in pins, f"{pkg} is not pinned in requirements/lock.txt"


def test_worker_image_context_keeps_what_it_copies():
    """infra/worker.Dockerfile.dockerignore excludes everything but the COPY sources."""
    ignore = [line.strip() for line in (INFRA / "worker.Dockerfile.dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*"
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert set(_copy_sources((INFRA / "worker.Dockerfile").read_text())) <= kept


@pytest.mark.parametrize("doc", ["infra/README.md", "docs/nightly.md"])
def test_docs_name_the_remote_setup(doc):
    text = (REPO / doc).read_text()
    for needle in ("PREFECT_API_URL", "RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PostgreSQL"):
        assert needle in text, f"{doc} does not mention {needle}"
