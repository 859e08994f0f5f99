"""The hindsight-picked static capacity: ``static-cf-oracle``.

A practitioner fixes a static alpha before training (the ``static-cf-*`` rows). The oracle instead
knows this run's routing in advance: it trains the workload once dropless (same seed, data order
and initialisation) to record every step's per-expert loads, picks the smallest capacity ``C``
whose projected drops ``sum_steps sum_e max(0, load_e - C)`` stay below :data:`DROP_LIMIT` of all
assignments, and then trains the static method at exactly that capacity. Routing in the static run
differs slightly from the dropless one (dropped assignments change the gradients), so when the
measured drops still reach the limit the capacity is raised by 1/16 of a unit of alpha and the run
repeated (at most 3 times). The reported metrics are those of the final static run; the selection
runs are reported apart (``oracle_selection_s``), not charged to its throughput.

This module calls the training engine; the engine never calls back (no import cycle).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

from systems.moe.config import RunConfig
from systems.moe.methods import DROP_LIMIT, ORACLE, static_method
from systems.moe.train import TrainResult, train

MAX_TRIES = 3


def projected_drops(counts: list[list[int]], cap: int) -> int:
    """Assignments a uniform capacity ``cap`` would have dropped on a recorded routing trace."""
    return sum(max(0, c - cap) for step in counts for c in step)


def oracle_capacity(counts: list[list[int]], k: int, batch: int, limit: float = DROP_LIMIT) -> int:
    """Smallest uniform capacity whose projected drop fraction on ``counts`` is below ``limit``."""
    if not counts:
        raise ValueError("oracle_capacity needs a non-empty routing trace")
    total = k * batch * len(counts)
    lo, hi = 1, max(max(s) for s in counts) or 1  # hi drops nothing
    while lo < hi:
        mid = (lo + hi) // 2
        if projected_drops(counts, mid) < limit * total:
            hi = mid
        else:
            lo = mid + 1
    return lo


def run_oracle(cfg: RunConfig) -> TrainResult:
    """Pick the static alpha with hindsight and train it (see module doc)."""
    lc, B = cfg.layer, cfg.workload.batch_size
    unit = lc.top_k * B / lc.n_experts  # rows per unit of alpha
    t0 = time.perf_counter()
    probe = train(replace(cfg, method="dropless", compile=False, mem_samples=0))
    counts = probe.counts
    cap = oracle_capacity(counts, lc.top_k, B)
    tries, res = [], None
    for _ in range(MAX_TRIES):
        alpha = cap / unit
        res = train(cfg, static_method(alpha, ORACLE))
        tries.append({"capacity": cap, "alpha": alpha, "projected_dropped_frac":
                      projected_drops(counts, cap) / (lc.top_k * B * cfg.steps),
                      "dropped_frac": res.metrics["dropped_frac"]})
        if res.metrics["dropped_frac"] < DROP_LIMIT or cap >= B:
            break
        cap = min(B, cap + max(1, math.ceil(unit / 16)))
    sel = time.perf_counter() - t0 - res.metrics["train_s"]
    res.metrics["oracle_alpha"] = cap / unit
    res.metrics["oracle_selection_s"] = sel
    res.params["method"] = ORACLE
    res.params["oracle_alpha"] = cap / unit
    res.artifacts["oracle_selection.json"] = json.dumps(
        {"limit": DROP_LIMIT, "probe": "dropless", "probe_alpha_needed_max": probe.metrics["alpha_needed_max"],
         "tries": tries, "chosen_alpha": cap / unit}, indent=2)
    return res
