"""Executor: HAG outputs and gradients equal plain message passing (sum, max; GCN/GIN/SGC/SAGE-max)."""

import numpy as np
import pytest
import torch

from systems.hag.executor import MODELS, Net, aggregate, make_plan, plain_message_passing
from systems.hag.graph import karate_graph
from systems.hag.search import hag_search, plain_hag
from systems.hag.workloads import build_graph


def _graphs():
    return {"karate": karate_graph(), "clique-mini": build_graph("clique-mini")}


@pytest.mark.parametrize("name", ["karate", "clique-mini"])
@pytest.mark.parametrize("op", ["sum", "max"])
@pytest.mark.parametrize("mode", ["set", "seq"])
def test_aggregate_output_and_gradient_equal_plain(name, op, mode):
    g = _graphs()[name]
    r = hag_search(g.in_lists, capacity_frac=1.0, mode=mode)
    assert r.after.agg_nodes > 0
    plan = make_plan(r.hag)
    src, dst = (torch.as_tensor(a) for a in g.edge_arrays())
    torch.manual_seed(0)
    x1 = torch.randn(g.num_nodes, 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = torch.randn(g.num_nodes, 5)
    out_h = aggregate(plan, x1, op)
    out_p = plain_message_passing(src, dst, x2, op)
    torch.testing.assert_close(out_h, out_p, rtol=1e-5, atol=1e-5)
    (out_h * w).sum().backward()
    (out_p * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)


def test_plan_keeps_original_degree():
    g = karate_graph()
    r = hag_search(g.in_lists, capacity_frac=1.0)
    plan = make_plan(r.hag)
    assert plan.in_degree.tolist() == [float(len(x)) for x in g.in_lists]
    assert len(plan.src) < g.num_edges  # fewer edges into real nodes


@pytest.mark.parametrize("model", MODELS)
def test_models_forward_and_parameter_gradients_equal(model):
    g = build_graph("clique-mini")
    hag = hag_search(g.in_lists, capacity_frac=0.5).hag
    plans = [make_plan(plain_hag(g.in_lists)), make_plan(hag)]
    torch.manual_seed(1)
    net = Net(model, 6, 16, 3)
    x = torch.randn(g.num_nodes, 6)
    gids = torch.as_tensor(g.graph_ids)
    outs, grads = [], []
    for plan in plans:
        net.zero_grad()
        out = net(plan, x, gids, g.num_graphs)
        out.pow(2).sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in net.parameters()])
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_gcn_matches_pyg_gcnconv():
    pytest.importorskip("torch_geometric")
    from systems.hag.train import PygGCN

    g = karate_graph()
    hag = hag_search(g.in_lists, capacity_frac=1.0).hag
    torch.manual_seed(2)
    net = Net("gcn", 7, 16, 4)
    x = torch.randn(g.num_nodes, 7)
    pm = PygGCN(7, 16, 4)
    pm.load_from(net)
    src, dst = g.edge_arrays()
    ei = torch.as_tensor(np.stack([src, dst]))
    with torch.no_grad():
        torch.testing.assert_close(net(make_plan(hag), x), pm(x, ei), rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_cuda_equivalence():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    g = build_graph("clique-mini")
    hag = hag_search(g.in_lists, capacity_frac=1.0).hag
    plan = make_plan(hag, "cuda")
    src, dst = (torch.as_tensor(a, device="cuda") for a in g.edge_arrays())
    x = torch.randn(g.num_nodes, 16, device="cuda", requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    for op in ("sum", "max"):
        a = aggregate(plan, x, op)
        b = plain_message_passing(src, dst, y, op)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
        a.sum().backward()
        b.sum().backward()
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-5)
        x.grad = None
        y.grad = None


@pytest.mark.parametrize("kernel", ["csr", "scatter"])
def test_kernels_agree(kernel):
    g = build_graph("clique-mini")
    r = hag_search(g.in_lists, capacity_frac=1.0)
    plan = make_plan(r.hag, kernel=kernel)
    src, dst = (torch.as_tensor(a) for a in g.edge_arrays())
    x1 = torch.randn(g.num_nodes, 4, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    a = aggregate(plan, x1)
    b = plain_message_passing(src, dst, x2)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    a.pow(2).sum().backward()
    b.pow(2).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="kernel"):
        aggregate(make_plan(r.hag, kernel="dense"), x1)


def test_directed_graph_uses_reversed_dag_and_matches():
    from systems.hag.graph import from_edges

    rng = np.random.default_rng(3)
    src = rng.integers(0, 60, 600)
    dst = rng.integers(0, 60, 600)
    keep = src != dst
    g = from_edges(60, src[keep], dst[keep])
    r = hag_search(g.in_lists, capacity_frac=2.0)
    assert r.after.agg_nodes > 0
    plan = make_plan(r.hag)
    assert not plan.symmetric
    assert make_plan(hag_search(karate_graph().in_lists).hag).symmetric
    s, d = (torch.as_tensor(a) for a in g.edge_arrays())
    x1 = torch.randn(60, 3, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = torch.randn(60, 3)
    (aggregate(plan, x1) * w).sum().backward()
    (plain_message_passing(s, d, x2) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)
