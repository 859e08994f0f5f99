import json

import pytest

from systems.core import Job, get_system
from systems.core.compare import compare
from systems.core.execute import execute
from systems.layerwise.evaluate import canonical_method, run


def test_run_returns_metrics_and_strategy_artifact():
    job = Job(system="layerwise", workload="tiny_alexnet@4", method="layerwise-dp")
    r = run(job, get_system("layerwise").resolve(job))
    for k in ("throughput", "cost_s", "comm_bytes", "search_s", "n_configs"):
        assert k in r.metrics
    assert r.simulated and r.metrics["throughput"] == pytest.approx(r.metrics["batch"] / r.metrics["cost_s"])
    strat = json.loads(r.artifacts["strategy.json"])
    assert set(strat["conv1"]) == {"degrees", "devices"}


def test_search_beats_or_ties_every_baseline_and_mcmc():
    spec = get_system("layerwise")
    jobs = spec.jobs("smoke", workloads=["micro_cnn@4", "tiny_inception@4"])
    results = [execute(j) for j in jobs]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    rows = compare(spec, results)
    for w in ("micro_cnn@4", "tiny_inception@4"):
        vals = {r.method: r.value for r in rows if r.workload == w}
        for m, v in vals.items():
            assert vals["layerwise-dp"] >= v * (1 - 1e-9), (w, m)
        ratio = [r.ratio for r in rows if r.workload == w and r.method == "layerwise-dp"][0]
        assert ratio >= 1.0
    bf = {r.workload: r.value for r in rows if r.method == "brute-force"}
    dp = {r.workload: r.value for r in rows if r.method == "layerwise-dp"}
    assert bf["micro_cnn@4"] == pytest.approx(dp["micro_cnn@4"], rel=1e-12)


def test_bad_method_and_workload_fail_clearly():
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        canonical_method("magic")
    assert canonical_method("dp") == "layerwise-dp"
    r = execute(Job(system="layerwise", workload="resnet@4", method="owt"))
    assert not r.ok and "NETWORK@DEVICES" in r.error


def test_typos_and_bad_values_fail_naming_the_valid_keys():
    spec = get_system("layerwise")
    r = execute(Job(system="layerwise", workload="micro_cnn@2", method="mcmc", params={"mcmc_iteratons": 5}))
    assert not r.ok and "mcmc_iterations" in r.error
    r = execute(Job(system="layerwise", workload="micro_cnn@2", method="owt", params={"compute": "analytic"}))
    assert not r.ok and "calibrated" in r.error
    r = execute(Job(system="layerwise", workload="micro_cnn@2", method="owt", params={"bw_nic": 0.0}))
    assert not r.ok and "scale.bw_nic must be > 0" in r.error
    assert spec.method("brute-force").role == "verification"


def test_cluster_scale_overrides_change_the_prediction_and_are_recorded():
    base = execute(Job(system="layerwise", workload="alexnet@16", method="data-parallel"))
    slow = execute(Job(system="layerwise", workload="alexnet@16", method="data-parallel", params={"bw_nic": 0.25}))
    assert base.ok and slow.ok
    assert slow.metrics["sync_s"] > 2 * base.metrics["sync_s"]  # the NIC part grows 4x
    assert slow.config["scale"]["bw_nic"] == 0.25 and "one 3.12 GB/s NIC" in slow.artifacts["cluster.txt"]
    assert base.metrics["min_compute_s"] == pytest.approx(slow.metrics["min_compute_s"])
    assert base.metrics["cost_s"] >= base.metrics["min_compute_s"]
