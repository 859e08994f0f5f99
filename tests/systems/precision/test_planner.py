"""Planner output and the matched-accuracy analysis."""

import json

import pytest

from systems.precision.analysis import matched, pareto
from systems.precision.planner import build_assignment, plan


def test_plan_table_and_json_consistent():
    p = plan("tiny", "ours", r=0.5, dataset="digits", batch_size=16)
    rows = p.rows()
    assert [r["rank"] for r in sorted(rows, key=lambda r: -r["elements"])] == [1, 2, 3, 4]
    low_groups = {r["group"] for r in rows if r["precision"] == "low"}
    assert low_groups == {1}  # the largest group alone covers >= 50%
    data = json.loads(p.to_json())
    assert data["memory_mb"] == pytest.approx(p.assignment.memory_mb())
    assert data["pi_op_mb"] == pytest.approx(p.pi_op_mb())
    assert "0.5" in p.summary() or "r=0.5" in p.summary()


def test_build_assignment_rejects_unknown_method():
    p = plan("tiny", "fp32", dataset="digits")
    with pytest.raises(ValueError, match="unknown method"):
        build_assignment("bf16", p.graph)


def test_matched_picks_least_memory_within_tolerance():
    rows = [
        {"workload": "w", "method": "pi-op", "accuracy": 0.90, "memory_mb": 10.0, "low_share": 0.3, "diverged": 0, "r": None},
        {"workload": "w", "method": "ours", "accuracy": 0.897, "memory_mb": 6.0, "low_share": 0.6, "diverged": 0, "r": 0.6},
        {"workload": "w", "method": "ours", "accuracy": 0.85, "memory_mb": 4.0, "low_share": 1.0, "diverged": 0, "r": 1.0},
        {"workload": "w", "method": "ours", "accuracy": 0.93, "memory_mb": 8.0, "low_share": 0.4, "diverged": 0, "r": 0.4},
    ]
    m = matched(rows, "w")
    assert m.best_r == 0.6 and m.reduction == pytest.approx(10 / 6) and m.low_share_ratio == pytest.approx(2.0)
    assert pareto([(1, 0.5), (2, 0.4), (3, 0.9), (0.5, 0.1)]) == [(0.5, 0.1), (1, 0.5), (3, 0.9)]


def _res(method, seed, acc, share, mem, r=None, **extra):
    from systems.core import JobResult

    params = {} if r is None else {"r": r}
    return JobResult(system="precision", workload="w", method=method, seed=seed, suite="t",
                     metrics={"accuracy": acc, "low_share": share, "memory_mb": mem, "diverged": 0.0, **extra},
                     job_params=params)


def test_paired_headline_uses_the_ci_of_the_difference_and_the_share_ratio():
    from systems.precision.analysis import headline, paired_diff, rows_by_variant

    res = []
    for s, base in enumerate((0.90, 0.93, 0.88)):  # seeds move every method alike
        res.append(_res("pi-op", s, base, 0.30, 10.0))
        res.append(_res("unif-lo", s, base - 0.05, 0.96, 5.8))
        res.append(_res("ours", s, base + 0.001 * (s - 1), 0.66, 7.0, r=0.6))  # matched: tiny paired spread
        res.append(_res("ours", s, base - 0.03 + 0.02 * s, 0.85, 6.3, r=0.8))  # noisy and worse: not matched
        res.append(_res("ours", s, 0.0, 0.97, 5.8, r=0.9, skipped=1.0))  # outside the r-window
    rows = rows_by_variant(res)
    h = headline(rows, "w")
    assert h.best.r == 0.6 and h.share_ratio == pytest.approx(0.66 / 0.30)
    assert h.memory_ratio == pytest.approx(10 / 7) and h.memory_cap == pytest.approx(10 / 5.8)
    assert abs(h.diff.mean) < 1e-9 and h.diff.half < 0.01
    r08 = next(d for r, d in h.candidates if r.r == 0.8)
    assert r08.lo < -0.01  # the unpaired means differ by 1 point, but its CI is wide: not matched
    r09 = next(r for r, _ in h.candidates if r.r == 0.9)
    assert r09.skipped == 3 and not r09.accuracy
    d = paired_diff({0: 0.5, 1: 0.6}, {0: 0.4, 1: 0.5, 2: 0.9})
    assert d.n == 2 and d.mean == pytest.approx(0.1) and d.half == pytest.approx(0.0, abs=1e-12)


def test_plateau_criterion():
    from systems.precision.analysis import plateaued

    assert plateaued([0.5, 0.9, 0.951, 0.955, 0.953], [2.0, 0.5, 0.2, 0.19, 0.185])
    assert not plateaued([0.5, 0.8, 0.9, 0.95], [2.0, 1.0, 0.5, 0.3])  # still improving
    assert not plateaued([0.9, 0.9], [0.1, 0.1])  # too few epochs
