"""HAG: redundancy-free GNN aggregation (Jia et al., KDD 2020) against the plain GNN graph.

The optimizer rewrites a graph's neighbour aggregation into a hierarchically aggregated computation
graph (shared partial aggregates over node pairs); the expert baseline is the plain GNN graph.
Primary metric: binary aggregations (lower is better); epoch times are measured alongside.

Note: the paper's claim that its greedy search is a (1 − 1/e)-approximation was shown wrong by
Porter & Wootters (arXiv 2102.01730); see ``systems/hag/README.md``.
"""

from systems.core import Method, SystemSpec
from systems.hag.config import CONFIGS
from systems.hag.workloads import CAPACITY_SWEEP, SUITES, workload_overrides

METHODS: tuple[Method, ...] = (
    Method("gnn-graph", "baseline", "the plain GNN graph: every node aggregates its whole neighbour list (PyG, DGL)",
           overrides={"hag": False}),
    Method("hag-greedy", "optimizer", "the paper's greedy search, set aggregation, capacity |V|/4"),
    Method("hag-pw", "optimizer", "one-pass heuristic after Porter & Wootters, capacity |V|/4",
           overrides={"search.method": "pw"}),
    Method("hag-seq", "optimizer", "the greedy in sequential mode (prefix sharing), capacity |V|/4",
           overrides={"search.mode": "seq"}),
    Method("hag-lstm", "optimizer", "GraphSAGE-LSTM through a sequential HAG at capacity |V| (prefix states "
           "reused); its plain LSTM runs in the same job", overrides={"search.mode": "seq", "search.capacity_frac": 1.0,
                                                                       "train.model": "sage-lstm", "train.pyg": False}),
    *(Method(f"hag-cap-{f:g}", "optimizer", f"the greedy with capacity {f:g}|V| (capacity sweep)",
             overrides={"search.capacity_frac": f}) for f in CAPACITY_SWEEP),
)

SPEC = SystemSpec(
    name="hag",
    description="HAG: merge redundant neighbour aggregations (Jia et al. KDD'20) vs the plain GNN graph",
    primary_metric="aggregations",
    direction="min",
    methods=METHODS,
    configs=CONFIGS,
    suites=SUITES,
    workload_overrides=workload_overrides,
    runner="systems.hag.evaluate:run",
    reference_baseline="gnn-graph",
    simulated=False,
    benchmark_version="2",
    benchmark_sources=("systems.hag.workloads", "systems.hag.graph"),
)

__all__ = ["METHODS", "SPEC"]
