"""HAG: redundancy-free GNN aggregation (Jia et al., KDD 2020) against the plain GNN graph.

The optimizer rewrites a graph's neighbour aggregation into a hierarchically aggregated computation
graph (shared partial aggregates over node pairs); the expert baseline is the plain GNN graph.
Primary metric: binary aggregations (lower is better); epoch times are measured alongside.

Note: the paper's claim that its greedy search is a (1 − 1/e)-approximation was shown wrong by
Porter & Wootters (arXiv 2102.01730); see ``systems/hag/README.md``.
"""

from systems.core import SystemSpec
from systems.hag.workloads import METHODS, make_jobs, workloads

SPEC = SystemSpec(
    name="hag",
    description="HAG: merge redundant neighbour aggregations (Jia et al. KDD'20) vs the plain GNN graph",
    primary_metric="aggregations",
    direction="min",
    methods=METHODS,
    baselines=("gnn-graph",),
    make_jobs=make_jobs,
    runner="systems.hag.evaluate:run",
    workloads=workloads,
    reference_baseline="gnn-graph",
    simulated=False,
    benchmark_version="1",
)

__all__ = ["SPEC"]
