"""Searches over per-layer configurations, all exact or stochastic under the same cost model.

* :func:`eliminate_search` — the paper's algorithm: **node elimination** (a node with one in-edge
  and one out-edge becomes an edge whose table is the min-plus product of its two edges plus its
  node cost, remembering the argmin per (c_i, c_k)) and **edge elimination** (parallel edges between
  the same two nodes are summed), repeated until neither applies; the remaining graph is enumerated
  jointly and the eliminations are undone in reverse order through the argmin tables. A virtual
  source/sink (one configuration, zero costs) joins all graph inputs/outputs so chains reduce fully.
  Exact under the cost model.
* :func:`brute_force` — joint enumeration of every layer (the oracle for small graphs).
* :func:`mcmc_search` — FlexFlow-style Metropolis search: change one layer's configuration at a
  time, accept if better or with probability ``exp(-alpha * relative_increase)``.

They work on a :class:`CostGraph` (node cost vectors + edge cost tables), which tests build by hand.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

import numpy as np

SRC, SNK = "__source__", "__sink__"


class SearchError(RuntimeError):
    """The search cannot run (space too large, malformed cost graph)."""


@dataclass
class CostGraph:
    """Node cost vectors and edge cost tables (``table[c_u, c_v]``); a multigraph DAG."""

    nodes: dict[str, np.ndarray]
    """Node name → cost per configuration."""
    edges: list[tuple[str, str, np.ndarray]]
    """(u, v, table of shape (C_u, C_v))."""

    def __post_init__(self) -> None:
        for u, v, t in self.edges:
            for n in (u, v):
                if n not in self.nodes:
                    raise SearchError(f"edge ({u!r}, {v!r}) names unknown node {n!r}")
            if t.shape != (len(self.nodes[u]), len(self.nodes[v])):
                raise SearchError(f"edge ({u!r}, {v!r}) table has shape {t.shape}, expected "
                                  f"({len(self.nodes[u])}, {len(self.nodes[v])})")

    @classmethod
    def from_model(cls, model) -> "CostGraph":
        """From a :class:`systems.layerwise.cost.CostModel`."""
        return cls(nodes=dict(model.node_cost), edges=[(e[0], e[1], model.x_time[e]) for e in model.edges])

    def cost(self, assign: dict[str, int]) -> float:
        t = sum(float(self.nodes[n][assign[n]]) for n in self.nodes)
        return t + sum(float(tab[assign[u], assign[v]]) for u, v, tab in self.edges)

    def space(self) -> float:
        return float(np.prod([float(len(c)) for c in self.nodes.values()]))


@dataclass
class SearchResult:
    """A strategy (node → configuration index), its cost and how the search went."""

    assignment: dict[str, int]
    cost: float
    search_s: float
    stats: dict[str, float] = field(default_factory=dict)
    series: list[float] = field(default_factory=list)
    """Best cost so far per recorded step (MCMC)."""


def _enumerate(nodes: dict[str, np.ndarray], edges: list[tuple[str, str, np.ndarray]],
               limit: int) -> tuple[dict[str, int], float]:
    """Joint minimum over all configuration combinations, by broadcasting (needs prod(C) <= limit)."""
    fixed = {n for n in nodes if len(nodes[n]) == 1}  # single-configuration nodes: fold them away
    names = [n for n in nodes if n not in fixed]
    sizes = [len(nodes[n]) for n in names]
    space = math.prod(sizes)
    if space > limit:
        raise SearchError(f"joint enumeration of {len(names)} nodes needs {space:.3g} combinations "
                          f"(limit {limit:.3g})")
    axis = {n: i for i, n in enumerate(names)}
    k = len(names)
    const = sum(float(nodes[n][0]) for n in fixed)
    total = np.zeros(sizes)
    for n in names:
        shape = [1] * k
        shape[axis[n]] = sizes[axis[n]]
        total = total + nodes[n].reshape(shape)
    for u, v, tab in edges:
        if u in fixed and v in fixed:
            const += float(tab[0, 0])
            continue
        if u in fixed or v in fixed:
            n, vec = (v, tab[0, :]) if u in fixed else (u, tab[:, 0])
            shape = [1] * k
            shape[axis[n]] = sizes[axis[n]]
            total = total + vec.reshape(shape)
            continue
        shape = [1] * k
        shape[axis[u]] = sizes[axis[u]]
        shape[axis[v]] = sizes[axis[v]]
        t = tab if axis[u] < axis[v] else tab.T
        total = total + t.reshape(shape)
    total = total + const
    flat = int(np.argmin(total))
    idx = np.unravel_index(flat, sizes) if names else ()
    out = {n: 0 for n in fixed}
    out.update({n: int(i) for n, i in zip(names, idx)})
    return out, float(total.flat[flat])


def brute_force(cg: CostGraph, limit: int = 2_000_000) -> SearchResult:
    """Exhaustive search (raises :class:`SearchError` when the space exceeds ``limit``)."""
    t0 = time.perf_counter()
    assign, cost = _enumerate(cg.nodes, cg.edges, limit)
    return SearchResult(assign, cost, time.perf_counter() - t0, {"evaluated": cg.space()})


def eliminate_search(cg: CostGraph, final_limit: int = 2_000_000) -> SearchResult:
    """Node + edge elimination, enumeration of the residual graph, undo (exact)."""
    t0 = time.perf_counter()
    nodes = {n: np.asarray(c, dtype=float) for n, c in cg.nodes.items()}
    nodes[SRC] = np.zeros(1)
    nodes[SNK] = np.zeros(1)
    edges: dict[int, tuple[str, str, np.ndarray]] = {}
    ins: dict[str, set[int]] = {n: set() for n in nodes}
    outs: dict[str, set[int]] = {n: set() for n in nodes}
    next_id = [0]
    n_edge_elim = [0]

    def add_edge(u: str, v: str, tab: np.ndarray) -> None:
        # edge elimination: merge with an existing parallel edge
        for eid in outs[u]:
            if edges[eid][1] == v:
                edges[eid] = (u, v, edges[eid][2] + tab)
                n_edge_elim[0] += 1
                return
        eid = next_id[0]
        next_id[0] += 1
        edges[eid] = (u, v, tab)
        outs[u].add(eid)
        ins[v].add(eid)

    for u, v, tab in cg.edges:
        add_edge(u, v, np.asarray(tab, dtype=float))
    for n in cg.nodes:
        if not ins[n]:
            add_edge(SRC, n, np.zeros((1, len(nodes[n]))))
        if not outs[n]:
            add_edge(n, SNK, np.zeros((len(nodes[n]), 1)))

    undo: list[tuple[str, str, str, np.ndarray]] = []
    queue = [n for n in cg.nodes]
    while queue:
        j = queue.pop()
        if j not in nodes or j in (SRC, SNK) or len(ins[j]) != 1 or len(outs[j]) != 1:
            continue
        (e1,), (e2,) = tuple(ins[j]), tuple(outs[j])
        i, _, a = edges.pop(e1)
        _, k, b = edges.pop(e2)
        outs[i].discard(e1)
        ins[k].discard(e2)
        # m[ci, cj, ck] = a[ci, cj] + cost_j[cj] + b[cj, ck]
        m = a[:, :, None] + (nodes[j][:, None] + b)[None, :, :]
        arg = m.argmin(axis=1)
        new = np.take_along_axis(m, arg[:, None, :], axis=1)[:, 0, :]
        undo.append((j, i, k, arg))
        del nodes[j], ins[j], outs[j]
        add_edge(i, k, new)
        queue.extend([i, k])

    rest_edges = list(edges.values())
    assign, cost = _enumerate(nodes, rest_edges, final_limit)
    residual = len(nodes) - 2
    for j, i, k, arg in reversed(undo):
        assign[j] = int(arg[assign[i], assign[k]])
    assign.pop(SRC, None)
    assign.pop(SNK, None)
    return SearchResult(assign, cost, time.perf_counter() - t0,
                        {"node_eliminations": len(undo), "edge_eliminations": n_edge_elim[0],
                         "residual_nodes": residual, "residual_edges": len(rest_edges)})


def mcmc_search(cg: CostGraph, init: dict[str, int], iterations: int = 20_000, alpha: float = 200.0,
                seed: int = 0, record_every: int = 100) -> SearchResult:
    """Metropolis-Hastings over strategies starting from ``init`` (FlexFlow-style)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    names = [n for n in cg.nodes if len(cg.nodes[n]) > 1]
    inc: dict[str, list[tuple[str, np.ndarray, bool]]] = {n: [] for n in cg.nodes}
    for u, v, tab in cg.edges:
        inc[u].append((v, tab, True))
        inc[v].append((u, tab, False))
    cur = dict(init)
    cur_cost = cg.cost(cur)
    best, best_cost = dict(cur), cur_cost
    series = [best_cost]
    accepted = 0

    def local(n: str, c: int) -> float:
        t = float(cg.nodes[n][c])
        for other, tab, is_src in inc[n]:
            t += float(tab[c, cur[other]] if is_src else tab[cur[other], c])
        return t

    for it in range(iterations if names else 0):
        n = rng.choice(names)
        old = cur[n]
        new = rng.randrange(len(cg.nodes[n]) - 1)
        new = new + 1 if new >= old else new
        delta = local(n, new) - local(n, old)
        if delta <= 0 or rng.random() < math.exp(-alpha * delta / max(cur_cost, 1e-30)):
            cur[n] = new
            cur_cost += delta
            accepted += 1
            if cur_cost < best_cost - 1e-15:
                best, best_cost = dict(cur), cur_cost
        if (it + 1) % record_every == 0:
            series.append(best_cost)
    best_cost = cg.cost(best)  # recompute exactly (no drift from incremental sums)
    return SearchResult(best, best_cost, time.perf_counter() - t0,
                        {"iterations": iterations, "accepted": accepted}, series)
