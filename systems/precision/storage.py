"""Real 8-bit storage of saved activations, and measured peak memory of a training step.

The emulator computes in float32, so by default every tensor autograd saves for the backward pass
is a float32 tensor even when its values are 8-bit values. :class:`Fp8SavedTensors` is a
``torch.autograd.graph.saved_tensors_hooks`` pair that stores such a tensor as a real 1-byte
tensor and decodes it when the backward pass needs it:

* 1-4-3 bias 4 (weights and activations) = ``float8_e4m3fn`` scaled by 16, exactly, for
  ``|x| <= 28`` (1-4-3 b4's top value 30 = 480/16 is e4m3fn's NaN code, so a tensor holding +-30
  stays float32);
* 1-5-2 (activation gradients) = ``float8_e5m2`` for ``|x| <= 57344`` (the paper's extra binade
  up to 114688 is IEEE e5m2's inf/NaN code) and +-inf.

A tensor is stored in 8 bits only when the round trip gives back the same values (checked on
every save), so training is bit-identical with and without the hooks (tested); NaN, +-30 or any
value that is not an 8-bit value keeps the tensor in float32. Which tensors autograd saves is the
framework's choice (a conv saves its input and weight, BN its input, ReLU its output, an add
nothing), so the saved set is close to, not equal to, the paper's ``Y`` set.

Peak memory is measured, not computed: on CUDA with ``torch.cuda.max_memory_allocated``; on a CPU
from the allocator's own allocation/free reports (``torch.profiler`` with ``profile_memory=True``
records every c10 CPU allocation and free with its size; the peak of their running sum over the
step is the step's peak above what was allocated before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

E4M3_LIMIT = 448.0 / 16.0
"""Largest 1-4-3 b4 magnitude e4m3fn x16 holds (30 = 480/16 is e4m3fn's NaN code)."""
E5M2_LIMIT = 57344.0
"""Largest finite e5m2 value."""


@dataclass
class StorageStats:
    """What the hooks stored during one step."""

    saved: int = 0
    """Tensors autograd saved (float32 ones seen by the hooks)."""
    packed: int = 0
    """Of those, stored in 8 bits."""
    bytes_fp32: int = 0
    """Bytes the saved float32 tensors would take as float32."""
    bytes_stored: int = 0
    """Bytes actually kept (8-bit tensors at 1 byte per element, the rest as they were)."""
    kept_reasons: dict[str, int] = field(default_factory=dict)
    """Why tensors stayed float32 (``not-8-bit``, ``too-small``)."""


class Fp8SavedTensors:
    """Context manager: saved float32 tensors whose values are 1-4-3 b4 (or 1-5-2) values are kept as
    real 8-bit tensors until backward. ``min_numel`` skips tiny tensors (BN statistics)."""

    def __init__(self, min_numel: int = 64, formats: tuple[str, ...] = ("e4m3x16", "e5m2")) -> None:
        self.min_numel = min_numel
        self.formats = formats
        self.stats = StorageStats()
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def __enter__(self) -> "Fp8SavedTensors":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)

    def _keep(self, t: torch.Tensor, why: str):
        self.stats.kept_reasons[why] = self.stats.kept_reasons.get(why, 0) + 1
        self.stats.bytes_stored += t.numel() * t.element_size()
        return t

    def _pack(self, t: torch.Tensor):
        if t.dtype != torch.float32 or t.layout != torch.strided:
            return t
        st = self.stats
        st.saved += 1
        st.bytes_fp32 += t.numel() * 4
        if t.numel() < self.min_numel:
            return self._keep(t, "too-small")
        x = t.detach()
        for name in self.formats:
            enc = _encode(x, name)
            if enc is not None:
                st.packed += 1
                st.bytes_stored += enc.numel()
                return (name, enc, t.requires_grad)
        return self._keep(t, "not-8-bit")

    @staticmethod
    def _unpack(p):
        if isinstance(p, torch.Tensor):
            return p
        name, enc, _ = p
        return _decode(enc, name)


def _encode(x: torch.Tensor, name: str) -> torch.Tensor | None:
    """The 8-bit tensor holding exactly ``x``'s values, or None when ``x`` has values it cannot hold."""
    if name == "e4m3x16":
        if not bool((x.abs() <= E4M3_LIMIT).all()):  # NaN, +-30 and anything larger stay float32
            return None
        enc = (x * 16.0).to(torch.float8_e4m3fn)
    elif name == "e5m2":
        if not bool(((x.abs() <= E5M2_LIMIT) | x.isinf()).all()):
            return None
        enc = x.to(torch.float8_e5m2)
    else:
        raise ValueError(f"unknown 8-bit storage {name!r}; valid: e4m3x16, e5m2")
    return enc if torch.equal(_decode(enc, name), x) else None


def _decode(enc: torch.Tensor, name: str) -> torch.Tensor:
    if name == "e4m3x16":
        return enc.to(torch.float32) / 16.0
    return enc.to(torch.float32)


def measure_peak(fn, device: str = "cpu") -> tuple[object, int]:
    """Run ``fn()`` and return ``(its result, peak bytes allocated during it above what was allocated
    before)``: ``torch.cuda.max_memory_allocated`` on CUDA, the CPU allocator's reports otherwise."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        out = fn()
        torch.cuda.synchronize()
        return out, int(torch.cuda.max_memory_allocated() - base)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")]
    events.sort(key=lambda e: e.start_ns())
    cur = peak = 0
    for e in events:
        cur += e.nbytes()
        peak = max(peak, cur)
    return out, int(peak)


def step_peaks(net, assignment, x: torch.Tensor, y: torch.Tensor, device: str = "cpu") -> dict:
    """One training step's peak memory with saved activations kept as float32 and as real 8-bit tensors.

    Returns ``{False: (peak_bytes, None, grads), True: (peak_bytes, StorageStats, grads)}``; ``grads`` is
    the flattened gradient of a fresh copy of ``net`` (so the two runs can be checked bit-identical). A
    warm-up step runs first so one-time allocations stay out of the measured step.
    """
    import copy

    import torch.nn.functional as F

    from systems.precision.emulate import Emulator

    out = {}
    for store in (False, True):
        m = copy.deepcopy(net)
        emu = Emulator(m, assignment, record=False)

        def step(emu=emu, store=store):
            if store:
                with Fp8SavedTensors() as s:
                    loss = F.cross_entropy(emu.forward(x), y)
                loss.backward()
                return s.stats
            F.cross_entropy(emu.forward(x), y).backward()
            return None

        step()
        for p in m.parameters():
            p.grad = None
        stats, peak = measure_peak(step, device)
        out[store] = (peak, stats, torch.cat([p.grad.flatten() for p in m.parameters()]))
        emu.remove()
    return out
