"""The platform front door: SPEC, suites, evaluate.run through systems.core.execute."""

import pytest

from systems.core import Job, get_system
from systems.core.execute import execute


def test_spec_contract():
    spec = get_system("moe")
    assert spec.primary_metric == "tokens_per_s" and spec.direction == "max"
    assert spec.reference_baseline == "static-cf-2.0"
    assert set(spec.baselines) <= set(spec.method_names)
    assert spec.quality.metric == "final_loss" and spec.quality.direction == "min"
    for m in ("static-cf-0.625", "static-cf-1.0", "static-cf-1.25", "static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "cache",
              "tutel-cf0", "dropless", "peer-moe"):
        assert m in spec.method_names


def test_jobs_suites_and_validation():
    spec = get_system("moe")
    smoke = spec.jobs("smoke")
    assert {j.workload for j in smoke} == {"micro-tiny", "digits-tiny", "drift-tiny"}
    assert not any(j.method == "peer-moe" and j.workload == "digits-tiny" for j in smoke)  # top-1 workload
    assert len(spec.jobs("full")) > len(spec.jobs("default"))
    with pytest.raises(ValueError, match="unknown method"):
        spec.jobs("smoke", methods=["nope"])
    with pytest.raises(ValueError, match="unknown moe workload"):
        spec.jobs("smoke", workloads=["nope"])


def test_execute_one_job_ok():
    r = execute(Job("moe", "micro-tiny", "local-cf", 0, "smoke", params={"steps": 8}))
    assert r.ok, r.error
    assert r.metrics["tokens_per_s"] > 0 and r.simulated is False
    assert r.hardware and "recompile_log.txt" in r.artifacts
    assert r.params["policy"] == "local"


def test_bad_job_param_fails_with_message():
    r = execute(Job("moe", "micro-tiny", "local-cf", 0, "smoke", params={"stepz": 8}))
    assert not r.ok and "unknown key 'stepz'" in r.error and "steps" in r.error
