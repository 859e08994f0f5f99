"""Evaluation rate of the simulator (timing: slow-marked)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_at_least_20_evaluations_per_second_per_core():
    from benchmarks.mapper_sim import measure_eval_rate

    rows = measure_eval_rate(min_evals=5, min_s=0.5)
    assert len(rows) == 9
    for r in rows:
        assert r["status"] == "ok"
        assert r["evals_per_s"] >= 20, r
