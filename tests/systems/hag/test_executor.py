"""Executor: HAG outputs and gradients equal plain message passing (every kernel, sum and max, weighted and
directed graphs, GCN/GIN/SGC/SAGE-max/SAGE-LSTM), and our layers equal PyG's on loops, duplicates, weights."""

import numpy as np
import pytest
import torch

from systems.hag.executor import (MODELS, SEQ_MODELS, Net, aggregate, lstm_aggregate, make_plan,
                                  plain_message_passing)
from systems.hag.graph import from_edges, karate_graph, parse_edge_list
from systems.hag.search import hag_search, plain_hag
from systems.hag.workloads import build_graph


def _directed_multigraph():
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 60, 600), rng.integers(0, 60, 600)  # loops and duplicates included
    return from_edges(60, src, dst)


def _weighted():
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, 50, 500), rng.integers(0, 50, 500)
    return from_edges(50, src, dst, weights=rng.choice([0.5, 1.0, 2.0], 500), undirected=True)


GRAPHS = {"karate": karate_graph, "clique-mini": lambda: build_graph("clique-mini"),
          "directed-multi": _directed_multigraph, "weighted": _weighted}


def _reference(g, x, op):
    src, dst = (torch.as_tensor(a) for a in g.edge_arrays())
    w = torch.as_tensor(g.edge_weights(), dtype=x.dtype)
    return plain_message_passing(src, dst, x, op, None if op == "max" else w)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("kernel", ["fused", "csr", "scatter"])
@pytest.mark.parametrize("op", ["sum", "max"])
def test_aggregate_output_and_gradient_equal_plain(name, kernel, op):
    g = GRAPHS[name]()
    r = hag_search(g, capacity_frac=1.5)
    assert r.after.agg_nodes > 0
    plan = make_plan(r.hag, kernel=kernel, graph=g)
    assert plan.kernel_used == kernel  # the native library is built in the test environment
    torch.manual_seed(0)
    x1 = torch.randn(g.num_nodes, 5, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_(True)
    w = torch.randn(g.num_nodes, 5)
    out_h = aggregate(plan, x1, op)
    out_p = _reference(g, x2, op)
    torch.testing.assert_close(out_h, out_p, rtol=1e-5, atol=1e-5)
    (out_h * w).sum().backward()
    (out_p * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-5, atol=1e-5)


def test_symmetry_detection_picks_the_backward():
    assert make_plan(hag_search(karate_graph()).hag, graph=karate_graph()).symmetric
    g = _directed_multigraph()
    assert not make_plan(hag_search(g).hag, graph=g).symmetric
    gw = _weighted()
    assert make_plan(hag_search(gw).hag, graph=gw).symmetric  # weights equal both ways
    gd = parse_edge_list("0 1 2\n1 0 3\n")
    assert not make_plan(hag_search(gd).hag, graph=gd).symmetric  # same pattern, different weights


def test_fused_kernel_float64_and_threads():
    g = build_graph("clique-mini")
    h = hag_search(g, capacity_frac=1.0).hag
    x = torch.randn(g.num_nodes, 24, dtype=torch.float64)
    ref = _reference(g, x, "sum")
    for threads in (1, 2):
        out = aggregate(make_plan(h, kernel="fused", graph=g, threads=threads), x)
        torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    for d in (1, 3, 4, 8, 12, 16, 40):  # every width path of the kernel (vector chunks and the scalar tail)
        xd = torch.randn(g.num_nodes, d)
        torch.testing.assert_close(aggregate(make_plan(h, kernel="fused", graph=g), xd), _reference(g, xd, "sum"),
                                   rtol=1e-5, atol=1e-4)


def test_plan_keeps_original_degree_and_fewer_edges():
    g = karate_graph()
    r = hag_search(g, capacity_frac=1.0)
    for plan in (make_plan(r.hag), make_plan(r.hag, graph=g)):
        assert plan.in_degree.tolist() == [float(len(x)) for x in g.in_lists]
        assert len(plan.src) < g.num_edges  # fewer edges into real nodes


@pytest.mark.parametrize("model", MODELS)
def test_models_forward_and_parameter_gradients_equal(model):
    g = build_graph("clique-mini")
    mode = "seq" if model in SEQ_MODELS else "set"
    hag = hag_search(g, capacity_frac=0.5, mode=mode).hag
    assert hag.num_agg > 0
    plans = [make_plan(plain_hag(g)), make_plan(hag)]
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


@pytest.mark.parametrize("name", ["karate", "clique-mini"])
def test_lstm_executor_equals_nn_lstm_and_reuses_prefixes(name):
    g = karate_graph() if name == "karate" else build_graph(name)
    r = hag_search(g, capacity_frac=1.0, mode="seq")
    plain, hagp = make_plan(plain_hag(g)), make_plan(r.hag)
    torch.manual_seed(2)
    cell = torch.nn.LSTMCell(5, 7)
    x = torch.randn(g.num_nodes, 5)
    outs, grads = [], []
    for plan in (plain, hagp):
        xx = x.clone().requires_grad_(True)
        cell.zero_grad()
        o = lstm_aggregate(plan, cell, xx)
        (o * torch.linspace(-1, 1, 7)).sum().backward()
        outs.append(o.detach())
        grads.append([xx.grad] + [p.grad.clone() for p in cell.parameters()])
    lstm = torch.nn.LSTM(5, 7, batch_first=True)
    with torch.no_grad():
        for a, b in zip(lstm.parameters(), cell.parameters()):
            a.copy_(b)
        ref = torch.zeros(g.num_nodes, 7)
        for v, nb in enumerate(g.in_lists):
            if nb:
                ref[v] = lstm(x[nb].unsqueeze(0))[0][0, -1]
    torch.testing.assert_close(outs[0], ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    from systems.hag.executor import seq_plan

    assert seq_plan(hagp).cells < seq_plan(plain).cells  # shared prefixes: fewer LSTM steps


def test_lstm_needs_a_sequential_hag():
    g = build_graph("clique-mini")
    plan = make_plan(hag_search(g, capacity_frac=1.0, mode="set").hag)
    with pytest.raises(ValueError, match="sequential HAG"):
        Net("sage-lstm", 4, 8, 2)(plan, torch.randn(g.num_nodes, 4))


def test_gcn_matches_pyg_gcnconv():
    pytest.importorskip("torch_geometric")
    from systems.hag.train import PygGCN

    g = karate_graph()
    hag = hag_search(g, capacity_frac=1.0).hag
    torch.manual_seed(2)
    net = Net("gcn", 7, 16, 4)
    x = torch.randn(g.num_nodes, 7)
    pm = PygGCN(7, 16, 4)
    pm.load_from(net)
    src, dst = g.edge_arrays()
    ei = torch.as_tensor(np.stack([src, dst]))
    with torch.no_grad():
        torch.testing.assert_close(net(make_plan(hag, graph=g), x), pm(x, ei), rtol=1e-4, atol=1e-5)


RAW = "0 1\n0 1\n1 2\n2 0\n2 2\n3 3\n3 3\n1 3\n3 1\n0 2\n4 0\n4 1\n4 2\n0 4\n1 4\n"  # duplicates, loops (one repeated)


def _raw_pyg_input(text):
    rows = [line.split() for line in text.strip().splitlines()]
    ei = torch.tensor([[int(r[0]) for r in rows], [int(r[1]) for r in rows]])
    ew = torch.tensor([float(r[2]) for r in rows]) if len(rows[0]) == 3 else None
    return ei, ew


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("frac", [0.0, 2.0])
def test_gcn_equals_pyg_on_loops_duplicates_and_weights(weighted, frac):
    pytest.importorskip("torch_geometric")
    from torch_geometric.nn import GCNConv

    from systems.hag.executor import GCNLayer, _dinv

    lines = RAW.strip().splitlines()
    if weighted:  # PyG keeps one of several weighted copies of a loop: repeat loops only unweighted
        lines = [f"{ln} {0.5 + i / 7:.3f}" for i, ln in enumerate(lines) if not (ln == "3 3" and i == 6)]
    text = "\n".join(lines) + "\n"
    g = parse_edge_list(text)
    assert g.num_loops == 2 and (g.weighted or not weighted)
    ei, ew = _raw_pyg_input(text)
    torch.manual_seed(3)
    conv = GCNConv(3, 4)
    x = torch.randn(g.num_nodes, 3)
    layer = GCNLayer(3, 4)
    with torch.no_grad():
        layer.lin.weight.copy_(conv.lin.weight)
        layer.bias.copy_(conv.bias)
    r = hag_search(g, capacity_frac=frac)
    plan = make_plan(r.hag, graph=g)
    with torch.no_grad():
        torch.testing.assert_close(layer(plan, x, _dinv(plan)), conv(x, ei, ew), rtol=1e-5, atol=1e-6)


def test_gin_equals_pyg_on_loops_and_duplicates():
    pytest.importorskip("torch_geometric")
    from torch_geometric.nn import GINConv

    from systems.hag.executor import GINLayer

    g = parse_edge_list(RAW)
    ei, _ = _raw_pyg_input(RAW)
    torch.manual_seed(4)
    layer = GINLayer(3, 4)
    conv = GINConv(layer.mlp, train_eps=True)
    x = torch.randn(g.num_nodes, 3)
    plan = make_plan(hag_search(g, capacity_frac=2.0).hag, graph=g)
    with torch.no_grad():
        torch.testing.assert_close(layer(plan, x, None), conv(x, ei), rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_cuda_fused_kernel_equals_plain():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    from systems.hag import triton_kernels

    for name in ("clique-mini", "directed-multi", "weighted"):
        g = GRAPHS[name]()
        hag = hag_search(g, capacity_frac=1.0).hag
        for kernel in ("fused", "csr"):
            plan = make_plan(hag, "cuda", kernel=kernel, graph=g)
            if kernel == "fused":
                assert plan.kernel_used == ("fused" if triton_kernels.available() else "csr")
            src, dst = (torch.as_tensor(a, device="cuda") for a in g.edge_arrays())
            w = torch.as_tensor(g.edge_weights(), dtype=torch.float32, device="cuda")
            x = torch.randn(g.num_nodes, 16, device="cuda", requires_grad=True)
            y = x.detach().clone().requires_grad_(True)
            for op in ("sum", "max"):
                a = aggregate(plan, x, op)
                b = plain_message_passing(src, dst, y, op, None if op == "max" else w)
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
                a.sum().backward()
                b.sum().backward()
                torch.testing.assert_close(x.grad, y.grad, rtol=1e-5, atol=1e-5)
                x.grad = None
                y.grad = None
