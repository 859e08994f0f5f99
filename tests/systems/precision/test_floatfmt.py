"""Quantizer: bit-exactness against torch.half / float8_e5m2, the e4m3fn relation, overflow, underflow."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from systems.precision import quantize
from systems.precision.floatfmt import (BF16, FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat, quantize_count, quantize_fmt)


def _bits(t):
    return t.contiguous().view(torch.int32)


def _float32_sweep(step=101):
    """A strided sweep over every float32 bit pattern (both signs), finite only."""
    b = torch.arange(0, 2**31, step, dtype=torch.int64).to(torch.int32)
    x = b.view(torch.float32)
    x = torch.cat([x, -x])
    return x[torch.isfinite(x)]


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit-identical, except that any NaN equals any NaN (payloads differ between kernels)."""
    na, nb = a.isnan(), b.isnan()
    return torch.equal(na, nb) and torch.equal(_bits(a)[~na], _bits(b)[~nb])


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
    assert torch.equal(_bits(quantize(x, 5, 10, rounding="even")), _bits(x.half().float()))


def test_half_bit_exact_on_every_half_value_and_tie():
    allh = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.float16).float()
    x = _with_midpoints(allh)
    x = x[x.abs() <= 65504]
    assert torch.equal(_bits(quantize(x, 5, 10, rounding="even")), _bits(x.half().float()))


def test_half_ieee_mode_matches_overflow_to_inf_too():
    x = _float32_sweep(step=997)
    y = quantize(x, 5, 10, overflow="inf", ieee=True, rounding="even")
    assert torch.equal(_bits(y), _bits(x.half().float()))


def test_e5m2_bit_exact_on_every_value_and_tie():
    all8 = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e5m2).float()
    x = _with_midpoints(all8)
    x = torch.cat([x, _float32_sweep(step=1009)])
    x = x[x.abs() <= 57344]
    assert torch.equal(_bits(quantize(x, 5, 2, rounding="even")), _bits(x.to(torch.float8_e5m2).float()))


def test_e4m3_bias4_is_e4m3fn_scaled_by_16_inside_448():
    all8 = torch.arange(256, dtype=torch.int32).to(torch.uint8).view(torch.float8_e4m3fn).float()
    x = _with_midpoints(all8) / 16
    x = torch.cat([x, _float32_sweep(step=1009)])
    x = x[(x * 16).abs() <= 448]
    ref = (x * 16).to(torch.float8_e4m3fn).float() / 16
    assert torch.equal(_bits(quantize(x, 4, 3, 4, rounding="even")), _bits(ref))


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
    y = quantize(x, 4, 3, 4, rounding="even").tolist()
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
    assert quantize(x, 4, 3, rounding="even").tolist() == [1.0, 1.25]
    assert quantize(x, 4, 3).tolist() == [1.125, 1.25]  # the paper's default: ties away from zero


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


# ---------------------------------------------------------------------------------------------
# Independent float64 reference (numpy, no bit tricks): every float32 input is exact in float64,
# frexp gives its binade exactly, and x / quantum has <= 24 significant bits, so rint / floor(|m| + 1/2)
# are exact there.


def _ref64(x32: torch.Tensor, fmt: FloatFormat, rounding: str, overflow: str) -> np.ndarray:
    x = x32.double().numpy()
    out = np.empty_like(x)
    fin = np.isfinite(x)
    _, ex = np.frexp(np.abs(x[fin]))
    e = np.maximum(ex.astype(np.int64) - 1, fmt.emin)  # binade, subnormals share emin's quantum
    q = np.ldexp(1.0, e - fmt.man_bits)
    m = x[fin] / q
    rm = np.rint(m) if rounding == "even" else np.sign(m) * np.floor(np.abs(m) + 0.5)
    r = rm * q
    big = np.abs(r) > fmt.max_value
    r[big] = np.sign(r[big]) * (np.inf if overflow == "inf" else fmt.max_value)
    r = np.where(r == 0, np.copysign(0.0, x[fin]), r)  # the sign of zero is kept
    out[fin] = r
    inf_in = np.isinf(x)
    out[inf_in] = np.sign(x[inf_in]) * (np.inf if overflow == "inf" else fmt.max_value)
    out[np.isnan(x)] = np.nan
    return out.astype(np.float32)


def _cases(fmt: FloatFormat) -> torch.Tensor:
    """A float32 sweep, every value of the format with its ties and neighbours, and the subnormal edge."""
    sweep = _float32_sweep(step=6007)
    e = torch.arange(fmt.emin - fmt.man_bits, fmt.emax + 2, dtype=torch.float64)
    grid = []
    for ee in e.tolist():  # every representable magnitude of each binade, capped at 256 per binade
        base = 2.0 ** ee
        k = min(2 ** fmt.man_bits, 256)
        grid.append(base * (1 + torch.arange(k, dtype=torch.float64) / k))
    vals = torch.cat(grid)
    vals = vals[vals <= fmt.max_value * 2]
    vals = torch.cat([vals, -vals, torch.zeros(1)])
    q = fmt.min_subnormal
    edge = torch.tensor([q / 2, q * 1.5, q * 2.5]).float()
    below = torch.nextafter(edge, torch.zeros_like(edge))  # the largest float32 below each tie
    above = torch.nextafter(edge, torch.full_like(edge, 1.0))
    specials = torch.tensor([float("inf"), -float("inf"), float("nan"), 0.0, -0.0])
    pts = torch.cat([_with_midpoints(vals.float()), sweep, edge, below, above, -edge, -below, -above, specials])
    return pts.float()


FORMATS = [FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat(3, 1, 0), BF16, FloatFormat(8, 3, 0), FloatFormat(8, 5, 1), FloatFormat(8, 2, -3),
           FloatFormat(5, 10, 0, ieee=True)]


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("rounding", ["away", "even"])
@pytest.mark.parametrize("overflow", ["saturate", "inf"])
def test_matches_float64_reference(fmt, rounding, overflow):
    x = _cases(fmt)
    assert x.numel() > 100_000
    got = quantize_fmt(x, fmt, overflow, rounding=rounding).numpy()
    ref = _ref64(x, fmt, rounding, overflow)
    same = (got.view(np.int32) == ref.view(np.int32)) | (np.isnan(got) & np.isnan(ref))
    assert same.all(), (x[~torch.from_numpy(same)][:5], got[~same][:5], ref[~same][:5])


@pytest.mark.parametrize("fmt", [FP_4_3_4, FP_5_2_0, FP_6_9_0, BF16], ids=str)
def test_away_rounds_the_largest_float_below_half_the_smallest_subnormal_to_zero(fmt):
    half_q = torch.tensor([fmt.min_subnormal / 2], dtype=torch.float32)
    below = torch.nextafter(half_q, torch.zeros(1))
    x = torch.cat([below, -below, half_q, -half_q])
    y = quantize_fmt(x, fmt, rounding="away").tolist()
    assert y[0] == 0.0 and y[1] == 0.0 and math.copysign(1, y[1]) == -1.0
    assert y[2] == fmt.min_subnormal and y[3] == -fmt.min_subnormal  # the tie itself goes away from zero


def test_bf16_bit_exact_against_torch_cast():
    x = torch.cat([_float32_sweep(step=1009), _with_midpoints(
        torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).float())])
    x = x[torch.isfinite(x) & (x.abs() <= BF16.max_value)]
    assert torch.equal(_bits(quantize_fmt(x, BF16, rounding="even")), _bits(x.bfloat16().float()))
    assert BF16.bits == 16 and BF16.max_value == float(torch.finfo(torch.bfloat16).max)


def test_eight_exponent_bits_paper_convention_caps_at_float32_range():
    f = FloatFormat(8, 7, 0)  # paper convention: the 2^128 binade does not exist in float32
    assert f.emax == 127 and f.max_value == BF16.max_value
    big = torch.tensor([3.4e38, -3.4e38])
    assert quantize_fmt(big, f, "inf").isinf().all()
    assert quantize_fmt(big, f, "saturate").abs().eq(f.max_value).all()
    with pytest.raises(ValueError, match="quantum"):
        FloatFormat(8, 23, 1)  # 2^(-127 - 23): below float32's smallest subnormal
    with pytest.raises(ValueError, match="2\\^-127"):
        FloatFormat(8, 5, 4)


def _authors_kernel(a: torch.Tensor, exp: int, man: int, bias: int, allow_inf: bool) -> torch.Tensor:
    """A numpy port of the bit logic of the authors' ``float_kernel_nearest_custom_info{k,no}``
    (wonyeol/mixed-prec-train, qtorch3/quant/quant_cuda/float_kernel.cu): scale by 2^bias, add half
    an ulp to the bit pattern and mask (ties away), clip the exponent; the subnormal branch adds the
    smallest normal in float32 first and subtracts it after rounding."""
    with np.errstate(over="ignore"):
        t = (a.numpy().astype(np.float32) * np.float32(2.0 ** bias)).astype(np.float32)
    bits = t.view(np.uint32)
    min_exp = -((1 << (exp - 1)) - 2)
    sub = (((bits & 0x7FFFFFFF) >> 23).astype(np.int64) - 127) < min_exp
    mask = np.uint32((1 << (23 - man)) - 1)

    def rnd(b):
        return ((b.astype(np.uint64) + (1 << (22 - man))) & 0xFFFFFFFF).astype(np.uint32) & ~mask

    q = rnd(bits)
    qexp = (q & 0x7FFFFFFF) >> 23
    max_store = (1 << (exp - 1)) + 127
    over = (q != 0) & (qexp > max_store)
    max_man = (0xFFFFFFFF << 9 & 0xFFFFFFFF) >> 9 >> (23 - man) << (23 - man)
    sign = bits & np.uint32(0x80000000)
    sat = sign | np.uint32((max_store << 23) | max_man) if not allow_inf else sign | np.uint32(0x7F800000)
    q = np.where(over, sat, q)
    normal = q.view(np.float32)
    shift = (np.uint32((min_exp + 127) << 23) | sign).view(np.float32)
    v = (t + shift).astype(np.float32)
    subval = (rnd(v.view(np.uint32)).view(np.float32) - shift).astype(np.float32)
    out = np.where(sub, subval, normal).astype(np.float32) * np.float32(2.0 ** -bias)
    return torch.from_numpy(out.astype(np.float32))


@pytest.mark.parametrize("fmt,overflow", [(FP_4_3_4, "saturate"), (FP_5_2_0, "inf"), (FP_6_9_0, "saturate")],
                         ids=str)
def test_away_mode_matches_the_authors_kernel_except_its_subnormal_double_rounding(fmt, overflow):
    x = _cases(fmt)
    x = x[torch.isfinite(x)]
    ours = quantize_fmt(x, fmt, overflow, rounding="away")
    theirs = _authors_kernel(x, fmt.exp_bits, fmt.man_bits, fmt.exp_bias, overflow == "inf")
    diff = _bits(ours) != _bits(theirs)
    diff &= ~(ours.eq(0) & theirs.eq(0))  # +0 / -0
    assert 0 < int(diff.sum()) < 20  # on this sample; every one of them is a double rounding in the kernel:
    m = x[diff].abs().double() / fmt.min_subnormal  # in the subnormal range, just below a tie k + 1/2
    assert bool((x[diff].abs() < fmt.min_normal).all())
    frac = m - m.floor()
    assert bool(((frac < 0.5) & (frac > 0.5 - 2.0 ** -12)).all())
    ref = torch.from_numpy(_ref64(x[diff], fmt, "away", overflow))
    assert torch.equal(_bits(ours[diff]), _bits(ref))  # we agree with the exact reference there


def test_compiled_backend_is_bit_identical_to_eager():
    from systems.precision import floatfmt

    x = _cases(FP_4_3_4)
    eager, n_eager = quantize_count(x, FP_4_3_4, "saturate", "away")
    prev = floatfmt.set_backend("compiled")
    try:
        comp, n_comp = quantize_count(x, FP_4_3_4, "saturate", "away")
        info = floatfmt.backend_info()
    finally:
        floatfmt.set_backend(prev)
    assert info == "compiled", info
    assert _same(comp, eager) and int(n_comp) == int(n_eager)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", [FP_4_3_4, FP_5_2_0, FP_6_9_0, BF16], ids=str)
def test_compiled_backend_bit_identical_every_mode(fmt):
    from systems.precision import floatfmt

    x = _cases(fmt)
    for rounding in ("away", "even"):
        for overflow in ("saturate", "inf"):
            eager, n0 = quantize_count(x, fmt, overflow, rounding)
            prev = floatfmt.set_backend("compiled")
            try:
                comp, n1 = quantize_count(x, fmt, overflow, rounding)
                assert floatfmt.backend_info() == "compiled"
            finally:
                floatfmt.set_backend(prev)
            assert _same(comp, eager) and int(n0) == int(n1), (rounding, overflow)
