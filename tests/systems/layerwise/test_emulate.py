import random

import pytest

from systems.layerwise import graph as G
from systems.layerwise.emulate import check
from systems.layerwise.evaluate import plan


@pytest.mark.parametrize("net", ["tiny_alexnet", "tiny_vgg", "tiny_inception", "micro_cnn"])
def test_emulated_strategies_match_unsplit_network(net):
    g = G.build(net, 4)
    ran_nontrivial = False
    for method in ("layerwise-dp", "model-parallel", "owt", "data-parallel"):
        p = plan(g, 4, method)
        r = check(g, p.model.configs, p.strategy)
        assert r.ok(1e-9), (method, r)
        # bytes really moved between emulated devices == the cost model's transfer bytes
        assert r.fwd_bytes + r.bwd_bytes == pytest.approx(p.breakdown.transfer_bytes)
        ran_nontrivial |= r.fwd_bytes > 0
    assert ran_nontrivial
    _check_random(g, p.model, n=1)


def _check_random(g, model, n, seed=0):
    rng = random.Random(seed)
    for _ in range(n):  # random strategies (spatial / channel / mixed splits, partial device sets)
        s = {name: rng.randrange(len(c)) for name, c in model.configs.items()}
        r = check(g, model.configs, s, seed=1)
        assert r.ok(1e-9)
        assert r.fwd_bytes + r.bwd_bytes == pytest.approx(model.breakdown(s).transfer_bytes)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["tiny_alexnet", "tiny_vgg", "tiny_inception"])
def test_many_random_strategies_on_8_devices(net):
    g = G.build(net, 8)
    _check_random(g, plan(g, 8, "owt").model, n=5, seed=3)


def test_emulation_detects_a_wrong_split():
    # sanity: the checker is not vacuous -- corrupting a weight gradient shows up
    from systems.layerwise import emulate as E

    g = G.micro_cnn(4)
    p = plan(g, 2, "model-parallel")
    params = E.init_params(g)
    import torch

    x = torch.randn(g.input_shape, dtype=torch.float64)
    go = {"softmax": torch.randn(g.by_name["softmax"].out_shape, dtype=torch.float64)}
    em = E.emulate(g, p.model.configs, p.strategy, params, x, go)
    _, ref_grads, _ = E.reference(g, params, x, go)
    assert torch.allclose(em.param_grads["conv"][0], ref_grads["conv"][0])
    params["conv"] = (params["conv"][0] * 1.001, params["conv"][1])
    em2 = E.emulate(g, p.model.configs, p.strategy, params, x, go)
    assert not torch.allclose(em2.outputs["softmax"], E.reference(g, E.init_params(g), x, go)[0]["softmax"])
