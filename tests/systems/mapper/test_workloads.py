"""Suites and jobs of the mapper system."""

from __future__ import annotations

import pytest

from systems.mapper import SPEC
from systems.mapper.workloads import ALL_APPS, BUDGETS, make_jobs, workloads


def test_suites():
    assert workloads("smoke") and set(workloads("smoke")) < set(ALL_APPS)
    for s in ("default", "nightly", "full"):
        assert workloads(s) == list(ALL_APPS)


def test_make_jobs_smoke(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    jobs = make_jobs("smoke")
    methods = {j.method for j in jobs}
    assert methods == {"expert", "random-search", "scalar-tuner", "evolve"}
    for j in jobs:
        assert j.system == "mapper" and j.suite == "smoke"
        if j.method != "expert":
            assert j.params == BUDGETS["smoke"]
    assert len({j.key for j in jobs}) == len(jobs)


def test_llm_agent_only_when_configured(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:1/v1")
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "some-model")
    assert "llm-agent" in {j.method for j in make_jobs("smoke")}
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert "llm-agent" not in {j.method for j in make_jobs("smoke")}


def test_spec_validation():
    assert SPEC.reference_baseline == "expert" and SPEC.runner == "systems.mapper.evaluate:run"
    with pytest.raises(ValueError, match="unknown workload"):
        SPEC.jobs("smoke", workloads=["nope"])
    assert len(SPEC.jobs("default", methods=["expert"])) == 9
