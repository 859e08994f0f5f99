"""A small compiled CPU kernel for the rounding: one pass per tensor, and the activation rounding
(``Y`` forward, ``GY`` backward) as one C++ autograd function, so no Python runs per rounding.

The arithmetic is :func:`systems.precision.floatfmt._round_core`'s, element by element: every step
(a multiplication by a power of two, rounding to an integer, the division back) is exact, so the
result is bit-identical to the eager torch ops (tested over every format, mode and tie). The
overflow count of each rounding is written into one slot of a per-step count buffer (the ``Y``/``GY``
tensors' counts live in one tensor, read once per step, as the ``P`` counts of one bucket do).

Built on first use with ``torch.utils.cpp_extension.load_inline`` (g++, cached under
``TORCH_EXTENSIONS_DIR``); :func:`available` is False, with the reason in :func:`error`, where no
compiler is present — callers then use the eager or ``torch.compile`` path.
"""

from __future__ import annotations

import os
import threading

import torch

_SRC = r"""
#include <torch/extension.h>
#include <cmath>
#include <cstring>

namespace {

struct Fmt {
  int32_t lo, hi, manb; float mx; bool even, inf, two;
};

Fmt fmt_of(const std::vector<int64_t>& f) {
  float mx; int32_t mb = (int32_t)f[3]; std::memcpy(&mx, &mb, 4);
  return Fmt{(int32_t)f[0], (int32_t)f[1], (int32_t)f[2], mx, f[4] != 0, f[5] != 0, f[6] != 0};
}

static inline float as_f(int32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
static inline int32_t as_i(float f) { int32_t b; std::memcpy(&b, &f, 4); return b; }

// Same arithmetic as floatfmt._round_core, element by element (every step exact, so the bits agree):
// m = x * 2^(man - e) (two factors for 8 exponent bits), rounded to an integer, r = m * 2^(e - man).
template <bool EVEN, bool INF, bool TWO>
static int64_t run(const float* __restrict px, float* __restrict po, int64_t n, int32_t lo, int32_t hi, int32_t manb,
                   float mx) {
  int64_t over = 0;
  for (int64_t i = 0; i < n; ++i) {
    float x = px[i];
    int32_t eb = as_i(x) & 0x7F800000;
    eb = eb < lo ? lo : eb;
    eb = eb > hi ? hi : eb;
    float m, r;
    if (TWO) {
      int32_t kb = eb < 0x3F800000 ? (64 << 23) : 0;
      float s1 = as_f(manb + ((0x3F800000 - eb) - kb));
      float s2 = as_f(kb + 0x3F800000);
      m = (x * s1) * s2;
    } else {
      m = x * as_f(manb + (0x3F800000 - eb));
    }
    if (EVEN) {
      m = __builtin_rintf(m);
    } else {
      float t = __builtin_truncf(m);
      float a = __builtin_fabsf(m - t);
      m = a >= 0.5f ? t + __builtin_copysignf(1.0f, m) : t;
    }
    if (TWO) {
      int32_t kb = eb < 0x3F800000 ? (64 << 23) : 0;
      r = (m / as_f(kb + 0x3F800000)) / as_f(manb + ((0x3F800000 - eb) - kb));
    } else {
      r = m * as_f(eb - (manb - 0x3F800000));  // 2^(e - man): a normal float32 here (checked in Python)
    }
    float ar = __builtin_fabsf(r);
    over += ar > mx;
    if (INF) {
      r = ar > mx ? __builtin_copysignf(__builtin_inff(), r) : r;  // NaN stays NaN
    } else {
      r = r < -mx ? -mx : r;
      r = r > mx ? mx : r;
    }
    po[i] = r;
  }
  return over;
}

void quant_into(const float* px, float* po, int64_t n, const std::vector<int64_t>& f, int64_t* count) {
  Fmt F = fmt_of(f);
  int64_t over;
  int code = (F.even ? 4 : 0) | (F.inf ? 2 : 0) | (F.two ? 1 : 0);
  switch (code) {
    case 0: over = run<false, false, false>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 1: over = run<false, false, true>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 2: over = run<false, true, false>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 3: over = run<false, true, true>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 4: over = run<true, false, false>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 5: over = run<true, false, true>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    case 6: over = run<true, true, false>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
    default: over = run<true, true, true>(px, po, n, F.lo, F.hi, F.manb, F.mx); break;
  }
  if (count) *count = over;
}

torch::Tensor quant(const torch::Tensor& x, const std::vector<int64_t>& f, const torch::Tensor& counts,
                    int64_t slot) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.device().is_cpu(), "native quantize: float32 CPU tensors only");
  TORCH_CHECK(slot < 0 || (counts.scalar_type() == torch::kInt64 && slot < counts.numel()), "native quantize: bad slot");
  auto xc = x.contiguous();
  auto out = torch::empty_like(xc);
  quant_into(xc.data_ptr<float>(), out.data_ptr<float>(), xc.numel(), f,
             slot >= 0 ? counts.data_ptr<int64_t>() + slot : nullptr);
  return out;
}

// Round a flat tensor made of consecutive segments; counts[i] = overflows of segment i.
std::vector<torch::Tensor> quant_seg(const torch::Tensor& x, const std::vector<int64_t>& f,
                                     const std::vector<int64_t>& sizes) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.device().is_cpu(), "native quantize: float32 CPU tensors only");
  auto xc = x.contiguous();
  auto out = torch::empty_like(xc);
  auto counts = torch::zeros({(int64_t)sizes.size()}, torch::kInt64);
  int64_t off = 0, total = xc.numel();
  for (size_t i = 0; i < sizes.size(); ++i) {
    TORCH_CHECK(off + sizes[i] <= total, "native quant_seg: segment sizes exceed the tensor");
    auto c = counts.narrow(0, i, 1);
    quant_into(xc.data_ptr<float>() + off, out.data_ptr<float>() + off, sizes[i], f, c.data_ptr<int64_t>());
    off += sizes[i];
  }
  return {out, counts};
}

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Forward: round Y (format fy, skipped when fy is empty); backward: round GY (format fgy).
struct RoundAct : public torch::autograd::Function<RoundAct> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor y, std::vector<int64_t> fy, std::vector<int64_t> fgy,
                               torch::Tensor counts, int64_t slot_y, int64_t slot_gy) {
    ctx->saved_data["fgy"] = fgy;
    ctx->saved_data["counts"] = counts;
    ctx->saved_data["slot_gy"] = slot_gy;
    if (fy.empty()) return y.view_as(y);
    return quant(y, fy, counts, slot_y);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto fgy = ctx->saved_data["fgy"].toIntVector();
    auto g = grads[0];
    if (!g.defined() || fgy.empty()) return {g, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    auto counts = ctx->saved_data["counts"].toTensor();
    auto r = quant(g.to(torch::kFloat32), fgy, counts, ctx->saved_data["slot_gy"].toInt());
    return {r, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor round_act(torch::Tensor y, std::vector<int64_t> fy, std::vector<int64_t> fgy, torch::Tensor counts,
                        int64_t slot_y, int64_t slot_gy) {
  return RoundAct::apply(y, fy, fgy, counts, slot_y, slot_gy);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("quant", &quant, "round a float32 CPU tensor (one pass); count overflows into counts[slot]");
  m.def("quant_seg", &quant_seg, "round consecutive segments of a flat float32 CPU tensor; per-segment overflow counts");
  m.def("round_act", &round_act, "Y rounding forward, GY rounding backward (C++ autograd)");
}
"""

_LOCK = threading.Lock()
_MOD = None
_ERROR: str | None = None
NAME = "syslab_precision_round_v3"
_FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
"""No -ffast-math: every operation must stay IEEE-exact. -fno-trapping-math only lets rint/trunc vectorise."""


def _name() -> str:
    """Module name keyed by the CPU's flags too (-march=native code must not run on another CPU)."""
    import hashlib
    import platform

    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((ln for ln in fh if ln.startswith("flags")), "")
    except OSError:
        flags = platform.processor()
    return f"{NAME}_{hashlib.sha1(flags.encode()).hexdigest()[:8]}"


def _load():
    global _MOD, _ERROR
    with _LOCK:
        if _MOD is not None or _ERROR is not None:
            return _MOD
        if os.environ.get("SYSLAB_PRECISION_NATIVE", "1") == "0":
            _ERROR = "disabled by SYSLAB_PRECISION_NATIVE=0"
            return None
        try:
            from torch.utils.cpp_extension import load_inline

            _MOD = load_inline(_name(), cpp_sources=[_SRC], extra_cflags=_FLAGS, verbose=False)
        except Exception as exc:  # no compiler, no headers: callers fall back
            _ERROR = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else ''}"
    return _MOD


def available() -> bool:
    """True when the kernel is built (builds it on first call: 1-2 min of g++ once, then cached)."""
    return _MOD is not None or _load() is not None


def error() -> str | None:
    """Why the kernel is not available (None when it is, or before the first try)."""
    return _ERROR


def fmt_args(lo: int, hi: int, manb: int, mx: float, even: bool, inf: bool, two: bool) -> list[int]:
    """The packed format vector the kernel takes (``mx`` as its float32 bits)."""
    mb = int(torch.tensor(mx, dtype=torch.float32).view(torch.int32))
    return [lo, hi, manb, mb, int(even), int(inf), int(two)]


def quant(x: torch.Tensor, f: list[int], counts: torch.Tensor | None = None, slot: int = -1) -> torch.Tensor:
    mod = _load()
    return mod.quant(x, f, counts if counts is not None else _EMPTY, slot)


def quant_seg(x: torch.Tensor, f: list[int], sizes: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Round a flat tensor of consecutive segments; returns ``(rounded, overflow count per segment)``."""
    out, counts = _load().quant_seg(x, f, sizes)
    return out, counts


def round_act(y: torch.Tensor, fy: list[int], fgy: list[int], counts: torch.Tensor, slot_y: int,
              slot_gy: int) -> torch.Tensor:
    return _load().round_act(y, fy, fgy, counts, slot_y, slot_gy)


_EMPTY = torch.zeros(0, dtype=torch.int64)
