"""Training and timing: the plain graph, one or more HAGs and (optionally) PyG, in lock step.

All variants start from the same weights and see the same data; their epochs are interleaved
(plain, HAG, PyG, plain, HAG, PyG, ...) so that machine load drifts affect them alike. Each epoch
(forward, loss, backward, Adam step) is timed; the median is reported.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from systems.hag.config import TrainConfig
from systems.hag.executor import Net, Plan, make_plan, mean_pool, plain_message_passing
from systems.hag.graph import Graph
from systems.hag.search import Hag, plain_hag


@dataclass
class Task:
    """Synthetic features/labels and the split for one graph."""

    x: torch.Tensor
    """Node features (n × F)."""
    y: torch.Tensor
    """Labels (per node, or per graph for graph classification)."""
    train: torch.Tensor
    """Bool mask over label rows used for training."""
    test: torch.Tensor
    """Bool mask over label rows used for accuracy."""
    graph_ids: torch.Tensor | None
    """Graph id per node (graph classification) or None."""
    num_graphs: int
    """Number of graphs (1 for node classification)."""


def make_task(g: Graph, task: str, cfg: TrainConfig, seed: int, device: str = "cpu") -> Task:
    """Deterministic synthetic task: Gaussian features, labels from a random one-hop teacher."""
    gen = torch.Generator().manual_seed(1000 + seed)
    n = g.num_nodes
    x = torch.randn(n, cfg.num_features, generator=gen)
    src, dst = g.edge_arrays()
    s, d = torch.as_tensor(src), torch.as_tensor(dst)
    smooth = x + plain_message_passing(s, d, x, "sum", torch.as_tensor(g.edge_weights(), dtype=x.dtype))
    teacher = torch.randn(cfg.num_features, cfg.num_classes, generator=gen)
    scores = smooth @ teacher
    gids = None
    ng = 1
    if task == "graph" and g.graph_ids is not None:
        gids = torch.as_tensor(g.graph_ids)
        ng = g.num_graphs
        scores = mean_pool(scores, gids, ng)
    scores = scores - scores.mean(0, keepdim=True)  # balance the classes a little
    y = scores.argmax(1)
    rows = y.shape[0]
    perm = torch.randperm(rows, generator=gen)
    train = torch.zeros(rows, dtype=torch.bool)
    train[perm[: max(1, rows // 2)]] = True
    test = ~train if rows > 1 else train.clone()
    return Task(x=x.to(device), y=y.to(device), train=train.to(device), test=test.to(device),
                graph_ids=None if gids is None else gids.to(device), num_graphs=ng)


@dataclass
class VariantResult:
    """What training one variant gave."""

    epoch_times: list[float] = field(default_factory=list)
    """Wall seconds of every timed epoch."""
    epoch_cpu_times: list[float] = field(default_factory=list)
    """Process CPU seconds of every timed epoch (steadier than wall on a loaded machine)."""
    accuracy: float = 0.0
    """Test accuracy after the last epoch."""
    final_loss: float = 0.0
    """Training loss of the last epoch."""
    init_max_abs_diff: float = 0.0
    """max |output − plain output| at initialisation (same weights)."""
    predictions: torch.Tensor | None = None
    """Test-set predictions after training."""
    kernel_used: str = ""
    """The sum kernel that ran (``fused`` falls back to ``csr`` without the native library / Triton)."""

    @property
    def epoch_s(self) -> float:
        return float(np.median(self.epoch_times)) if self.epoch_times else float("nan")

    @property
    def epoch_cpu_s(self) -> float:
        return float(np.median(self.epoch_cpu_times)) if self.epoch_cpu_times else float("nan")


class PygGCN(torch.nn.Module):
    """The peer: two PyG ``GCNConv`` layers (+ mean pooling for graph tasks)."""

    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.c1 = GCNConv(d_in, hidden, cached=True)
        self.c2 = GCNConv(hidden, d_out, cached=True)

    def forward(self, x, edge_index, graph_ids=None, num_graphs=1, edge_weight=None):
        h = torch.relu(self.c1(x, edge_index, edge_weight))
        out = self.c2(h, edge_index, edge_weight)
        return mean_pool(out, graph_ids, num_graphs) if graph_ids is not None else out

    def load_from(self, net: Net) -> None:
        """Copy the weights of our GCN ``Net`` (so both start identical)."""
        with torch.no_grad():
            self.c1.lin.weight.copy_(net.l1.lin.weight)
            self.c1.bias.copy_(net.l1.bias)
            self.c2.lin.weight.copy_(net.l2.lin.weight)
            self.c2.bias.copy_(net.l2.bias)


def pyg_inputs(g: Graph, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(edge_index, edge_weight)`` of ``g`` as PyG reads it: every non-loop edge, plus one self-loop per
    node that has one in the input (weight: what ``add_remaining_self_loops`` keeps); weights only when
    the graph is weighted."""
    src, dst = g.edge_arrays()
    w = g.edge_weights()
    if g.loop_weight is not None:
        loops = np.flatnonzero(g.loop_weight)
        src, dst = np.concatenate([src, loops]), np.concatenate([dst, loops])
        w = np.concatenate([w, g.gcn_loop[loops] if g.gcn_loop is not None else np.ones(len(loops))])
    ei = torch.as_tensor(np.stack([src, dst]), device=device)
    ew = torch.as_tensor(w, dtype=torch.float32, device=device) if g.weighted or g.gcn_loop is not None else None
    return ei, ew


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_compare(g: Graph, hags: dict[str, Hag], task: Task, cfg: TrainConfig, seed: int,
                  device: str = "cpu", pyg: bool | None = None) -> dict[str, VariantResult]:
    """Train the plain graph (key ``plain``), every HAG in ``hags`` and optionally PyG (``pyg``)."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.model == "sage-lstm" and any(h.mode != "seq" for h in hags.values()):
        raise ValueError("sage-lstm needs sequential HAGs (search mode 'seq')")
    use_pyg = cfg.pyg if pyg is None else pyg
    if use_pyg and cfg.model != "gcn":
        use_pyg = False  # the PyG peer is GCNConv only
    torch.manual_seed(seed)
    base = Net(cfg.model, task.x.shape[1], cfg.hidden, max(cfg.num_classes, int(task.y.max()) + 1))
    base.to(device)
    threads = cfg.threads or torch.get_num_threads()
    plain_mode = "seq" if cfg.model == "sage-lstm" else "set"
    plans: dict[str, Plan] = {"plain": make_plan(plain_hag(g, plain_mode), device, cfg.kernel, graph=g,
                                                 threads=threads)}
    for k, h in hags.items():
        plans[k] = make_plan(h, device, cfg.kernel, graph=g, threads=threads)
    models = {k: copy.deepcopy(base) for k in plans}
    opts = {k: torch.optim.Adam(m.parameters(), lr=cfg.lr) for k, m in models.items()}
    results = {k: VariantResult(kernel_used=p.kernel_used) for k, p in plans.items()}

    def step_fn(key):
        model, opt, plan = models[key], opts[key], plans[key]

        def step():
            opt.zero_grad(set_to_none=True)
            out = model(plan, task.x, task.graph_ids, task.num_graphs)
            loss = F.cross_entropy(out[task.train], task.y[task.train])
            loss.backward()
            opt.step()
            return loss
        return step

    steps = {k: step_fn(k) for k in plans}
    pyg_models: dict[str, tuple] = {}
    if use_pyg:
        # the same edge list PyG would read: non-loop edges plus the input self-loops (GCNConv replaces them
        # by add_remaining_self_loops, as our layer does); weights as edge_weight when weighted
        ei, ew = pyg_inputs(g, device)
        from torch_geometric.utils import to_torch_csr_tensor

        adj_t = to_torch_csr_tensor(torch.stack([ei[1], ei[0]]), ew, size=(g.num_nodes, g.num_nodes))
        # two PyG paths: the edge_index message passing and the sparse CSR adjacency (spmm); without
        # torch_sparse installed the CSR adjacency is PyG's fastest CPU path
        for key, inp in (("pyg", (ei, ew)), ("pyg_csr", (adj_t, None))):
            pm = PygGCN(task.x.shape[1], cfg.hidden, max(cfg.num_classes, int(task.y.max()) + 1)).to(device)
            pm.load_from(base)
            popt = torch.optim.Adam(pm.parameters(), lr=cfg.lr)
            results[key] = VariantResult(kernel_used=key)
            pyg_models[key] = (pm, inp)

            def pyg_step(pm=pm, popt=popt, inp=inp):
                popt.zero_grad(set_to_none=True)
                out = pm(task.x, inp[0], task.graph_ids, task.num_graphs, edge_weight=inp[1])
                loss = F.cross_entropy(out[task.train], task.y[task.train])
                loss.backward()
                popt.step()
                return loss
            steps[key] = pyg_step

    # equivalence at initialisation (same weights)
    with torch.no_grad():
        ref = models["plain"](plans["plain"], task.x, task.graph_ids, task.num_graphs)
        for k in plans:
            out = models[k](plans[k], task.x, task.graph_ids, task.num_graphs)
            results[k].init_max_abs_diff = float((out - ref).abs().max()) if out.numel() else 0.0
        for key, (pm, inp) in pyg_models.items():
            out = pm(task.x, inp[0], task.graph_ids, task.num_graphs, edge_weight=inp[1])
            results[key].init_max_abs_diff = float((out - ref).abs().max()) if out.numel() else 0.0

    losses: dict[str, float] = {}
    for _epoch in range(cfg.epochs):
        for k, step in steps.items():
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            loss = step()
            _sync(device)
            results[k].epoch_times.append(time.perf_counter() - t0)
            results[k].epoch_cpu_times.append(time.process_time() - c0)
            losses[k] = float(loss.detach())
    with torch.no_grad():
        for k in steps:
            if k in pyg_models:
                pm, inp = pyg_models[k]
                out = pm(task.x, inp[0], task.graph_ids, task.num_graphs, edge_weight=inp[1])
            else:
                out = models[k](plans[k], task.x, task.graph_ids, task.num_graphs)
            pred = out[task.test].argmax(1)
            results[k].predictions = pred.cpu()
            results[k].accuracy = float((pred == task.y[task.test]).float().mean()) if pred.numel() else 0.0
            results[k].final_loss = losses.get(k, float("nan"))
    # the first epoch includes one-off allocation/caching: drop it from the timing when possible
    for r in results.values():
        if len(r.epoch_times) > 2:
            r.epoch_times = r.epoch_times[1:]
            r.epoch_cpu_times = r.epoch_cpu_times[1:]
    return results
