import json
import pickle

import pytest

from systems.core import Job, JobResult, QualityGate, SystemSpec
from systems.core.execute import execute


def _spec(**kw):
    base = dict(name="x", description="d", primary_metric="t", direction="min", methods=("a", "b"),
                baselines=("a",), make_jobs=lambda suite, methods=None, workloads=None, seeds=None: [],
                runner="os:getcwd", workloads=lambda suite: ["w"])
    base.update(kw)
    return SystemSpec(**base)


def test_job_key_includes_params_and_is_stable():
    j = Job("hag", "karate", "hag-greedy", 1, params={"capacity_frac": 0.5, "a": 1})
    assert j.key == "hag/karate/hag-greedy/s1[a=1,capacity_frac=0.5]"
    assert Job("hag", "karate", "gnn-graph").key == "hag/karate/gnn-graph/s0"


def test_jobresult_is_plain_data():
    r = JobResult("hag", "w", "m", 0, metrics={"x": 1.5}, series={"c": [1.0, 2.0]}, artifacts={"a.txt": "hi"})
    assert JobResult.from_dict(json.loads(r.to_json())) == r
    assert pickle.loads(pickle.dumps(r)) == r
    f = JobResult.failed(Job("hag", "w", "m", 3, params={"k": 1}), "boom")
    assert f.status == "failed" and not f.ok and f.error == "boom" and f.seed == 3 and f.job_params == {"k": 1}


def test_spec_validates_names_with_valid_choices():
    spec = _spec()
    with pytest.raises(ValueError, match="unknown suite 'nope'.*smoke, default, full, nightly"):
        spec.jobs("nope")
    with pytest.raises(ValueError, match="unknown method 'c'.*valid: a, b"):
        spec.jobs("smoke", methods=["c"])
    with pytest.raises(ValueError, match="unknown workload 'v'.*valid: w"):
        spec.jobs("smoke", workloads=["v"])


def test_improvement_is_direction_aware():
    assert _spec(direction="min").improvement(1.0, 2.0) == 2.0
    assert _spec(direction="max").improvement(4.0, 2.0) == 2.0
    assert _spec(direction="min").better(1.0, 2.0) and not _spec(direction="max").better(1.0, 2.0)


def test_execute_turns_exceptions_into_failed_results(monkeypatch):
    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", "tests.flows.toy_system")
    from systems.core.registry import SYSTEMS

    SYSTEMS.reload()
    try:
        bad = execute(Job("toy", "w1", "boom"))
        assert bad.status == "failed" and "toy job exploded on purpose" in bad.error
        assert "Traceback" in bad.error
        good = execute(Job("toy", "w1", "expert"))
        assert good.ok and good.is_baseline and good.metrics["time_s"] == 2.0 and good.hardware
        unknown = execute(Job("nosuch", "w", "m"))
        assert unknown.status == "failed" and "known systems" in unknown.error
    finally:
        monkeypatch.delenv("SYSLAB_EXTRA_SYSTEMS")
        SYSTEMS.reload()


def test_quality_gate_is_frozen():
    g = QualityGate("accuracy", "max", 0.005)
    with pytest.raises(Exception):
        g.tolerance = 1.0  # type: ignore[misc]
