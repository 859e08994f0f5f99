"""Suites, jobs and the SPEC front door."""

import pytest

from systems.core import get_system
from systems.precision.workloads import METHODS, SUITES, WORKLOADS


def test_spec_registered_with_expected_contract():
    spec = get_system("precision")
    assert spec.primary_metric == "low_share" and spec.direction == "max"  # the paper's measure
    assert spec.reference_baseline == "pi-op" and {"pi-op", "fp32"} <= set(spec.baselines)
    assert spec.quality.metric == "accuracy" and spec.quality.tolerance == 0.01
    assert set(spec.baselines) <= set(spec.method_names)


@pytest.mark.parametrize("suite", list(SUITES))
def test_jobs_have_unique_keys_and_valid_names(suite):
    jobs = get_system("precision").jobs(suite)
    keys = [j.key for j in jobs]
    assert len(keys) == len(set(keys)) and jobs
    assert all(j.workload in WORKLOADS and j.method in METHODS for j in jobs)
    assert all("r" in j.params for j in jobs if j.method.startswith("ours"))


def test_sweep_jobs_differ_by_r_and_random_order_seed():
    jobs = get_system("precision").jobs("nightly", methods=["ours", "ours-random"], workloads=["digits-tiny"])
    assert sorted(j.params["r"] for j in jobs if j.method == "ours") == [0.3, 0.5, 0.7, 0.9]
    assert sorted(j.params["order_seed"] for j in jobs if j.method == "ours-random") == [123, 456, 789]


def test_smoke_is_small():
    jobs = get_system("precision").jobs("smoke")
    assert len(jobs) <= 5 and {j.workload for j in jobs} == {"digits-tiny"}


def test_bad_names_fail_with_valid_list():
    spec = get_system("precision")
    with pytest.raises(ValueError, match="valid"):
        spec.jobs("smoke", methods=["nope"])
    with pytest.raises(ValueError, match="valid"):
        spec.jobs("smoke", workloads=["nope"])
    with pytest.raises(ValueError, match="valid"):
        spec.jobs("weekly")
