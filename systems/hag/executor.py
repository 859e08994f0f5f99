"""Torch executor: evaluate neighbour aggregation through a HAG, level by level.

Per layer (the paper's Algorithm 2) the aggregation nodes are computed level by level, then the real
nodes aggregate their (shorter) input lists. Three sum kernels, all exact (plain and HAG share one):

``fused`` (default where available)
    One pull pass per level over a values-free int32 CSR — the analogue of ``aggre_coop_kernel`` in
    the authors' ``jiazhihao/HAG`` (``gnn_kernel.cu``): every output row (an aggregation node of the
    level, or a real node) sums its inputs' rows; the backward pass pulls over the reversed DAG
    (consumer lists, levels top down). On CPU it is the compiled kernel of :mod:`systems.hag.native`
    (OpenMP-parallel over the rows of a level when ``threads > 1``); on CUDA a Triton kernel
    (:mod:`systems.hag.triton_kernels`). Where neither is available it falls back to ``csr``.
``csr``
    Each level is one ``index_select`` + ``add`` into a buffer, the real nodes one sparse CSR × dense
    product (``adj @ buf``; backward ``adj_t @ grad`` with a cached transpose, then the levels top down).
``scatter``
    Per-edge gather + ``index_add_`` — the message-passing style of PyG's ``edge_index`` path.

For undirected graphs (A = Aᵀ) the sum backward reuses the forward HAG on the gradient. Max
aggregation (``sage-max``) runs per level with ``torch.maximum`` and a ``scatter_reduce``.

Input semantics (see :mod:`systems.hag.graph`): weighted edges become *tokens* — a token is a pair
(node, weight); a node's unit-weight token is the node itself, other weights get extra tokens whose
features are ``weight · x[node]``, and the HAG is searched over token lists, so aggregation nodes are
shared exactly where consumers use the same weight on the same inputs. Self-loops are handled by the
layers as in PyG (GCN/SGC: ``add_remaining_self_loops``; GIN, SAGE-max: an ordinary edge).

Models: ``gcn`` (D̂^-1/2 (A + I) D̂^-1/2, equal to PyG ``GCNConv``), ``gin``, ``sgc`` (K = 2), ``sage-max``
(GraphSAGE-pool style element-wise max) and ``sage-lstm`` (GraphSAGE-LSTM: an LSTM over each node's
ordered neighbour list; through a *sequential* HAG every aggregation node is the LSTM state after a
shared prefix, computed once — see :class:`SeqPlan`). Forward outputs and gradients equal the plain
graph's up to fp32 summation order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

warnings.filterwarnings("ignore", message=".*[Ss]parse.*(beta|invariant).*")

from systems.hag.graph import Tokens, search_input  # noqa: E402,F401
from systems.hag.search import Hag  # noqa: E402

MODELS: tuple[str, ...] = ("gcn", "gin", "sgc", "sage-max", "sage-lstm")
KERNELS: tuple[str, ...] = ("fused", "csr", "scatter")
SEQ_MODELS: tuple[str, ...] = ("sage-lstm",)


# ------------------------------------------------------------------------------------------ plan

@dataclass
class Plan:
    """Everything the kernels need for one HAG on one device."""

    num_nodes: int
    """Real nodes n (outputs)."""
    num_base: int
    """Base input rows T (= n, or n + extra weighted tokens)."""
    num_agg: int
    """Aggregation nodes m."""
    levels: list[tuple[int, int, torch.Tensor, torch.Tensor]]
    """Per level: (start, end, left inputs, right inputs) in buffer ids (base rows, then agg rows)."""
    src: torch.Tensor
    """Inputs of the real nodes (buffer ids), one per HAG edge into a real node."""
    dst: torch.Tensor
    """Receiving real node of each entry of ``src`` (sorted)."""
    in_degree: torch.Tensor
    """Weighted |N(v)| of the original graph (float), for normalisation."""
    has_input: torch.Tensor
    """Bool mask of real nodes with at least one (non-loop) input."""
    symmetric: bool = False
    """True when the original graph is undirected (A = Aᵀ, weights included)."""
    kernel: str = "fused"
    """Requested sum kernel (see the module docstring); ``kernel_used`` is what runs."""
    kernel_used: str = "csr"
    """The sum kernel that actually runs (``fused`` falls back to ``csr`` where unavailable)."""
    threads: int = 1
    """Threads of the compiled CPU kernel."""
    tok_node: torch.Tensor | None = None
    """Weighted tokens: node of each extra token (None when unweighted)."""
    tok_scale: torch.Tensor | None = None
    """Weighted tokens: weight of each extra token."""
    loop_weight: torch.Tensor | None = None
    """(n, 1) summed self-loop weight (edge semantics: GIN, sums); None = no loops."""
    gcn_loop: torch.Tensor | None = None
    """(n, 1) identity-term weight of GCN/SGC (add_remaining_self_loops); None = all 1."""
    mode: str = "set"
    """The HAG's mode (``seq`` HAGs also run the LSTM model)."""
    hag: Hag | None = field(default=None, repr=False)
    _adj: tuple | None = field(default=None, repr=False)
    _fused: object | None = field(default=None, repr=False)
    _seq: object | None = field(default=None, repr=False)

    @property
    def adj(self) -> torch.Tensor:
        """Real nodes' inputs as a sparse CSR of ones (n × (T + m))."""
        return self._csr()[0]

    @property
    def adj_t(self) -> torch.Tensor:
        """Its transpose as CSR (cached)."""
        return self._csr()[1]

    def _csr(self):
        if self._adj is None:
            h = self.hag
            deg = np.diff(h.ptr)[: self.num_nodes]
            self._adj = _csr_pair(h.idx[: h.ptr[self.num_nodes]], deg, self.num_nodes, self.num_base + self.num_agg,
                                  self.src.device)
        return self._adj


def make_plan(h: Hag, device: str | torch.device = "cpu", kernel: str = "fused", graph=None,
              threads: int | None = None) -> Plan:
    """Turn a :class:`Hag` into index tensors (aggregation nodes must be numbered by level).

    ``graph`` (the :class:`systems.hag.graph.Graph` the HAG was searched for via :func:`search_input`)
    supplies weights (tokens), self-loops and weighted degrees; without it the HAG's own lists are the
    graph (unweighted, loop-free). ``threads``: threads of the compiled CPU kernel (default: torch's).
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(KERNELS)}")
    dev = torch.device(device)
    tokens = None
    n = h.num_nodes
    if graph is not None:
        n = graph.num_nodes
        _, tokens = search_input(graph)
        want = tokens.num_tokens if tokens is not None else n
        if h.num_nodes != want:
            raise ValueError(f"the HAG has {h.num_nodes} base nodes, the graph needs {want}: search it on "
                             "search_input(graph)")
    T, m = h.num_nodes, h.num_agg
    levels = []
    bounds = h.level_bounds or [0]
    for k in range(1, len(bounds)):
        s, e = bounds[k - 1], bounds[k]
        levels.append((T + s, T + e, torch.as_tensor(h.agg[s:e, 0], device=dev),
                       torch.as_tensor(h.agg[s:e, 1], device=dev)))
    deg = np.diff(h.ptr)
    if np.any(deg[n:]):
        raise ValueError("HAG rows beyond the real nodes must be empty")
    deg = deg[:n]
    nnz = int(h.ptr[n])
    dst = np.repeat(np.arange(n, dtype=np.int64), deg)
    src = h.idx[:nnz]
    if graph is not None:
        w = graph.weights if graph.weights is not None else None
        dsts = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
        in_deg = np.bincount(dsts, weights=w, minlength=n) if len(dsts) else np.zeros(n)
    else:
        cover = np.ones(T + m, dtype=np.float64)
        for k in range(1, len(bounds)):
            s, e = bounds[k - 1], bounds[k]
            cover[T + s:T + e] = cover[h.agg[s:e, 0]] + cover[h.agg[s:e, 1]]
        in_deg = np.bincount(dst, weights=cover[src], minlength=n) if nnz else np.zeros(n)
    plan = Plan(num_nodes=n, num_base=T, num_agg=m, levels=levels, src=torch.as_tensor(src, device=dev),
                dst=torch.as_tensor(dst, device=dev), in_degree=torch.as_tensor(in_deg, dtype=torch.float32, device=dev),
                has_input=torch.as_tensor(deg > 0, device=dev), kernel=kernel,
                threads=int(threads) if threads else torch.get_num_threads(), mode=h.mode, hag=h)
    if tokens is not None and len(tokens.node):
        plan.tok_node = torch.as_tensor(tokens.node, device=dev)
        plan.tok_scale = torch.as_tensor(tokens.scale, dtype=torch.float32, device=dev)
    if graph is not None and graph.loop_weight is not None:
        plan.loop_weight = torch.as_tensor(graph.loop_weight, dtype=torch.float32, device=dev).unsqueeze(1)
    if graph is not None and graph.gcn_loop is not None:
        plan.gcn_loop = torch.as_tensor(graph.gcn_loop, dtype=torch.float32, device=dev).unsqueeze(1)
    plan.symmetric = _is_symmetric(h, n, graph)
    plan.kernel_used = kernel
    if kernel == "fused":
        plan._fused = _make_fused(plan, h, dev)
        if plan._fused is None:
            plan.kernel_used = "csr"
    if plan.kernel_used == "csr":
        plan._csr()  # built here, not inside the first timed epoch
    return plan


def _expand_edges(h: Hag, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(consumer, base input) pairs of the graph the HAG computes (covers expanded, vectorised)."""
    nnz = int(h.ptr[n])
    v = np.repeat(np.arange(n, dtype=np.int64), np.diff(h.ptr)[:n])
    x = h.idx[:nnz].copy()
    T = h.num_nodes
    done_v, done_x = [], []
    while len(x):
        base = x < T
        done_v.append(v[base])
        done_x.append(x[base])
        v, x = v[~base], x[~base]
        if not len(x):
            break
        ab = h.agg[x - T]
        v = np.concatenate([v, v])
        x = np.concatenate([ab[:, 0], ab[:, 1]])
    if not done_v:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(done_v), np.concatenate(done_x)


def _is_symmetric(h: Hag, n: int, graph=None) -> bool:
    """Whether the graph the HAG computes is undirected (A = Aᵀ, weights included)."""
    import scipy.sparse as sp

    if graph is not None:
        src, dst = graph.edge_arrays()
        w = graph.edge_weights()
    else:
        dst, src = _expand_edges(h, n)
        if len(src) and src.max() >= n:
            return False
        w = np.ones(len(src))
    if not len(src):
        return True
    a = sp.csr_matrix((w, (dst, src)), shape=(n, n))
    d = a - a.T
    return d.nnz == 0 or float(abs(d).max()) == 0.0


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


# ------------------------------------------------------------------------------------------ fused kernel

class FusedCSR:
    """The values-free int32 CSR of one HAG, forward and backward, and the passes over it.

    Forward rows: aggregation nodes 0..m-1 (two inputs each), then the real nodes (m..m+n-1); input
    ids < T read the base rows, ids >= T the aggregation buffer. Backward rows: the aggregation nodes,
    then the T base rows, each listing its consumers (id < n: a real node's output gradient; id >= n:
    an aggregation node's gradient). One range per level; levels run bottom-up forward, top-down
    backward.
    """

    def __init__(self, plan: Plan, h: Hag, device: torch.device) -> None:
        n, T, m = plan.num_nodes, plan.num_base, plan.num_agg
        self.n, self.T, self.m = n, T, m
        bounds = h.level_bounds or [0]
        nnz = int(h.ptr[n])
        fptr = np.concatenate([np.arange(0, 2 * m + 1, 2, dtype=np.int64), 2 * m + h.ptr[1:n + 1]])
        fidx = np.concatenate([h.agg.reshape(-1), h.idx[:nnz]]).astype(np.int32)
        # flag 2: an aggregation-node level (into the buffer, exactly two inputs per row)
        fr = [(bounds[k - 1], bounds[k], 2, 0) for k in range(1, len(bounds)) if bounds[k] > bounds[k - 1]]
        fr.append((m, m + n, 0, m))
        # backward: consumers of each input id
        cons = np.concatenate([n + np.repeat(np.arange(m, dtype=np.int64), 2), np.repeat(np.arange(n), np.diff(h.ptr)[:n])])
        inp = fidx.astype(np.int64)
        row = np.where(inp >= T, inp - T, m + inp)  # agg i -> row i; base j -> row m + j
        order = np.lexsort((cons, row))
        bidx = cons[order].astype(np.int32)
        bptr = np.zeros(m + T + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=m + T), out=bptr[1:])
        br = [(bounds[k - 1], bounds[k], 1, 0) for k in range(len(bounds) - 1, 0, -1) if bounds[k] > bounds[k - 1]]
        br.append((m, m + T, 0, m))
        self.device = device
        self.fwd = self._arrays(fptr, fidx, fr, device)
        self.bwd = self._arrays(bptr, bidx, br, device)
        self.threads = plan.threads

    @staticmethod
    def _arrays(ptr, idx, ranges, device):
        rng = np.asarray([[a, b] for a, b, _, _ in ranges], dtype=np.int64).reshape(-1)
        hi = np.asarray([f for _, _, f, _ in ranges], dtype=np.int32)
        base = np.asarray([b for _, _, _, b in ranges], dtype=np.int64)
        if device.type == "cpu":
            return dict(ptr=np.ascontiguousarray(ptr), idx=np.ascontiguousarray(idx), ranges=rng, hi=hi, base=base)
        return dict(ptr=torch.as_tensor(ptr, device=device), idx=torch.as_tensor(idx, device=device),
                    ranges=rng, hi=hi, base=base)

    def _run(self, arrs: dict, split: int, lo: torch.Tensor, rows_out: int) -> torch.Tensor:
        d = lo.shape[1]
        hi = lo.new_empty(max(self.m, 1), d)  # never a zero-size (null-pointer) buffer
        out = lo.new_empty(rows_out, d)
        if self.device.type == "cpu":
            from systems.hag import native

            native.pull_sum(arrs["ranges"], arrs["base"], arrs["hi"], d, arrs["ptr"].ctypes.data,
                            arrs["idx"].ctypes.data, split, lo.data_ptr(), hi.data_ptr(), out.data_ptr(),
                            self.threads, double=lo.dtype == torch.float64)
        else:
            from systems.hag import triton_kernels

            triton_kernels.pull_sum(arrs, split, lo, hi, out)
        return out

    def forward(self, xb: torch.Tensor) -> torch.Tensor:
        """A · x through the HAG: (T, d) base rows -> (n, d)."""
        return self._run(self.fwd, self.T, xb.contiguous(), self.n)

    def backward(self, g: torch.Tensor) -> torch.Tensor:
        """Aᵀ · g over the reversed DAG: (n, d) -> (T, d)."""
        return self._run(self.bwd, self.n, g.contiguous(), self.T)


def _make_fused(plan: Plan, h: Hag, device: torch.device):
    if device.type == "cpu":
        from systems.hag import native

        if not native.available():
            return None
    elif device.type == "cuda":
        from systems.hag import triton_kernels

        if not triton_kernels.available():
            return None
    else:
        return None
    return FusedCSR(plan, h, device)


# ------------------------------------------------------------------------------------------ sum

def _base(plan: Plan, x: torch.Tensor, scaled: bool = True) -> torch.Tensor:
    """Base rows: x, then the weighted tokens (scaled copies of their nodes' rows)."""
    if plan.tok_node is None:
        return x
    extra = x.index_select(0, plan.tok_node)
    if scaled:
        extra = extra * plan.tok_scale.to(x.dtype).unsqueeze(1)
    return torch.cat([x, extra])


def _base_grad(plan: Plan, gb: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`_base` (scaled): fold the tokens' rows back onto their nodes."""
    if plan.tok_node is None:
        return gb
    n = plan.num_nodes
    g = gb[:n].clone()
    g.index_add_(0, plan.tok_node, gb[n:] * plan.tok_scale.to(gb.dtype).unsqueeze(1))
    return g


def _csr_forward(plan: Plan, xb: torch.Tensor) -> torch.Tensor:
    """Levels with index_select + add into one buffer, then one CSR product for the real nodes."""
    T, d = xb.shape
    if plan.num_agg:
        buf = xb.new_empty(T + plan.num_agg, d)
        buf[:T] = xb
        for s, e, left, right in plan.levels:
            torch.add(torch.index_select(buf, 0, left), torch.index_select(buf, 0, right), out=buf[s:e])
    else:
        buf = xb
    return plan.adj @ buf


def _csr_backward(plan: Plan, g: torch.Tensor) -> torch.Tensor:
    """The reversed DAG: CSR transpose product, then per level (top down) into the two inputs."""
    gb = plan.adj_t @ g
    for s, e, left, right in reversed(plan.levels):
        gk = gb[s:e].clone()
        gb.index_put_((left,), gk, accumulate=True)
        gb.index_put_((right,), gk, accumulate=True)
    return gb[: plan.num_base]


def _sum_apply(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    """A · x (no autograd) with the plan's kernel."""
    xb = _base(plan, x)
    if plan._fused is not None:
        return plan._fused.forward(xb)
    return _csr_forward(plan, xb)


class _HagSum(torch.autograd.Function):
    """Sum aggregation through a HAG as one autograd node (``fused`` or ``csr`` kernel)."""

    @staticmethod
    def forward(ctx, x, plan):  # noqa: D102
        ctx.plan = plan
        return _sum_apply(plan, x)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        plan = ctx.plan
        grad = grad.contiguous()
        if plan.symmetric:
            # sum aggregation is the linear map A; for an undirected graph Aᵀ = A, so the gradient
            # Aᵀ·grad is the same HAG evaluated forward on grad (no reversed DAG needed)
            return _sum_apply(plan, grad), None
        gb = plan._fused.backward(grad) if plan._fused is not None else _csr_backward(plan, grad)
        return _base_grad(plan, gb), None


def aggregate(plan: Plan, x: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """a_v = AGGREGATE({x_u : u in N(v)}) for every real node, computed through the HAG.

    ``op``: ``sum`` (weighted by the edge weights) or ``max`` (weights ignored; nodes without inputs
    get 0). Differentiable.
    """
    n, d = x.shape
    if op not in ("sum", "max"):
        raise ValueError(f"unknown aggregation op {op!r}; valid: sum, max")
    if plan.kernel not in KERNELS:
        raise ValueError(f"unknown kernel {plan.kernel!r}; valid: {', '.join(KERNELS)}")
    if n != plan.num_nodes:
        raise ValueError(f"aggregate: x has {n} rows, the plan {plan.num_nodes} nodes")
    if op == "sum" and plan.kernel == "scatter":
        buf = _base(plan, x)
        for _s, _e, left, right in plan.levels:
            buf = torch.cat([buf, buf[left] + buf[right]])
        return x.new_zeros(n, d).index_add_(0, plan.dst, buf[plan.src])
    if op == "sum":
        if plan._fused is None and x.dtype != torch.float32:
            raise TypeError(f"aggregate: features are {x.dtype}, the csr kernel needs float32")
        return _HagSum.apply(x, plan)
    buf = _base(plan, x, scaled=False)
    for _s, _e, left, right in plan.levels:
        buf = torch.cat([buf, torch.maximum(buf[left], buf[right])])
    idx = plan.dst.view(-1, 1).expand(-1, d)
    return x.new_zeros(n, d).scatter_reduce(0, idx, buf[plan.src], reduce="amax", include_self=False)


# ------------------------------------------------------------------------------------------ LSTM (seq)

class SeqPlan:
    """Index arrays of the sequential (prefix-sharing) LSTM executor for one HAG.

    In a sequential HAG every aggregation node ``w = (a, b)`` extends a prefix: ``a`` is the first
    element (a real node) or an earlier prefix, ``b`` a real node; its state is
    ``LSTMCell(x_b, state(a))``. A real node's list is ``[p, r1, r2, ...]``: it starts from ``state(p)``
    (``p`` a prefix, or a real node read from the zero state) and steps through ``r1, r2, ...``.
    States live in one bank: the "first-element" states of the real nodes used as ``p`` or ``a``,
    then the aggregation nodes level by level. Real nodes step in a batch sorted by remaining length,
    so the active set of step ``t`` is a prefix of the batch.
    """

    def __init__(self, plan: Plan, h: Hag, device) -> None:
        T, m, n = plan.num_base, plan.num_agg, plan.num_nodes
        if m and np.any(h.agg[:, 1] >= T):
            raise ValueError("sage-lstm needs a sequential HAG (mode='seq'): every aggregation node must "
                             "extend a prefix by one real input")
        deg = np.diff(h.ptr)[:n]
        starts = h.ptr[:n]
        has = deg > 0
        first = np.full(n, -1, dtype=np.int64)
        first[has] = h.idx[starts[has]]
        # real nodes whose zero-state step is needed: first elements that are real, agg left inputs that are real
        need = np.concatenate([first[has & (first < T)], h.agg[h.agg[:, 0] < T, 0] if m else np.zeros(0, np.int64)])
        firsts = np.unique(need)
        bank_of = np.full(T + m, -1, dtype=np.int64)
        bank_of[firsts] = np.arange(len(firsts))
        bank_of[T:] = len(firsts) + np.arange(m)
        self.num_first = len(firsts)
        self.bank_size = len(firsts) + m
        dev = torch.device(device)
        self.first_nodes = torch.as_tensor(firsts, device=dev)
        self.levels = []
        bounds = h.level_bounds or [0]
        for k in range(1, len(bounds)):
            s, e = bounds[k - 1], bounds[k]
            self.levels.append((len(firsts) + s, len(firsts) + e, torch.as_tensor(bank_of[h.agg[s:e, 0]], device=dev),
                                torch.as_tensor(h.agg[s:e, 1], device=dev)))
        # real nodes: batch sorted by remaining steps (descending, stable)
        act = np.flatnonzero(has)
        rem = deg[act] - 1
        order = act[np.argsort(-rem, kind="stable")]
        rem_sorted = deg[order] - 1
        self.order = torch.as_tensor(order, device=dev)
        self.start = torch.as_tensor(bank_of[first[order]], device=dev)
        self.steps = []
        maxlen = int(rem_sorted.max()) if len(rem_sorted) else 0
        for t in range(maxlen):
            k = int(np.count_nonzero(rem_sorted > t))
            self.steps.append((k, torch.as_tensor(h.idx[starts[order[:k]] + 1 + t], device=dev)))
        self.num_nodes = n
        self.cells = len(firsts) + m + int(rem_sorted.sum())
        """LSTM cell evaluations per aggregation (plain graph: |E|)."""


def lstm_cells(h: Hag) -> int:
    """LSTM cell evaluations of one aggregation through ``h`` (sequential HAG or the plain graph): one per
    distinct real first element (read from the zero state), one per aggregation node, one per remaining
    input of every real node. The plain graph's count is |E| minus the first steps nodes share."""
    T, m = h.num_nodes, h.num_agg
    deg = np.diff(h.ptr)
    has = deg > 0
    first = h.idx[h.ptr[:-1][has]]
    need = np.concatenate([first[first < T], h.agg[h.agg[:, 0] < T, 0] if m else np.zeros(0, np.int64)])
    return int(len(np.unique(need)) + m + int((deg[has] - 1).sum()))


def seq_plan(plan: Plan) -> SeqPlan:
    if plan._seq is None:
        plan._seq = SeqPlan(plan, plan.hag, plan.src.device)
    return plan._seq


def lstm_aggregate(plan: Plan, cell: nn.LSTMCell, x: torch.Tensor) -> torch.Tensor:
    """GraphSAGE-LSTM aggregation: the LSTM's final hidden state over each node's ordered neighbours
    (zeros for nodes without inputs), through the plan's (sequential) HAG. Differentiable."""
    sp_ = seq_plan(plan)
    n = plan.num_nodes
    H = cell.hidden_size
    xb = _base(plan, x, scaled=False)
    bank_h = x.new_zeros(sp_.bank_size, H)
    bank_c = x.new_zeros(sp_.bank_size, H)
    if sp_.num_first:
        h0, c0 = cell(xb.index_select(0, sp_.first_nodes))
        bank_h[: sp_.num_first] = h0
        bank_c[: sp_.num_first] = c0
    for s, e, left, right in sp_.levels:
        h1, c1 = cell(xb.index_select(0, right), (bank_h.index_select(0, left), bank_c.index_select(0, left)))
        bank_h[s:e] = h1
        bank_c[s:e] = c1
    h = bank_h.index_select(0, sp_.start)
    c = bank_c.index_select(0, sp_.start)
    finals = []
    prev = h.shape[0]
    for k, ids in sp_.steps:
        if k < prev:
            finals.append((k, prev, h[k:prev]))
        h, c = cell(xb.index_select(0, ids), (h[:k], c[:k]))
        prev = k
    finals.append((0, prev, h[:prev]))
    out_sorted = torch.cat([f for _, _, f in reversed(finals)]) if finals else x.new_zeros(0, H)
    out = x.new_zeros(n, H)
    return out.index_copy(0, sp_.order, out_sorted)


# ------------------------------------------------------------------------------------------ layers

def _dinv(plan: Plan) -> torch.Tensor:
    loop = plan.gcn_loop if plan.gcn_loop is not None else 1.0
    deg = plan.in_degree.unsqueeze(1) + loop
    d = deg.pow(-0.5)
    return d.masked_fill(torch.isinf(d), 0.0)


class GCNLayer(nn.Module):
    """Kipf & Welling GCN layer: D̂^-1/2 (A + I) D̂^-1/2 X W + b (PyG GCNConv semantics, weights and
    add_remaining_self_loops included)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out, bias=False)
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        h = self.lin(x) * dinv
        loop = plan.gcn_loop if plan.gcn_loop is not None else 1.0
        return (aggregate(plan, h, "sum") + loop * h) * dinv + self.bias


class GINLayer(nn.Module):
    """GIN layer: MLP((1 + ε) h_v + Σ_{u in N(v)} w_uv h_u) (input self-loops are ordinary edges, as in PyG)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(), nn.Linear(d_out, d_out))

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        a = aggregate(plan, x, "sum")
        if plan.loop_weight is not None:
            a = a + plan.loop_weight * x
        return self.mlp((1 + self.eps) * x + a)


class SageMaxLayer(nn.Module):
    """GraphSAGE-pool style: W [h_v ; max_{u in N(v)} ReLU(P h_u)] (element-wise max; weights ignored;
    an input self-loop makes v its own neighbour)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.pool = nn.Linear(d_in, d_out)
        self.lin = nn.Linear(d_in + d_out, d_out)

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        p = torch.relu(self.pool(x))
        a = aggregate(plan, p, "max")
        if plan.loop_weight is not None:
            looped = (plan.loop_weight > 0)
            a = torch.where(looped & plan.has_input.unsqueeze(1), torch.maximum(a, p), torch.where(looped, p, a))
        return self.lin(torch.cat([x, a], dim=1))


class SageLstmLayer(nn.Module):
    """GraphSAGE-LSTM: W_self h_v + W_neigh LSTM(h_u for u in N(v), in list order) + b.

    The LSTM reads each node's distinct neighbours once, in first-seen order (edge weights and
    self-loops are not part of the sequence; PyG's ``LSTMAggregation`` instead pads short lists with
    zero rows and reads the padding too)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(d_in, d_out)
        self.lin_self = nn.Linear(d_in, d_out)
        self.lin_neigh = nn.Linear(d_out, d_out, bias=False)

    def forward(self, plan: Plan, x: torch.Tensor, dinv: torch.Tensor) -> torch.Tensor:
        return self.lin_self(x) + self.lin_neigh(lstm_aggregate(plan, self.cell, x))


class Net(nn.Module):
    """Two-layer GNN (GCN / GIN / SGC / SAGE-max / SAGE-LSTM) with optional mean pooling per graph."""

    def __init__(self, model: str, d_in: int, hidden: int, d_out: int, sgc_k: int = 2) -> None:
        super().__init__()
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; valid: {', '.join(MODELS)}")
        self.model = model
        self.sgc_k = sgc_k
        if model == "sgc":
            self.out = nn.Linear(d_in, d_out)
        else:
            layer = {"gcn": GCNLayer, "gin": GINLayer, "sage-max": SageMaxLayer, "sage-lstm": SageLstmLayer}[model]
            self.l1 = layer(d_in, hidden)
            self.l2 = layer(hidden, d_out)

    def forward(self, plan: Plan, x: torch.Tensor, graph_ids: torch.Tensor | None = None,
                num_graphs: int = 1) -> torch.Tensor:
        dinv = _dinv(plan)
        if self.model == "sgc":
            loop = plan.gcn_loop if plan.gcn_loop is not None else 1.0
            h = x
            for _ in range(self.sgc_k):
                h = h * dinv
                h = (aggregate(plan, h, "sum") + loop * h) * dinv
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


def plain_message_passing(src: torch.Tensor, dst: torch.Tensor, x: torch.Tensor, op: str = "sum",
                          weight: torch.Tensor | None = None) -> torch.Tensor:
    """Reference aggregation straight from an edge list (no HAG), for equivalence checks."""
    n, d = x.shape
    if op == "sum":
        msg = x[src] if weight is None else x[src] * weight.to(x.dtype).unsqueeze(1)
        return x.new_zeros(n, d).index_add_(0, dst, msg)
    idx = dst.view(-1, 1).expand(-1, d)
    return x.new_zeros(n, d).scatter_reduce(0, idx, x[src], reduce="amax", include_self=False)
