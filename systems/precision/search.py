"""pi_ours(r): grouping -> ordering -> prefix of share r (promotion happens in training).

Groups (see :mod:`systems.precision.graph`) are ordered by total element count, largest first
(the paper's ``topr_dec``); the assignment puts in low precision the shortest prefix of that
order whose cumulative share of all tensor elements reaches ``r``. Ablations order the groups
smallest first (``topr_inc``) or at random (``rand``, the paper uses seeds 123, 456, 789).
"""

from __future__ import annotations

import random
from typing import Literal

from systems.precision.assign import Assignment
from systems.precision.graph import NetGraph

Order = Literal["largest", "smallest", "random"]
RANDOM_ORDER_SEEDS = (123, 456, 789)
"""The paper's seeds for the random-order ablation."""
R_WINDOW = 0.1
"""Width of the r-window: the authors' scripts pass ``[r, r + 0.1]`` and skip a run whose achieved
share falls outside (``r`` = 0 and 1 are always accepted)."""


def in_r_window(r: float, achieved: float, width: float = R_WINDOW) -> bool:
    """The authors' acceptance test (``main.py``: ``r_min in (0, 1) or r_min <= r_cur <= r_max``) on the
    achieved element share of the chosen groups (GP included, as ``get_ids_chosen`` counts it)."""
    if r in (0.0, 1.0):
        return True
    return r - 1e-12 <= achieved <= r + width + 1e-12


def group_order(graph: NetGraph, order: Order = "largest", seed: int = 123) -> list[int]:
    """Group indices in the order groups are demoted to low precision."""
    idx = list(range(len(graph.groups)))
    if order == "largest":
        return sorted(idx, key=lambda g: (-graph.groups[g].numel, g))
    if order == "smallest":
        return sorted(idx, key=lambda g: (graph.groups[g].numel, g))
    if order == "random":
        rng = random.Random(seed)
        rng.shuffle(idx)
        return idx
    raise ValueError(f"unknown group order {order!r}; valid: largest, smallest, random")


def prefix_for_share(graph: NetGraph, order: list[int], r: float) -> list[int]:
    """The shortest prefix of ``order`` whose cumulative element share reaches ``r``."""
    if not (0.0 <= r <= 1.0):
        raise ValueError(f"r must be in [0, 1], got {r}")
    total = graph.total_numel
    chosen: list[int] = []
    acc = 0
    for g in order:
        if acc >= r * total - 1e-9 * total:
            break
        chosen.append(g)
        acc += graph.groups[g].numel
    return chosen


def pi_ours(graph: NetGraph, r: float, order: Order = "largest", seed: int = 123) -> Assignment:
    """The paper's assignment: groups of the prefix reaching share ``r`` in low precision."""
    groups = prefix_for_share(graph, group_order(graph, order, seed), r)
    low = {tid for g in groups for tid in graph.groups[g].tensors}
    label = f"ours(r={r:g})" if order == "largest" else f"ours-{order}(r={r:g})"
    return Assignment.from_low(graph, low, label=label)
