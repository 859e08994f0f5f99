"""Quantizer: bit-exactness against torch.half / float8_e5m2, the e4m3fn relation, overflow, underflow."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from systems.precision import quantize
from systems.precision.floatfmt import FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat, overflow_stats, quantize_count


def _bits(t):
    return t.contiguous().view(torch.int32)


def _float32_sweep(step=101):
    """A strided sweep over every float32 bit pattern (both signs), finite only."""
    b = torch.arange(0, 2**31, step, dtype=torch.int64).to(torch.int32)
    x = b.view(torch.float32)
    x = torch.cat([x, -x])
    return x[torch.isfinite(x)]


def _with_midpoints(vals: torch.Tensor) -> torch.Tensor:
    """Every representable value, the exact midpoints between neighbours (ties) and points just off them."""
    v = torch.unique(vals[torch.isfinite(vals)].double())
    mids = (v[1:] + v[:-1]) / 2
    eps = mids.abs() * 2.0**-20
    out = torch.cat([v, mids, mids + eps, mids - eps]).float()
    return out


def test_half_bit_exact_on_normal_range():
    x = _float32_sweep(step=331)
    x = x[x.abs() <= 65504]
    assert x.numel() > 5_000_000
    assert torch.equal(_bits(quantize(x, 5, 10)), _bits(x.half().float()))


def test_half_bit_exact_on_every_half_value_and_tie():
    allh = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.float16).float()
    x = _with_midpoints(allh)
    x = x[x.abs() <= 65504]
    assert torch.equal(_bits(quantize(x, 5, 10)), _bits(x.half().float()))


def test_half_ieee_mode_matches_overflow_to_inf_too():
    x = _float32_sweep(step=997)
    y = quantize(x, 5, 10, overflow="inf", ieee=True)
    assert torch.equal(_bits(y), _bits(x.half().float()))


def test_e5m2_bit_exact_on_every_value_and_tie():
    all8 = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e5m2).float()
    x = _with_midpoints(all8)
    x = torch.cat([x, _float32_sweep(step=1009)])
    x = x[x.abs() <= 57344]
    assert torch.equal(_bits(quantize(x, 5, 2)), _bits(x.to(torch.float8_e5m2).float()))


def test_e4m3_bias4_is_e4m3fn_scaled_by_16_inside_448():
    all8 = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e4m3fn).float()
    x = _with_midpoints(all8) / 16
    x = torch.cat([x, _float32_sweep(step=1009)])
    x = x[(x * 16).abs() <= 448]
    ref = (x * 16).to(torch.float8_e4m3fn).float() / 16
    assert torch.equal(_bits(quantize(x, 4, 3, 4)), _bits(ref))


def test_e4m3_bias4_differs_from_e4m3fn_at_the_top_binade():
    # 1-4-3 b4 has 30 (=480/16) where e4m3fn's top code is NaN and its cast saturates at 448
    x = torch.tensor([29.5, 30.0, 31.5, 100.0])
    assert quantize(x, 4, 3, 4).tolist() == [30.0, 30.0, 30.0, 30.0]
    assert ((x * 16).to(torch.float8_e4m3fn).float() / 16).max().item() <= 28.0
    assert FP_4_3_4.max_value == 30.0 and FP_4_3_4.overflow_threshold == 31.0


def test_paper_formats():
    assert (FP_6_9_0.bits, FP_4_3_4.bits, FP_5_2_0.bits) == (16, 8, 8)
    assert FP_5_2_0.max_value == 114688.0  # qtorch convention: overflow near 1.2e5
    assert FP_5_2_0.overflow_threshold == 122880.0
    assert FP_4_3_4.min_normal == 2.0**-10 and FP_4_3_4.min_subnormal == 2.0**-13


def test_overflow_saturate_and_inf():
    x = torch.tensor([1e9, -1e9, float("inf"), -float("inf"), 30.9, 31.0])
    assert quantize(x, 4, 3, 4, overflow="saturate").tolist() == [30, -30, 30, -30, 30, 30]
    y = quantize(x, 4, 3, 4, overflow="inf").tolist()
    assert y[:4] == [math.inf, -math.inf, math.inf, -math.inf]
    assert y[4] == 30.0  # below the threshold 31: rounds to max
    assert y[5] == math.inf  # exactly the threshold: the tie rounds to even = overflow
    y, (over, under) = quantize(x, 4, 3, 4, return_stats=True)
    assert over == pytest.approx(5 / 6)


def test_underflow_and_subnormals():
    q = 2.0**-13  # smallest subnormal of 1-4-3 b4
    x = torch.tensor([q, q / 2, q * 0.51, q * 1.5, q * 2.5, -q / 2, 3 * q, 2.0**-10 - q / 2])
    y = quantize(x, 4, 3, 4).tolist()
    assert y[0] == q
    assert y[1] == 0.0  # tie -> even (0)
    assert y[2] == q
    assert y[3] == 2 * q  # tie 1.5 -> 2
    assert y[4] == 2 * q  # tie 2.5 -> 2
    assert y[5] == 0.0 and math.copysign(1, y[5]) == -1.0  # sign of zero kept
    assert y[6] == 3 * q
    assert y[7] == 2.0**-10  # rounds up into the normal range
    _, (over, under) = quantize(x, 4, 3, 4, return_stats=True)
    assert under == pytest.approx(2 / 8)


def test_nan_propagates_and_not_counted_as_overflow():
    y, n = quantize_count(torch.tensor([float("nan"), 1.0]), FP_4_3_4)
    assert math.isnan(y[0].item()) and y[1].item() == 1.0 and int(n) == 0


def test_dtype_preserved_and_ties_away_option():
    x = torch.tensor([1.0625, 1.1875], dtype=torch.float64)  # ties at 3 mantissa bits
    assert quantize(x, 4, 3).dtype == torch.float64
    assert quantize(x, 4, 3).tolist() == [1.0, 1.25]
    assert quantize(x, 4, 3, rounding="away").tolist() == [1.125, 1.25]


def test_bad_arguments_fail_clearly():
    with pytest.raises(ValueError, match="exp_bits"):
        quantize(torch.ones(2), 1, 3)
    with pytest.raises(ValueError, match="overflow"):
        quantize(torch.ones(2), 4, 3, overflow="wrap")
    with pytest.raises(TypeError, match="floating"):
        quantize(torch.ones(2, dtype=torch.int32), 4, 3)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=40),
       st.sampled_from([FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat(3, 1, 0)]))
def test_properties_idempotent_monotone_nearest(vals, fmt):
    x = torch.tensor(vals, dtype=torch.float32)
    y = quantize(x, fmt.exp_bits, fmt.man_bits, fmt.exp_bias)
    assert torch.equal(quantize(y, fmt.exp_bits, fmt.man_bits, fmt.exp_bias), y)
    xs, _ = torch.sort(x)
    ys = quantize(xs, fmt.exp_bits, fmt.man_bits, fmt.exp_bias)
    assert bool((ys[1:] >= ys[:-1]).all())
    inside = x.abs() <= fmt.max_value
    err = (y - x).abs()[inside].double()
    # error at most half a quantum of the binade (or of the subnormal range)
    ax = x.abs()[inside].double().clamp(min=fmt.min_normal)
    half_q = torch.exp2(torch.floor(torch.log2(ax)) - fmt.man_bits - 1)
    assert bool((err <= half_q * (1 + 1e-9)).all())
    _, (over, _) = quantize(x, fmt.exp_bits, fmt.man_bits, fmt.exp_bias, return_stats=True)
    assert over == pytest.approx(float((x.abs() >= fmt.overflow_threshold).float().mean()))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = _float32_sweep(step=4099)
    for e, m, b, ov in ((4, 3, 4, "saturate"), (5, 2, 0, "inf"), (6, 9, 0, "saturate"), (5, 10, 0, "inf")):
        assert torch.equal(_bits(quantize(x.cuda(), e, m, b, ov).cpu()), _bits(quantize(x, e, m, b, ov)))
