"""End-to-end training: caching replays the cached assignment; recompiles exactly on capacity changes."""

from dataclasses import replace

import pytest
import torch

from systems.moe import layer as layer_mod
from systems.moe.config import ControllerConfig, moe_debug_cpu
from systems.moe.train import CountingBackend, forward_loss, train


def _record(monkeypatch):
    """Record, per call, this step's routing and the assignment GroupBy actually used."""
    routed, used = [], []
    orig_route, orig_grouped = layer_mod.MoELayer.route, layer_mod.MoELayer._grouped

    def route(self, x):
        probs, topi = orig_route(self, x)
        routed.append(topi.clone())
        return probs, topi

    def grouped(self, x, probs, plan):
        used.append(plan.topi.clone())
        return orig_grouped(self, x, probs, plan)

    monkeypatch.setattr(layer_mod.MoELayer, "route", route)
    monkeypatch.setattr(layer_mod.MoELayer, "_grouped", grouped)
    return routed, used


def test_caching_reproduces_the_cached_assignment(monkeypatch):
    cfg = moe_debug_cpu()
    cfg = replace(cfg, method="cache", steps=16, mem_samples=0,
                  controller=ControllerConfig(launch_ahead=1, cache_on=0.0, cache_off=-1.0, cache_min_steps=6,
                                              cooldown=100, min_observations=1, alpha0=2.0))
    nb = cfg.workload.n_batches
    routed, used = _record(monkeypatch)
    res = train(cfg)
    routed, used = routed[:cfg.steps], used[:cfg.steps]  # drop the evaluation calls
    on = res.metrics["cache_steps_frac"]
    assert on > 0, res.artifacts
    switch = int(res.series["recompile_steps"][0])  # the decision taken after this step turns caching on
    assert "cache=True" in res.artifacts["recompile_log.txt"]
    for s in range(cfg.steps):
        if s <= switch:
            assert torch.equal(used[s], routed[s])  # normal routing before
        else:
            last_seen = max(t for t in range(switch + 1) if t % nb == s % nb)
            assert torch.equal(used[s], routed[last_seen])  # the frozen cached assignment
    assert res.metrics["cache_steps_frac"] == pytest.approx((cfg.steps - switch - 1) / cfg.steps)


def test_compiled_graph_specialises_on_capacities():
    torch.manual_seed(0)
    from systems.moe.layer import MoEModel, make_layout

    cfg = moe_debug_cpu()
    model = MoEModel(32, 32, cfg.layer)
    model.moe.experts.resolve_kernel()
    x, y = torch.randn(64, 32), torch.randn(64, 32)
    counter = CountingBackend("eager")
    import torch._dynamo as dynamo

    dynamo.reset()
    fn = torch.compile(forward_loss, backend=counter, dynamic=False)
    a, b = make_layout((32,) * 4), make_layout((16, 40, 24, 32))
    for lay, expect in ((a, 1), (make_layout((32,) * 4), 1), (b, 2), (b, 2), (a, 2)):
        out = fn(model, x, y, "regress", 0.01, lay, "padded", 0.0)
        ref = forward_loss(model, x, y, "regress", 0.01, lay, "padded", 0.0)
        assert counter.count == expect
        assert torch.allclose(out[0], ref[0], atol=1e-5)
    dynamo.reset()


@pytest.mark.parametrize("method", ["static-cf-1.25", "local-cf", "dynamic-cf"])
def test_recompiles_happen_exactly_when_capacities_change(method):
    cfg = replace(moe_debug_cpu(), method=method, compile=True, compile_backend="eager", steps=20, mem_samples=0)
    res = train(cfg)
    log = res.artifacts["recompile_log.txt"]
    seen = {(str(list(res.params["caps0"])), False)}  # the configuration of the first graph
    new_graphs = 0
    for line in ([] if log.startswith("no configuration") else log.strip().splitlines()):
        caps = line.split("caps=")[1].split("]")[0] + "]"
        cache = "cache=True" in line
        key = (caps, cache)
        if key not in seen:
            seen.add(key)
            new_graphs += 1
    assert res.metrics["recompiles"] == len(res.series["recompile_steps"])
    if method == "static-cf-1.25":
        assert res.metrics["recompiles"] == 0
    else:
        assert res.metrics["recompiles"] >= 1  # alpha0 = 4 is shrunk / local caps are fitted
    assert res.metrics["graphs_compiled"] == 1 + new_graphs


def test_eager_and_compiled_runs_agree():
    base = replace(moe_debug_cpu(), method="local-cf", steps=12, mem_samples=0)
    eager = train(base)
    comp = train(replace(base, compile=True, compile_backend="eager"))
    assert eager.series["recompile_steps"] == comp.series["recompile_steps"]
    assert eager.metrics["dropped_frac"] == comp.metrics["dropped_frac"]
    assert eager.metrics["final_loss"] == pytest.approx(comp.metrics["final_loss"], rel=1e-4)


@pytest.mark.slow
def test_inductor_recompile_is_counted_and_timed():
    cfg = replace(moe_debug_cpu(), method="local-cf", compile=True, compile_backend="inductor", steps=12,
                  mem_samples=0)
    res = train(cfg)
    assert res.metrics["recompiles"] >= 1
    assert res.metrics["graphs_compiled"] >= 2
    assert res.metrics["recompile_s"] > 0 and res.metrics["initial_compile_s"] > 0


def test_metrics_and_series_shape():
    cfg = replace(moe_debug_cpu(), method="static-cf-1.0", steps=10, mem_samples=2)
    res = train(cfg)
    m = res.metrics
    for key in ("tokens_per_s", "peak_mem_mb", "dropped_frac", "final_loss", "recompiles", "recompile_s"):
        assert key in m
    assert m["tokens_per_s"] > 0 and m["peak_mem_mb"] > 0
    assert 0 <= m["dropped_frac"] < 1
    assert len(res.series["loss"]) == 10 and len(res.series["drops"]) == 10
    assert m["dropped_frac"] == pytest.approx(sum(res.series["drops"]) / (2 * 64 * 10))
    assert res.series["capacity_factor"] == [1.0] * 10


def test_oracle_picks_the_smallest_capacity_under_the_drop_limit():
    import json

    from systems.moe.baselines import oracle_capacity, projected_drops, run_oracle
    from systems.moe.methods import DROP_LIMIT

    trace = [[30, 10, 12, 12], [20, 20, 20, 4], [40, 8, 8, 8]]  # k*B = 64 per step, 192 in all
    cap = oracle_capacity(trace, k=2, batch=32, limit=0.05)  # budget: < 9.6 dropped
    assert projected_drops(trace, cap) < 0.05 * 192 <= projected_drops(trace, cap - 1)
    cfg = replace(moe_debug_cpu(), method="static-cf-oracle", steps=12, mem_samples=0)
    res = run_oracle(cfg)
    sel = json.loads(res.artifacts["oracle_selection.json"])
    assert res.metrics["oracle_alpha"] == sel["chosen_alpha"] == sel["tries"][-1]["alpha"]
    assert res.metrics["dropped_frac"] < DROP_LIMIT or len(sel["tries"]) == 3
    # the reported run is exactly the static run at that capacity
    unit = 2 * 64 / 4
    assert res.params["final_caps"] == [round(sel["chosen_alpha"] * unit)] * 4
    with pytest.raises(ValueError, match="run_oracle"):
        train(cfg)


def test_bad_configs_fail_clearly():
    with pytest.raises(ValueError, match="unknown moe method"):
        train(replace(moe_debug_cpu(), method="fast-moe"))
    with pytest.raises(ValueError, match="compile=True needs capacities"):
        train(replace(moe_debug_cpu(), method="tutel-cf0", compile=True))
    with pytest.raises(ValueError, match="dtype"):
        train(replace(moe_debug_cpu(), dtype="float8"))
    with pytest.raises(ValueError, match="steps must be"):
        train(replace(moe_debug_cpu(), steps=0))
