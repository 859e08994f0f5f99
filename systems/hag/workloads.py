"""Named HAG workloads (deterministic graphs) and the smoke / nightly / default / full suites.

The paper's datasets (BZR, PPI, REDDIT, IMDB, COLLAB) are not shipped by any package registry, so
the workloads are **deterministic stand-ins** generated from the paper's statistics: same kind of structure (complete graphs, clique-built ego-nets,
power-law clustering, communities), same average size, reduced scale where stated in ``scale``
(the paper's numbers are in ``systems/hag/README.md``).
Features and labels are synthetic (a random "teacher" over one hop of the graph, so they are learnable).

Every graph is built from a fixed per-workload seed: a workload name always means the same graph.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

from systems.core import Suite, SuiteEntry, grid
from systems.hag.graph import Graph, atlas_graph, figure1_graph, from_edges, karate_graph, lesmis_graph


@dataclass(frozen=True)
class Workload:
    """A named graph workload."""

    name: str
    """Workload name (job.workload)."""
    build: Callable[[], Graph]
    """Deterministic graph builder."""
    task: str
    """``node`` (node classification) or ``graph`` (graph classification, mean pooling)."""
    scale: str
    """How the stand-in relates to the paper's dataset (or 'real graph')."""
    paper: str = ""
    """The paper's dataset statistics this stands in for."""


# ---------------------------------------------------------------- generators

def _union(parts: list[tuple[int, np.ndarray, np.ndarray]], name: str) -> Graph:
    """Disjoint union of undirected small graphs given as (n, src, dst); graph_ids per node."""
    srcs, dsts, gids = [], [], []
    off = 0
    for gi, (k, s, d) in enumerate(parts):
        srcs.append(s + off)
        dsts.append(d + off)
        gids.append(np.full(k, gi, dtype=np.int64))
        off += k
    src = np.concatenate(srcs) if srcs else np.zeros(0, dtype=np.int64)
    dst = np.concatenate(dsts) if dsts else np.zeros(0, dtype=np.int64)
    return from_edges(off, src, dst, name=name, undirected=True, sort=True,
                      graph_ids=np.concatenate(gids) if gids else np.zeros(0, dtype=np.int64))


def _clique_edges(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(nodes), k=1)
    return nodes[i], nodes[j]


def complete_graphs(count: int, mean_size: float, sd: float, seed: int, name: str,
                    lo: int = 4, hi: int = 40) -> Graph:
    """``count`` complete graphs with sizes ~ round(N(mean_size, sd)) clipped to [lo, hi]."""
    rng = np.random.default_rng(seed)
    sizes = np.clip(np.rint(rng.normal(mean_size, sd, size=count)), lo, hi).astype(int)
    parts = []
    for k in sizes:
        s, d = _clique_edges(np.arange(k))
        parts.append((int(k), s, d))
    return _union(parts, name)


def clique_ego_nets(count: int, mean_size: float, seed: int, name: str, groups: tuple[int, int],
                    p_between: float, size_lo: int, size_hi: int, lognormal_sigma: float = 0.0) -> Graph:
    """Ego-nets built from overlapping cliques (movies' casts, research groups).

    Each ego-net: an ego (node 0) linked to everyone; the alters are split into ``groups`` cliques
    (consecutive, overlapping by one node) and other alter pairs are linked with ``p_between``.
    """
    rng = np.random.default_rng(seed)
    if lognormal_sigma > 0:
        mu = np.log(mean_size) - lognormal_sigma ** 2 / 2
        sizes = np.clip(np.rint(rng.lognormal(mu, lognormal_sigma, size=count)), size_lo, size_hi).astype(int)
    else:
        sizes = rng.integers(size_lo, size_hi + 1, size=count)
    parts = []
    for k in sizes:
        k = int(k)
        alters = np.arange(1, k)
        g = int(rng.integers(groups[0], groups[1] + 1))
        g = max(1, min(g, max(1, (k - 1) // 2)))
        perm = rng.permutation(alters)
        cuts = np.linspace(0, len(perm), g + 1).astype(int)
        adj = np.zeros((k, k), dtype=bool)
        adj[0, 1:] = True
        for c in range(g):
            lo_, hi_ = max(0, cuts[c] - 1), cuts[c + 1]  # overlap by one alter
            members = perm[lo_:hi_]
            adj[np.ix_(members, members)] = True
        rnd = rng.random((k, k)) < p_between
        adj |= rnd
        adj = np.triu(adj | adj.T, k=1)
        s, d = np.nonzero(adj)
        parts.append((k, s.astype(np.int64), d.astype(np.int64)))
    return _union(parts, name)


def powerlaw_cluster_graphs(count: int, size: int, m: int, p: float, seed: int, name: str) -> Graph:
    """``count`` Holme–Kim power-law clustered graphs (networkx) as one disjoint union."""
    import networkx as nx

    parts = []
    for i in range(count):
        g = nx.powerlaw_cluster_graph(size, m, p, seed=seed + i)
        e = np.asarray(list(g.edges()), dtype=np.int64).reshape(-1, 2)
        parts.append((size, e[:, 0], e[:, 1]))
    gr = _union(parts, name)
    gr.graph_ids = None  # node classification over the union, like GraphSAGE PPI
    return gr


def community_graph(n: int, communities: int, p_in: float, avg_out: float, seed: int, name: str) -> Graph:
    """A stochastic-block-model-like graph: dense communities plus sparse random cross edges."""
    rng = np.random.default_rng(seed)
    bounds = np.linspace(0, n, communities + 1).astype(int)
    srcs, dsts = [], []
    for c in range(communities):
        lo, hi = bounds[c], bounds[c + 1]
        k = hi - lo
        i, j = np.triu_indices(k, k=1)
        keep = rng.random(len(i)) < p_in
        srcs.append(i[keep] + lo)
        dsts.append(j[keep] + lo)
    n_out = int(avg_out * n / 2)
    a = rng.integers(0, n, size=n_out)
    b = rng.integers(0, n, size=n_out)
    keep = a != b
    srcs.append(a[keep])
    dsts.append(b[keep])
    s, d = np.concatenate(srcs), np.concatenate(dsts)
    pairs = np.unique(np.minimum(s, d) * n + np.maximum(s, d))  # a simple graph: repeated draws count once
    return from_edges(n, pairs // n, pairs % n, name=name, undirected=True, sort=True)


# ---------------------------------------------------------------- the named workloads

WORKLOADS: dict[str, Workload] = {}


def _add(w: Workload) -> None:
    WORKLOADS[w.name] = w


_add(Workload("fig1", figure1_graph, "node", "real graph: the paper's Figure 1 (4 nodes, 10 directed edges)"))
_add(Workload("karate", karate_graph, "node", "real graph: Zachary's karate club (34 nodes, 156 directed edges)"))
_add(Workload("lesmis", lesmis_graph, "node", "real graph: Les Misérables (77 nodes, 508 directed edges)"))
_add(Workload("atlas", atlas_graph, "graph", "real graphs: networkx atlas, 1,252 graphs of 1-7 nodes"))
_add(Workload(
    "clique-mini",
    lambda: clique_ego_nets(60, 10, seed=7, name="clique-mini", groups=(1, 3), p_between=0.2,
                            size_lo=6, size_hi=14),
    "graph", "tiny clique-heavy stand-in for the smoke suite (60 clique-built ego-nets of 6-14 nodes)"))
_add(Workload(
    "bzr-like", lambda: complete_graphs(306, 21.3, 4.0, seed=11, name="bzr-like"), "node",
    "full scale: 306 complete graphs, ~21 nodes each (BZR_MD-like)",
    "BZR: 6,519 nodes, 137,734 edges"))
_add(Workload(
    "imdb-like",
    lambda: clique_ego_nets(1500, 13, seed=13, name="imdb-like", groups=(1, 3), p_between=0.15,
                            size_lo=7, size_hi=19),
    "graph", "full scale: 1,500 clique-built ego-nets, ~13 nodes each (IMDB-MULTI-like)",
    "IMDB: 19,502 nodes, 197,806 edges"))
_add(Workload(
    "collab-like",
    lambda: clique_ego_nets(250, 74.5, seed=17, name="collab-like", groups=(2, 4), p_between=0.6,
                            size_lo=32, size_hi=300, lognormal_sigma=0.35),
    "graph", "reduced 20x: 250 ego-nets (of 5,000), ~74 nodes, ~90% dense (COLLAB-like)",
    "COLLAB: 372,474 nodes, 12,288,900 edges"))
_add(Workload(
    "collab-like-1k",
    lambda: clique_ego_nets(1000, 74.5, seed=17, name="collab-like-1k", groups=(2, 4), p_between=0.6,
                            size_lo=32, size_hi=300, lognormal_sigma=0.35),
    "graph", "reduced 5x: 1,000 ego-nets (of 5,000), ~74 nodes, ~90% dense (COLLAB-like)",
    "COLLAB: 372,474 nodes, 12,288,900 edges"))
_add(Workload(
    "ppi-like", lambda: powerlaw_cluster_graphs(24, 600, 14, 0.5, seed=19, name="ppi-like"), "node",
    "reduced 4x: 24 power-law clustered graphs of 600 nodes, avg degree ~27 (PPI-like)",
    "PPI: 56,944 nodes, 1,612,348 edges"))
_add(Workload(
    "ppi-like-full", lambda: powerlaw_cluster_graphs(24, 2373, 14, 0.5, seed=19, name="ppi-like-full"),
    "node", "full node count: 24 power-law clustered graphs of 2,373 nodes, avg degree ~28 (PPI-like)",
    "PPI: 56,944 nodes, 1,612,348 edges"))
_add(Workload(
    "reddit-like", lambda: community_graph(8000, 40, 0.3, 10.0, seed=23, name="reddit-like"), "node",
    "reduced ~29x in nodes, ~70x in edges: 8,000 nodes in 40 dense communities (REDDIT-like)",
    "REDDIT: 232,965 nodes, 57,307,946 edges"))


@functools.lru_cache(maxsize=4)
def build_graph(name: str) -> Graph:
    """The graph of workload ``name`` (cached per process)."""
    return get_workload(name).build()


def get_workload(name: str) -> Workload:
    if name not in WORKLOADS:
        raise ValueError(f"unknown hag workload {name!r}; valid: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]


def workload_overrides(name: str) -> dict:
    """Config overrides a workload implies (none: a HAG workload is a graph); validates the name."""
    get_workload(name)
    return {}


# ---------------------------------------------------------------- suites

CAPACITY_SWEEP: tuple[float, ...] = (0.05, 0.1, 0.5, 1.0, 2.0)
"""Capacity fractions of the sweep methods ``hag-cap-<f>`` (``hag-greedy`` itself is 0.25)."""

CORE_METHODS: tuple[str, ...] = ("gnn-graph", "hag-greedy", "hag-pw", "hag-seq")
SWEEP_METHODS: tuple[str, ...] = tuple(f"hag-cap-{f:g}" for f in CAPACITY_SWEEP)

_SMOKE = ("fig1", "karate", "clique-mini")
_NIGHTLY = ("karate", "lesmis", "atlas", "bzr-like", "imdb-like", "collab-like")
_DEFAULT = ("fig1", "karate", "lesmis", "atlas", "bzr-like", "imdb-like", "collab-like", "ppi-like", "reddit-like")
_FULL = ("fig1", "karate", "lesmis", "atlas", "bzr-like", "imdb-like", "collab-like", "collab-like-1k",
         "ppi-like", "ppi-like-full", "reddit-like")


def _with_sweep(workloads: tuple[str, ...], sweep: tuple[str, ...], lstm: tuple[str, ...] = ()) -> tuple[SuiteEntry, ...]:
    """Core methods on every workload, the capacity sweep on ``sweep`` workloads and the GraphSAGE-LSTM
    method on ``lstm`` workloads (in workload order)."""
    out: list[SuiteEntry] = []
    for w in workloads:
        out += grid([w], CORE_METHODS + (SWEEP_METHODS if w in sweep else ()) + (("hag-lstm",) if w in lstm else ()))
    return tuple(out)


SUITES: dict[str, Suite] = {
    "smoke": Suite(grid(_SMOKE, ("gnn-graph", "hag-greedy", "hag-pw"), config="debug_cpu"),
                   description="three small graphs, seconds on a laptop CPU"),
    "nightly": Suite(grid(_NIGHTLY, CORE_METHODS, config="nightly_cpu"),
                     description="six stand-ins, core methods, fewer epochs"),
    "default": Suite(_with_sweep(_DEFAULT, ("imdb-like", "collab-like", "bzr-like"), lstm=("bzr-like", "imdb-like")),
                     description="every stand-in; capacity sweep on IMDB/COLLAB/BZR-like; GraphSAGE-LSTM on BZR/IMDB-like"),
    "full": Suite(_with_sweep(_FULL, ("imdb-like", "collab-like", "collab-like-1k", "bzr-like", "ppi-like"),
                              lstm=("bzr-like", "imdb-like", "collab-like")),
                  description="default plus the larger stand-ins"),
}
"""Suite name -> entries (workload, method, named config)."""
