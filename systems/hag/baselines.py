"""The expert baseline: the plain GNN graph (every node aggregates its whole neighbour list).

This is what every GNN framework (PyG, DGL) executes; the HAG must match its outputs exactly
and beat its aggregation count and epoch time.
"""

from __future__ import annotations

from typing import Sequence

from systems.hag.search import Cost, Hag, graph_cost, plain_hag

BASELINES: tuple[str, ...] = ("gnn-graph",)


def gnn_graph(in_lists: Sequence[Sequence[int]], mode: str = "set") -> tuple[Hag, Cost]:
    """The GNN graph as a HAG with no aggregation nodes, and its cost."""
    return plain_hag(in_lists, mode), graph_cost(in_lists)
