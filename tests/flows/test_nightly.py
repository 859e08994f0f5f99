"""The nightly sweep: unit pieces, two consecutive sweeps end to end, the CLI, cron on a real server.

This module also *defines* the tiny systems the end-to-end test sweeps (registered through
``SYSLAB_EXTRA_SYSTEMS=tests.flows.test_nightly``; Ray workers import it the same way):

- ``ntoy``: ``expert`` (baseline, 2.0), ``fast`` (1.0 x the factor in ``$NTOY_FACTOR_FILE``) and
  ``lost`` (3.0: always loses to the expert); primary metric ``time_s`` (lower is better), quality
  metric ``acc`` (0.9 for all);
- ``nraise``: its status hook raises, and only the sub-flow calls it, so its *sub-flow* raises after
  the nightly has validated it: the nightly must record the failure and go on.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataclasses import dataclass

from systems.core import SUITES, Job, JobResult, Method, QualityGate, Suite, SystemSpec, grid

REPO = Path(__file__).resolve().parents[2]


# --- the test systems (importable by Ray workers) ----------------------------------------------
def ntoy_run(job: Job, cfg=None) -> JobResult:
    path = os.environ.get("NTOY_FACTOR_FILE")
    factor = float(Path(path).read_text()) if path and Path(path).exists() else 1.0
    value = {"expert": 2.0, "fast": 1.0 * factor, "lost": 3.0}[job.method]
    return JobResult("ntoy", job.workload, job.method, job.seed, metrics={"time_s": value, "acc": 0.9})


def nraise_status() -> str:
    """Called inside the sub-flow only (after the nightly has validated the system)."""
    raise RuntimeError("nraise: job list exploded inside the sub-flow")


@dataclass
class _NConfig:
    """Nothing to configure."""

    seed: int = 0
    """Set from the job."""


def _w(name: str) -> dict:
    if name != "w1":
        raise ValueError(f"unknown workload {name!r}; valid: w1")
    return {}


_NSUITES = {s: Suite(grid(["w1"], ["expert", "fast", "lost"])) for s in (*SUITES, "nightly_gpu")}
NTOY = SystemSpec(name="ntoy", description="nightly test system", primary_metric="time_s", direction="min",
                  methods=(Method("expert", "baseline"), Method("fast"), Method("lost")),
                  configs={"default": _NConfig}, suites=_NSUITES, workload_overrides=_w,
                  reference_baseline="expert", runner="tests.flows.test_nightly:ntoy_run",
                  quality=QualityGate("acc", "max", 0.01))
NRAISE = SystemSpec(name="nraise", description="nightly failure-isolation system", primary_metric="time_s",
                    direction="min", methods=(Method("expert", "baseline"),), configs={"default": _NConfig},
                    suites={s: Suite(grid(["w1"], ["expert"])) for s in SUITES}, workload_overrides=_w,
                    runner="tests.flows.test_nightly:ntoy_run", status_hook="tests.flows.test_nightly:nraise_status")
SPEC = NTOY  # the registry reads SPEC; NRAISE is registered by the fixture below


# --- unit pieces -------------------------------------------------------------------------------
def test_benchmark_hash_tracks_the_definition_only():
    from flows.nightly import benchmark_hash

    jobs = NTOY.jobs("smoke")
    h = benchmark_hash(NTOY, "smoke", jobs)
    assert len(h) == 12 and h == benchmark_hash(NTOY, "smoke", list(reversed(jobs)))
    assert h != benchmark_hash(NTOY, "nightly", NTOY.jobs("nightly"))
    assert h != benchmark_hash(NTOY, "smoke", NTOY.jobs("smoke", seeds=2))
    assert h != benchmark_hash(NTOY, "smoke", NTOY.jobs("smoke", methods=["expert", "fast"]))
    import dataclasses

    assert h != benchmark_hash(dataclasses.replace(NTOY, benchmark_version="2"), "smoke", jobs)
    assert h != benchmark_hash(dataclasses.replace(NTOY, direction="max"), "smoke", jobs)


def test_gpu_variant_is_chosen_only_with_gpus_and_when_defined():
    from flows.nightly import suite_for

    assert suite_for(NTOY, "nightly", 0) == "nightly"
    assert suite_for(NTOY, "nightly", 2) == "nightly_gpu"
    assert suite_for(NRAISE, "nightly", 2) == "nightly"


def test_local_timezone_and_deployment(monkeypatch):
    from flows import nightly

    monkeypatch.setenv("SYSLAB_NIGHTLY_TZ", "Europe/Berlin")
    assert nightly.local_timezone() == "Europe/Berlin"
    dep = nightly.build_deployment(cron="15 3 * * *", systems=["ntoy"], suite="smoke")
    (sched,) = dep.schedules
    assert sched.schedule.cron == "15 3 * * *" and sched.schedule.timezone == "Europe/Berlin"
    assert dep.parameters == {"systems": ["ntoy"], "suite": "smoke"} and dep.name == "syslab-nightly"
    assert dep.entrypoint == "flows.nightly.nightly_flow"
    with pytest.raises(ValueError, match="not a valid cron"):
        nightly.build_deployment(cron="99 2 * * *")
    with pytest.raises(ValueError, match="not an IANA timezone"):
        nightly.build_deployment(timezone="Mars/Olympus")


def test_prefect_yaml_matches_the_code():
    import yaml

    from flows import nightly

    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    (dep,) = [d for d in doc["deployments"] if d["name"] == nightly.DEPLOYMENT_NAME]
    module, _, fn = dep["entrypoint"].partition(":")
    assert module == "flows/nightly.py" and fn == "nightly_flow"
    assert dep["schedules"][0]["cron"] == "0 2 * * *" and dep["schedules"][0]["active"] is True
    assert dep["parameters"]["suite"] == nightly.NIGHTLY_SUITE


# --- CLI errors --------------------------------------------------------------------------------
def _cli(*args, env=None):
    from typer.testing import CliRunner

    from flows.cli.main import app

    return CliRunner().invoke(app, ["nightly", *args], env=env)


def test_cli_serve_needs_a_prefect_server():
    r = _cli("serve", "--register-only", env={"PREFECT_API_URL": ""})
    assert r.exit_code == 2
    assert "PREFECT_API_URL: not set" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("args, msg", [
    (["run", "--systems", "nosuch"], "unknown system 'nosuch'"),
    (["run", "--suite", "bogus", "--systems", "ntoy"], "has no suite 'bogus'"),
    (["run", "--threshold", "0.9"], "threshold must be > 1.0"),
    (["report", "--since", "last tuesday"], "expected a duration like 7d"),
    (["report", "--format", "xml"], "expected text, markdown or json"),
])
def test_cli_bad_input_exits_2(args, msg, registered):
    r = _cli(*args)
    assert r.exit_code == 2, r.output
    assert msg in r.output and "Traceback" not in r.output


# --- two consecutive sweeps end to end ---------------------------------------------------------
@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """Register ntoy/nraise in this process and (through the environment) in Ray workers."""
    from systems.core import SYSTEMS
    from systems.core import registry

    factor = tmp_path_factory.mktemp("ntoy") / "factor"
    factor.write_text("1.0")
    saved = {k: os.environ.get(k) for k in ("SYSLAB_EXTRA_SYSTEMS", "NTOY_FACTOR_FILE", "PYTHONPATH")}
    os.environ["SYSLAB_EXTRA_SYSTEMS"] = "tests.flows.test_nightly"
    os.environ["NTOY_FACTOR_FILE"] = str(factor)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), saved["PYTHONPATH"]) if p)
    SYSTEMS.reload()
    SYSTEMS["nraise"] = NRAISE
    yield factor
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    registry.SYSTEMS.reload()


@pytest.fixture(scope="module")
def shared_ray(registered):
    """One embedded Ray for both sweeps (the nightly reuses an initialised Ray and leaves it up)."""
    import ray

    from flows.nightly import _start_shared_ray

    owns, _ = _start_shared_ray()
    yield
    if owns:
        ray.shutdown()


def test_two_consecutive_sweeps_produce_a_regression_report(registered, shared_ray):
    from flows.nightly import REPORT_EXPERIMENT, REPORT_KEY, latest_report, nightly_flow, nightly_history
    from flows.tracking import client

    first = nightly_flow(systems=["ntoy", "nraise", "nosuch"], suite="smoke")
    st = first["systems"]
    assert st["ntoy"]["status"] == "ok" and st["ntoy"]["n_ok"] == 3
    assert st["nraise"]["status"] == "failed" and "exploded inside the sub-flow" in st["nraise"]["error"]
    assert st["nosuch"]["status"] == "failed" and "unknown system" in st["nosuch"]["error"]
    assert first["run_reason"] == "manual"
    assert first["counts"] == {"regression": 0, "improvement": 0, "lost_to_expert": 1, "new": 7, "unchanged": 0}

    registered.write_text("1.5")  # `fast` gets 1.5x slower
    second = nightly_flow(systems=["ntoy"], suite="smoke")
    assert second["counts"] == {"regression": 2, "improvement": 0, "lost_to_expert": 1, "new": 0, "unchanged": 5}
    regs = {(f["method"], f["metric"]): f for f in second["report"]["findings"] if f["category"] == "regression"}
    assert set(regs) == {("fast", "time_s"), ("fast", "vs_expert")}
    assert regs[("fast", "time_s")]["ratio"] == pytest.approx(1.5)
    assert regs[("fast", "vs_expert")]["previous"] == pytest.approx(2.0)
    assert "### Regressions" in second["markdown"] and "| ntoy | w1 | fast |" in second["markdown"]
    assert "Optimizer lost to the expert" in second["markdown"] and "| lost_to_expert | ntoy | w1 | lost |" \
        in second["markdown"]

    # History in MLflow: tagged runs, one row per sweep x benchmark x metric.
    hist = nightly_history(system="ntoy")
    assert len(hist) == 18 and set(hist["nightly_id"]) == {first["nightly_id"], second["nightly_id"]}
    assert hist["benchmark_hash"].nunique() == 1 and set(hist["run_reason"]) == {"manual"}
    assert set(hist["metric"]) == {"time_s", "vs_expert", "acc"} and (hist["git_sha"] != "").all()
    assert dict(zip(hist["metric"], hist["direction"])) == {"time_s": "min", "vs_expert": "max", "acc": "max"}
    # The dashboard's function recomputes the same verdicts.
    assert latest_report(systems=["ntoy"]).counts() == second["counts"]

    c = client()
    runs = c.search_runs([c.get_experiment_by_name("syslab/ntoy").experiment_id],
                         "tags.`syslab.kind` = 'flow'")
    assert len(runs) == 2
    for r in runs:
        t = r.data.tags
        assert t["syslab.suite"] == "smoke" and t["syslab.run_reason"] == "manual" and t["syslab.hardware"]
        assert t["syslab.git_sha"] and len(t["syslab.benchmark_hash"]) == 12 and t["syslab.benchmark_version"]
    rep = c.get_run(second["report_run_id"])
    assert rep.info.experiment_id == c.get_experiment_by_name(REPORT_EXPERIMENT).experiment_id
    assert rep.data.metrics["n_regression"] == 2
    md = Path(c.download_artifacts(rep.info.run_id, "report/report.md", str(registered.parent))).read_text()
    assert md == second["markdown"]

    # The Prefect table artifact (stable key -> versioned in the UI), read back over the REST API.
    import httpx

    from flows.ray_runner import prefect_api_url

    arts = httpx.post(f"{prefect_api_url()}/artifacts/filter", timeout=30, json={
        "artifacts": {"key": {"any_": [REPORT_KEY]}}, "limit": 50, "offset": 0, "sort": "CREATED_DESC"}).json()
    assert len(arts) >= 2 and arts[0]["type"] == "table"
    table = json.loads(arts[0]["data"]) if isinstance(arts[0]["data"], str) else arts[0]["data"]
    assert {row["category"] for row in table} == {"regression", "lost_to_expert"}

    # `syslab nightly report` prints the same table.
    r = _cli("report", "--systems", "ntoy")
    assert r.exit_code == 0, r.output
    assert "2 regression" in r.output and "fast" in r.output and "1.5x" in r.output
    r = _cli("report", "--systems", "ntoy", "--format", "json")
    assert json.loads(r.stdout)["counts"] == second["counts"]


# --- cron on a real Prefect server ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    """A real ``prefect server start`` on a free port with a temporary PREFECT_HOME; always killed."""
    import httpx

    tmp = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp / "home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
                               "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prefect server did not come up in 240 s"
            time.sleep(1)
        yield api, env
    finally:
        _kill_group(server)
        log.close()
        shutil.rmtree(tmp / "home", ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.services
def test_cron_deployment_is_registered_on_a_real_prefect_server(prefect_server):
    import httpx

    api, env = prefect_server
    exe = Path(sys.executable).parent
    out = subprocess.run([str(exe / "syslab"), "nightly", "serve", "--register-only", "--cron", "30 3 * * *",
                          "--timezone", "Europe/Berlin", "--suite", "smoke"],
                         env={**env, "PREFECT_API_URL": api}, capture_output=True, text=True, timeout=180, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "registered deployment nightly/syslab-nightly" in out.stdout
    dep = httpx.get(f"{api}/deployments/name/nightly/syslab-nightly", timeout=10).json()
    (sched,) = dep["schedules"]
    assert sched["schedule"]["cron"] == "30 3 * * *" and sched["schedule"]["timezone"] == "Europe/Berlin"
    assert sched["active"] is True and dep["parameters"]["suite"] == "smoke"
    assert dep["entrypoint"] == "flows.nightly.nightly_flow"


@pytest.mark.slow
@pytest.mark.services
def test_served_deployment_runs_a_sweep_tagged_nightly(prefect_server, tmp_path):
    """`syslab nightly serve` executes a run of its deployment (triggered now instead of at 02:00)."""
    import httpx
    from mlflow.tracking import MlflowClient

    api, env = prefect_server
    home = tmp_path / "syslab"
    senv = {**env, "PREFECT_API_URL": api, "SYSLAB_HOME": str(home), "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen([str(Path(sys.executable).parent / "syslab"), "nightly", "serve", "--name", "served",
                              "--systems", "toy", "--suite", "smoke"], env=senv, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            r = httpx.get(f"{api}/deployments/name/nightly/served", timeout=10)
            if r.status_code == 200:
                break
            assert time.monotonic() < deadline, "serve did not register its deployment in 180 s"
            time.sleep(2)
        run = httpx.post(f"{api}/deployments/{r.json()['id']}/create_flow_run", json={}, timeout=30).json()
        deadline = time.monotonic() + 420
        while True:
            state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, f"served run still {state} after 420 s"
            time.sleep(3)
        assert state == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
    finally:
        _kill_group(serve)
        log.close()
    c = MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
    runs = c.search_runs([c.get_experiment_by_name("syslab/toy").experiment_id], "tags.`syslab.kind` = 'flow'")
    assert len(runs) == 1 and runs[0].data.tags["syslab.run_reason"] == "nightly"
    assert runs[0].data.tags["syslab.nightly_id"] == run["id"]
