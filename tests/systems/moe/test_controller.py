"""Capacity policies on scripted statistics: shrink, raise schedule, local capacities, cache, lag."""

import math

import pytest

from systems.moe.config import ControllerConfig
from systems.moe.controller import EMA, RecompileController, StepStats
from systems.moe.layer import capacity_for

N, K, B = 8, 2, 100  # one unit of alpha = k*B/n = 25 rows


def _counts_for_needed(alpha_needed):
    """Per-expert loads whose max gives exactly ``alpha_needed`` (k*B = 200 assignments)."""
    top = round(alpha_needed * K * B / N)
    rest = K * B - top
    return [top] + [rest // (N - 1) + (1 if i < rest % (N - 1) else 0) for i in range(N - 1)]


def _ctrl(policy="dynamic", cache=False, alpha0=4.0, **kw):
    cfg = ControllerConfig(**{"launch_ahead": 0, "ema_weight": 1.0, "cooldown": 0, "min_observations": 1, **kw})
    return RecompileController(cfg, policy, N, K, B, alpha0=alpha0, cache=cache)


def test_needed_alpha_is_at_least_one():
    c = _ctrl()
    c.observe(StepStats(0, [25] * 8, 0))
    c.after_step(0)
    assert c.stats.alpha_needed == pytest.approx(1.0)


def test_shrink_rule_alpha_becomes_1_3_score():
    c = _ctrl()
    c.observe(StepStats(0, _counts_for_needed(1.2), 0))
    d = c.after_step(0)
    assert d is not None and "shrink" in d.reason
    assert d.alpha == pytest.approx(1.3 * 1.2)
    assert d.caps == (capacity_for(1.3 * 1.2, K, N, B),) * N


def test_no_shrink_at_or_above_half_alpha():
    c = _ctrl()
    c.observe(StepStats(0, _counts_for_needed(2.0), 0))  # score == 0.5 * alpha: not below
    assert c.after_step(0) is None
    assert c.alpha == 4.0


def test_raise_schedule_goes_to_the_next_level_above_the_score():
    c = _ctrl(alpha0=2.0)
    c.observe(StepStats(0, _counts_for_needed(2.1), 0))
    d = c.after_step(0)
    assert d.alpha == 2.2 and "raise" in d.reason
    c.observe(StepStats(1, _counts_for_needed(2.6), 0))
    assert c.after_step(1).alpha == 2.75
    c.observe(StepStats(2, _counts_for_needed(3.5), 0))  # beyond the schedule: stays at the top level
    assert c.after_step(2) is None and c.alpha == 2.75


def test_raise_after_shrink_uses_schedule():
    c = _ctrl()
    c.observe(StepStats(0, _counts_for_needed(1.0), 0))
    assert c.after_step(0).alpha == pytest.approx(1.3)
    c.observe(StepStats(1, _counts_for_needed(1.4), 0))
    assert c.after_step(1).alpha == 1.8


def test_static_policy_never_changes():
    c = _ctrl("static")
    for s in range(5):
        c.observe(StepStats(s, _counts_for_needed(1.0 if s % 2 else 3.0), 10))
        assert c.after_step(s) is None


def test_cooldown_and_min_observations():
    c = _ctrl(cooldown=5, min_observations=3)
    for s in range(3):
        c.observe(StepStats(s, _counts_for_needed(1.2), 0))
        d = c.after_step(s)
        assert d is None  # fewer than 3 observations before step 2, and cooldown from step 0
    for s in range(3, 6):
        c.observe(StepStats(s, _counts_for_needed(1.2), 0))
        d = c.after_step(s)
        if s < 5:
            assert d is None
    assert d is not None and d.step == 5


def test_statistics_are_read_launch_ahead_steps_late():
    c = _ctrl(launch_ahead=3)
    c.observe(StepStats(0, _counts_for_needed(1.2), 0))
    for s in range(1, 3):
        c.observe(StepStats(s, _counts_for_needed(2.0), 0))
        assert c.after_step(s) is None and c.stats.observed == 0
    c.observe(StepStats(3, _counts_for_needed(2.0), 0))
    d = c.after_step(3)  # step 0's statistics arrive now
    assert c.stats.observed == 1 and d is not None and d.alpha == pytest.approx(1.3 * 1.2)


def test_ema_is_bias_corrected():
    e = EMA(0.01)
    assert math.isnan(e.value)
    assert e.update(3.0) == pytest.approx(3.0)
    assert e.update(1.0) == pytest.approx((0.99 * 0.01 * 3 + 0.01 * 1) / (1 - 0.99 ** 2))


def test_local_capacities_follow_each_experts_load():
    c = _ctrl("local", local_headroom=1.3, local_quantum=4)
    counts = [110, 50, 30, 10, 5, 5, 5, 5]  # loads in alpha units: 4.4, 2.0, 1.2, 0.4, 0.2...
    c.observe(StepStats(0, counts, 0))
    d = c.after_step(0)
    assert d is not None and d.alpha is None and "fit" in d.reason  # the first decision fits every expert
    assert d.caps == tuple(min(B, math.ceil(1.3 * v / 4) * 4) for v in counts)
    c.observe(StepStats(1, counts, 0))
    assert c.after_step(1) is None  # same loads: no recompile


def test_local_shrinks_only_when_it_saves_enough():
    c = _ctrl("local", local_headroom=1.0, local_quantum=1, local_shrink_ratio=0.85, local_grow_margin=1.0)
    c.observe(StepStats(0, [85, 85] + [5] * 6, 0))  # target 200 rows vs 800: shrink
    d = c.after_step(0)
    assert d.caps == (85, 85) + (5,) * 6 and "fit" in d.reason
    c.observe(StepStats(1, [86, 86] + [5] * 6, 0))  # load 86 > capacity 85: grow
    assert c.after_step(1).caps == (86, 86) + (5,) * 6
    c.observe(StepStats(2, [80, 80] + [5] * 6, 0))  # fits, and refitting would save < 15 %: no change
    assert c.after_step(2) is None
    c.observe(StepStats(3, [90, 90, 10, 10] + [5] * 4, 0))  # expert 2 load 10 > cap 5: grow
    assert c.after_step(3).caps == (90, 90, 10, 10) + (5,) * 4


def test_cache_switches_on_above_095_after_min_steps_and_off_below_085():
    c = _ctrl(cache=True, alpha0=2.0, cache_gamma=0.0, cache_min_steps=3)  # gamma 0: score = last match
    on_at = None
    for s in range(6):
        c.observe(StepStats(s, _counts_for_needed(1.5), 0, match=0.97))
        d = c.after_step(s)
        if d is not None and d.cache_on:
            on_at = s
            break
    assert on_at == 3  # >= 3 steps since the last change (step 0)
    c.observe(StepStats(4, _counts_for_needed(1.5), 0, match=0.9))
    assert c.after_step(4) is None  # hysteresis: stays on between 0.85 and 0.95
    c.observe(StepStats(5, _counts_for_needed(1.5), 0, match=0.8))
    d = c.after_step(5)
    assert d is not None and d.cache_on is False and "cache off" in d.reason


def test_cache_stays_off_at_095_exactly_and_without_cache_flag():
    c = _ctrl(cache=True, alpha0=2.0, cache_gamma=0.0, cache_min_steps=0)
    c.observe(StepStats(0, _counts_for_needed(1.5), 0, match=0.95))
    assert c.after_step(0) is None
    c2 = _ctrl(cache=False, alpha0=2.0, cache_gamma=0.0, cache_min_steps=0)
    c2.observe(StepStats(0, _counts_for_needed(1.5), 0, match=1.0))
    assert c2.after_step(0) is None


def test_bad_policy_is_rejected():
    with pytest.raises(ValueError, match="unknown capacity policy"):
        RecompileController(ControllerConfig(), "greedy", N, K, B, 2.0)


def test_local_grow_margin_refits_before_drops():
    c = _ctrl("local", local_headroom=1.3, local_quantum=1, local_grow_margin=1.1)
    c.observe(StepStats(0, [50] * 8, 0))
    assert c.after_step(0).caps == (65,) * 8
    c.observe(StepStats(1, [60] * 8, 0))  # 60 * 1.1 = 66 > 65: grow before anything is dropped
    d = c.after_step(1)
    assert d.caps == (78,) * 8 and "grow" in d.reason


def test_local_grows_only_the_experts_that_need_it():
    c = _ctrl("local", local_headroom=1.0, local_quantum=1, local_grow_margin=1.0, local_z=0.0)
    c.observe(StepStats(0, [40, 30] + [20] * 6, 0))
    assert c.after_step(0).caps == (40, 30) + (20,) * 6  # fit
    c.observe(StepStats(1, [50, 10] + [20] * 6, 0))  # expert 0 over, expert 1 far under
    d = c.after_step(1)
    assert d.caps == (50, 30) + (20,) * 6 and "grow" in d.reason  # expert 1 keeps its capacity


def test_bucketing_rounds_capacities_up_to_the_bucket():
    c = _ctrl(bucket_alpha=0.25)  # 0.25 * k*B/n = 6.25 -> 7 rows
    assert c.bucket_rows() == 7
    c.observe(StepStats(0, _counts_for_needed(1.2), 0))
    d = c.after_step(0)
    assert d.caps[0] % 7 == 0 and d.caps[0] >= capacity_for(1.3 * 1.2, K, N, B)
    loc = _ctrl("local", bucket_alpha=0.25, local_quantum=1)
    loc.observe(StepStats(0, [33, 27, 25, 25, 25, 25, 20, 20], 0))
    assert all(cap % 7 == 0 for cap in loc.after_step(0).caps)
