"""GroupBy/Aggregate against a dense reference, exact drop counting, Tutel capacity semantics."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from systems.moe.config import LayerConfig
from systems.moe.layer import MoELayer, capacity_for, make_plan, tutel_capacity


def _layer(n=4, k=2, d=8, h=16, seed=0):
    torch.manual_seed(seed)
    return MoELayer(LayerConfig(d_model=d, d_hidden=h, n_experts=n, top_k=k))


@settings(max_examples=15, derandomize=True, deadline=None)
@given(n=st.integers(2, 6), k=st.integers(1, 2), batch=st.integers(1, 40), seed=st.integers(0, 100))
def test_groupby_aggregate_equal_dense_reference_with_unlimited_capacity(n, k, batch, seed):
    layer = _layer(n, k, seed=seed)
    x = torch.randn(batch, 8, generator=torch.Generator().manual_seed(seed))
    ref = layer.dense_reference(x)
    uniform = (batch,) * n
    ragged = tuple(batch + e for e in range(n))  # unequal capacities -> per-expert path
    for kwargs in ({"caps": uniform}, {"caps": ragged}, {"backend": "tutel", "tutel_cf": 0.0},
                   {"backend": "dropless"}, {"caps": (capacity_for(n / k, k, n, batch),) * n}):
        y, aux = layer(x, **kwargs)
        assert torch.allclose(y, ref, atol=1e-5), kwargs
        assert int(aux["dropped"]) == 0


def test_gradients_equal_dense_reference():
    layer = _layer()
    x = torch.randn(30, 8, requires_grad=True)
    layer(x, caps=(30,) * 4)[0].square().sum().backward()
    g_moe = [p.grad.clone() for p in layer.parameters()] + [x.grad.clone()]
    layer.zero_grad()
    x.grad = None
    layer.dense_reference(x).square().sum().backward()
    g_ref = [p.grad for p in layer.parameters()] + [x.grad]
    for a, b in zip(g_moe, g_ref):
        assert torch.allclose(a, b, atol=1e-5)


def _brute_drops(topi, caps):
    """First choices of all tokens outrank second choices; within a rank, lower token index first."""
    used = [0] * len(caps)
    dropped, kept = 0, set()
    for j in range(topi.shape[1]):
        for t in range(topi.shape[0]):
            e = int(topi[t, j])
            if used[e] < caps[e]:
                used[e] += 1
                kept.add((t, j))
            else:
                dropped += 1
    return dropped, kept


@settings(max_examples=25, derandomize=True, deadline=None)
@given(n=st.integers(2, 6), k=st.integers(1, 3), batch=st.integers(1, 30), seed=st.integers(0, 1000),
       cap_seed=st.integers(0, 1000))
def test_drops_counted_exactly(n, k, batch, seed, cap_seed):
    k = min(k, n)
    g = torch.Generator().manual_seed(seed)
    topi = torch.stack([torch.randperm(n, generator=g)[:k] for _ in range(batch)])
    caps = tuple(int(c) for c in torch.randint(1, batch + 1, (n,), generator=torch.Generator().manual_seed(cap_seed)))
    plan = make_plan(topi, caps)
    dropped, kept = _brute_drops(topi, caps)
    assert int((~plan.keep).sum()) == dropped
    assert {(i % batch, i // batch) for i in torch.nonzero(plan.keep).flatten().tolist()} == kept
    assert plan.counts.tolist() == torch.bincount(topi.flatten(), minlength=n).tolist()
    # every kept assignment has its own buffer row, inside its expert's segment
    rows = plan.slot[plan.keep].tolist()
    assert len(rows) == len(set(rows))
    offsets = [sum(caps[:e]) for e in range(n)]
    for i in torch.nonzero(plan.keep).flatten().tolist():
        e = int(topi[i % batch, i // batch])
        assert offsets[e] <= plan.slot[i] < offsets[e] + caps[e]
        assert plan.src[plan.slot[i]] == i % batch


def test_layer_reports_drops_and_zeroes_dropped_contributions():
    layer = _layer(n=4, k=1)
    x = torch.randn(40, 8)
    caps = (3, 3, 3, 3)
    y, aux = layer(x, caps=caps)
    _, topi = layer.route(x)
    dropped, kept = _brute_drops(topi, caps)
    assert int(aux["dropped"]) == dropped
    kept_tokens = {t for t, _ in kept}
    ref = layer.dense_reference(x)
    for t in range(40):
        expect = ref[t] if t in kept_tokens else torch.zeros(8)
        assert torch.allclose(y[t], expect, atol=1e-5)


def test_capacity_formula():
    assert capacity_for(1.0, 2, 16, 512) == 64
    assert capacity_for(1.25, 2, 16, 512) == 80
    assert capacity_for(2.0, 2, 16, 512) == 128
    assert capacity_for(1.3, 1, 4, 10) == math.ceil(1.3 * 10 / 4)
    assert capacity_for(100.0, 2, 4, 10) == 10  # never more rows than tokens
    with pytest.raises(ValueError, match="capacity factor"):
        capacity_for(0.0, 2, 4, 10)


def test_tutel_capacity_semantics():
    counts = torch.tensor([10, 3, 7, 4])  # B=12 tokens, k=2, n=4 -> ceil(B/n)=3
    assert tutel_capacity(1.0, counts, 2, 12) == 2 * int(1.0 * 3)
    assert tutel_capacity(0.0, counts, 2, 12) == 10  # dropless: the max load
    assert tutel_capacity(-1.0, counts, 2, 12) == 6  # max load capped at k*int(|cf|*ceil(B/n))
    assert tutel_capacity(-5.0, counts, 2, 12) == 10


def test_cached_plan_is_used_instead_of_this_steps_routing():
    layer = _layer(n=4, k=2)
    x = torch.randn(20, 8)
    probs, topi = layer.route(x)
    cached = torch.roll(topi, 1, dims=1).flip(0)  # some other assignment
    cached[:, 0] = (cached[:, 1] + 1) % 4
    plan = make_plan(cached, (20,) * 4)
    y, aux = layer(x, plan=plan)
    w = probs.gather(1, cached)
    w = w / w.sum(-1, keepdim=True)
    expect = sum(w[:, j:j + 1] * layer.experts.dense_one(cached[:, j], x) for j in range(2))
    assert torch.allclose(y, expect, atol=1e-5)
    assert aux["counts"].tolist() == torch.bincount(cached.flatten(), minlength=4).tolist()


def test_bad_inputs_fail_clearly():
    layer = _layer()
    x = torch.randn(5, 8)
    with pytest.raises(ValueError, match="needs 4 capacities"):
        layer(x, caps=(5, 5))
    with pytest.raises(ValueError, match="unknown dispatch backend"):
        layer(x, caps=(5,) * 4, backend="magic")
    with pytest.raises(ValueError, match="top_k"):
        MoELayer(LayerConfig(n_experts=2, top_k=3))
