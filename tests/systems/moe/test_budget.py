"""The largest model that fits a memory budget is measured, fits, and one quantum more does not."""

from systems.moe.budget import largest_model, step_peak_mb
from systems.moe.config import LayerConfig, RunConfig, WorkloadConfig
from systems.moe.methods import get_method

CFG = RunConfig(layer=LayerConfig(d_model=32, d_hidden=64, n_experts=4, top_k=2),
                workload=WorkloadConfig(kind="micro", batch_size=128, n_batches=2, d_in=32))


def test_largest_model_fits_and_next_size_does_not():
    method, caps = get_method("static-cf-2.0"), (128,) * 4
    fit = largest_model(CFG, method, caps, budget_mb=3.0, quantum=16)
    assert fit["d_hidden"] > 0 and fit["peak_mb"] <= 3.0
    assert fit["next_peak_mb"] > 3.0 and step_peak_mb(CFG, method, caps, fit["d_hidden"] + 16) > 3.0


def test_fewer_rows_fit_a_wider_model():
    small = largest_model(CFG, get_method("static-cf-1.0"), (64,) * 4, budget_mb=3.0)
    big = largest_model(CFG, get_method("static-cf-2.0"), (128,) * 4, budget_mb=3.0)
    dropless = largest_model(CFG, get_method("dropless"), None, budget_mb=3.0)
    assert small["d_hidden"] > big["d_hidden"] and dropless["d_hidden"] >= small["d_hidden"] - 16
