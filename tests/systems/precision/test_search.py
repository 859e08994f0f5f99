"""pi_ours(r): largest-first ordering and the shortest prefix reaching share r; ablation orders."""

import pytest

from systems.precision.assign import LOW, HIGH
from systems.precision.graph import Node, build_graph
from systems.precision.search import group_order, pi_ours, prefix_for_share


def _chain(sizes):
    """InputNode then one conv per entry; each conv's output has ``size`` elements per sample, no params."""
    nodes = [Node(0, "inp", "InputNode", 1, [], [])]
    for i, s in enumerate(sizes):
        nodes.append(Node(i + 1, f"c{i}", "Conv2d", s, [], [i]))
    return build_graph(nodes, batch_size=1)


def test_prefix_selection_largest_first():
    # group sizes (Y + GY): inp 2, then 2*[10, 40, 30, 20] -> total 202
    g = _chain([10, 40, 30, 20])
    assert [grp.numel for grp in g.groups] == [2, 20, 80, 60, 40]
    order = group_order(g, "largest")
    assert order == [2, 3, 4, 1, 0]
    assert prefix_for_share(g, order, 0.0) == []
    assert prefix_for_share(g, order, 0.3) == [2]  # 80/202 = 0.396 >= 0.3
    assert prefix_for_share(g, order, 0.396) == [2]
    assert prefix_for_share(g, order, 0.4) == [2, 3]  # 140/202 = 0.693
    assert prefix_for_share(g, order, 0.7) == [2, 3, 4]  # 180/202 = 0.891
    assert prefix_for_share(g, order, 1.0) == [2, 3, 4, 1, 0]
    a = pi_ours(g, 0.4)
    assert a.low == set(g.groups[2].tensors) | set(g.groups[3].tensors)
    assert a.low_share() == pytest.approx(140 / 202)
    for tid, t in g.tensors.items():
        assert a.formats[tid] == (LOW if tid in a.low else HIGH)[t.kind]


def test_ablation_orders():
    g = _chain([10, 40, 30, 20])
    assert group_order(g, "smallest") == [0, 1, 4, 3, 2]
    # 2 + 20 = 22 elements reach 0.1 * 202
    assert pi_ours(g, 0.1, order="smallest").low == set(g.groups[0].tensors) | set(g.groups[1].tensors)
    r1 = group_order(g, "random", seed=123)
    assert sorted(r1) == list(range(5)) and r1 == group_order(g, "random", seed=123)
    assert len({tuple(group_order(g, "random", seed=s)) for s in (123, 456, 789)}) > 1


def test_share_is_monotone_in_r_and_bad_r_rejected():
    g = _chain([5, 17, 3, 40, 11, 9])
    shares = [pi_ours(g, r / 10).low_share() for r in range(11)]
    assert shares == sorted(shares) and shares[0] == 0 and shares[-1] == 1
    assert all(s >= r / 10 - 1e-12 for s, r in zip(shares, range(11)))
    with pytest.raises(ValueError, match="r must be in"):
        pi_ours(g, 1.5)


def test_r_window_accepts_only_shares_in_r_to_r_plus_a_tenth():
    from systems.precision.search import in_r_window

    g = _chain([10, 40, 30, 20])  # group shares: 80/202 = 0.396, then 0.693, 0.891, 0.990, 1
    assert in_r_window(0.3, pi_ours(g, 0.3).low_elements_share())  # 0.396 in [0.3, 0.4]
    assert not in_r_window(0.4, pi_ours(g, 0.4).low_elements_share())  # 0.693 > 0.5: skipped
    assert in_r_window(0.0, 0.0) and in_r_window(1.0, 1.0)


def test_low_share_is_computed_from_bits_and_weight_gradients_stay_high():
    from systems.precision.baselines import unif_lo
    from systems.precision.graph import trace
    from systems.precision.models import build_model

    g = trace(build_model("resnet18"), (1, 8, 8), batch_size=128)
    lo = unif_lo(g)
    gp = sum(t.numel for t in g.tensors.values() if t.kind == "GP") / g.total_numel
    assert lo.low_elements_share() == 1.0
    assert lo.low_share() == pytest.approx(1.0 - gp)  # GP stays 16-bit: saves nothing
    assert 0.95 < lo.low_share() < 0.97  # ResNet-18 on 8x8 digits at batch 128
    assert pi_ours(g, 0.0).low_share() == 0.0
