"""One job end to end through the platform's execute()."""

import json

import pytest

from systems.core import ConfigError, Job, get_system
from systems.core.execute import execute


def test_ours_job_reports_every_metric_and_artifact():
    job = Job("precision", "digits-tiny", "ours", seed=0, suite="smoke", params={"r": 0.6, "epochs": 1})
    res = execute(job)
    assert res.ok, res.error
    m = res.metrics
    for k in ("memory_mb", "memory_ratio_fp32", "memory_ratio_op", "accuracy", "final_loss", "diverged",
              "promotions", "step_s"):
        assert k in m
    assert 0 < m["memory_ratio_fp32"] < 0.5 and m["memory_ratio_op"] < 1.0
    assert 0.0 <= m["accuracy"] <= 1.0 and m["diverged"] in (0.0, 1.0)
    assert len(res.series["loss_per_step"]) == m["steps"] and len(res.series["accuracy_per_epoch"]) == 1
    table = json.loads(res.artifacts["assignment.json"])
    assert table["model"] == "tiny" and len(table["groups"]) == 4
    assert "| group |" in res.artifacts["assignment.md"]
    assert res.hardware and not res.is_baseline


def test_fp32_job_is_baseline_with_ratio_one():
    res = execute(Job("precision", "digits-tiny", "fp32", params={"epochs": 1}))
    assert res.ok and res.is_baseline and res.metrics["memory_ratio_fp32"] == 1.0


def test_bad_params_fail_clearly():
    with pytest.raises(ConfigError, match="unknown key 'rr'.*valid keys: .*order_seed"):
        get_system("precision").resolve(Job("precision", "digits-tiny", "ours", params={"rr": 1}))
    res = execute(Job("precision", "digits-tiny", "ours", params={"epochs": 1}))
    assert not res.ok and "needs r" in res.error


def test_metrics_carry_the_headline_share_and_the_memory_cap():
    res = execute(Job("precision", "digits-tiny", "pi-op", params={"epochs": 1}))
    m = res.metrics
    assert res.ok and 0 < m["low_share"] == m["pi_op_low_share"] < 0.5
    assert 1.3 < m["memory_cap_op"] < 2.0 and m["skipped"] == 0.0 and m["converged"] in (0.0, 1.0)
    assert res.params["rounding"] == "away" and res.params["classes"] == 10


def test_r_window_skips_runs_outside_r_to_r_plus_a_tenth():
    # digits-tiny's largest group alone holds > 40% of the elements: r = 0.1 cannot be met within [0.1, 0.2]
    res = execute(Job("precision", "digits-tiny", "ours", params={"r": 0.1, "epochs": 1}))
    assert res.ok and res.metrics["skipped"] == 1.0 and "accuracy" not in res.metrics
    assert res.metrics["achieved_share"] > 0.2 and "r-window" in res.artifacts["assignment.md"]
