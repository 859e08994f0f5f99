"""The regression detector on scripted histories (pure Python, no services)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.regression import (DetectorConfig, Point, Report, detect, latest_sweep_points, missing, parse_since,
                              worse_factor, zscore)

HW = "2 CPU (test) | no GPU"


def series(values, *, metric="time_s", direction="min", method="opt", workload="w1", version="v1",
           hardware=HW, system="sys", baseline=False, t0=0):
    """One point per sweep, sweeps at t0, t0+1, ..."""
    return [Point(system=system, workload=workload, method=method, metric=metric, hardware=hardware, value=v,
                  direction=direction, time=t0 + i, version=version, sweep=f"s{t0 + i}", git_sha=f"c{t0 + i}",
                  is_baseline=baseline) for i, v in enumerate(values)]


def one(report: Report):
    assert len(report.findings) == 1, report.findings
    return report.findings[0]


NOISY = [10.0, 10.4, 9.7, 10.2, 9.9, 10.3, 9.8, 10.1]  # ~2 % noise around 10


def test_step_up_on_a_lower_is_better_metric_is_a_regression():
    f = one(detect(series(NOISY + [13.0])))
    assert f.category == "regression"
    assert f.ratio == pytest.approx(13.0 / 10.1)
    assert f.z is not None and f.z > 3
    assert f.previous == 10.1 and f.previous_git_sha == "c7" and f.git_sha == "c8"
    assert f.n_history == len(NOISY)


def test_step_down_on_a_lower_is_better_metric_is_an_improvement():
    f = one(detect(series(NOISY + [7.5])))
    assert f.category == "improvement"
    assert f.z < -3


def test_direction_max_flips_the_verdict():
    assert one(detect(series(NOISY + [13.0], direction="max"))).category == "improvement"
    assert one(detect(series(NOISY + [7.5], direction="max"))).category == "regression"


def test_noise_within_the_window_is_not_flagged_even_past_the_ratio():
    # +-12 % noise: the newest point is 1.2x the previous one (past 1.1x) but normal for the window.
    noisy = [10.0, 11.5, 8.8, 11.2, 9.0, 10.9, 8.9, 11.4, 9.2]
    f = one(detect(series(noisy + [11.1])))
    assert worse_factor(11.1, 9.2, "min") > 1.1
    assert f.category == "unchanged"
    assert "within the window's noise" in f.reason
    assert abs(f.z) < 3


def test_small_real_drift_below_the_ratio_threshold_is_not_flagged():
    # Deterministic metric moving 5 %: z is large (sd floored at 1 % of the mean) but 1.05 < 1.1.
    f = one(detect(series([100.0] * 6 + [105.0])))
    assert f.category == "unchanged"
    assert f.z == pytest.approx(5.0)
    assert one(detect(series([100.0] * 6 + [105.0]), DetectorConfig(threshold=1.04))).category == "regression"


def test_deterministic_history_flags_a_step_despite_zero_spread():
    f = one(detect(series([4.0] * 5 + [5.0])))
    assert f.category == "regression" and math.isfinite(f.z)


def test_too_little_history_ratio_alone_decides_and_no_history_is_new():
    f = one(detect(series([10.0, 12.0])))
    assert f.category == "regression" and f.z is None and f.n_history == 1
    assert "z needs 3 earlier" in f.reason
    assert one(detect(series([10.0, 10.5]))).category == "unchanged"
    f = one(detect(series([10.0])))
    assert f.category == "new" and f.previous is None and f.ratio is None and not f.history_reset


def test_changed_benchmark_version_restarts_history():
    pts = series([10.0] * 5, version="v1") + series([20.0], version="v2", t0=5)
    f = one(detect(pts))
    assert f.category == "new" and f.history_reset and f.n_history == 0
    assert "version changed" in f.reason
    # ...and the next run under v2 compares with v2 only
    pts += series([20.5], version="v2", t0=6)
    f = one(detect(pts))
    assert f.category == "unchanged" and f.n_history == 1 and f.previous == 20.0


def test_other_hardware_is_never_compared():
    pts = series([10.0] * 4) + series([30.0], hardware="1x H100 | GPU", t0=4)
    cats = {f.hardware: f.category for f in detect(pts).findings}
    assert cats == {HW: "unchanged", "1x H100 | GPU": "new"}


def test_lost_to_expert_is_its_own_category():
    pts = (series([1.3, 1.25, 0.8], metric="vs_expert", direction="max")
           + series([1.0, 1.0, 1.0], metric="vs_expert", direction="max", method="expert", baseline=True)
           + series([0.9, 0.9], metric="vs_expert", direction="max", method="weak"))
    by = {f.method: f for f in detect(pts).findings}
    assert by["opt"].category == "lost_to_expert" and by["opt"].newly
    assert by["weak"].category == "lost_to_expert" and not by["weak"].newly
    assert "expert" not in by  # a baseline's vs_expert is relative to the best baseline: not judged
    report = detect(pts)
    assert [f.method for f in report.lost_to_expert] == ["opt", "weak"]
    assert report.regressions == [] and report.improvements == []


def test_regressions_and_improvements_are_listed_separately_in_the_markdown():
    pts = series(NOISY + [13.0], workload="a") + series(NOISY + [7.0], workload="b") + series([5.0], workload="c")
    report = detect(pts)
    assert report.counts() == {"regression": 1, "improvement": 1, "lost_to_expert": 0, "new": 1, "unchanged": 0}
    md = report.to_markdown()
    reg, imp = md.index("### Regressions"), md.index("### Improvements")
    assert reg < md.index("| sys | a |") < imp < md.index("| sys | b |")
    assert "1 benchmark(s) without comparable history" in md
    rows = report.to_rows()
    assert [r["category"] for r in rows] == ["regression", "improvement"]
    assert rows[0]["commits"] == "c7 -> c8"
    text = report.to_text()
    assert text.splitlines()[0].startswith("1 regression  1 improvement")


def test_newest_point_is_judged_whatever_the_input_order():
    pts = series(NOISY + [13.0])
    assert one(detect(list(reversed(pts)))).category == "regression"


def test_latest_sweep_points_and_missing():
    a = series([1.0, 1.0, 1.0], workload="a")
    b = series([1.0, 1.0], workload="b")  # absent from the newest sweep (t=2)
    other = series([5.0], system="other", t0=0)
    pts = a + b + other
    kept = latest_sweep_points(pts)
    assert {p.workload for p in kept if p.system == "sys"} == {"a"}
    assert {p.system for p in kept} == {"sys", "other"}
    assert missing(pts) == [("sys", "b", "opt", "time_s", HW)]


def test_worse_factor_edge_cases():
    assert worse_factor(2.0, 1.0, "min") == 2.0
    assert worse_factor(2.0, 1.0, "max") == 0.5
    assert worse_factor(1.0, 0.0, "min") == math.inf
    assert worse_factor(0.0, 1.0, "min") == 0.0
    assert worse_factor(-4.0, -2.0, "max") == pytest.approx(2.0)  # more negative = worse when higher is better
    assert worse_factor(3.0, 3.0, "max") == 1.0
    assert zscore(10.0, [10.0, 10.0], 0.0) == 0.0


@pytest.mark.parametrize("kwargs, msg", [({"threshold": 1.0}, "threshold must be > 1.0"),
                                         ({"z_threshold": 0}, "z_threshold"), ({"window": 0}, "window"),
                                         ({"min_history": 1}, "min_history")])
def test_config_validation(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        DetectorConfig(**kwargs)


def test_parse_since():
    now = 1_000_000.0
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("12h", now) == now - 12 * 3600
    assert parse_since("2w", now) == now - 14 * 86400
    assert parse_since("2026-11-01", now) == 1793491200.0
    assert parse_since("2026-11-01T02:00+01:00", now) == 1793491200.0 + 3600
    with pytest.raises(ValueError, match="expected a duration like 7d"):
        parse_since("yesterday", now)


@settings(max_examples=40, derandomize=True, deadline=None)
@given(values=st.lists(st.floats(0.5, 2.0), min_size=1, max_size=12), scale=st.floats(0.01, 100.0),
       direction=st.sampled_from(["min", "max"]))
def test_verdicts_do_not_depend_on_units(values, scale, direction):
    a = one(detect(series(values, direction=direction)))
    b = one(detect(series([v * scale for v in values], direction=direction)))
    assert a.category == b.category
    if a.z is not None:
        assert b.z == pytest.approx(a.z, rel=1e-6, abs=1e-6)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(level=st.floats(0.1, 1e4), n=st.integers(1, 12), direction=st.sampled_from(["min", "max"]))
def test_a_flat_history_is_never_flagged(level, n, direction):
    f = one(detect(series([level] * (n + 1), direction=direction)))
    assert f.category == "unchanged"


def test_detector_imports_no_orchestration_or_tracking():
    import subprocess
    import sys

    code = ("import sys, flows.regression; bad = [m for m in ('prefect', 'mlflow', 'ray', 'pandas') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
