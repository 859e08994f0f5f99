"""Suites and jobs of the mapper system."""

from __future__ import annotations

import pytest

from systems.mapper import SPEC
from systems.mapper.workloads import ALL_APPS


def test_suites():
    assert SPEC.workloads("smoke") and set(SPEC.workloads("smoke")) < set(ALL_APPS)
    for s in ("default", "nightly", "full"):
        assert SPEC.workloads(s) == list(ALL_APPS)


def test_jobs_smoke(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    jobs = SPEC.jobs("smoke")
    methods = {j.method for j in jobs}
    assert methods == {"expert", "random-search", "scalar-tuner", "evolve"}
    for j in jobs:
        assert j.system == "mapper" and j.suite == "smoke" and j.config == "debug_cpu"
        cfg = SPEC.resolve(j)
        assert cfg.size == "small" and cfg.app == j.workload
        if j.method != "expert":
            assert (cfg.iterations, cfg.wall_s, cfg.optimizer) == (10, 20.0, j.method)
    assert len({j.key for j in jobs}) == len(jobs)


def test_llm_agent_only_when_configured(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:1/v1")
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "some-model")
    llm = [j for j in SPEC.jobs("smoke") if j.method == "llm-agent"]
    assert llm and SPEC.resolve(llm[0]).iterations == 3
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert "llm-agent" not in {j.method for j in SPEC.jobs("smoke")}
    with pytest.raises(ValueError, match="cannot run here: no LLM endpoint"):
        SPEC.jobs("smoke", methods=["llm-agent"])


def test_spec_validation():
    assert SPEC.reference_baseline == "expert" and SPEC.runner == "systems.mapper.runner:run"
    with pytest.raises(ValueError, match="unknown mapper workload"):
        SPEC.jobs("smoke", workloads=["nope"])
    assert len(SPEC.jobs("default", methods=["expert"])) == 9
    with pytest.raises(ValueError, match="unknown key 'iteratons'"):
        SPEC.jobs("smoke", overrides={"iteratons": 5})


def test_llm_methods_join_the_suites_only_with_an_endpoint(monkeypatch, tmp_path):
    import importlib.util

    from systems.mapper import SPEC

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    assert not {"llm-agent", "optoprime"} & {j.method for j in SPEC.jobs("default")}
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_MODEL", "m")
    smoke = {j.method for j in SPEC.jobs("smoke")}
    default = {j.method for j in SPEC.jobs("default")}
    assert "llm-agent" in smoke and "optoprime" not in smoke
    assert ("optoprime" in default) == (importlib.util.find_spec("opto") is not None)
