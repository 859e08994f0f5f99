"""Prefect's CLI under the lock: list commands and `prefect deploy --all` against a real server.

prefect 3.8.8's client sends ``{"limit": null}`` to ``/work_pools/filter``, ``/flow_runs/filter``,
``/deployments/filter``; its server reads ``limit: int = Body(None)``. fastapi >= 0.151 validates the
explicit null against ``int`` and answers 422 (what made `prefect deploy --all` exit 1 after creating
the deployment); fastapi 0.150 treats it as "not given". requirements/base.in pins fastapi<0.151.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_explicit_null_limit_is_accepted_by_prefects_limit_body():
    """The server-side dependency that answered 422, in a two-route app (no server needed)."""
    from fastapi import Body, FastAPI
    from fastapi.testclient import TestClient
    from prefect.server.api.dependencies import LimitBody
    from prefect.settings import PREFECT_SERVER_API_DEFAULT_LIMIT

    app = FastAPI()

    @app.post("/filter")
    def read(limit: int = LimitBody(), offset: int = Body(0, ge=0)):  # two body fields, as in Prefect
        return {"limit": limit}

    client = TestClient(app)
    default = PREFECT_SERVER_API_DEFAULT_LIMIT.value()
    r = client.post("/filter", json={"limit": None, "offset": 0})
    assert r.status_code == 200, r.text
    assert r.json() == {"limit": default}
    assert client.post("/filter", json={"limit": 3}).json() == {"limit": 3}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect(args, env, timeout=180):
    exe = str(Path(sys.executable).parent / "prefect")
    return subprocess.run([exe, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_deploy_all_and_list_commands_against_a_real_server(tmp_path):
    """`prefect deploy --all` from prefect.yaml exits 0, and work-pool/flow-run/deployment ls work."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
                               "127.0.0.1", "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=open(tmp_path / "server.log", "wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "prefect server did not start"
                time.sleep(1)
        for args in (["work-pool", "ls"], ["flow-run", "ls"], ["deployment", "ls"]):
            r = _prefect(args, env)
            assert r.returncode == 0, f"prefect {' '.join(args)}: {r.stdout[-1500:]}{r.stderr[-1500:]}"
        assert _prefect(["work-pool", "create", "syslab-process", "--type", "process"], env).returncode == 0
        r = _prefect(["--no-prompt", "deploy", "--all"], env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        r = _prefect(["deployment", "ls"], env)
        assert r.returncode == 0 and "nightly/syslab-nightly" in r.stdout, r.stdout + r.stderr
        r = _prefect(["deployment", "inspect", "nightly/syslab-nightly"], env)
        assert r.returncode == 0 and "0 2 * * *" in r.stdout and "syslab-process" in r.stdout, r.stdout
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()
        shutil.rmtree(tmp_path / "prefect", ignore_errors=True)
