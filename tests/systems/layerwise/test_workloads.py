import time

import pytest

from systems.core import get_system
from systems.layerwise.workloads import brute_force_feasible, parse_workload


def test_spec_registered():
    spec = get_system("layerwise")
    assert spec.primary_metric == "throughput" and spec.direction == "max" and spec.simulated
    assert spec.baselines == ("data-parallel", "model-parallel", "owt")
    assert spec.reference_baseline is None
    assert spec.method("brute-force").role == "verification"


def test_parse_workload():
    assert parse_workload("vgg16@8") == ("vgg16", 8, "p100_4x4")
    assert parse_workload("alexnet@16/h100_8") == ("alexnet", 16, "h100_8")
    for bad in ("vgg16", "vgg@8", "vgg16@x"):
        with pytest.raises(ValueError, match="NETWORK@DEVICES"):
            parse_workload(bad)


def test_default_suite_is_three_networks_by_five_device_counts_by_every_method():
    spec = get_system("layerwise")
    ws = spec.workloads("default")
    for n in ("alexnet", "vgg16", "inception_v3"):
        for p in (1, 2, 4, 8, 16):
            assert f"{n}@{p}" in ws
    t0 = time.perf_counter()
    jobs = spec.jobs("default")
    assert time.perf_counter() - t0 < 5
    methods = {(j.workload, j.method) for j in jobs}
    for m in ("layerwise-dp", "mcmc", "data-parallel", "model-parallel", "owt"):
        assert ("inception_v3@16", m) in methods
    assert ("alexnet@1", "brute-force") in methods
    assert ("alexnet@16", "brute-force") not in methods  # 10^20+ strategies
    assert ("micro_cnn@16", "brute-force") in methods


def test_brute_force_feasibility():
    assert brute_force_feasible("micro_cnn@4")
    assert not brute_force_feasible("vgg16@2")


def test_suites_validate_through_spec():
    spec = get_system("layerwise")
    for s in spec.suites:
        assert spec.jobs(s)
    with pytest.raises(ValueError, match="unknown method"):
        spec.jobs("smoke", methods=["magic"])
