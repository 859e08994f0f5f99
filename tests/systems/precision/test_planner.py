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
