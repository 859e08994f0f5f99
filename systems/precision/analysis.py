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


# ----------------------------------------------------------------------------------------------
# Paired statistics over seeds and the paper's headline (low-precision share vs pi_op at matched
# accuracy)

CONFIDENCE = 0.95
"""Confidence level of every interval."""
MATCH_TOL = 0.01
"""Matched accuracy: the lower end of the 95% CI of the paired difference (method - pi_op) is at least
-MATCH_TOL (1 accuracy point): non-inferiority, the reading of "preserving training accuracy"."""


def t_quantile(n: int, conf: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile for ``n`` samples (``n - 1`` degrees of freedom)."""
    from scipy.stats import t

    return float(t.ppf(0.5 + conf / 2, n - 1))


@dataclass
class Interval:
    """A mean with its two-sided confidence interval over ``n`` samples."""

    mean: float
    """Sample mean."""
    half: float
    """Half-width of the interval (nan for n < 2)."""
    n: int
    """Samples."""

    @property
    def lo(self) -> float:
        return self.mean - self.half

    @property
    def hi(self) -> float:
        return self.mean + self.half

    def fmt(self, scale: float = 100.0, digits: int = 1) -> str:
        """``92.3 ± 0.4`` (in points by default)."""
        if math.isnan(self.half):
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f} ± {self.half * scale:.{digits}f}"


def mean_ci(values: list[float], conf: float = CONFIDENCE) -> Interval:
    """Mean and t-interval of ``values``."""
    n = len(values)
    if n == 0:
        return Interval(float("nan"), float("nan"), 0)
    m = sum(values) / n
    if n < 2:
        return Interval(m, float("nan"), n)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return Interval(m, t_quantile(n, conf) * sd / math.sqrt(n), n)


def paired_diff(a: dict[int, float], b: dict[int, float], conf: float = CONFIDENCE) -> Interval:
    """Interval of ``a[s] - b[s]`` over the seeds both have (paired: same seed = same init and data order)."""
    seeds = sorted(set(a) & set(b))
    return mean_ci([a[s] - b[s] for s in seeds], conf)


def plateaued(acc_per_epoch: list[float], loss_per_epoch: list[float], window: int = 3, acc_tol: float = 0.01,
              loss_rel_tol: float = 0.1) -> bool:
    """The stated convergence criterion: over the last ``window`` epochs the test accuracy moved by at
    most ``acc_tol`` (max - min) and the epoch-mean training loss by at most ``loss_rel_tol`` of its
    last value (with the cosine schedule ending at lr 0, the end of training is where this is judged)."""
    if len(acc_per_epoch) < window or len(loss_per_epoch) < window:
        return False
    a, lv = acc_per_epoch[-window:], loss_per_epoch[-window:]
    if not all(math.isfinite(x) for x in a + lv):
        return False
    return max(a) - min(a) <= acc_tol and max(lv) - min(lv) <= loss_rel_tol * max(abs(lv[-1]), 1e-12)


def _variant(r: JobResult) -> tuple:
    p = r.job_params or {}
    return (r.workload, r.method, p.get("r"), p.get("order_seed"), p.get("rounding"))


@dataclass
class Row:
    """One (workload, method, r[, order seed]) over its seeds."""

    workload: str
    method: str
    r: float | None
    order_seed: int | None
    accuracy: dict[int, float]
    """Seed -> final test accuracy (runs that finished; skipped runs excluded)."""
    low_share: float
    """The paper's measure (mean over seeds; promotion can raise precision mid-run)."""
    memory_mb: float
    """Total memory, memory model, after promotions (mean over seeds)."""
    diverged: int
    """Seeds that diverged."""
    converged: int
    """Seeds that met the plateau criterion."""
    skipped: int
    """Seeds skipped by the r-window."""
    achieved_share: float | None = None
    """Element share of the chosen groups (what the r-window checks)."""
    promotions: float = 0.0
    """Tensors promoted to high precision (mean over the seeds that ran)."""

    @property
    def acc(self) -> Interval:
        return mean_ci(list(self.accuracy.values()))


def rows_by_variant(results: list[JobResult]) -> list[Row]:
    """Group ok results by (workload, method, r, order seed); skipped (r-window) runs are counted, not averaged."""
    groups: dict[tuple, list[JobResult]] = {}
    for r in results:
        if r.ok:
            groups.setdefault(_variant(r)[:4], []).append(r)
    out = []
    for (w, m, rr, os_), rs in groups.items():
        ran = [x for x in rs if not x.metrics.get("skipped", 0)]
        acc = {x.seed: x.metrics["accuracy"] for x in ran if math.isfinite(x.metrics.get("accuracy", float("nan")))}
        share = [x.metrics.get("low_share", float("nan")) for x in (ran or rs)]
        mem = [x.metrics.get("memory_mb", float("nan")) for x in (ran or rs)]
        ach = [x.metrics["achieved_share"] for x in rs if "achieved_share" in x.metrics]
        out.append(Row(w, m, rr, os_, acc, mean(share), mean(mem),
                       sum(1 for x in ran if x.metrics.get("diverged", 0) >= 0.5),
                       sum(1 for x in ran if x.metrics.get("converged", 0) >= 0.5), len(rs) - len(ran),
                       mean(ach) if ach else None,
                       mean([x.metrics.get("promotions", 0.0) for x in ran]) if ran else 0.0))
    return out


@dataclass
class Headline:
    """The paper's comparison on one workload."""

    workload: str
    op: Row
    """pi_op."""
    best: Row | None
    """The pi_ours(r) run with the largest low share whose accuracy is matched to pi_op's."""
    diff: Interval | None
    """Paired accuracy difference best - pi_op."""
    share_ratio: float | None
    """low_share(best) / low_share(pi_op): the headline (paper: > 2x)."""
    memory_ratio: float | None
    """memory(pi_op) / memory(best): total-memory reduction."""
    memory_cap: float | None
    """memory(pi_op) / memory(pi_unif(lo)): the most any assignment can save in total memory."""
    candidates: list[tuple[Row, Interval]]
    """Every pi_ours(r) with its paired difference to pi_op (for the table)."""


def headline(rows: list[Row], workload: str, method: str = "ours", tol: float = MATCH_TOL) -> Headline | None:
    """The paper's measure at matched accuracy on ``workload`` (None without a pi_op row)."""
    op = next((r for r in rows if r.workload == workload and r.method == "pi-op"), None)
    if op is None:
        return None
    lo = next((r for r in rows if r.workload == workload and r.method == "unif-lo"), None)
    cands = []
    for r in sorted((r for r in rows if r.workload == workload and r.method == method and r.r is not None),
                    key=lambda r: r.r):
        cands.append((r, paired_diff(r.accuracy, op.accuracy)))
    ok = [(r, d) for r, d in cands if r.accuracy and not r.diverged and not r.skipped
          and d.n >= 2 and d.lo >= -tol]
    best, diff = max(ok, key=lambda rd: (rd[0].low_share, -rd[0].memory_mb)) if ok else (None, None)
    return Headline(
        workload, op, best, diff,
        best.low_share / op.low_share if best and op.low_share > 0 else None,
        op.memory_mb / best.memory_mb if best and best.memory_mb > 0 else None,
        op.memory_mb / lo.memory_mb if lo and lo.memory_mb > 0 else None,
        cands)
