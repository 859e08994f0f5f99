"""HAG search: greedy merging of redundant neighbour pairs into aggregation nodes.

A HAG (Jia et al., KDD 2020) adds aggregation nodes ``V_A``; each holds a partial aggregate over
exactly two inputs (real nodes or earlier aggregation nodes). A real node ``v`` then aggregates a
shorter input list whose *covers* partition ``N(v)``.

Two optimizers share one data layout:

``greedy`` (the paper's Algorithm 3, "FullGreedy" in Porter & Wootters)
    Repeatedly merge the pair with the highest redundancy (set mode: the number of nodes that
    aggregate both; sequential mode: the number of nodes whose list *starts with* the pair), while
    the redundancy is >= ``min_redundancy`` and ``|V_A| < capacity``; ties go to the smallest pair
    ``(a, b)``. New aggregation nodes take part in later pairs, so the HAG grows hierarchical.

``pw`` (a fast one-pass heuristic after Porter & Wootters, arXiv 2102.01730)
    Score every pair of *original* nodes once, then walk the pairs in that static order; each pair is
    merged when it still has redundancy >= ``min_redundancy`` in the current graph. No pair involving a
    new aggregation node is ever scored, so the HAG is flat (depth 1). (Our own formulation of their
    "faster greedy heuristic" idea; it is not a transcription of their pseudo-code.)

Two engines compute the same HAG (tested bit-identical):

``native`` (default when the library builds, see :mod:`systems.hag.native`)
    Compiled C++ with **eager counts**: the redundancy of every pair with count >= ``min_redundancy``
    is kept exact in a hash map and updated after each merge, as ``greedy.cc`` does (each consumer
    ``u`` of the merged pair ``(a, b)`` lowers the counts of ``(a, x)`` and ``(b, x)`` for its other
    inputs ``x`` and raises ``(x, w)`` for the new node ``w``); pairs wait in a **bucket queue** by
    count (a min-heap of pair keys per bucket). Nothing is ever re-scored by set intersection: a pair
    whose count fell while it waited is moved to its exact bucket when it reaches the top (O(1)
    lookup). Initial counts come from one row-by-row pass with a dense accumulator, keeping only
    pairs with count >= ``min_redundancy``. Node sets are sorted arrays with tombstones; an inverted
    index finds the consumers of a pair from the shorter of the two lists (no O(|V|) scan per merge,
    unlike ``greedy.cc``).
``python`` (the fallback, and the reference in the tests)
    Pure Python + scipy: initial counts from ``AᵀA``, a ``heapq`` with lazy deletion (a popped stale
    entry is re-scored by set intersection and re-pushed), inverted index of Python sets.

**Hub bound** (``hub_degree``, both engines): counting pairs costs Σ_u deg(u)² over consumers ``u``;
on power-law graphs a few hub consumers dominate it (a node with 18k inputs alone holds 1.7·10⁸
pairs). With ``hub_degree = H``, consumers with more than ``H`` inputs are *not counted*: a pair's
redundancy is the number of consumers with at most ``H`` inputs that aggregate both. Hubs still take
part in every merge (their inputs are rewired to the new node whenever they hold both inputs of a
merged pair), so the HAG stays exact; only the choice of pairs ignores the hubs' (+1 each) votes. The
effect on the result is measured in ``docs/results/hag.md`` (power-law scaling table). The default is
``HUB_DEGREE`` = 512; ``None`` counts every consumer (exactly the paper's greedy).

Note on guarantees: Jia et al. claim the set-mode greedy is a (1 − 1/e)-approximation. Porter &
Wootters (arXiv 2102.01730) showed by example that this claim is **wrong** — no better than a 1/2
factor is possible for that greedy — and proved a weaker guarantee via hypergraph matching.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from heapq import heappop, heappush
from itertools import chain
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp

Mode = Literal["set", "seq"]
Method = Literal["greedy", "pw"]
METHODS: tuple[str, ...] = ("greedy", "pw")
MODES: tuple[str, ...] = ("set", "seq")
ENGINES: tuple[str, ...] = ("auto", "native", "python")
SET_MAX_DEPTH = 10
"""Default depth limit in set mode (``maxDepth`` of greedy.cc). Sequential mode is unbounded by default:
the paper's optimality argument for prefix sharing (Theorem 3) needs unbounded depth."""
UNBOUNDED = 2**30
HUB_DEGREE = 512
"""Default hub bound: consumers with more inputs than this are not counted (see the module docstring).
None of the stand-in workloads has such a node, so it changes nothing there; on the power-law graphs of
the benchmark it turns an O(Σ deg²) search into a near-linear one."""


def default_max_depth(mode: str) -> int:
    """The depth limit used when ``max_depth`` is not given: 10 in set mode, unbounded in seq mode."""
    return SET_MAX_DEPTH if mode == "set" else UNBOUNDED


def _lists_to_csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    n = len(lists)
    deg = np.fromiter((len(x) for x in lists), dtype=np.int64, count=n)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr[1:])
    idx = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(ptr[-1]))
    return ptr, idx


def as_csr(graph) -> tuple[int, np.ndarray, np.ndarray]:
    """``(n, ptr, idx)`` for in-neighbour lists, a ``(ptr, idx)`` pair, or a
    :class:`systems.hag.graph.Graph` (weighted graphs give their token lists, so ``n`` counts tokens)."""
    if hasattr(graph, "indptr") and hasattr(graph, "indices"):
        from systems.hag.graph import search_input

        ptr, idx = search_input(graph)[0]  # weighted graphs: token lists (see systems.hag.graph)
        ptr, idx = np.asarray(ptr, dtype=np.int64), np.asarray(idx, dtype=np.int64)
    elif isinstance(graph, tuple) and len(graph) == 2 and isinstance(graph[0], np.ndarray):
        ptr, idx = np.asarray(graph[0], dtype=np.int64), np.asarray(graph[1], dtype=np.int64)
    else:
        ptr, idx = _lists_to_csr(graph)
    return len(ptr) - 1, ptr, idx


def _csr_to_lists(ptr: np.ndarray, idx: np.ndarray) -> list[list[int]]:
    il = idx.tolist()
    pl = ptr.tolist()
    return [il[pl[v]:pl[v + 1]] for v in range(len(pl) - 1)]


class Hag:
    """A hierarchically aggregated computation graph (arrays; list views for small graphs).

    Ids ``0..n-1`` are the real nodes, ``n..n+m-1`` the aggregation nodes, numbered level by level
    (all inputs of a level-``k`` aggregation node have level < ``k``; real nodes are level 0).
    """

    def __init__(self, num_nodes: int, mode: str, agg_inputs, node_inputs, level_bounds=None) -> None:
        self.num_nodes = int(num_nodes)
        """Number of real nodes ``n``."""
        self.mode = mode
        """``set`` (order-free aggregation) or ``seq`` (ordered, prefix sharing)."""
        self.agg = np.asarray(agg_inputs, dtype=np.int64).reshape(-1, 2)
        """(m, 2) inputs of aggregation node ``n+i`` (ordered: left then right)."""
        if isinstance(node_inputs, tuple) and len(node_inputs) == 2 and isinstance(node_inputs[0], np.ndarray):
            self.ptr = np.asarray(node_inputs[0], dtype=np.int64)
            self.idx = np.asarray(node_inputs[1], dtype=np.int64)
        else:
            self.ptr, self.idx = _lists_to_csr(node_inputs)
        """CSR of the real nodes' inputs: node ``v`` aggregates ``idx[ptr[v]:ptr[v+1]]``."""
        self.level_bounds: list[int] = list(level_bounds) if level_bounds else [0]
        """Aggregation nodes of level ``k`` are ``n + level_bounds[k-1] .. n + level_bounds[k] - 1``."""

    @property
    def num_agg(self) -> int:
        return len(self.agg)

    @property
    def depth(self) -> int:
        """Number of aggregation-node levels."""
        return len(self.level_bounds) - 1

    @property
    def agg_inputs(self) -> list[tuple[int, int]]:
        """Inputs of aggregation node ``n+i`` as a list of pairs."""
        return [tuple(p) for p in self.agg.tolist()]

    @property
    def node_inputs(self) -> list[list[int]]:
        """Inputs of each real node (ids of real or aggregation nodes), as lists."""
        return _csr_to_lists(self.ptr, self.idx)

    def covers(self) -> list[list[int]]:
        """cover(x) for every node id (ordered concatenation of the inputs' covers); small graphs only."""
        cov: list[list[int]] = [[i] for i in range(self.num_nodes)]
        for a, b in self.agg.tolist():
            cov.append(cov[a] + cov[b])
        return cov

    def __repr__(self) -> str:
        return (f"Hag(n={self.num_nodes}, mode={self.mode!r}, agg_nodes={self.num_agg}, depth={self.depth}, "
                f"inputs={len(self.idx)})")


@dataclass
class Cost:
    """Cost metrics of a graph or HAG."""

    aggregations: int
    """Binary aggregations: Σ over nodes with inputs of (number of inputs − 1)."""
    transfers: int
    """Data transfers: edges read (inputs of real and aggregation nodes)."""
    agg_nodes: int
    """Number of aggregation nodes |V_A|."""


def _cost_from_ptr(ptr: np.ndarray) -> Cost:
    deg = np.diff(ptr)
    tr = int(deg.sum())
    return Cost(aggregations=tr - int(np.count_nonzero(deg)), transfers=tr, agg_nodes=0)


def graph_cost(graph) -> Cost:
    """Cost of the plain GNN graph (in-neighbour lists, a CSR pair or a Graph)."""
    if isinstance(graph, (list, tuple)) and not (isinstance(graph, tuple) and len(graph) == 2
                                                 and isinstance(graph[0], np.ndarray)):
        agg = tr = 0
        for x in graph:
            k = len(x)
            tr += k
            agg += k - 1 if k else 0
        return Cost(aggregations=agg, transfers=tr, agg_nodes=0)
    return _cost_from_ptr(as_csr(graph)[1])


def hag_cost(h: Hag) -> Cost:
    """Cost of a HAG (every aggregation node has two inputs: one binary aggregation, two transfers)."""
    c = _cost_from_ptr(h.ptr)
    return Cost(aggregations=c.aggregations + h.num_agg, transfers=c.transfers + 2 * h.num_agg,
                agg_nodes=h.num_agg)


class CoverMismatch(AssertionError):
    """The checker found a node whose cover differs from its neighbour list."""


def _check_levels(h: Hag) -> None:
    n, m = h.num_nodes, h.num_agg
    bounds = h.level_bounds or [0]
    if bounds[0] != 0 or bounds[-1] != m or any(b < a for a, b in zip(bounds, bounds[1:])):
        raise CoverMismatch("level_bounds do not cover every aggregation node")
    if m == 0:
        return
    lo = np.full(m, 0, dtype=np.int64)
    level_of = np.zeros(n + m, dtype=np.int64)
    for k in range(1, len(bounds)):
        s, e = bounds[k - 1], bounds[k]
        a, b = h.agg[s:e, 0], h.agg[s:e, 1]
        if np.any((a < 0) | (b < 0) | (a >= n + s) | (b >= n + s)):
            i = int(np.flatnonzero((a < 0) | (b < 0) | (a >= n + s) | (b >= n + s))[0]) + s
            raise CoverMismatch(f"aggregation node {n + i} has a non-earlier input {tuple(h.agg[i].tolist())}")
        lv = 1 + np.maximum(level_of[a], level_of[b])
        if np.any(lv != k):
            i = int(np.flatnonzero(lv != k)[0]) + s
            raise CoverMismatch(f"aggregation node {n + i} has level {int(lv[i - s])}, stored in level {k}")
        level_of[n + s:n + e] = k
    del lo


def verify(h: Hag, graph, engine: str = "auto") -> None:
    """Raise :class:`CoverMismatch` unless cover(v) == N(v) for every real node.

    Set mode compares as multisets (so a node never receives an input twice, which a sum would
    double count); sequential mode compares ordered lists. Also checks the level numbering.
    """
    n, gptr, gidx = as_csr(graph)
    if n != h.num_nodes or len(h.ptr) != n + 1:
        raise CoverMismatch(f"node count mismatch: graph {n}, HAG {h.num_nodes}/{len(h.ptr) - 1}")
    _check_levels(h)
    m = h.num_agg
    if len(h.idx) and (h.idx.min() < 0 or h.idx.max() >= n + m):
        v = int(np.searchsorted(h.ptr, int(np.flatnonzero((h.idx < 0) | (h.idx >= n + m))[0]), side="right") - 1)
        raise CoverMismatch(f"node {v} has an unknown input")
    if _use_native(engine):
        from systems.hag import native

        bad = native.verify(n, h.agg, h.ptr, h.idx, gptr, gidx, seq=h.mode == "seq")
        if bad >= 0:
            got = _python_cover(h, bad)
            want = gidx[gptr[bad]:gptr[bad + 1]].tolist()
            if h.mode != "seq":
                got, want = sorted(got), sorted(want)
            raise CoverMismatch(f"node {bad}: cover {got} != N(v) {want}" + (" (ordered)" if h.mode == "seq" else ""))
        return
    cov = h.covers()
    hl = h.node_inputs
    for v in range(n):
        got: list[int] = []
        for x in hl[v]:
            got.extend(cov[x])
        want = gidx[gptr[v]:gptr[v + 1]].tolist()
        if h.mode == "seq":
            if got != want:
                raise CoverMismatch(f"node {v}: cover {got} != N(v) {want} (ordered)")
        elif len(got) != len(want) or sorted(got) != sorted(want):
            raise CoverMismatch(f"node {v}: cover {sorted(got)} != N(v) {sorted(want)}")


def _python_cover(h: Hag, v: int) -> list[int]:
    n = h.num_nodes
    out: list[int] = []
    stack = list(reversed(h.idx[h.ptr[v]:h.ptr[v + 1]].tolist()))
    while stack and len(out) < 10_000:
        x = stack.pop()
        if x < n:
            out.append(x)
        else:
            a, b = h.agg[x - n].tolist()
            stack.extend((b, a))
    return out


@dataclass
class SearchResult:
    """A HAG with the numbers that describe its search."""

    hag: Hag
    """The HAG found."""
    before: Cost
    """Cost of the plain graph."""
    after: Cost
    """Cost of the HAG."""
    search_s: float
    """Wall seconds of the search (excluding verification)."""
    verify_s: float
    """Wall seconds of the cover check."""
    verified: bool
    """True when cover(v) == N(v) held for every node."""
    capacity: int
    """The capacity (max aggregation nodes) used."""
    pops: int = 0
    """Queue entries examined (python engine: heap pops incl. stale re-scores; native: bucket pops)."""
    engine: str = "python"
    """Which engine searched: ``native`` or ``python``."""
    search_cpu_s: float = 0.0
    """Process CPU seconds of the search (excluding verification)."""
    max_depth: int = SET_MAX_DEPTH
    """The depth limit used."""
    hub_degree: int | None = None
    """The hub bound used (None: every consumer counted; always None in seq mode, where each consumer
    has exactly one leading pair)."""
    stats: dict = field(default_factory=dict)
    """Engine counters (native: initial pairs, pair-count work, count updates, moved-down pops, ...)."""


# ------------------------------------------------------------------------------------------ python engine

def _pair_counts(a_mat, a_t, min_red: int):
    """Initial set-mode pair redundancies (AᵀA), pairs a < b with count >= min_red, sorted by
    (-count, a, b)."""
    c = (a_t @ a_mat).tocsr()
    n = c.shape[0]
    pos = np.flatnonzero(c.data >= min_red)
    rows = np.searchsorted(c.indptr, pos, side="right").astype(np.int64) - 1
    cols = c.indices[pos].astype(np.int64)
    cnt = c.data[pos].astype(np.int64)
    upper = rows < cols
    rows, cols, cnt = rows[upper], cols[upper], cnt[upper]
    if n < 2**20 and (len(cnt) == 0 or cnt.max() < 2**22):
        key = ((cnt.max() if len(cnt) else 0) - cnt) << 40 | rows << 20 | cols
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((cols, rows, -cnt))
    return cnt[order], rows[order], cols[order]


class _Initial:
    """The sorted initial pair list, converted to Python ints lazily in chunks (usually only a
    prefix is consumed before the capacity runs out)."""

    CHUNK = 8192

    def __init__(self, cnt: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
        self.cnt, self.a, self.b = cnt, a, b
        self.total = len(cnt)
        self.buf: list[tuple[int, int, int]] = []
        self.i = 0  # position in buf
        self.next_chunk = 0

    def peek(self):
        if self.i >= len(self.buf):
            if self.next_chunk >= self.total:
                return None
            s, e = self.next_chunk, min(self.total, self.next_chunk + self.CHUNK)
            self.buf = list(zip((-self.cnt[s:e]).tolist(), self.a[s:e].tolist(), self.b[s:e].tolist()))
            self.i = 0
            self.next_chunk = e
        return self.buf[self.i]

    def advance(self) -> None:
        self.i += 1


def _greedy_set_py(ptr, idx, n, capacity, max_depth, min_red, flat: bool, hub_degree):
    in_lists = _csr_to_lists(ptr, idx)
    deg = np.diff(ptr)
    a_mat = sp.csr_matrix((np.ones(len(idx), dtype=np.int32), idx, ptr), shape=(n, n))
    a_t = a_mat.T.tocsr()
    track = None
    if hub_degree is not None:
        keep = (deg <= hub_degree).astype(np.int32)
        a_cnt = sp.diags(keep, dtype=np.int32) @ a_mat
        track = keep.astype(bool).tolist()
    else:
        a_cnt = a_mat
    cnt0, a0, b0 = _pair_counts(a_cnt, a_cnt.T.tocsr(), min_red)
    initial = _Initial(cnt0, a0, b0)
    # inverted index: inv[x] = nodes whose current input set contains x (from the transpose)
    tp, ti = a_t.indptr.tolist(), a_t.indices.tolist()
    inv: list[set[int]] = [set(ti[tp[x]:tp[x + 1]]) for x in range(n)]
    S: dict[int, set[int]] = {}  # current input sets, materialised only for nodes a merge touched
    heap: list[tuple[int, int, int]] = []
    agg: list[tuple[int, int]] = []
    depth = [0] * n
    pops = 0
    while len(agg) < capacity:
        top = initial.peek()
        if heap and (top is None or heap[0] < top):
            negc, a, b = heappop(heap)
        elif top is not None:
            negc, a, b = top
            initial.advance()
        else:
            break
        pops += 1
        c = -negc
        if c < min_red:
            break
        cons = inv[a] & inv[b]
        r = len(cons) if track is None else sum(1 for u in cons if track[u])
        if r < c and not flat:
            if r >= min_red:
                heappush(heap, (-r, a, b))
            continue
        if r < min_red:
            continue
        d = 1 + max(depth[a], depth[b])
        if d > max_depth:
            continue
        w = n + len(agg)
        agg.append((a, b))
        depth.append(d)
        inv[a] -= cons
        inv[b] -= cons
        inv.append(cons)
        sets = []
        for u in cons:
            su = S.get(u)
            if su is None:
                su = S[u] = set(in_lists[u])
            su.discard(a)
            su.discard(b)
            if track is None or track[u]:
                sets.append(su)
        if not flat:
            # exact redundancy of every new pair (x, w): one C-level count over the consumers' sets
            counter = Counter(chain.from_iterable(sets))
            for x, k in counter.items():
                if k >= min_red:
                    heappush(heap, (-k, x, w))
        for u in cons:
            S[u].add(w)
    lists = [sorted(S[v]) if v in S else in_lists[v] for v in range(n)]
    return agg, depth[n:], lists, pops


def _greedy_seq_py(ptr, idx, n, capacity, max_depth, min_red, flat: bool):
    in_lists = _csr_to_lists(ptr, idx)
    # R[u] holds u's current list reversed, so the leading pair is (R[-1], R[-2]).
    R = [list(reversed(x)) for x in in_lists]
    index: dict[tuple[int, int], set[int]] = {}
    for u, r in enumerate(R):
        if len(r) >= 2:
            index.setdefault((r[-1], r[-2]), set()).add(u)
    init = sorted(((-len(us), a, b) for (a, b), us in index.items() if len(us) >= min_red))
    L = len(init)
    p = 0
    heap: list[tuple[int, int, int]] = []
    agg: list[tuple[int, int]] = []
    depth = [0] * n
    pops = 0
    while len(agg) < capacity:
        if heap and (p >= L or heap[0] < init[p]):
            negc, a, b = heappop(heap)
        elif p < L:
            negc, a, b = init[p]
            p += 1
        else:
            break
        pops += 1
        c = -negc
        if c < min_red:
            break
        cons = index.get((a, b))
        r = len(cons) if cons else 0
        if r < c and not flat:
            if r >= min_red:
                heappush(heap, (-r, a, b))
            continue
        if r < min_red:
            continue
        d = 1 + max(depth[a], depth[b])
        if d > max_depth:
            continue
        del index[(a, b)]
        w = n + len(agg)
        agg.append((a, b))
        depth.append(d)
        counter: Counter = Counter()
        for u in cons:
            ru = R[u]
            ru.pop()
            ru.pop()
            ru.append(w)
            if len(ru) >= 2:
                key = (w, ru[-2])
                index.setdefault(key, set()).add(u)
                counter[key] += 1
        if not flat:
            for (x, y), k in counter.items():
                if k >= min_red:
                    heappush(heap, (-k, x, y))
    lists = [list(reversed(r)) for r in R]
    return agg, depth[n:], lists, pops


# ------------------------------------------------------------------------------------------ common

def _finalize(n: int, mode: str, agg: np.ndarray, depth: np.ndarray, ptr: np.ndarray, idx: np.ndarray) -> Hag:
    """Renumber aggregation nodes level by level and build the :class:`Hag` (vectorised).

    Within a level, aggregation nodes are ordered by the smallest real node they cover (ties: creation
    order), so nodes serving the same region of the graph sit together in memory.
    """
    m = len(agg)
    agg = np.asarray(agg, dtype=np.int64).reshape(-1, 2)
    lv = np.asarray(depth, dtype=np.int64)
    if m == 0:
        return Hag(n, mode, agg, (ptr, idx), [0])
    cmin = np.concatenate([np.arange(n, dtype=np.int64), np.zeros(m, dtype=np.int64)])
    top = int(lv.max())
    by_level = np.argsort(lv, kind="stable")
    counts = np.bincount(lv, minlength=top + 1)[1:]
    bounds = [0] + np.cumsum(counts).tolist()
    for k in range(top):
        sel = by_level[bounds[k]:bounds[k + 1]]
        cmin[n + sel] = np.minimum(cmin[agg[sel, 0]], cmin[agg[sel, 1]])
    order = np.lexsort((cmin[n:], lv))
    new_id = np.arange(n + m, dtype=np.int64)
    new_id[n + order] = n + np.arange(m, dtype=np.int64)
    return Hag(n, mode, new_id[agg[order]], (np.asarray(ptr, dtype=np.int64), new_id[np.asarray(idx, dtype=np.int64)]),
               bounds)


def _use_native(engine: str) -> bool:
    if engine == "python":
        return False
    from systems.hag import native

    if engine == "native":
        if not native.available():
            raise RuntimeError(f"engine='native' requested but {native.status()}")
        return True
    return native.available()


def _check_no_duplicates(n: int, ptr: np.ndarray, idx: np.ndarray) -> None:
    if len(idx) < 2:
        return
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
    key = np.sort(rows * max(n, 1) + idx)
    dup = np.flatnonzero(key[1:] == key[:-1])
    if len(dup):
        k = int(key[dup[0]])
        raise ValueError(f"node {k // max(n, 1)} lists input {k % max(n, 1)} twice; in-neighbour lists must be "
                         "duplicate-free (the graph loader turns duplicate edges into edge weights)")


def hag_search(graph, *, capacity: int | None = None, capacity_frac: float = 0.25, max_depth: int | None = None,
               min_redundancy: int = 2, mode: str = "set", method: str = "greedy", check: bool = True,
               hub_degree: int | None = HUB_DEGREE, engine: str = "auto") -> SearchResult:
    """Search a HAG for the graph given by its in-neighbour lists (or a CSR pair, or a ``Graph``).

    ``capacity`` (max aggregation nodes) defaults to ``int(capacity_frac * |V|)`` (the paper's
    |V|/4). ``max_depth`` defaults to 10 in set mode (greedy.cc) and unbounded in sequential mode.
    ``hub_degree``: see the module docstring. ``engine``: ``auto`` (native when available), ``native``
    or ``python``. The result is verified (cover(v) == N(v)) unless ``check=False``; a failed check raises.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if method not in METHODS:
        raise ValueError(f"unknown HAG search method {method!r}; valid: {', '.join(METHODS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    if min_redundancy < 2:
        raise ValueError("min_redundancy must be >= 2 (a pair used once saves nothing)")
    if max_depth is None:
        max_depth = default_max_depth(mode)
    if max_depth < 1:
        raise ValueError("max_depth must be >= 1")
    max_depth = min(int(max_depth), UNBOUNDED)
    if hub_degree is not None and hub_degree < 2:
        raise ValueError("hub_degree must be >= 2 (or None: count every consumer)")
    n, ptr, idx = as_csr(graph)
    if capacity is None:
        if capacity_frac < 0:
            raise ValueError("capacity_frac must be >= 0")
        capacity = int(capacity_frac * n)
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"input ids must be in 0..{n - 1}")
    if n >= 2**31 - 1 - min(capacity, len(idx)):
        raise ValueError("graphs with >= 2^31 nodes + aggregation nodes are not supported")
    flat = method == "pw"
    native = _use_native(engine)
    t0, c0 = time.perf_counter(), time.process_time()
    stats: dict = {}
    if native:
        from systems.hag import native as nat

        agg, depth, nptr, nidx, stats = nat.search(ptr, idx, n, capacity=capacity, max_depth=max_depth,
                                                   min_redundancy=min_redundancy,
                                                   hub_degree=hub_degree if mode == "set" else None,
                                                   mode=mode, flat=flat)
        pops = stats["pops"]
    else:
        _check_no_duplicates(n, ptr, idx)
        if mode == "set":
            agg_l, depth_l, lists, pops = _greedy_set_py(ptr, idx, n, capacity, max_depth, min_redundancy, flat,
                                                         hub_degree)
        else:
            agg_l, depth_l, lists, pops = _greedy_seq_py(ptr, idx, n, capacity, max_depth, min_redundancy, flat)
        agg = np.asarray(agg_l, dtype=np.int64).reshape(-1, 2)
        depth = np.asarray(depth_l, dtype=np.int64)
        nptr, nidx = _lists_to_csr(lists)
    hag = _finalize(n, mode, agg, depth, nptr, nidx)
    search_s = time.perf_counter() - t0
    search_cpu = time.process_time() - c0
    t1 = time.perf_counter()
    verified = False
    if check:
        verify(hag, (ptr, idx), engine="native" if native else "python")
        verified = True
    verify_s = time.perf_counter() - t1
    return SearchResult(hag=hag, before=_cost_from_ptr(ptr), after=hag_cost(hag), search_s=search_s,
                        verify_s=verify_s, verified=verified, capacity=capacity, pops=pops,
                        engine="native" if native else "python", search_cpu_s=search_cpu, max_depth=max_depth,
                        hub_degree=hub_degree if mode == "set" else None, stats=stats)


def plain_hag(graph, mode: str = "set") -> Hag:
    """The GNN graph itself as a HAG with no aggregation nodes (the baseline)."""
    n, ptr, idx = as_csr(graph)
    return Hag(n, mode, np.zeros((0, 2), dtype=np.int64), (ptr.copy(), idx.copy()), [0])
