"""The front door every system shares, checked the same way for each registered system.

A sixth system gets these checks for free: they are parameterised over the registry.
"""

from __future__ import annotations

import dataclasses
import typing

import pytest

from systems.core import SYSTEMS, ConfigError, Job, to_dict
from systems.core.config import field_docs, keys
from systems.core.execute import execute
from systems.core.types import ROLES

NAMES = list(SYSTEMS)


def _leaf_docs_missing(cfg, prefix="") -> list[str]:
    docs = field_docs(type(cfg))
    missing = []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            missing += _leaf_docs_missing(v, f"{prefix}{f.name}.")
        if not docs.get(f.name):
            missing.append(prefix + f.name)
    return missing


@pytest.fixture(params=NAMES)
def spec(request):
    return SYSTEMS[request.param]


def test_spec_fields(spec):
    assert spec.description and spec.primary_metric and spec.direction in ("min", "max")
    assert spec.methods and spec.baselines, "every system compares against at least one expert baseline"
    assert all(m.role in ROLES and m.description for m in spec.methods), "every method has a role and a line"
    assert spec.runner.count(":") == 1
    assert "default" in spec.configs and "smoke" in spec.suites


def test_named_configs_are_typed_and_documented(spec):
    for name, make in spec.configs.items():
        cfg = make()
        assert dataclasses.is_dataclass(cfg), f"{spec.name} config {name!r} is not a dataclass"
        assert make() == cfg and make() is not cfg, f"{spec.name} config {name!r} must return a fresh, equal value"
        assert not _leaf_docs_missing(cfg), f"{spec.name} config {name!r}: fields without a docstring: " \
                                            f"{_leaf_docs_missing(cfg)}"


def test_every_suite_resolves(spec):
    for suite in spec.suites:
        jobs = spec.jobs(suite)
        assert jobs, f"{spec.name} suite {suite!r} is empty"
        assert len({j.key for j in jobs}) == len(jobs), f"{spec.name} {suite}: duplicate job keys"
        assert all(j.config in spec.configs for j in jobs)
    assert spec.benchmark_hash("smoke") == spec.benchmark_hash("smoke")


def test_unknown_workload_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="valid"):
        spec.workload_overrides("no-such-workload")


def test_strict_overrides(spec):
    job = spec.jobs("smoke")[0]
    bad = dataclasses.replace(job, params={**job.params, "definitely_not_a_key": 1})
    with pytest.raises(ConfigError, match="unknown key 'definitely_not_a_key'.*valid keys:"):
        spec.resolve(bad)
    r = execute(bad)
    assert not r.ok and "unknown key 'definitely_not_a_key'" in r.error and "valid keys:" in r.error
    # a wrong type for a numeric field is an error too
    cfg = spec.resolve(job)
    numeric = []
    for k in keys(cfg):
        owner = cfg
        for part in k.split(".")[:-1]:
            owner = getattr(owner, part)
        if typing.get_type_hints(type(owner)).get(k.split(".")[-1]) in (int, float):
            numeric.append(k)
    assert numeric, f"{spec.name}: no numeric config field to check"
    with pytest.raises(ConfigError, match="must be"):
        spec.resolve(dataclasses.replace(job, params={numeric[0]: "not a number"}))
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        spec.jobs("smoke", seeds=0)


def _cheapest_smoke_job(spec) -> Job:
    jobs = spec.jobs("smoke")
    ref = spec.reference_baseline or spec.baselines[0]
    return next((j for j in jobs if j.method == ref), jobs[0])


def test_smoke_job_runs_and_records_its_resolved_config(spec):
    job = _cheapest_smoke_job(spec)
    r = execute(job)
    assert r.ok, r.error
    assert spec.primary_metric in r.metrics and r.is_baseline == (job.method in spec.baselines)
    assert r.config == to_dict(spec.resolve(job)) and r.config_name == job.config
    assert r.wall_s > 0 and r.hardware
