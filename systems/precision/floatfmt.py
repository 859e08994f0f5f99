"""Emulated low-precision floats in pure torch (CPU and CUDA).

A format ``FloatFormat(exp_bits, man_bits, exp_bias)`` follows the convention of the paper's
``Dtype(exp, man, exp_bias)`` (itself qtorch's): a normal value is

    (-1)^s * 2^(e - (2^(exp_bits-1) - 1)) * 1.f * 2^(-exp_bias)

with ``1 + exp_bits + man_bits`` bits in all. Subnormals are supported (gradual underflow
below the smallest normal, quantum ``2^(emin - man_bits)``).

Top exponent code. qtorch (and therefore the paper) uses *every* exponent code for finite
values, so its largest normal is one binade above IEEE's: 1-4-3 bias-4 tops out at 30
(overflow threshold ~31), 1-5-2 at 114688 (threshold ~1.2e5), 1-6-9 at ~8.6e9. IEEE formats
(``torch.half``, ``torch.float8_e5m2``) reserve the top code for inf/NaN. ``ieee=True``
selects the IEEE range; in the range both share (``|x| <= `` IEEE max) the two conventions
give identical bits.

Rounding is round-to-nearest, ties-to-even (as IEEE casts, so ``quantize`` is bit-exact
against ``torch.half`` and ``torch.float8_e5m2``). qtorch's CUDA kernel rounds ties away from
zero (``rounding="away"``); the two differ only on exact ties.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Overflow = Literal["saturate", "inf"]
Rounding = Literal["even", "away"]


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
        if self.man_bits - self.emin > 126 or self.emax > 126:
            raise ValueError(f"FloatFormat{self.name}: exponent range does not fit in float32 emulation")

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
        """Exponent of the largest normal value (after the extra bias)."""
        top = 2 ** (self.exp_bits - 1) - (1 if self.ieee else 0)
        return top - self.exp_bias

    @property
    def max_value(self) -> float:
        """Largest finite value."""
        return 2.0 ** self.emax * (2.0 - 2.0 ** -self.man_bits)

    @property
    def overflow_threshold(self) -> float:
        """Magnitudes at or above this round to overflow (max + half an ulp; a tie rounds up)."""
        return 2.0 ** self.emax * (2.0 - 2.0 ** -(self.man_bits + 1))

    @property
    def min_normal(self) -> float:
        return 2.0 ** self.emin

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.man_bits)

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


def _check_args(exp_bits: int, man_bits: int, overflow: str, rounding: str) -> None:
    if overflow not in ("saturate", "inf"):
        raise ValueError(f"quantize: overflow must be 'saturate' or 'inf', got {overflow!r}")
    if rounding not in ("even", "away"):
        raise ValueError(f"quantize: rounding must be 'even' or 'away', got {rounding!r}")


def quantize(x: torch.Tensor, exp_bits: int, man_bits: int, exp_bias: int = 0,
             overflow: Overflow = "saturate", *, ieee: bool = False, rounding: Rounding = "even",
             return_stats: bool = False):
    """Round ``x`` to the nearest value of the format; same dtype/device as ``x``.

    ``x`` is first taken as float32 (float64 inputs are rounded to float32 first). With
    ``return_stats=True`` returns ``(y, stats)`` where ``stats`` is :func:`overflow_stats`.
    """
    _check_args(exp_bits, man_bits, overflow, rounding)
    fmt = FloatFormat(exp_bits, man_bits, exp_bias, ieee)
    y = quantize_fmt(x, fmt, overflow, rounding=rounding)
    if return_stats:
        return y, overflow_stats(x, fmt)
    return y


def quantize_fmt(x: torch.Tensor, fmt: FloatFormat, overflow: Overflow = "saturate",
                 rounding: Rounding = "even") -> torch.Tensor:
    """:func:`quantize` with a :class:`FloatFormat`."""
    return quantize_count(x, fmt, overflow, rounding)[0]


def quantize_count(x: torch.Tensor, fmt: FloatFormat, overflow: Overflow = "saturate",
                   rounding: Rounding = "even", count: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(rounded, n_overflow)``: the rounded tensor and a 0-d tensor counting the elements whose
    magnitude rounds beyond the largest finite value (+-inf included; NaN is not counted and
    stays NaN), without a host sync. ``count=False`` skips the count (returns ``None``)."""
    if not torch.is_floating_point(x):
        raise TypeError(f"quantize: expected a floating-point tensor, got {x.dtype}")
    orig = x.dtype
    xf = x.detach().to(torch.float32).contiguous()
    # biased float32 exponent field of x, kept in place (bits 23..30; 0 for zeros/float32
    # subnormals, 255 for inf/NaN), clamped to the format's binades [emin, emax + 1]
    eb = xf.view(torch.int32) & 0x7F800000
    eb = torch.clamp(eb, min=(fmt.emin + 127) << 23, max=(fmt.emax + 128) << 23)
    # scale = 2^(man - e) built from its bits; x * scale is exact with |.| < 2^(man+1), so
    # rounding it to an integer rounds x to the format's quantum at its binade (subnormals too)
    scale = (((fmt.man_bits + 254) << 23) - eb).view(torch.float32)
    m = xf * scale
    m = torch.round(m) if rounding == "even" else torch.trunc(m + torch.copysign(torch.full_like(m, 0.5), m))
    r = m / scale
    mx = fmt.max_value
    n_over = (r.abs() > mx).sum() if count else None
    if overflow == "saturate":
        r = torch.clamp(r, -mx, mx)  # NaN stays NaN
    else:
        r = r / (r.abs() <= mx)  # dividing by False (0) turns exactly the overflowed values into +-inf
    return r.to(orig), n_over


def overflow_stats(x: torch.Tensor, fmt: FloatFormat) -> tuple[float, float]:
    """``(overflow_ratio, underflow_ratio)`` of ``x`` in ``fmt``.

    Overflow: share of elements that round beyond the largest finite value (+-inf included,
    NaN not counted, as in :func:`quantize_count`).
    Underflow: share of elements that are non-zero but round to zero.
    """
    n = x.numel()
    if n == 0:
        return 0.0, 0.0
    a = x.detach().abs().float()
    over = a >= fmt.overflow_threshold
    under = (a > 0) & (a <= fmt.min_subnormal / 2)
    cnt = torch.stack([over.sum(), under.sum()]).tolist()
    return cnt[0] / n, cnt[1] / n
