"""Searches over per-layer configurations, all exact or stochastic under the same cost model.

* :func:`eliminate_search` — the paper's algorithm: **node elimination** (a node with one in-edge
  and one out-edge becomes an edge whose table is the min-plus product of its two edges plus its
  node cost, remembering the argmin per (c_i, c_k)) and **edge elimination** (parallel edges between
  the same two nodes are summed), repeated until neither applies; then the graph that is left, and
  the eliminations are undone in reverse order through the argmin tables. A virtual source/sink
  (one configuration, zero costs) joins all graph inputs/outputs so chains reduce fully. For the
  three CNNs of the paper (series-parallel graphs) nothing but source and sink is left.
  **Any graph**: a residual that is not empty (DenseNet blocks, randomly wired networks) is solved
  by :func:`solve_residual` — dead-end elimination (a sound pruning: Goldstein's criterion), then
  min-plus *variable elimination* in a greedy min-weight order (the tree-width heuristic), or the
  same after *conditioning* on hub nodes (fix their configurations, eliminate the rest) when that is
  cheaper; exact as long as the table entries it must visit stay within ``exact_budget``. Beyond the
  budget it falls back to MCMC (:class:`Fallback`): chains from the given seed strategies (data
  parallelism, OWT, ...) and from the exact optimum over the best few configurations per node; the
  result then says ``exact: 0``.
* :func:`brute_force` — joint enumeration of every layer (the verification oracle, small graphs only).
* :func:`mcmc_search` / :func:`mcmc_multi` — FlexFlow-style Metropolis search: change one layer's
  configuration at a time, accept if better or with probability ``exp(-alpha * relative_increase)``;
  several chains from different starts, the best kept.

They work on a :class:`CostGraph` (node cost vectors + edge cost tables), which tests build by hand.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np

SRC, SNK = "__source__", "__sink__"
MAX_FACTOR = 2e7
"""Largest single table (entries) variable elimination may build (memory bound: 160 MB of float64)."""


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


@dataclass
class Fallback:
    """What :func:`eliminate_search` does when exact search would exceed its budget: MCMC chains."""

    seeds: list[dict[str, int]]
    """Starting strategies (e.g. data parallelism, OWT, model parallelism)."""
    iterations: int = 20_000
    """Proposals per chain."""
    alpha: float = 50.0
    """MCMC inverse temperature."""
    restarts: int = 1
    """Chains beyond one per seed and the restricted-exact start (each from the best so far)."""
    seed: int = 0
    """RNG seed of the first chain (chain i uses seed + i)."""


def eliminate_search(cg: CostGraph, final_limit: int | None = None, exact_budget: float = 1e8,
                     fallback: Fallback | None = None, max_factor: float = MAX_FACTOR) -> SearchResult:
    """Node + edge elimination, the residual graph (exactly within ``exact_budget``), undo.

    ``final_limit`` is accepted for compatibility and overrides ``exact_budget`` when given. Without
    ``fallback`` a residual beyond the budget raises :class:`SearchError`.
    """
    t0 = time.perf_counter()
    if final_limit is not None:
        exact_budget = float(final_limit)
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
    residual = len(nodes) - 2
    stats: dict[str, float] = {"node_eliminations": len(undo), "edge_eliminations": n_edge_elim[0],
                               "residual_nodes": residual, "residual_edges": len(rest_edges)}

    def undo_all(assign: dict[str, int]) -> dict[str, int]:
        assign = dict(assign)
        for j, i, k, arg in reversed(undo):
            assign[j] = int(arg[assign[i], assign[k]])
        assign.pop(SRC, None)
        assign.pop(SNK, None)
        return assign

    res = solve_residual(nodes, rest_edges, exact_budget, max_factor)
    stats.update(res.stats)
    if res.assignment is not None:
        assign = undo_all(res.assignment)
        return SearchResult(assign, cg.cost(assign) if residual else res.cost, time.perf_counter() - t0,
                            stats)
    if fallback is None:
        raise SearchError(f"exact search of the residual graph ({residual} nodes, {len(rest_edges)} edges "
                          f"after node/edge elimination) needs ~{res.stats['exact_cost']:.3g} table entries with tables "
                          f"of up to {res.stats['exact_max_table']:.3g} entries: over the exact budget "
                          f"{exact_budget:.3g} (or the table limit {max_factor:.3g}); give a fallback (MCMC) "
                          "or a larger budget")
    # fallback: the exact optimum over the best few configurations per node, then MCMC chains
    starts = [dict(s) for s in fallback.seeds]
    if res.restricted is not None:
        starts.insert(0, undo_all(res.restricted))
    r = mcmc_multi(cg, starts, fallback.iterations, fallback.alpha, fallback.seed, fallback.restarts)
    stats.update({"fallback_mcmc": 1.0, "fallback_chains": r.stats["chains"],
                  "restricted_exact_cost": cg.cost(starts[0]) if res.restricted is not None else float("nan")})
    return SearchResult(r.assignment, r.cost, time.perf_counter() - t0, stats, r.series)


# ----------------------------------------------------------------------------- residual graphs

@dataclass
class _Residual:
    assignment: dict[str, int] | None
    cost: float
    stats: dict[str, float]
    restricted: dict[str, int] | None = None


def _pair_tables(nodes: dict[str, np.ndarray], edges) -> dict[tuple[str, str], np.ndarray]:
    """Edge tables keyed by (u, v) with parallel/antiparallel edges merged (u < v orientation kept)."""
    out: dict[tuple[str, str], np.ndarray] = {}
    for u, v, t in edges:
        if u == v:
            raise SearchError(f"self-loop on {u!r}")
        if (v, u) in out:
            out[(v, u)] = out[(v, u)] + t.T
        else:
            out[(u, v)] = out.get((u, v), 0) + t
    return out


def dead_end_elimination(nodes: dict[str, np.ndarray], tables: dict[tuple[str, str], np.ndarray],
                         max_rounds: int = 20) -> dict[str, np.ndarray]:
    """Configurations that can be in an optimum, per node (Goldstein's dead-end elimination).

    Configuration ``c`` of node ``v`` is dropped when some ``c'`` satisfies
    ``cost_v[c] - cost_v[c'] + sum_e min_x (T_e[c, x] - T_e[c', x]) > 0``: then swapping ``c`` for
    ``c'`` lowers the cost whatever the neighbours do, so ``c`` is in no optimum (ties keep both).
    Repeated until nothing changes. Returns the kept original indices per node.
    """
    keep = {n: np.arange(len(c)) for n, c in nodes.items()}
    nbrs: dict[str, list[tuple[str, str, bool]]] = {n: [] for n in nodes}
    for (u, v) in tables:
        nbrs[u].append((u, v, True))
        nbrs[v].append((u, v, False))
    for _ in range(max_rounds):
        changed = False
        for n in nodes:
            k = keep[n]
            if len(k) <= 1:
                continue
            # gain[c, c'] = cost[c] - cost[c'] + sum_e min_x (T[c, x] - T[c', x]) over kept x
            cost = nodes[n][k]
            gain = cost[:, None] - cost[None, :]
            for u, v, is_src in nbrs[n]:
                t = tables[(u, v)]
                t = t[np.ix_(k, keep[v])] if is_src else t[np.ix_(keep[u], k)].T
                if t.shape[0] * t.shape[0] * t.shape[1] > 4_000_000:
                    gain = None
                    break
                gain = gain + (t[:, None, :] - t[None, :, :]).min(axis=2)
            if gain is None:
                continue
            np.fill_diagonal(gain, -np.inf)
            dead = (gain > 1e-12 * (1.0 + np.abs(cost).max())).any(axis=1)
            if dead.any():
                # never drop every configuration (gain is antisymmetric in the best one, so it survives)
                keep[n] = k[~dead]
                changed = True
        if not changed:
            break
    return keep


def _elim_order(dom: dict[str, int], adj: dict[str, set[str]], skip: set[str] = frozenset()):
    """Greedy min-weight elimination order (ties: fewest fill edges); returns (order, cost, max factor)."""
    adj = {n: set(a) - skip for n, a in adj.items() if n not in skip}
    order, cost, biggest = [], 0.0, 0.0
    while adj:
        best = None
        for n, a in adj.items():
            w = float(dom[n]) * math.prod(float(dom[m]) for m in a)
            fill = sum(1 for x in a for y in a if x < y and y not in adj[x])
            key = (w, fill, n)
            if best is None or key < best[0]:
                best = (key, n)
        (w, _, _), n = best
        order.append(n)
        cost += w
        biggest = max(biggest, w)
        a = adj.pop(n)
        for x in a:
            adj[x] |= a - {x}
            adj[x].discard(n)
    return order, cost, biggest


def _variable_elimination(unary: dict[str, np.ndarray], tables: dict[tuple[str, str], np.ndarray],
                          order: list[str]) -> tuple[dict[str, int], float]:
    """Exact min-sum variable elimination in ``order`` with back-substitution."""
    factors: list[tuple[tuple[str, ...], np.ndarray]] = [((n,), c) for n, c in unary.items()]
    factors += [((u, v), t) for (u, v), t in tables.items()]
    trace = []
    for v in order:
        mine = [f for f in factors if v in f[0]]
        factors = [f for f in factors if v not in f[0]]
        scope: list[str] = [v]
        for sc, _ in mine:
            scope += [x for x in sc if x not in scope]
        total = 0.0
        for sc, arr in mine:
            perm = sorted(range(len(sc)), key=lambda i: scope.index(sc[i]))
            a = np.transpose(arr, perm)
            shape = [1] * len(scope)
            for i in perm:
                shape[scope.index(sc[i])] = arr.shape[i]
            total = total + a.reshape(shape)
        total = np.broadcast_to(total, [len(unary[x]) for x in scope]) if np.ndim(total) else total
        arg = np.argmin(total, axis=0)
        factors.append((tuple(scope[1:]), np.min(total, axis=0)))
        trace.append((v, tuple(scope[1:]), arg))
    const = float(sum(float(np.asarray(a)) for _, a in factors))  # all scalars now
    assign: dict[str, int] = {}
    for v, sc, arg in reversed(trace):
        assign[v] = int(arg[tuple(assign[x] for x in sc)]) if sc else int(arg)
    return assign, const


def _solve_exact(unary, tables, order, fixed_order, dom):
    """VE, or VE for every configuration of the conditioning set ``fixed_order`` (best kept)."""
    if not fixed_order:
        return _variable_elimination(unary, tables, order)
    best: tuple[dict[str, int], float] | None = None
    for combo in itertools.product(*(range(dom[f]) for f in fixed_order)):
        fix = dict(zip(fixed_order, combo))
        un = {n: c.copy() for n, c in unary.items() if n not in fix}
        const = sum(float(unary[f][c]) for f, c in fix.items())
        tabs = {}
        for (u, v), t in tables.items():
            if u in fix and v in fix:
                const += float(t[fix[u], fix[v]])
            elif u in fix:
                un[v] = un[v] + t[fix[u], :]
            elif v in fix:
                un[u] = un[u] + t[:, fix[v]]
            else:
                tabs[(u, v)] = t
        a, c = _variable_elimination(un, tabs, order)
        if best is None or c + const < best[1]:
            a.update(fix)
            best = (a, c + const)
    return best


def solve_residual(nodes: dict[str, np.ndarray], edges, budget: float, max_factor: float = MAX_FACTOR) -> _Residual:
    """Exact minimum of a (small or structured) pairwise cost graph within ``budget`` table entries.

    Returns the assignment (None when over budget; then ``restricted`` holds the exact optimum over
    the best configurations per node that fit the budget, a seed for the fallback)."""
    stats: dict[str, float] = {}
    tables = _pair_tables(nodes, edges)
    inner = [n for n in nodes if n not in (SRC, SNK)]
    if not inner:
        cost = sum(float(t[0, 0]) for t in tables.values())
        return _Residual({SRC: 0, SNK: 0}, cost, {"exact": 1.0, "exact_cost": 0.0})
    keep = dead_end_elimination(nodes, tables)
    before = sum(len(c) for c in nodes.values())
    unary = {n: nodes[n][keep[n]] for n in nodes}
    tabs = {(u, v): t[np.ix_(keep[u], keep[v])] for (u, v), t in tables.items()}
    dom = {n: len(unary[n]) for n in unary}
    stats["dee_configs_before"] = float(before)
    stats["dee_configs_after"] = float(sum(dom.values()))
    adj: dict[str, set[str]] = {n: set() for n in unary}
    for (u, v) in tabs:
        adj[u].add(v)
        adj[v].add(u)
    order, cost, biggest = _elim_order(dom, adj)
    plans = [(cost, order, [], biggest)]
    # conditioning: fix hub nodes (one more at a time, greedily) when VE alone is too big
    fixed: list[str] = []
    for _ in range(6):
        ok = [p for p in plans if p[3] <= max_factor]
        if ok and min(p[0] for p in ok) <= budget:
            break
        cands = sorted((n for n in adj if n not in fixed and dom[n] > 1), key=lambda n: -len(adj[n]))[:6]
        trial = []
        for u in cands:
            f = fixed + [u]
            o, c, b = _elim_order(dom, adj, skip=set(f))
            n_runs = math.prod(dom[x] for x in f)
            trial.append((n_runs * (c + 2e4), o, f, b))  # 2e4: per-run Python overhead in table entries
        if not trial:
            break
        t = min(trial, key=lambda x: (x[3] > max_factor, x[0]))
        fixed = t[2]
        plans.append(t)
    ok = [p for p in plans if p[3] <= max_factor]
    best_plan = min(ok, key=lambda p: p[0]) if ok else min(plans, key=lambda p: p[3])
    stats["exact_cost"] = float(best_plan[0])
    stats["exact_max_table"] = float(best_plan[3])
    stats["conditioned_nodes"] = float(len(best_plan[2]))
    if best_plan[0] <= budget and best_plan[3] <= max_factor:
        a, c = _solve_exact(unary, tabs, best_plan[1], best_plan[2], dom)
        stats["exact"] = 1.0
        return _Residual({n: int(keep[n][i]) for n, i in a.items()}, c, stats)
    stats["exact"] = 0.0
    # the exact optimum restricted to the k best configurations per node (local lower bound order)
    score = {n: unary[n].copy() for n in unary}
    for (u, v), t in tabs.items():
        score[u] = score[u] + t.min(axis=1)
        score[v] = score[v] + t.min(axis=0)
    restricted = None
    lo, hi = 1, max(dom.values())
    while lo <= hi:
        k = (lo + hi) // 2
        sel = {n: np.argsort(score[n], kind="stable")[:k] for n in unary}
        d2 = {n: len(s) for n, s in sel.items()}
        o, c, b = _elim_order(d2, adj)
        if c <= budget and b <= max_factor:
            a, _ = _variable_elimination({n: unary[n][sel[n]] for n in unary},
                                         {(u, v): t[np.ix_(sel[u], sel[v])] for (u, v), t in tabs.items()}, o)
            restricted = {n: int(keep[n][sel[n][i]]) for n, i in a.items()}
            stats["restricted_k"] = float(k)
            lo = k + 1
        else:
            hi = k - 1
    return _Residual(None, float("inf"), stats, restricted)


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


def mcmc_multi(cg: CostGraph, inits: list[dict[str, int]], iterations: int = 20_000, alpha: float = 50.0,
               seed: int = 0, restarts: int = 0) -> SearchResult:
    """One Metropolis chain per start in ``inits`` plus ``restarts`` chains from the best strategy so
    far (chain i seeded ``seed + i``); the best result over all chains."""
    if not inits:
        raise SearchError("MCMC needs at least one initial strategy")
    t0 = time.perf_counter()
    best: SearchResult | None = None
    chains = 0
    for i in range(len(inits) + restarts):
        start = inits[i] if i < len(inits) else best.assignment
        r = mcmc_search(cg, start, iterations, alpha, seed + i)
        chains += 1
        if best is None or r.cost < best.cost:
            best = r
    return SearchResult(best.assignment, best.cost, time.perf_counter() - t0,
                        {"iterations": iterations, "chains": chains, "accepted": best.stats["accepted"]},
                        best.series)
