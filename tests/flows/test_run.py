"""End-to-end: the real flow (Prefect + local Ray + MLflow) on the toy system and on HAG's smoke suite."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.flows.conftest import mlflow_runs


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """One flow run covering success, an application error and a worker killed mid-job."""
    crash_dir = tmp_path_factory.mktemp("crash")
    os.environ["TOY_CRASH_DIR"] = str(crash_dir)
    killed = {}

    def killer():  # kill the worker running the `crashy` job's first attempt
        deadline = time.monotonic() + 240
        pid_file = crash_dir / "pid"
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.2)
        if pid_file.exists():
            time.sleep(0.5)
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGKILL)
            killed["pid"] = pid

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    from flows.run import run_system

    summary = run_system("toy", "faults", methods=["expert", "fast", "boom", "crashy"], workloads=["w1"])
    t.join(timeout=5)
    return summary, crash_dir, killed


def test_flow_completes_and_reports_failures(toy_run):
    summary, _, _ = toy_run
    assert summary["n_jobs"] == 4 and summary["n_ok"] == 3 and summary["n_failed"] == 1
    assert [f["job"] for f in summary["failed"]] == ["toy/w1/boom/s0"]
    assert "toy job exploded on purpose" in summary["failed"][0]["error"]
    assert "| w1 | fast | 1 | 2x | expert |" in summary["markdown"]


def test_failed_job_is_a_failed_child_run(toy_run):
    summary, _, _ = toy_run
    _, parent, children = mlflow_runs("toy", summary["mlflow_run_id"])
    boom = [r for r in children if r.data.tags["syslab.method"] == "boom"]
    assert len(boom) == 1 and boom[0].info.status == "FAILED"
    assert boom[0].data.tags["syslab.status"] == "failed"
    assert "toy job exploded on purpose" in boom[0].data.tags["syslab.error"]
    assert parent.data.tags["syslab.n_failed"] == "1"


def _prefect_states(flow_run_id: str) -> tuple[str, dict[str, str]]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as c:
        fr = c.read_flow_run(flow_run_id)
        trs = c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])), limit=100)
        return fr.state.name, {t.name: t.state.type.value for t in trs}


def test_prefect_states_tell_the_truth(toy_run):
    """A failed job is a Failed task run; the flow is Completed only when all jobs are ok (here: Partial)."""
    summary, _, _ = toy_run
    _, parent, children = mlflow_runs("toy", summary["mlflow_run_id"])
    flow_state, tasks = _prefect_states(parent.data.tags["syslab.prefect_flow_run_id"])
    assert flow_state == "Partial"
    assert tasks == {"toy/w1/expert/s0": "COMPLETED", "toy/w1/fast/s0": "COMPLETED",
                     "toy/w1/boom/s0": "FAILED", "toy/w1/crashy/s0": "COMPLETED"}
    ids = {r.data.tags["syslab.prefect_task_run_id"] for r in children}
    assert len(ids) == 4 and "" not in ids


def test_attempts_timing_and_system_tags(toy_run):
    summary, _, _ = toy_run
    _, parent, children = mlflow_runs("toy", summary["mlflow_run_id"])
    by = {r.data.tags["syslab.method"]: r for r in children}
    crashy = by["crashy"].data.metrics
    assert crashy["ray_attempts"] == 2 and crashy["ray_retry_lost_s"] > 0.4  # killed 0.5 s after it started
    assert all(by[m].data.metrics["ray_attempts"] == 1 and by[m].data.metrics["ray_retry_lost_s"] == 0
               for m in ("expert", "fast", "boom"))
    imports = [r.data.metrics["import_s"] for r in children]
    assert all(x >= 0 for x in imports)
    assert abs(parent.data.metrics["worker_import_s"] - sum(imports)) < 1e-6
    pm = parent.data.metrics
    assert abs(pm["overhead_s"] - (pm["wall_s"] - pm["job_compute_s"] - pm["worker_import_s"])) < 1e-6
    for run in (parent, *children):
        t = run.data.tags
        assert t["mlflow.user"] and t["mlflow.source.type"] == "LOCAL" and t["mlflow.source.name"]
        assert len(t.get("mlflow.source.git.commit", "")) == 40
    assert all(r.data.tags["syslab.ray_node_id"] for r in children)


def test_killed_worker_is_retried_and_recorded_once(toy_run):
    summary, crash_dir, killed = toy_run
    assert killed.get("pid"), "the crashy job never started"
    attempts = (crash_dir / "attempts").read_text().split()
    assert len(attempts) == 2 and attempts[0] == str(killed["pid"]) and attempts[1] != attempts[0]
    _, _, children = mlflow_runs("toy", summary["mlflow_run_id"])
    crashy = [r for r in children if r.data.tags["syslab.method"] == "crashy"]
    assert len(crashy) == 1, "the retried job must be recorded exactly once"
    assert crashy[0].info.status == "FINISHED" and crashy[0].data.metrics["time_s"] == 1.5


def test_mlflow_layout(toy_run):
    summary, _, _ = toy_run
    c, parent, children = mlflow_runs("toy", summary["mlflow_run_id"])
    tags = parent.data.tags
    assert tags["syslab.kind"] == "flow" and tags["syslab.suite"] == "faults"
    assert json.loads(tags["syslab.comparison_spec"])["reference_baseline"] == "expert"
    for k in ("syslab.git_sha", "syslab.hardware", "syslab.benchmark_version", "syslab.run_reason"):
        assert tags[k]
    assert parent.data.metrics["n_jobs"] == 4 and parent.data.metrics["geomean_vs_expert.fast"] == 2.0
    assert len(children) == 4
    fast = next(r for r in children if r.data.tags["syslab.method"] == "fast")
    assert fast.data.metrics["vs_expert"] == 2.0 and fast.data.params["size"] == "3"
    assert fast.data.tags["syslab.is_baseline"] == "false"
    hist = c.get_metric_history(fast.info.run_id, "curve.loss")
    assert [m.value for m in sorted(hist, key=lambda m: m.step)] == [3.0, 2.0, 1.0]
    arts = {a.path for a in c.list_artifacts(parent.info.run_id, "comparison")}
    assert arts == {"comparison/comparison.csv", "comparison/comparison.md", "comparison/results.json",
                    "comparison/spec.json"}
    assert fast.data.params["config.size"] == "3" and fast.data.params["config.name"] == "default"
    assert json.loads(Path(c.download_artifacts(fast.info.run_id, "config.json")).read_text())["config"] == \
        {"size": 3, "seed": 0}
    local = c.download_artifacts(fast.info.run_id, "artifacts/note.txt")
    assert Path(local).read_text() == "hello"


def test_hag_smoke_flow_end_to_end():
    from systems.core import get_system

    spec = get_system("hag")
    from flows.run import run_system

    summary = run_system("hag", "smoke")
    assert summary["n_failed"] == 0, summary["failed"]
    c, parent, children = mlflow_runs("hag", summary["mlflow_run_id"])
    assert len(children) == summary["n_jobs"] == len(spec.jobs("smoke"))
    for run in children:
        assert spec.primary_metric in run.data.metrics
        assert run.data.tags["syslab.status"] == "ok"
    csv_path = c.download_artifacts(parent.info.run_id, "comparison/comparison.csv")
    text = Path(csv_path).read_text()
    assert text.startswith("system,metric,direction") and "hag-greedy" in text
    # HAG never needs more aggregations than the plain graph
    ratios = [r["ratio"] for r in summary["rows"] if r["method"] == "hag-greedy"]
    assert ratios and all(x >= 1.0 for x in ratios)
