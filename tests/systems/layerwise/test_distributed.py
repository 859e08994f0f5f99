"""Real multi-process execution (gloo on CPU): numerics equal to single-process training."""

import random

import numpy as np
import pytest

from systems.layerwise import distributed as D
from systems.layerwise.config import CostConfig, cpu_emulated
from systems.layerwise.cost import CostModel
from systems.layerwise.evaluate import plan
from systems.layerwise.graph import build
from systems.layerwise.parallel import find_config, layer_configs


def _strategies(g, p, n_random=2, seed=0):
    cfgs = layer_configs(g, p)
    out = {}
    for m in ("data-parallel", "model-parallel", "owt"):
        s = plan(g, p, m).strategy
        out[m] = {n: cfgs[n][i] for n, i in s.items()}
    spatial = {}
    for ly in g.layers:
        try:
            spatial[ly.name] = cfgs[ly.name][find_config(cfgs[ly.name], {"h": p})]
        except KeyError:
            spatial[ly.name] = cfgs[ly.name][find_config(cfgs[ly.name], {"n": p})]
    out["spatial"] = spatial
    # the layer-wise optimum under a cost model of this CPU (bandwidth low enough to make it mix splits)
    m = CostModel(g, p, cpu_emulated(bw=2e8, gpus_per_node=p), CostConfig())
    lw = plan(g, p, "layerwise-dp", model=m).strategy
    out["layerwise-dp"] = {n: m.configs[n][i] for n, i in lw.items()}
    rng = random.Random(seed)
    for i in range(n_random):
        out[f"random{i}"] = {n: c[rng.randrange(len(c))] for n, c in cfgs.items()}
    return out


def test_layout_messages_are_halos_gathers_and_nothing_for_matching_splits():
    g = build("tiny_vgg", 8)
    cfgs = layer_configs(g, 2)
    same = {n: c[find_config(c, {"n": 2})] for n, c in cfgs.items()}
    assert D.Layout.build(g, same).message_bytes() == 0  # sample split after sample split
    halo = dict(same, conv1_1=cfgs["conv1_1"][find_config(cfgs["conv1_1"], {"h": 2})],
                conv1_2=cfgs["conv1_2"][find_config(cfgs["conv1_2"], {"h": 2})])
    lay = D.Layout.build(g, halo)
    m = [x for x in lay.messages["conv1_2"]]
    assert len(m) == 2 and all(x.box[2][1] - x.box[2][0] == 1 for x in m)  # one halo row each way
    # every message is the cost model's transfer: same bytes (fwd + bwd)
    model = CostModel(g, 2, cpu_emulated(gpus_per_node=2))
    idx = {n: model.configs[n].index(c) for n, c in halo.items()}
    assert lay.message_bytes() == pytest.approx(model.breakdown(idx).transfer_bytes)
    # replica groups: data parallel replicates every weight on both devices
    assert lay.groups["fc1"] == [(0, 1)]


def test_two_processes_train_like_one_process():
    g = build("tiny_inception", 8)
    strategies = _strategies(g, 2, n_random=1)
    job = D.Job(g, strategies, steps=2, dtype="float64")
    results = D.run_strategies(job, 2, backend="gloo", timeout_s=300)
    cmp = D.check_against_reference(job, results)
    moved = False
    for name, c in cmp.items():
        assert c.ok(1e-9), (name, c)
        # bytes really sent over gloo == the cost model's transfer bytes (fp64 here: x2), per step
        assert c.bytes_sent_train == pytest.approx(job.steps * D.Layout.build(g, strategies[name]).message_bytes(8))
        moved |= c.bytes_sent_train > 0
    assert moved and cmp["data-parallel"].bytes_sent_train == 0
    # the check is not vacuous: a corrupted weight shard is caught
    d = results[0].per_strategy["model-parallel"]["weights"]
    name = next(iter(d))
    d[name][1][0] += 1e-3
    assert not D.check_against_reference(job, results)["model-parallel"].ok(1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["tiny_alexnet", "tiny_densenet", "tiny_randwire"])
def test_four_processes_train_like_one_process(net):
    g = build(net, 8)
    strategies = _strategies(g, 4, n_random=3, seed=1)
    job = D.Job(g, strategies, steps=2, dtype="float64")
    cmp = D.check_against_reference(job, D.run_strategies(job, 4, backend="gloo", timeout_s=600))
    for name, c in cmp.items():
        assert c.ok(1e-9), (name, c)


def test_bad_strategy_for_the_world_size_is_refused():
    g = build("micro_cnn", 8)
    cfgs = layer_configs(g, 4)
    s = {n: c[find_config(c, {"n": 4})] for n, c in cfgs.items()}
    with pytest.raises(ValueError, match="world size is 2"):
        D.run_strategies(D.Job(g, {"dp4": s}), 2)
    assert np.isfinite(D.Layout.build(g, s).message_bytes())
