"""A real two-node Ray cluster on this machine: a suite runs on both nodes, one node dies mid-job.

`ray start --head` plus a second `ray start --address` with its own temp dir (both with token
authentication, as a real cluster has), then `syslab run toy -s cluster` against it with
RAY_ADDRESS. While a job runs on the second node, that node's whole process group is killed
(`kill -9`: raylet, agents, workers). The job is retried on the head; every job is recorded
exactly once; jobs ran on both nodes; the retried job shows its two attempts.
"""

from __future__ import annotations

import json
import os
import secrets
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
BIN = Path(sys.executable).parent


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("", 0))
            port = s.getsockname()[1]
        if not 10002 <= port <= 19999:  # outside Ray's worker-port range
            return port


def _node_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: just the outward interface's address
        return s.getsockname()[0]


_NODES = """
import json, ray
ray.init(log_to_driver=False)
print(json.dumps([{"id": n["NodeID"], "head": "node:__internal_head__" in n["Resources"]}
                  for n in ray.nodes() if n["Alive"]]))
"""


def _nodes(env) -> list[dict]:
    r = subprocess.run([sys.executable, "-c", _NODES], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return []
    return json.loads(r.stdout.strip().splitlines()[-1])


def _runs(env) -> list[dict]:
    code = ("import json; from flows.tracking import client; c = client(); "
            "print(json.dumps([{'id': r.info.run_id, 'status': r.info.status, 'tags': r.data.tags, "
            "'metrics': r.data.metrics} for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]))")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.mark.slow
def test_two_node_cluster_runs_a_suite_and_survives_losing_a_node(tmp_path):
    short = Path(tempfile.mkdtemp(prefix="slc-", dir="/tmp"))  # Ray's socket paths must stay short
    crash = tmp_path / "crash"
    crash.mkdir()
    ip, port = _node_ip(), _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(16), "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system",
           "TOY_CRASH_DIR": str(crash), "TOY_SLEEP_S": "4", "SYSLAB_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    for k in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI", "PREFECT_API_URL", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
        env.pop(k, None)
    ray_bin = str(BIN / "ray")
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", "--port", str(port), "--num-cpus", "1",
                             "--ray-client-server-port", str(_free_port()), "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", str(short / "h")],
                            env=env, stdout=open(tmp_path / "head.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    worker = None
    try:
        driver_env = {**env, "RAY_ADDRESS": f"{ip}:{port}"}
        deadline = time.monotonic() + 180
        while not _nodes(driver_env):
            assert head.poll() is None, (tmp_path / "head.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "head did not come up"
            time.sleep(2)
        worker = subprocess.Popen([ray_bin, "start", "--block", "--address", f"{ip}:{port}", "--num-cpus", "1",
                                   "--disable-usage-stats", "--temp-dir", str(short / "w")],
                                  env=env, stdout=open(tmp_path / "worker.log", "wb"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        while len(nodes := _nodes(driver_env)) < 2:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "second node did not join"
            time.sleep(2)
        head_id = next(n["id"] for n in nodes if n["head"])
        second_id = next(n["id"] for n in nodes if not n["head"])

        driver = subprocess.Popen([str(BIN / "syslab"), "run", "toy", "-s", "cluster"], env=driver_env, cwd=REPO,
                                  stdout=open(tmp_path / "driver.log", "wb"), stderr=subprocess.STDOUT)
        # kill the second node while it runs its second (or later) sleepy job
        killed_job, deadline = None, time.monotonic() + 400
        while killed_job is None:
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no job ever ran twice on the second node"
            ran = (crash / "ran").read_text().split("\n") if (crash / "ran").exists() else []
            on_second = [line.split() for line in ran if line.split()[1:2] == [second_id]]
            running = list((crash / "running").glob(f"{second_id}-*")) if (crash / "running").exists() else []
            if len(on_second) >= 2 and running:
                pid = running[0].name.rsplit("-", 1)[1]
                killed_job = [j for j, _, p in on_second if p == pid][-1]  # a worker runs jobs one after another
                _kill_group(worker)
            time.sleep(0.2)
        rc = driver.wait(timeout=600)
        out = (tmp_path / "driver.log").read_text()
        assert rc == 0, out[-4000:]
        assert "16 ok, 0 failed" in out and "Prefect state Completed" in out, out[-3000:]

        runs = _runs(env)
        jobs = [r for r in runs if r["tags"].get("syslab.kind") == "job"]
        keys = [r["tags"]["syslab.job_key"] for r in jobs]
        assert len(keys) == 16 and len(set(keys)) == 16, sorted(keys)  # every job exactly once
        assert all(r["status"] == "FINISHED" for r in jobs)
        nodes_used = {r["tags"]["syslab.ray_node_id"] for r in jobs}
        assert nodes_used == {head_id, second_id}, (nodes_used, head_id, second_id)
        killed = next(r for r in jobs if r["tags"]["syslab.job_key"] == killed_job)
        assert killed["tags"]["syslab.ray_node_id"] == head_id  # its retry ran on the surviving node
        assert killed["metrics"]["ray_attempts"] >= 2 and killed["metrics"]["ray_retry_lost_s"] > 0
        assert not [r for r in runs if r["status"] == "RUNNING"]
    finally:
        if worker is not None and worker.poll() is None:
            _kill_group(worker)
        _kill_group(head)
        shutil.rmtree(short, ignore_errors=True)
