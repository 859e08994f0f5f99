"""Torch executor: evaluate neighbour aggregation through a HAG, level by level.

Per layer (the paper's Algorithm 2): the aggregation nodes are computed level by level into one
buffer (each level is a contiguous id range, one vectorised ``a + b`` or ``max(a, b)``), then the real
nodes aggregate their (shorter) input lists: a sum is one sparse CSR × dense product (``adj @ buf``;
backward ``adj_t @ grad``, also CSR — on CPU far faster than gather + ``index_add_``), a max is one
``scatter_reduce``. The plain
GNN graph runs through the *same* code with no aggregation nodes, so timings compare like for like.

Models (2 layers, as in the paper's end-to-end experiment): ``gcn`` (symmetric normalisation
D̂^-1/2 (A + I) D̂^-1/2, numerically the same layer as PyG ``GCNConv``), ``gin`` (sum, 1 + ε),
``sgc`` (K = 2 propagation steps, then one linear layer) and ``sage-max`` (GraphSAGE-pool style
element-wise max over ReLU(W h_u)). Forward outputs and gradients equal plain message passing up to
fp32 summation order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", message=".*[Ss]parse.*(beta|invariant).*")

from systems.hag.search import Hag

MODELS: tuple[str, ...] = ("gcn", "gin", "sgc", "sage-max")


@dataclass
class Plan:
    """Index tensors of a HAG on one device."""

    num_nodes: int
    """Real nodes n."""
    num_agg: int
    """Aggregation nodes m."""
    levels: list[tuple[int, int, torch.Tensor, torch.Tensor]]
    """Per level: (start, end, left inputs, right inputs); the level's aggregation nodes are buffer
    rows ``start:end`` and their inputs are rows of real nodes or lower levels."""
    src: torch.Tensor
    """Inputs of the real nodes (buffer ids), one per HAG edge into a real node."""
    dst: torch.Tensor
    """Receiving real node of each entry of ``src`` (sorted)."""
    adj: torch.Tensor
    """The same edges as a sparse CSR matrix (n × (n + m)) of ones: sum aggregation = ``adj @ buf``."""
    adj_t: torch.Tensor
    """Its transpose as CSR ((n + m) × n), used by the backward pass."""
    in_degree: torch.Tensor
    """|N(v)| of the *original* graph (float), for normalisation."""
    has_input: torch.Tensor
    """Bool mask of real nodes with at least one input."""
    symmetric: bool = False
    """True when the original graph is undirected (A = Aᵀ): the sum backward reuses the forward HAG."""
    kernel: str = "csr"
    """Sum kernel: ``csr`` (sparse × dense product, fastest on CPU) or ``scatter`` (per-edge gather +
    ``index_add_``, the message-passing style of PyG/DGL and of the paper's GPU framework)."""



KERNELS: tuple[str, ...] = ("csr", "scatter")


def make_plan(h: Hag, device: str | torch.device = "cpu", kernel: str = "csr") -> Plan:
    """Turn a :class:`Hag` into index tensors (aggregation nodes must be numbered by level)."""
    n, m = h.num_nodes, h.num_agg
    levels = []
    bounds = h.level_bounds or [0]
    ai = np.asarray(h.agg_inputs, dtype=np.int64).reshape(-1, 2)
    for k in range(1, len(bounds)):
        s, e = bounds[k - 1], bounds[k]
        levels.append((n + s, n + e, torch.as_tensor(ai[s:e, 0], device=device),
                       torch.as_tensor(ai[s:e, 1], device=device)))
    deg = np.fromiter((len(x) for x in h.node_inputs), dtype=np.int64, count=n)
    dst = np.repeat(np.arange(n, dtype=np.int64), deg)
    src = np.fromiter((u for x in h.node_inputs for u in x), dtype=np.int64, count=int(deg.sum()))
    # original in-degree: |cover| summed over inputs
    cover_size = np.ones(n + m, dtype=np.int64)
    for i, (a, b) in enumerate(h.agg_inputs):
        cover_size[n + i] = cover_size[a] + cover_size[b]
    orig_deg = np.bincount(dst, weights=cover_size[src], minlength=n) if len(src) else np.zeros(n)
    adj, adj_t = _csr_pair(src, deg, n, n + m, device)
    return Plan(num_nodes=n, num_agg=m, levels=levels, src=torch.as_tensor(src, device=device),
                dst=torch.as_tensor(dst, device=device), adj=adj, adj_t=adj_t,
                in_degree=torch.as_tensor(orig_deg, dtype=torch.float32, device=device),
                has_input=torch.as_tensor(deg > 0, device=device), kernel=kernel,
                symmetric=_is_symmetric(h, cover_size))


def _is_symmetric(h: Hag, cover_size: np.ndarray) -> bool:
    """Whether the graph the HAG computes (N(v) = covers of v's inputs) is undirected."""
    import scipy.sparse as sp

    n = h.num_nodes
    cov = h.covers() if h.num_agg else None
    rows, cols = [], []
    for v, inputs in enumerate(h.node_inputs):
        for x in inputs:
            members = [x] if x < n else cov[x]
            rows.extend([v] * len(members))
            cols.extend(members)
    if not rows:
        return True
    a = sp.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return (a != a.T).nnz == 0


def _csr_pair(src: np.ndarray, deg: np.ndarray, rows: int, cols: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """CSR matrix of ones with row ``v`` holding columns ``src[ptr[v]:ptr[v+1]]``, and its transpose."""
    import scipy.sparse as sp

    ptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr[1:])
    a = sp.csr_matrix((np.ones(len(src), dtype=np.float32), src, ptr), shape=(rows, cols))
    a.sort_indices()  # torch expects sorted column indices within a row
    at = a.T.tocsr()
    at.sort_indices()

    def to_torch(mat):
        # int32 indices: the CPU kernel would otherwise convert int64 indices on every call
        itype = np.int32 if max(mat.shape) < 2**31 - 1 and mat.nnz < 2**31 - 1 else np.int64
        return torch.sparse_csr_tensor(torch.as_tensor(mat.indptr.astype(itype)),
                                       torch.as_tensor(mat.indices.astype(itype)),
                                       torch.as_tensor(mat.data), size=mat.shape, device=device)
    return to_torch(a), to_torch(at)


class _HagSum(torch.autograd.Function):
    """Sum aggregation through a HAG as one autograd node.

    Forward: the aggregation levels fill one preallocated buffer (``index_select`` + ``add``), then
    the real nodes read it with one CSR product ``adj @ buf``. Backward: for an undirected graph the
    same HAG run forward on the gradient (Aᵀ = A); otherwise the DAG reversed: ``adj_t @ grad`` (CSR),
    then per level, top down, the level's gradient rows are accumulated into their two inputs
    (``index_put_(accumulate=True)``). No per-level full-size temporaries.
    """

    @staticmethod
    def run(x, plan):
        """The forward computation (no autograd): ``A @ x`` through the HAG."""
        n, d = x.shape
        if plan.num_agg:
            buf = x.new_empty(n + plan.num_agg, d)
            buf[:n] = x
            for s, e, left, right in plan.levels:
                torch.add(torch.index_select(buf, 0, left), torch.index_select(buf, 0, right), out=buf[s:e])
        else:
            buf = x
        return plan.adj @ buf

    @staticmethod
    def forward(ctx, x, plan):  # noqa: D102
        ctx.plan = plan
        ctx.n = x.shape[0]
        return _HagSum.run(x, plan)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        plan = ctx.plan
        grad = grad.contiguous()
        if plan.symmetric:
            # sum aggregation is the linear map A; for an undirected graph Aᵀ = A, so the gradient
            # Aᵀ·grad is the same HAG evaluated forward on grad (cheaper than the reversed DAG)
            return _HagSum.run(grad, plan), None
        gb = plan.adj_t @ grad
        for s, e, left, right in reversed(plan.levels):
            gk = gb[s:e].clone()
            gb.index_put_((left,), gk, accumulate=True)
            gb.index_put_((right,), gk, accumulate=True)
        return gb[: ctx.n], None


def aggregate(plan: Plan, x: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """a_v = AGGREGATE({x_u : u in N(v)}) for every real node, computed through the HAG.

    ``op``: ``sum`` or ``max`` (nodes without inputs get 0). Differentiable.
    """
    n, d = x.shape
    if op not in ("sum", "max"):
        raise ValueError(f"unknown aggregation op {op!r}; valid: sum, max")
    if plan.kernel not in KERNELS:
        raise ValueError(f"unknown kernel {plan.kernel!r}; valid: {', '.join(KERNELS)}")
    if op == "sum" and plan.kernel == "scatter":
        buf = x
        for _s, _e, left, right in plan.levels:
            buf = torch.cat([buf, buf[left] + buf[right]])
        return x.new_zeros(n, d).index_add_(0, plan.dst, buf[plan.src])
    if op == "sum":
        if x.dtype != plan.adj.dtype:
            raise TypeError(f"aggregate: features are {x.dtype}, the plan is {plan.adj.dtype}")
        return _HagSum.apply(x, plan)
    buf = x
    for _s, _e, left, right in plan.levels:
        buf = torch.cat([buf, torch.maximum(buf[left], buf[right])])
    idx = plan.dst.view(-1, 1).expand(-1, d)
    return x.new_zeros(n, d).scatter_reduce(0, idx, buf[plan.src], reduce="amax", include_self=False)


class GCNLayer(nn.Module):
    """Kipf & Welling GCN layer: D̂^-1/2 (A + I) D̂^-1/2 X W + b (PyG GCNConv semantics)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out, bias=False)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        h = self.lin(x) * dinv
        return (aggregate(plan, h, "sum") + h) * dinv + self.bias


class GINLayer(nn.Module):
    """GIN layer: MLP((1 + ε) h_v + Σ_{u in N(v)} h_u)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(), nn.Linear(d_out, d_out))

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        return self.mlp((1 + self.eps) * x + aggregate(plan, x, "sum"))


class SageMaxLayer(nn.Module):
    """GraphSAGE-pool style: W [h_v ; max_{u in N(v)} ReLU(P h_u)] (element-wise max aggregation)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.pool = nn.Linear(d_in, d_out)
        self.lin = nn.Linear(d_in + d_out, d_out)

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        a = aggregate(plan, torch.relu(self.pool(x)), "max")
        return self.lin(torch.cat([x, a], dim=1))


class Net(nn.Module):
    """Two-layer GNN (GCN / GIN / SGC / SAGE-max) with optional mean pooling per graph."""

    def __init__(self, model: str, d_in: int, hidden: int, d_out: int, sgc_k: int = 2) -> None:
        super().__init__()
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
        self.model = model
        self.sgc_k = sgc_k
        if model == "sgc":
            self.out = nn.Linear(d_in, d_out)
        else:
            layer = {"gcn": GCNLayer, "gin": GINLayer, "sage-max": SageMaxLayer}[model]
            self.l1 = layer(d_in, hidden)
            self.l2 = layer(hidden, d_out)

    def forward(self, plan: Plan, x: torch.Tensor, graph_ids: torch.Tensor | None = None,
                num_graphs: int = 1) -> torch.Tensor:
        dinv = (plan.in_degree + 1.0).rsqrt().unsqueeze(1)
        if self.model == "sgc":
            h = x
            for _ in range(self.sgc_k):
                h = h * dinv
                h = (aggregate(plan, h, "sum") + h) * dinv
            out = self.out(h)
        else:
            h = torch.relu(self.l1(plan, x, dinv))
            out = self.l2(plan, h, dinv)
        if graph_ids is not None:
            return mean_pool(out, graph_ids, num_graphs)
        return out


def mean_pool(x: torch.Tensor, graph_ids: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """Mean of node rows per graph."""
    s = x.new_zeros(num_graphs, x.shape[1]).index_add_(0, graph_ids, x)
    cnt = torch.bincount(graph_ids, minlength=num_graphs).clamp_min(1).to(x.dtype).unsqueeze(1)
    return s / cnt


def plain_message_passing(src: torch.Tensor, dst: torch.Tensor, x: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Reference aggregation straight from an edge list (no HAG), for equivalence checks."""
    n, d = x.shape
    if op == "sum":
        return x.new_zeros(n, d).index_add_(0, dst, x[src])
    idx = dst.view(-1, 1).expand(-1, d)
    return x.new_zeros(n, d).scatter_reduce(0, idx, x[src], reduce="amax", include_self=False)
