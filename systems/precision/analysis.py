"""Reading sweep results: memory reduction against pi_op at matched accuracy, Pareto fronts.

The platform comparison averages a method's results over its jobs; for ``ours`` that would mix
different r. The paper's comparison is instead: among the pi_ours(r) runs whose accuracy is
within ``tol`` of pi_op's, take the one with the least memory, and report pi_op's memory
divided by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import mean

from systems.core.types import JobResult


@dataclass
class Matched:
    """The outcome of the matched-accuracy comparison on one workload."""

    workload: str
    """Workload name."""
    op_accuracy: float
    """pi_op's accuracy (mean over seeds)."""
    op_memory_mb: float
    """pi_op's memory."""
    best_r: float | None
    """r of the least-memory pi_ours run within tolerance (None when none qualifies)."""
    best_accuracy: float | None
    """Its accuracy."""
    best_memory_mb: float | None
    """Its memory."""
    reduction: float | None
    """op_memory_mb / best_memory_mb."""
    low_share_ratio: float | None
    """Low-precision share of the chosen pi_ours over pi_op's (the saved bits ratio)."""


def _key(r: JobResult) -> tuple:
    p = r.job_params or {}
    return (r.method, p.get("r"), p.get("order_seed"))


def aggregate(results: list[JobResult]) -> list[dict]:
    """One row per (workload, method, r, order_seed): means over ok seeds."""
    groups: dict[tuple, list[JobResult]] = {}
    for r in results:
        if r.ok:
            groups.setdefault((r.workload, *_key(r)), []).append(r)
    rows = []
    for (w, m, rr, os_), rs in groups.items():
        row = {"workload": w, "method": m, "r": rr, "order_seed": os_, "n": len(rs)}
        for k in ("memory_mb", "memory_ratio_fp32", "memory_ratio_op", "accuracy", "final_loss", "diverged",
                  "promotions", "step_s", "low_share", "skipped_steps", "memory_mb_planned"):
            vals = [x.metrics[k] for x in rs if k in x.metrics]
            row[k] = mean(vals) if vals else float("nan")
        rows.append(row)
    return rows


def matched(rows: list[dict], workload: str, tol: float = 0.005, method: str = "ours") -> Matched | None:
    """pi_op vs the least-memory ``method`` run with accuracy >= pi_op's - tol on ``workload``."""
    op = [r for r in rows if r["workload"] == workload and r["method"] == "pi-op"]
    if not op:
        return None
    op_acc, op_mem, op_share = op[0]["accuracy"], op[0]["memory_mb"], op[0]["low_share"]
    cands = [r for r in rows if r["workload"] == workload and r["method"] == method
             and math.isfinite(r["accuracy"]) and r["accuracy"] >= op_acc - tol and not r["diverged"] >= 0.5]
    if not cands:
        return Matched(workload, op_acc, op_mem, None, None, None, None, None)
    best = min(cands, key=lambda r: (r["memory_mb"], -r["accuracy"]))
    share = best["low_share"] / op_share if op_share > 0 else None
    return Matched(workload, op_acc, op_mem, best["r"], best["accuracy"], best["memory_mb"],
                   op_mem / best["memory_mb"], share)


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Non-dominated (memory, accuracy) points: less memory and more accuracy are better."""
    front = []
    for m, a in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or a > front[-1][1]:
            front.append((m, a))
    return front
