"""Emulated low-precision floats in pure torch (CPU and CUDA), eager or as one fused compiled pass.

A format ``FloatFormat(exp_bits, man_bits, exp_bias)`` follows the convention of the paper's
``Dtype(exp, man, exp_bias)`` (itself qtorch's): a normal value is

    (-1)^s * 2^(e - (2^(exp_bits-1) - 1)) * 1.f * 2^(-exp_bias)

with ``1 + exp_bits + man_bits`` bits in all. Subnormals are supported (gradual underflow
below the smallest normal, quantum ``2^(emin - man_bits)``).

Top exponent code. qtorch (and therefore the paper) uses *every* exponent code for finite
values, so its largest normal is one binade above IEEE's: 1-4-3 bias-4 tops out at 30
(overflow threshold ~31), 1-5-2 at 114688 (threshold ~1.2e5), 1-6-9 at ~8.6e9. IEEE formats
(``torch.half``, ``torch.float8_e5m2``, bf16) reserve the top code for inf/NaN. ``ieee=True``
selects the IEEE range; in the range both share (``|x| <= `` IEEE max) the two conventions
give identical bits.

Formats with 8 exponent bits (bf16 = ``FloatFormat(8, 7, ieee=True)``, or 1-8-m in general) are
carried in float32, whose own top binade is 2^127: the paper convention's extra binade (2^128)
does not exist there, so the largest exponent is capped at float32's (as the authors'
``Dtype.get_overflow_thrs`` does for ``exp >= 8``); with bias 0 both conventions are then IEEE
bf16's range. The smallest normal must be >= 2^-127 and the smallest quantum a float32 value
(``emin - man_bits >= -149``).

Rounding is round-to-nearest. ``rounding="away"`` (the default, as the paper's qtorch CUDA
kernel ``round_bitwise_nearest``: add half an ulp to the magnitude, truncate) rounds ties away
from zero; ``rounding="even"`` rounds ties to even (as IEEE casts, so it is bit-exact against
``torch.half``, ``torch.float8_e5m2`` and bf16 casts). The two differ only on exact ties.
Away mode is computed as ``trunc(m) + sign(m) * (|m - trunc(m)| >= 1/2)`` on the exact scaled
value ``m``, so no intermediate rounding can create a tie (a naive ``trunc(m + 1/2)`` rounds the
largest float32 below half the smallest subnormal up to that subnormal, because ``m + 1/2``
itself rounds to 1; the authors' kernel has a similar double rounding in its subnormal branch,
where it adds the smallest normal in float32 before rounding, see the tests).

Overflow: ``"saturate"`` clamps to the largest finite value (the paper does this for weights
and activations), ``"inf"`` returns +-inf (the paper does this for gradients, so the loss
scaler sees it). NaN stays NaN.

Where 1-4-3 bias 4 differs from ``torch.float8_e4m3fn`` (checked in the tests):
``quantize(x, 4, 3, 4) == (x * 16).to(float8_e4m3fn).float() / 16`` for ``|x * 16| <= 448``.
Outside that: 1-4-3 bias-4 has a finite value 480/16 = 30 where e4m3fn's top code
(S.1111.111) is NaN, so e4m3fn stops at 448/16 = 28; e4m3fn has no infinity (torch's cast
saturates to 448 on CPU), while ``overflow="inf"`` here gives inf. The bias also moves the
range: e4m3fn (bias 7) covers [2^-9, 448], 1-4-3 bias 4 covers [2^-13, 30] in value terms
(i.e. the 2^-4 shift of the paper's extra bias).

Speed. The eager rounding is ~10 elementwise torch ops. :func:`set_backend("compiled")` routes
every rounding through one ``torch.compile``'d function of the *same* arithmetic (format
constants passed as tensors, so one compiled kernel serves every format and every tensor
size): one fused pass over the tensor (plus the overflow count), bit-identical to eager (tested).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch

Overflow = Literal["saturate", "inf"]
Rounding = Literal["even", "away"]
Backend = Literal["eager", "compiled", "native"]

DEFAULT_ROUNDING: Rounding = "away"
"""The paper's rounding (qtorch's CUDA kernel rounds ties away from zero)."""


@dataclass(frozen=True)
class FloatFormat:
    """A sign / exponent / mantissa float format with an extra exponent bias."""

    exp_bits: int
    """Exponent field width (2..8)."""
    man_bits: int
    """Mantissa (fraction) field width (0..23)."""
    exp_bias: int = 0
    """Extra bias: every value is multiplied by 2^-exp_bias (the paper's 1-4-3 uses 4)."""
    ieee: bool = False
    """True: top exponent code reserved for inf/NaN (IEEE); False: qtorch/paper convention."""

    def __post_init__(self) -> None:
        if not (2 <= self.exp_bits <= 8):
            raise ValueError(f"FloatFormat: exp_bits must be in 2..8, got {self.exp_bits}")
        if not (0 <= self.man_bits <= 23):
            raise ValueError(f"FloatFormat: man_bits must be in 0..23, got {self.man_bits}")
        if self.emin < -127:
            raise ValueError(f"FloatFormat{self.name}: smallest normal 2^{self.emin} is below 2^-127 (float32 "
                             f"subnormals carry no binade in their exponent field; use a smaller exp_bias)")
        if self.emin - self.man_bits < -149:
            raise ValueError(f"FloatFormat{self.name}: smallest quantum 2^{self.emin - self.man_bits} is below "
                             f"float32's 2^-149 (emulation carries values in float32)")
        if self.man_bits - self.emax - 1 < -126:
            raise ValueError(f"FloatFormat{self.name}: 2^(man_bits - emax - 1) = 2^{self.man_bits - self.emax - 1} is "
                             f"below float32's normal range (needs more mantissa bits or a larger bias)")

    @property
    def bits(self) -> int:
        """Storage bits: 1 + exp + man."""
        return 1 + self.exp_bits + self.man_bits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal value (after the extra bias)."""
        return -(2 ** (self.exp_bits - 1) - 2) - self.exp_bias

    @property
    def emax(self) -> int:
        """Exponent of the largest normal value (after the extra bias), capped at float32's 127."""
        top = 2 ** (self.exp_bits - 1) - (1 if self.ieee else 0)
        return min(127, top - self.exp_bias)

    @property
    def max_value(self) -> float:
        """Largest finite value."""
        return 2.0 ** self.emax * (2.0 - 2.0 ** -self.man_bits)

    @property
    def overflow_threshold(self) -> float:
        """Magnitudes at or above this round to overflow (max + half an ulp; a tie rounds up in both modes)."""
        return 2.0 ** self.emax * (2.0 - 2.0 ** -(self.man_bits + 1))

    @property
    def min_normal(self) -> float:
        return 2.0 ** self.emin

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.man_bits)

    @property
    def two_step_scale(self) -> bool:
        """True when 2^(man - e) or its inverse can leave float32's normal range (8 exponent bits): the
        scale is then applied as two factors."""
        return self.man_bits - self.emin > 126

    @property
    def name(self) -> str:
        """The paper's spelling, e.g. ``1-4-3b4``."""
        b = f"b{self.exp_bias}" if self.exp_bias else ""
        return f"1-{self.exp_bits}-{self.man_bits}{b}{'(ieee)' if self.ieee else ''}"

    def __str__(self) -> str:
        return self.name


FP_6_9_0 = FloatFormat(6, 9, 0)
"""High precision for every tensor (16 bits, the HFP8 "1-6-9")."""
FP_4_3_4 = FloatFormat(4, 3, 4)
"""Low precision for weights and activations (HFP8 forward format)."""
FP_5_2_0 = FloatFormat(5, 2, 0)
"""Low precision for activation gradients (HFP8 backward format)."""
BF16 = FloatFormat(8, 7, 0, ieee=True)
"""bfloat16 (bit-exact against ``torch.bfloat16`` casts with ``rounding="even"``)."""


def _check_args(overflow: str, rounding: str) -> None:
    if overflow not in ("saturate", "inf"):
        raise ValueError(f"quantize: overflow must be 'saturate' or 'inf', got {overflow!r}")
    if rounding not in ("even", "away"):
        raise ValueError(f"quantize: rounding must be 'even' or 'away', got {rounding!r}")


def quantize(x: torch.Tensor, exp_bits: int, man_bits: int, exp_bias: int = 0,
             overflow: Overflow = "saturate", *, ieee: bool = False, rounding: Rounding = DEFAULT_ROUNDING,
             return_stats: bool = False):
    """Round ``x`` to the nearest value of the format; same dtype/device as ``x``.

    ``x`` is first taken as float32 (float64 inputs are rounded to float32 first). With
    ``return_stats=True`` returns ``(y, stats)`` where ``stats`` is :func:`overflow_stats`.
    """
    _check_args(overflow, rounding)
    fmt = FloatFormat(exp_bits, man_bits, exp_bias, ieee)
    y = quantize_fmt(x, fmt, overflow, rounding=rounding)
    if return_stats:
        return y, overflow_stats(x, fmt)
    return y


def quantize_fmt(x: torch.Tensor, fmt: FloatFormat, overflow: Overflow = "saturate",
                 rounding: Rounding = DEFAULT_ROUNDING) -> torch.Tensor:
    """:func:`quantize` with a :class:`FloatFormat`."""
    return quantize_count(x, fmt, overflow, rounding)[0]


# ----------------------------------------------------------------------------------------------
# The arithmetic (one function, used eagerly or compiled)


def _round_core(xf: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, manb: torch.Tensor, mx: torch.Tensor,
                even: bool, inf: bool, count: bool, two: bool):
    """Round float32 ``xf`` (any shape). ``lo``/``hi``: clamp bounds of the float32 exponent field
    (int32, in place at bits 23..30); ``manb`` = (man + 127) << 23; ``mx``: largest finite value."""
    # biased float32 exponent field of x, kept in place (bits 23..30; 0 for zeros/float32
    # subnormals, 255 for inf/NaN), clamped to the format's binades [emin, emax + 1]
    eb = torch.clamp(xf.view(torch.int32) & 0x7F800000, min=lo, max=hi)
    # scale = 2^(man - e) built from its bits; x * scale is exact with |.| < 2^(man+1), so
    # rounding it to an integer rounds x to the format's quantum at its binade (subnormals too)
    if two:  # 8 exponent bits: 2^(man - e) can exceed 2^127 for e < 0; split off 2^64 there
        kb = (eb < 0x3F800000).to(torch.int32) * (64 << 23)
        s1 = (manb + ((0x3F800000 - eb) - kb)).view(torch.float32)
        s2 = (kb + 0x3F800000).view(torch.float32)
        m = (xf * s1) * s2
    else:
        scale = (manb + (0x3F800000 - eb)).view(torch.float32)
        m = xf * scale
    if even:
        m = torch.round(m)
    else:
        t = torch.trunc(m)
        m = torch.where((m - t).abs() >= 0.5, t + torch.sign(m), t)  # exact: no intermediate rounding
    r = (m / s2) / s1 if two else m / scale
    n_over = (r.abs() > mx).sum() if count else None
    if inf:
        r = r / (r.abs() <= mx)  # dividing by False (0) turns exactly the overflowed values into +-inf
    else:
        r = torch.clamp(r, -mx, mx)  # NaN stays NaN
    return r, n_over


_CONSTS: dict[tuple, tuple] = {}


def _consts(fmt: FloatFormat, device: torch.device) -> tuple:
    key = (fmt, str(device))
    c = _CONSTS.get(key)
    if c is None:
        i32 = dict(dtype=torch.int32, device=device)
        c = (torch.tensor((fmt.emin + 127) << 23, **i32), torch.tensor((fmt.emax + 128) << 23, **i32),
             torch.tensor((fmt.man_bits + 127) << 23, **i32),
             torch.tensor(fmt.max_value, dtype=torch.float32, device=device))
        _CONSTS[key] = c
    return c


BACKENDS = ("eager", "compiled", "native")
_BACKEND: Backend = os.environ.get("SYSLAB_PRECISION_BACKEND", "native")  # type: ignore[assignment]
if _BACKEND not in BACKENDS:
    raise ValueError(f"SYSLAB_PRECISION_BACKEND must be one of {', '.join(BACKENDS)}, got {_BACKEND!r}")
_COMPILED = None
_COMPILE_ERROR: str | None = None


def set_backend(backend: Backend) -> Backend:
    """Select how every rounding runs; returns the previous backend.

    * ``eager``: plain torch ops (~10 elementwise passes), any device;
    * ``compiled``: one ``torch.compile``'d fused pass (Triton on CUDA, C++ on CPU);
    * ``native``: the small compiled C++ kernel of :mod:`systems.precision.native` for float32 CPU
      tensors (one vectorised pass, the activation rounding as a C++ autograd function), eager for
      other tensors.

    ``compiled``/``native`` fall back to eager, saying why in :func:`backend_info`, when no compiler
    is available. All three give identical bits (tested)."""
    global _BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"precision backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    prev, _BACKEND = _BACKEND, backend
    return prev


def get_backend() -> Backend:
    return _BACKEND


def backend_info() -> str:
    """The backend in use (``native`` / ``compiled`` / ``eager`` / ``eager (... failed: why)``)."""
    if _BACKEND == "compiled" and _COMPILE_ERROR:
        return f"eager (compile failed: {_COMPILE_ERROR})"
    if _BACKEND == "native":
        from systems.precision import native

        if not native.available():
            return f"eager (native kernel unavailable: {native.error()})"
    return _BACKEND


def native_args(fmt: FloatFormat, overflow: Overflow, rounding: Rounding) -> list[int]:
    """The packed format vector of :mod:`systems.precision.native` for ``fmt`` and the modes."""
    key = (fmt, overflow, rounding)
    v = _NATIVE_ARGS.get(key)
    if v is None:
        from systems.precision import native

        lo, hi, manb, mx = (int(c) if c.dtype == torch.int32 else float(c) for c in _consts(fmt, torch.device("cpu")))
        v = _NATIVE_ARGS[key] = native.fmt_args(lo, hi, manb, mx, rounding == "even", overflow == "inf",
                                                fmt.two_step_scale)
    return v


_NATIVE_ARGS: dict[tuple, list[int]] = {}


def _compiled():
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = torch.compile(_round_core, dynamic=True)
    return _COMPILED


def quantize_count(x: torch.Tensor, fmt: FloatFormat, overflow: Overflow = "saturate",
                   rounding: Rounding = DEFAULT_ROUNDING, count: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(rounded, n_overflow)``: the rounded tensor and a 0-d tensor counting the elements whose
    magnitude rounds beyond the largest finite value (+-inf included; NaN is not counted and
    stays NaN), without a host sync. ``count=False`` skips the count (returns ``None``)."""
    global _COMPILE_ERROR
    if not torch.is_floating_point(x):
        raise TypeError(f"quantize: expected a floating-point tensor, got {x.dtype}")
    _check_args(overflow, rounding)
    orig = x.dtype
    xf = x.detach().to(torch.float32).contiguous()
    lo, hi, manb, mx = _consts(fmt, xf.device)
    args = (lo, hi, manb, mx, rounding == "even", overflow == "inf", count, fmt.two_step_scale)
    if _BACKEND == "native" and xf.device.type == "cpu":
        from systems.precision import native

        if native.available():
            cnt = torch.zeros(1, dtype=torch.int64) if count else None
            r = native.quant(xf, native_args(fmt, overflow, rounding), cnt, 0 if count else -1)
            return r.to(orig), (cnt[0] if count else None)
    if _BACKEND == "compiled" and _COMPILE_ERROR is None and xf.numel() > 0:
        try:
            r, n = _compiled()(xf.view(-1), *args)
            return r.view(xf.shape).to(orig), n
        except Exception as exc:  # no compiler / unsupported device: fall back, and say so in backend_info()
            _COMPILE_ERROR = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    r, n = _round_core(xf, *args)
    return r.to(orig), n


def overflow_stats(x: torch.Tensor, fmt: FloatFormat) -> tuple[float, float]:
    """``(overflow_ratio, underflow_ratio)`` of ``x`` in ``fmt``.

    Overflow: share of elements that round beyond the largest finite value (+-inf included,
    NaN not counted, as in :func:`quantize_count`).
    Underflow: share of non-zero elements that round to zero (the paper's ``undfl_thrs``:
    magnitude <= half the smallest subnormal; with ties away from zero exactly half rounds up,
    so it is counted as underflow only under ``rounding="even"`` — the paper's threshold is kept).
    """
    n = x.numel()
    if n == 0:
        return 0.0, 0.0
    a = x.detach().abs().float()
    over = a >= fmt.overflow_threshold
    under = (a > 0) & (a <= fmt.min_subnormal / 2)
    cnt = torch.stack([over.sum(), under.sum()]).tolist()
    return cnt[0] / n, cnt[1] / n
