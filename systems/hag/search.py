"""HAG search: greedy merging of redundant neighbour pairs into aggregation nodes.

A HAG (Jia et al., KDD 2020) adds aggregation nodes ``V_A``; each holds a partial aggregate over
exactly two inputs (real nodes or earlier aggregation nodes). A real node ``v`` then aggregates a
shorter input list whose *covers* partition ``N(v)``.

Two optimizers share one data layout:

``greedy`` (the paper's Algorithm 3, "FullGreedy" in Porter & Wootters)
    Repeatedly merge the pair with the highest redundancy (set mode: the number of nodes that
    aggregate both; sequential mode: the number of nodes whose list *starts with* the pair), while
    the redundancy is >= ``min_redundancy`` and ``|V_A| < capacity``. New aggregation nodes take
    part in later pairs, so the HAG grows hierarchical.

``pw`` (a fast one-pass heuristic after Porter & Wootters, arXiv 2102.01730)
    Score every pair of *original* nodes once, then walk the pairs in that static order; each pair is
    re-scored against the current graph (inverted-index intersection) and merged when it still has
    redundancy >= ``min_redundancy``. No pair involving a new aggregation node is ever scored, so
    no redundancy heap is maintained and the HAG is flat (depth 1). It trades a little reduction for a
    much cheaper search. (Our own formulation of their "faster greedy heuristic" idea; it is not a
    transcription of their pseudo-code.)

Data structures (no O(|V|) scan per merge):

* a max-heap of ``(-redundancy, a, b)`` with **lazy deletion**: the initial pair scores sit in a
  numpy array sorted once, new pairs go to a ``heapq``; a popped entry is re-scored exactly and
  re-pushed when stale. Redundancies of existing pairs only ever *decrease* (a merge removes ``a``
  and ``b`` from the consumer lists and adds the new node), and pairs with a new node are pushed
  with their exact score at creation, so a popped entry whose stored score equals its exact score
  is a true maximum.
* an inverted index ``inv[x]`` = the set of nodes whose current input list contains ``x``; the
  consumers of a pair are ``inv[a] & inv[b]`` (sequential mode: a dict from the leading pair to
  the nodes whose list starts with it).
* initial pair counts come from a sparse product ``AᵀA`` (scipy), i.e. C speed for the
  O(Σ deg²) counting.

Note on guarantees: Jia et al. claim the set-mode greedy is a (1 − 1/e)-approximation. Porter &
Wootters (arXiv 2102.01730) showed by example that this claim is **wrong** — no better than a 1/2
factor is possible for that greedy — and proved a weaker guarantee via hypergraph matching.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from heapq import heappop, heappush
from itertools import chain
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp

Mode = Literal["set", "seq"]
Method = Literal["greedy", "pw"]
METHODS: tuple[str, ...] = ("greedy", "pw")
MODES: tuple[str, ...] = ("set", "seq")


@dataclass
class Hag:
    """A hierarchically aggregated computation graph.

    Ids ``0..n-1`` are the real nodes, ``n..n+m-1`` the aggregation nodes, numbered level by level
    (all inputs of a level-``k`` aggregation node have level < ``k``; real nodes are level 0).
    """

    num_nodes: int
    """Number of real nodes ``n``."""
    mode: str
    """``set`` (order-free aggregation) or ``seq`` (ordered, prefix sharing)."""
    agg_inputs: list[tuple[int, int]]
    """Inputs of aggregation node ``n+i`` (ordered: left then right)."""
    node_inputs: list[list[int]]
    """Inputs of each real node in the HAG (ids of real or aggregation nodes)."""
    level_bounds: list[int] = field(default_factory=list)
    """Aggregation nodes of level ``k`` are ``n + level_bounds[k-1] .. n + level_bounds[k] - 1``."""

    @property
    def num_agg(self) -> int:
        return len(self.agg_inputs)

    @property
    def depth(self) -> int:
        """Number of aggregation-node levels."""
        return len(self.level_bounds) - 1 if self.level_bounds else 0

    def covers(self) -> list[list[int]]:
        """cover(x) for every node id (ordered concatenation of the inputs' covers)."""
        n = self.num_nodes
        cov: list[list[int]] = [[i] for i in range(n)]
        for a, b in self.agg_inputs:
            cov.append(cov[a] + cov[b])
        return cov


@dataclass
class Cost:
    """Cost metrics of a graph or HAG."""

    aggregations: int
    """Binary aggregations: Σ over nodes with inputs of (number of inputs − 1)."""
    transfers: int
    """Data transfers: edges read (inputs of real and aggregation nodes)."""
    agg_nodes: int
    """Number of aggregation nodes |V_A|."""


def graph_cost(in_lists: Sequence[Sequence[int]]) -> Cost:
    """Cost of the plain GNN graph."""
    agg = 0
    tr = 0
    for x in in_lists:
        k = len(x)
        tr += k
        if k:
            agg += k - 1
    return Cost(aggregations=agg, transfers=tr, agg_nodes=0)


def hag_cost(h: Hag) -> Cost:
    """Cost of a HAG (every aggregation node has two inputs: one binary aggregation, two transfers)."""
    c = graph_cost(h.node_inputs)
    return Cost(aggregations=c.aggregations + h.num_agg, transfers=c.transfers + 2 * h.num_agg,
                agg_nodes=h.num_agg)


class CoverMismatch(AssertionError):
    """The checker found a node whose cover differs from its neighbour list."""


def verify(h: Hag, in_lists: Sequence[Sequence[int]]) -> None:
    """Raise :class:`CoverMismatch` unless cover(v) == N(v) for every real node.

    Set mode compares as multisets (so a node never receives an input twice, which a sum would
    double count); sequential mode compares ordered lists. Also checks the level numbering.
    """
    n = h.num_nodes
    if len(in_lists) != n or len(h.node_inputs) != n:
        raise CoverMismatch(f"node count mismatch: graph {len(in_lists)}, HAG {n}/{len(h.node_inputs)}")
    level = [0] * n
    bounds = h.level_bounds or [0]
    for k in range(1, len(bounds)):
        for i in range(bounds[k - 1], bounds[k]):
            a, b = h.agg_inputs[i]
            if not (0 <= a < n + i and 0 <= b < n + i):
                raise CoverMismatch(f"aggregation node {n + i} has a non-earlier input ({a}, {b})")
            lv = 1 + max(level[a], level[b])
            if lv != k:
                raise CoverMismatch(f"aggregation node {n + i} has level {lv}, stored in level {k}")
            level.append(lv)
    if len(level) != n + h.num_agg:
        raise CoverMismatch("level_bounds do not cover every aggregation node")
    cov = h.covers()
    for v in range(n):
        got: list[int] = []
        for x in h.node_inputs[v]:
            if not 0 <= x < n + h.num_agg:
                raise CoverMismatch(f"node {v} has an unknown input {x}")
            got.extend(cov[x])
        want = list(in_lists[v])
        if h.mode == "seq":
            if got != want:
                raise CoverMismatch(f"node {v}: cover {got} != N(v) {want} (ordered)")
        elif len(got) != len(want) or sorted(got) != sorted(want):
            raise CoverMismatch(f"node {v}: cover {sorted(got)} != N(v) {sorted(want)}")


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
    """Heap entries examined (lazy deletion re-scores stale ones)."""


def _csr(in_lists: Sequence[Sequence[int]], n: int):
    """The consumer × input incidence matrix A (A[v, u] = 1 when v aggregates u), CSR."""
    deg = np.fromiter((len(x) for x in in_lists), dtype=np.int64, count=n)
    nnz = int(deg.sum())
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=indptr[1:])
    indices = np.fromiter(chain.from_iterable(in_lists), dtype=np.int64, count=nnz)
    return sp.csr_matrix((np.ones(nnz, dtype=np.int32), indices, indptr), shape=(n, n))


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


def _finalize(n: int, mode: str, agg: list[tuple[int, int]], depth: list[int],
              lists: list) -> Hag:
    """Renumber aggregation nodes level by level and build the :class:`Hag`."""
    m = len(agg)
    lv = np.asarray(depth[n:], dtype=np.int64) if m else np.zeros(0, dtype=np.int64)
    # within a level, order aggregation nodes by the smallest real node they cover: nodes serving the
    # same region of the graph end up adjacent in memory (much better cache locality in the executor)
    cmin = list(range(n)) + [0] * m
    for i, (a, b) in enumerate(agg):
        cmin[n + i] = min(cmin[a], cmin[b])
    order = np.lexsort((np.asarray(cmin[n:], dtype=np.int64), lv)) if m else np.zeros(0, dtype=np.int64)
    new_id = list(range(n)) + [0] * m
    for new_i, old_i in enumerate(order.tolist()):
        new_id[n + old_i] = n + new_i
    agg_inputs = [(new_id[agg[o][0]], new_id[agg[o][1]]) for o in order.tolist()]
    bounds = [0]
    if m:
        counts = np.bincount(lv, minlength=int(lv.max()) + 1)[1:]
        bounds += np.cumsum(counts).tolist()
    node_inputs = [[new_id[x] for x in lst] for lst in lists]
    return Hag(num_nodes=n, mode=mode, agg_inputs=agg_inputs, node_inputs=node_inputs, level_bounds=bounds)


def _greedy_set(in_lists, n, capacity, max_depth, min_red, flat: bool):
    a_mat = _csr(in_lists, n)
    a_t = a_mat.T.tocsr()
    cnt0, a0, b0 = _pair_counts(a_mat, a_t, min_red)
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
        r = len(cons)
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
            sets.append(su)
        if not flat:
            # exact redundancy of every new pair (x, w): one C-level count over the consumers' sets
            counter = Counter(chain.from_iterable(sets))
            for x, k in counter.items():
                if k >= min_red:
                    heappush(heap, (-k, x, w))
        for su in sets:
            su.add(w)
    lists = [sorted(S[v]) if v in S else list(in_lists[v]) for v in range(n)]
    return agg, depth, lists, pops


def _greedy_seq(in_lists, n, capacity, max_depth, min_red, flat: bool):
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
            negc, a, b = heapq.heappop(heap)
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
                heapq.heappush(heap, (-r, a, b))
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
                    heapq.heappush(heap, (-k, x, y))
    lists = [list(reversed(r)) for r in R]
    return agg, depth, lists, pops


def hag_search(in_lists: Sequence[Sequence[int]], *, capacity: int | None = None,
               capacity_frac: float = 0.25, max_depth: int = 10, min_redundancy: int = 2,
               mode: str = "set", method: str = "greedy", check: bool = True) -> SearchResult:
    """Search a HAG for the graph given by its in-neighbour lists.

    ``capacity`` (max aggregation nodes) defaults to ``int(capacity_frac * |V|)`` (the paper's
    |V|/4). The result is verified (cover(v) == N(v)) unless ``check=False``; a failed check raises.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if method not in METHODS:
        raise ValueError(f"unknown HAG search method {method!r}; valid: {', '.join(METHODS)}")
    if min_redundancy < 2:
        raise ValueError("min_redundancy must be >= 2 (a pair used once saves nothing)")
    if max_depth < 1:
        raise ValueError("max_depth must be >= 1")
    n = len(in_lists)
    if capacity is None:
        if capacity_frac < 0:
            raise ValueError("capacity_frac must be >= 0")
        capacity = int(capacity_frac * n)
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    flat = method == "pw"
    t0 = time.perf_counter()
    if mode == "set":
        agg, depth, lists, pops = _greedy_set(in_lists, n, capacity, max_depth, min_redundancy, flat)
    else:
        agg, depth, lists, pops = _greedy_seq(in_lists, n, capacity, max_depth, min_redundancy, flat)
    hag = _finalize(n, mode, agg, depth, lists)
    search_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    verified = False
    if check:
        verify(hag, in_lists)
        verified = True
    verify_s = time.perf_counter() - t1
    return SearchResult(hag=hag, before=graph_cost(in_lists), after=hag_cost(hag), search_s=search_s,
                        verify_s=verify_s, verified=verified, capacity=capacity, pops=pops)


def plain_hag(in_lists: Sequence[Sequence[int]], mode: str = "set") -> Hag:
    """The GNN graph itself as a HAG with no aggregation nodes (the baseline)."""
    return Hag(num_nodes=len(in_lists), mode=mode, agg_inputs=[],
               node_inputs=[list(x) for x in in_lists], level_bounds=[0])
