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
