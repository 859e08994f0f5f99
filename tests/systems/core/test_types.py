import dataclasses
import json
import pickle
from dataclasses import dataclass

import pytest

from systems.core import (ComparisonSpec, Job, JobResult, Method, QualityGate, Suite, SuiteEntry, SystemSpec,
                          grid)
from systems.core.execute import execute


@dataclass
class _Cfg:
    """A config."""

    size: int = 1
    """A size."""
    seed: int = 0
    """Set from the job."""


def _w(name):
    if name not in ("w", "w2"):
        raise ValueError(f"unknown workload {name!r}; valid: w, w2")
    return {"size": 2} if name == "w2" else {}


def _spec(**kw):
    base = dict(name="x", description="d", primary_metric="t", direction="min",
                methods=(Method("a", "baseline"), Method("b"), Method("det", seeded=False)),
                configs={"default": _Cfg}, workload_overrides=_w, runner="os:getcwd",
                suites={"smoke": Suite(grid(["w"], ["a", "b", "det"]), seeds=(0, 1)),
                        "default": Suite(grid(["w", "w2"], ["a", "b"]))})
    base.update(kw)
    return SystemSpec(**base)


def test_job_key_includes_params_config_and_is_stable():
    j = Job("hag", "karate", "hag-greedy", 1, params={"capacity_frac": 0.5, "a": 1})
    assert j.key == "hag/karate/hag-greedy/s1[a=1,capacity_frac=0.5]"
    assert Job("hag", "karate", "gnn-graph").key == "hag/karate/gnn-graph/s0"
    assert Job("hag", "karate", "gnn-graph", config="debug_cpu").key == "hag/karate/gnn-graph/s0@debug_cpu"


def test_jobresult_is_plain_data():
    r = JobResult("hag", "w", "m", 0, metrics={"x": 1.5}, series={"c": [1.0, 2.0]}, artifacts={"a.txt": "hi"},
                  config={"a": {"b": 1}})
    assert JobResult.from_dict(json.loads(r.to_json())) == r
    assert pickle.loads(pickle.dumps(r)) == r
    f = JobResult.failed(Job("hag", "w", "m", 3, params={"k": 1}, config="c"), "boom")
    assert f.status == "failed" and not f.ok and f.error == "boom" and f.seed == 3 and f.job_params == {"k": 1}
    assert f.config_name == "c"


def test_spec_declares_methods_as_data_and_checks_itself():
    spec = _spec()
    assert spec.method_names == ("a", "b", "det") and spec.baselines == ("a",)
    with pytest.raises(ValueError, match="duplicate methods"):
        _spec(methods=(Method("a", "baseline"), Method("a")))
    with pytest.raises(ValueError, match="role 'guru'"):
        _spec(methods=(Method("a", "guru"),))
    with pytest.raises(ValueError, match="configs must include 'default'"):
        _spec(configs={"other": _Cfg})
    with pytest.raises(ValueError, match="unknown method 'zz'"):
        _spec(suites={"smoke": Suite((SuiteEntry("w", "zz"),))})
    with pytest.raises(ValueError, match="unknown config 'nope'"):
        _spec(suites={"smoke": Suite((SuiteEntry("w", "a", "nope"),))})
    with pytest.raises(ValueError, match="reference baseline 'b' is not a baseline"):
        _spec(reference_baseline="b")


def test_jobs_same_rules_everywhere():
    spec = _spec()
    with pytest.raises(ValueError, match="unknown suite 'nope'.*smoke, default"):
        spec.jobs("nope")
    with pytest.raises(ValueError, match="unknown method 'c'.*valid: a, b, det"):
        spec.jobs("smoke", methods=["c"])
    with pytest.raises(ValueError, match="unknown workload 'v'.*valid: w, w2"):
        spec.jobs("smoke", workloads=["v"])
    with pytest.raises(ValueError, match="workload 'w2' is not in x suite 'smoke'.*runs: w"):
        spec.jobs("smoke", workloads=["w2"])
    with pytest.raises(ValueError, match="method 'det' is not in x suite 'default'"):
        spec.jobs("default", methods=["det"])
    for bad in (0, -1, True, [], [-1], ["0"]):
        with pytest.raises(ValueError, match="seeds"):
            spec.jobs("smoke", seeds=bad)
    # seeded methods run per seed, the others once with the first seed
    jobs = spec.jobs("smoke")
    assert sorted((j.method, j.seed) for j in jobs) == [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("det", 0)]
    assert [j.seed for j in spec.jobs("smoke", seeds=3, methods=["b"])] == [0, 1, 2]
    assert [j.seed for j in spec.jobs("smoke", seeds=[5], methods=["det"])] == [5]
    with pytest.raises(ValueError, match="unknown key 'sise' \\(did you mean 'size'\\?\\); valid keys: seed, size"):
        spec.jobs("smoke", overrides={"sise": 3})
    with pytest.raises(ValueError, match="'size' must be int, got '3'"):
        spec.jobs("smoke", overrides={"size": "3"})
    assert all(j.params == {"size": 3} for j in spec.jobs("smoke", overrides={"size": 3}))


def test_resolve_layers_workload_method_and_job_params():
    spec = _spec(methods=(Method("a", "baseline"), Method("b", overrides={"size": 5}), Method("det")))
    assert spec.resolve(Job("x", "w", "a", 4)) == _Cfg(size=1, seed=4)
    assert spec.resolve(Job("x", "w2", "a")) == _Cfg(size=2)
    assert spec.resolve(Job("x", "w2", "b")) == _Cfg(size=5)
    assert spec.resolve(Job("x", "w2", "b", params={"size": 7})) == _Cfg(size=7)


def test_unavailable_methods_are_skipped_unless_asked_for(monkeypatch):
    import tests.systems.core.test_types as me

    monkeypatch.setattr(me, "_REASON", "no endpoint")
    spec = _spec(methods=(Method("a", "baseline"), Method("b", requires="tests.systems.core.test_types:_why"),
                          Method("det")))
    assert "b" not in {j.method for j in spec.jobs("smoke")}
    with pytest.raises(ValueError, match="method 'b' cannot run here: no endpoint"):
        spec.jobs("smoke", methods=["b"])
    monkeypatch.setattr(me, "_REASON", None)
    assert "b" in {j.method for j in spec.jobs("smoke")}


_REASON = None


def _why():
    return _REASON


def test_benchmark_hash_covers_definitions():
    spec = _spec()
    h = spec.benchmark_hash("default")
    assert len(h) == 12 and h == _spec().benchmark_hash("default")
    # resizing a workload (what its overrides set) changes the hash
    resized = _spec(workload_overrides=lambda n: {"size": 3} if n == "w2" else _w(n))
    assert resized.benchmark_hash("default") != h
    # so does a named config's default
    assert _spec(configs={"default": lambda: _Cfg(size=9)}).benchmark_hash("default") != h
    assert dataclasses.replace(spec, benchmark_version="2").benchmark_hash("default") != h
    assert spec.benchmark_hash("smoke") != h


def test_improvement_is_direction_aware():
    assert _spec(direction="min").improvement(1.0, 2.0) == 2.0
    assert _spec(direction="max").improvement(4.0, 2.0) == 2.0
    assert _spec(direction="min").better(1.0, 2.0) and not _spec(direction="max").better(1.0, 2.0)


def test_comparison_spec_round_trips():
    spec = _spec(quality=QualityGate("acc", "max", 0.01), reference_baseline="a")
    c = spec.comparison
    assert ComparisonSpec.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert c.roles == {"a": "baseline", "b": "optimizer", "det": "optimizer"}


def test_execute_turns_exceptions_into_failed_results(monkeypatch):
    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", "tests.flows.toy_system")
    from systems.core.registry import SYSTEMS

    SYSTEMS.reload()
    try:
        bad = execute(Job("toy", "w1", "boom"))
        assert bad.status == "failed" and "toy job exploded on purpose" in bad.error
        assert "Traceback" in bad.error and bad.config == {"size": 3, "seed": 0}
        good = execute(Job("toy", "w1", "expert", 2, params={"size": 4}))
        assert good.ok and good.is_baseline and good.metrics["time_s"] == 2.0 and good.hardware
        assert good.config == {"size": 4, "seed": 2} and good.params["size"] == 4 and good.cpu_s >= 0
        typo = execute(Job("toy", "w1", "expert", params={"sise": 4}))
        assert not typo.ok and "unknown key 'sise'" in typo.error and "valid keys: seed, size" in typo.error
        unknown = execute(Job("nosuch", "w", "m"))
        assert unknown.status == "failed" and "known systems" in unknown.error
    finally:
        monkeypatch.delenv("SYSLAB_EXTRA_SYSTEMS")
        SYSTEMS.reload()


def test_quality_gate_is_frozen():
    g = QualityGate("accuracy", "max", 0.005)
    with pytest.raises(Exception):
        g.tolerance = 1.0  # type: ignore[misc]
