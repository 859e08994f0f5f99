"""A driver killed with kill -9: what it leaves behind, and `syslab runs reconcile` closing it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSLAB = str(Path(sys.executable).parent / "syslab")

_PREFECT_STATES = """
import json, sys
from flows.stores import start_temporary_prefect, stop_temporary_prefect
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
start_temporary_prefect()
try:
    with get_client(sync_client=True) as c:
        fr = c.read_flow_run(sys.argv[1])
        trs = c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])), limit=100)
        print(json.dumps({"flow": fr.state.type.value, "tasks": {t.name: t.state.type.value for t in trs}}))
finally:
    stop_temporary_prefect()
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "SYSLAB_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect"),
           "PYTHONPATH": str(REPO), "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system",
           "TOY_CRASH_DIR": str(tmp_path / "crash"), "SYSLAB_RAY_NUM_CPUS": "2"}
    for k in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "RAY_ADDRESS"):
        env.pop(k, None)
    (tmp_path / "crash").mkdir()
    return env


def _runs(env: dict[str, str]) -> list[dict]:
    code = ("import json; from flows.tracking import client; c = client(); "
            "print(json.dumps([{'id': r.info.run_id, 'status': r.info.status, 'tags': r.data.tags} "
            "for e in c.search_experiments() for r in c.search_runs([e.experiment_id])]))")
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _children(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_kill9_driver_then_reconcile(tmp_path):
    import psutil

    env = _env(tmp_path)
    log = open(tmp_path / "driver.log", "wb")
    driver = subprocess.Popen([SYSLAB, "run", "toy", "-s", "faults", "-m", "expert", "-m", "fast", "-m", "crashy",
                               "-w", "w1"],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    pid_file = tmp_path / "crash" / "pid"
    deadline = time.monotonic() + 300
    while not pid_file.exists():
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the crashy job never started"
        time.sleep(0.5)
    time.sleep(2)  # let the two quick jobs land in MLflow
    servers = [p for p in _children(driver.pid) if "uvicorn" in " ".join(p.cmdline())]
    assert servers, "the driver runs its temporary Prefect API as a child"
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # the temporary Prefect API dies with its driver (PR_SET_PDEATHSIG), the embedded Ray too
    gone, alive = psutil.wait_procs(servers, timeout=15)
    assert not alive, f"temporary Prefect server outlived its driver: {alive}"

    runs = _runs(env)
    parent = next(r for r in runs if r["tags"].get("syslab.kind") == "flow")
    assert parent["status"] == "RUNNING" and parent["tags"]["syslab.driver.pid"] == str(driver.pid)
    flow_run_id = parent["tags"]["syslab.prefect_flow_run_id"]

    r = subprocess.run([SYSLAB, "runs", "reconcile"], env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"closing {parent['id']}" in r.stdout and "set Crashed" in r.stdout, r.stdout

    runs = _runs(env)
    assert not [x for x in runs if x["status"] == "RUNNING"], runs
    parent = next(x for x in runs if x["id"] == parent["id"])
    assert parent["status"] == "KILLED" and "driver died" in parent["tags"]["syslab.error"]
    done = sorted(x["tags"]["syslab.method"] for x in runs if x["tags"].get("syslab.kind") == "job")
    assert done == ["expert", "fast"]  # what finished before the kill is kept

    s = subprocess.run([sys.executable, "-c", _PREFECT_STATES, flow_run_id], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=240)
    assert s.returncode == 0, s.stderr[-2000:]
    states = json.loads(s.stdout.strip().splitlines()[-1])
    assert states["flow"] == "CRASHED"
    assert not [n for n, st in states["tasks"].items() if st in ("RUNNING", "PENDING", "SCHEDULED")], states

    again = subprocess.run([SYSLAB, "runs", "reconcile"], env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=240)
    assert again.returncode == 0 and "no dangling runs" in again.stdout

    # --resume runs only the job that has no finished child run, into the same parent
    r = subprocess.run([SYSLAB, "run", "toy", "--resume", parent["id"]], env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "3 ok, 0 failed" in r.stdout and "Prefect state Completed" in r.stdout, r.stdout[-2000:]
    runs = _runs(env)
    assert not [x for x in runs if x["status"] == "RUNNING"]
    jobs = [x for x in runs if x["tags"].get("syslab.kind") == "job"]
    assert sorted(x["tags"]["syslab.method"] for x in jobs) == ["crashy", "expert", "fast"]  # each once
    parent = next(x for x in runs if x["id"] == parent["id"])
    assert parent["status"] == "FINISHED" and parent["tags"]["syslab.resumes"] == "1"
    assert "syslab.error" not in parent["tags"]
    assert (tmp_path / "crash" / "attempts").read_text().split()[0] == str(_first_attempt_pid(tmp_path))
    assert len((tmp_path / "crash" / "attempts").read_text().split()) == 2  # expert/fast were not re-run


def _first_attempt_pid(tmp_path: Path) -> int:
    return int((tmp_path / "crash" / "pid").read_text())


def _wait_for_crashy(driver, tmp_path: Path) -> None:
    pid_file = tmp_path / "crash" / "pid"
    deadline = time.monotonic() + 300
    while not pid_file.exists():
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the crashy job never started"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, said, error", [(signal.SIGTERM, 143, "terminated by SIGTERM", "Terminated"),
                                                    (signal.SIGINT, 130, "SIGINT", "KeyboardInterrupt")],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_closes_everything_it_opened(tmp_path, sig, code, said, error):
    """SIGTERM/SIGINT mid-flow: exit 143/130, MLflow parent KILLED, open task runs and the flow Crashed, no server left."""
    import psutil

    env = _env(tmp_path)
    log = open(tmp_path / "driver.log", "wb")
    driver = subprocess.Popen([SYSLAB, "run", "toy", "-s", "faults", "-m", "expert", "-m", "crashy", "-w", "w1"],
                              env=env, cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT)
    _wait_for_crashy(driver, tmp_path)
    servers = [p for p in _children(driver.pid) if "uvicorn" in " ".join(p.cmdline())]
    t0 = time.monotonic()
    driver.send_signal(sig)
    rc = driver.wait(timeout=120)
    stop_s = time.monotonic() - t0
    out = (tmp_path / "driver.log").read_text()
    assert rc == code, out[-3000:]
    assert f"interrupted ({said})" in out
    _, alive = psutil.wait_procs(servers, timeout=10)
    assert not alive
    runs = _runs(env)
    assert not [x for x in runs if x["status"] == "RUNNING"], runs
    parent = next(x for x in runs if x["tags"].get("syslab.kind") == "flow")
    assert parent["status"] == "KILLED" and error in parent["tags"]["syslab.error"]
    s = subprocess.run([sys.executable, "-c", _PREFECT_STATES, parent["tags"]["syslab.prefect_flow_run_id"]],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    states = json.loads(s.stdout.strip().splitlines()[-1])
    assert states["flow"] == "CRASHED" and states["tasks"]["toy/w1/crashy/s0"] == "CRASHED", states
    assert stop_s < 60, f"{sig.name} took {stop_s:.0f}s to stop the driver"


@pytest.mark.slow
def test_worker_killed_with_retries_off_is_a_crashed_task(tmp_path):
    """SYSLAB_RAY_MAX_RETRIES=0 and the worker killed: task run Crashed, child FAILED, flow Partial; --strict exits 1."""
    env = {**_env(tmp_path), "SYSLAB_RAY_MAX_RETRIES": "0"}
    log = open(tmp_path / "driver.log", "wb")
    driver = subprocess.Popen([SYSLAB, "run", "toy", "-s", "faults", "-m", "expert", "-m", "crashy", "-w", "w1",
                               "--strict"],
                              env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    _wait_for_crashy(driver, tmp_path)
    os.kill(_first_attempt_pid(tmp_path), signal.SIGKILL)
    rc = driver.wait(timeout=300)
    out = (tmp_path / "driver.log").read_text()
    assert rc == 1 and "Prefect state Partial" in out, out[-3000:]
    runs = _runs(env)
    crashy = next(x for x in runs if x["tags"].get("syslab.method") == "crashy")
    assert crashy["status"] == "FAILED" and "crashed outside the system code" in crashy["tags"]["syslab.error"]
    parent = next(x for x in runs if x["tags"].get("syslab.kind") == "flow")
    s = subprocess.run([sys.executable, "-c", _PREFECT_STATES, parent["tags"]["syslab.prefect_flow_run_id"]],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    states = json.loads(s.stdout.strip().splitlines()[-1])
    assert states["tasks"] == {"toy/w1/expert/s0": "COMPLETED", "toy/w1/crashy/s0": "CRASHED"}, states


@pytest.mark.slow
def test_nightly_system_timeout_stops_a_hanging_system(tmp_path):
    """A system that hangs is stopped at the per-system timeout: its runs closed, the sweep reported."""
    env = {**_env(tmp_path), "TOY_SLEEP_S": "600", "SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S": "45"}
    t0 = time.monotonic()
    r = subprocess.run([SYSLAB, "nightly", "run", "--systems", "toy", "--suite", "cluster"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]  # every system of the sweep failed
    assert "FAILED" in r.stdout and "Timeout" in r.stdout, r.stdout[-3000:]
    assert wall < 300, f"{wall:.0f}s"
    runs = _runs(env)
    assert not [x for x in runs if x["status"] == "RUNNING"], runs
    parent = next(x for x in runs if x["tags"].get("syslab.kind") == "flow")
    assert parent["status"] == "FAILED" and "Timeout" in parent["tags"]["syslab.error"]
