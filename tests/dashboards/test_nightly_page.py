"""The Nightly page over a store holding two nightly sweeps of real toy results."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import app_test, page_text


def _record_sweep(nightly_id: str, sha: str, slow: float) -> None:
    from flows.tracking import FlowRecorder
    from systems.core import Job, get_system
    from systems.core.compare import compare
    from systems.core.execute import execute

    spec = get_system("toy")
    results = [execute(Job("toy", w, m)) for w in ("w1", "w2") for m in ("expert", "fast")]
    for r in results:
        if r.method == "fast":
            r.metrics["time_s"] *= slow  # the second night "regresses"
    tags = {"syslab.nightly_id": nightly_id, "syslab.benchmark_hash": "h1",
            "syslab.primary_metric": spec.primary_metric, "syslab.direction": spec.direction}
    rec = FlowRecorder(spec, "smoke", run_reason="nightly", git_sha=sha, hardware="test-hw", extra_tags=tags)
    pairs = [(f"{r.workload}/{r.method}", r) for r in results]
    for key, r in pairs:
        rec.record(r, key)
    rec.finish(pairs, compare(spec, results), {})


@pytest.fixture
def nightly_store(tmp_path, monkeypatch):
    from systems.core import SYSTEMS

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", "tests.flows.toy_system")
    SYSTEMS.reload()
    _record_sweep("n1", "aaaa111", 1.0)
    _record_sweep("n2", "bbbb222", 1.5)
    yield tmp_path
    monkeypatch.undo()
    SYSTEMS.reload()


def test_nightly_page_shows_flags_and_history(nightly_store):
    at = app_test()
    at.run()
    at.switch_page("pages/nightly.py").run()
    assert not at.exception, at.exception
    text = page_text(at)
    assert "Nightly sweeps" in text and "History" in text
    regressions = next(m for m in at.metric if m.label == "Regressions")
    # toy fast got 1.5x slower on both workloads: time_s and vs_expert regress on each
    assert regressions.value == "4"
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "aaaa111" in charts[0].proto.spec and "bbbb222" in charts[0].proto.spec


def test_nightly_page_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # a store with flows but no nightly: create it by recording nothing but an experiment
    from flows.tracking import client, ensure_experiment

    ensure_experiment(client(), "toy")
    at = app_test()
    at.run()
    at.switch_page("pages/nightly.py").run()
    assert not at.exception, at.exception
    assert "make nightly" in page_text(at)
