"""Production-like services on a real PostgreSQL: MLflow's store and the Prefect server's database.

Starts a throwaway cluster with ``infra/postgres.sh`` (Debian ``postgresql`` package), a Prefect
server on it with ``infra/prefect-server.sh``, runs ``syslab nightly run`` (toy system, smoke
suite) with MLflow backed by ``postgresql://``, and checks the runs in both stores. Skips with
the reason when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "infra" / "postgres.sh"


def _pg_bin() -> str | None:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return os.path.dirname(shutil.which("initdb"))
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _skip_reason() -> str | None:
    if _pg_bin() is None:
        return "PostgreSQL server binaries (initdb/pg_ctl) not installed: apt-get install -y postgresql"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to own the cluster"
    return None


@pytest.fixture
def postgres():
    """A running cluster on a free port; yields the URLs; always stopped and removed."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = tempfile.mkdtemp(prefix="syslab-pg-", dir="/tmp")
    os.chmod(root, 0o755)  # the postgres user (when we are root) must traverse it
    env = {**os.environ, "SYSLAB_PG_DATA": f"{root}/data", "SYSLAB_PG_PORT": str(_free_port()),
           "SYSLAB_PG_BIN": _pg_bin()}
    try:
        out = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        urls = dict(line.split("=", 1) for line in out.stdout.split())
        yield urls
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=90)
        shutil.rmtree(root, ignore_errors=True)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} not up in {seconds:.0f} s: {log.read_text()[-2000:]}"
        time.sleep(1)


@pytest.mark.slow  # ~15 s of initdb/start/stop: kept out of the default run's budget
def test_postgres_script_is_idempotent_and_reports_urls(postgres):
    assert postgres["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://syslab@127.0.0.1:")
    assert postgres["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    import sqlalchemy

    eng = sqlalchemy.create_engine(postgres["MLFLOW_BACKEND_STORE_URI"].rsplit("/", 1)[0] + "/postgres")
    with eng.connect() as c:
        dbs = {r[0] for r in c.execute(sqlalchemy.text("select datname from pg_database"))}
    eng.dispose()
    assert {"mlflow", "prefect"} <= dbs


@pytest.mark.slow
@pytest.mark.services
def test_smoke_sweep_with_mlflow_and_prefect_on_postgres(postgres, tmp_path):
    import httpx
    from mlflow.tracking import MlflowClient

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "SYSLAB_HOME": str(tmp_path / "syslab"),
           "PREFECT_API_DATABASE_CONNECTION_URL": postgres["PREFECT_API_DATABASE_CONNECTION_URL"],
           "SYSLAB_PREFECT_PORT": str(port), "PREFECT_UI_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = tmp_path / "prefect.log"
    with open(log, "w") as fh:
        server = subprocess.Popen([str(REPO / "infra" / "prefect-server.sh")], env=env, stdout=fh,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_http(f"{api}/health", server, log, 240)
        run_env = {**env, "PREFECT_API_URL": api, "MLFLOW_TRACKING_URI": postgres["MLFLOW_BACKEND_STORE_URI"],
                   "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system",
                   "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
        run_env.pop("PREFECT_API_DATABASE_CONNECTION_URL")
        # cwd = tmp: a non-SQLite store without a server puts default artifacts under ./mlruns.
        out = subprocess.run([str(Path(sys.executable).parent / "syslab"), "nightly", "run", "--systems", "toy",
                              "--suite", "smoke"], env=run_env, cwd=tmp_path, capture_output=True, text=True,
                             timeout=480)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
        assert "| toy | smoke | ok | 4/0 |" in out.stdout and "Nightly regression report" in out.stdout

        c = MlflowClient(tracking_uri=postgres["MLFLOW_BACKEND_STORE_URI"])
        exp = c.get_experiment_by_name("syslab/toy")
        runs = c.search_runs([exp.experiment_id])
        kinds = sorted(r.data.tags["syslab.kind"] for r in runs)
        assert kinds == ["flow"] + ["job"] * 4
        assert {r.data.tags["syslab.run_reason"] for r in runs} == {"manual"}
        assert len({r.data.tags["syslab.nightly_id"] for r in runs}) == 1
        assert all(r.info.status == "FINISHED" for r in runs)
        report_runs = c.search_runs([c.get_experiment_by_name("syslab-nightly").experiment_id])
        assert len(report_runs) == 1 and report_runs[0].data.metrics["n_new"] == 6

        # The Prefect server (on PostgreSQL) holds the nightly flow run and its sub-flow.
        flow_runs = httpx.post(f"{api}/flow_runs/filter", json={"limit": 50}, timeout=30).json()
        names = {fr["name"] for fr in flow_runs}
        states = {fr["state_type"] for fr in flow_runs}
        assert "nightly-toy-smoke" in names and states == {"COMPLETED"} and len(flow_runs) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
