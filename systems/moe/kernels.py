"""Grouped expert GEMMs: each expert multiplies only its own segment of rows, in one kernel call.

Every dispatch back-end (static and adaptive capacities, dropless) lays the expert inputs out as
one ``(R, d)`` tensor whose rows are consecutive per-expert segments, described by
:class:`Segments`. :func:`grouped_linear` computes ``y[seg_e] = x[seg_e] @ w[e] + b[e]`` for all
experts at once, with one of these implementations (no per-expert Python loop except ``loop``):

* ``grouped_mm`` — ``torch._grouped_mm`` (one grouped GEMM; segment ends passed as a device
  tensor, so data-dependent segment sizes need no host synchronisation). Used wherever the
  installed torch supports it for the device and dtype (CUDA: bf16 on Hopper; CPU: recent torch).
* ``padded_bmm`` — the fallback: every segment is padded to the largest one rounded up to a small
  quantum, and one batched matmul ``(n, C, d) @ (n, d, h)`` runs over the padded buffer (exact
  when the capacities are equal, as for a static alpha, where no row is wasted).
* ``loop`` — a Python loop of per-expert matmuls: the reference the tests compare against.

``auto`` picks ``grouped_mm`` when :func:`grouped_mm_supported` says so (probed once per device and
dtype, forward and backward), else ``padded_bmm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IMPLS = ("auto", "grouped_mm", "padded_bmm", "loop")
PAD_QUANTUM = 8
"""Rows a padded segment is rounded up to (``padded_bmm``)."""

_SUPPORT: dict[tuple[str, torch.dtype], bool] = {}


@dataclass(frozen=True)
class Segments:
    """Where each expert's rows lie in a grouped ``(rows, d)`` tensor (consecutive, expert order)."""

    offs: torch.Tensor
    """(n,) int32 cumulative segment ends on the device (the ``offs`` of ``torch._grouped_mm``)."""
    row_expert: torch.Tensor
    """(rows,) int64 expert of every row (bias gather, padding maps)."""
    rows: int
    """Total rows (a Python int: the buffer shape the graph is specialised to)."""
    sizes: tuple[int, ...] | None = None
    """Host-known segment sizes (capacity methods); None when they are data-dependent (dropless)."""


def segments_from_sizes(sizes: tuple[int, ...], device: torch.device | str) -> Segments:
    """Segments of host-known sizes (static or per-expert capacities). Built once per configuration."""
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes):
        raise ValueError(f"segment sizes must be >= 0, got {sizes}")
    t = torch.tensor(sizes, dtype=torch.long)
    return Segments(offs=t.cumsum(0).to(torch.int32).to(device),
                    row_expert=torch.repeat_interleave(torch.arange(len(sizes)), t).to(device),
                    rows=sum(sizes), sizes=sizes)


def segments_from_sorted(sorted_expert: torch.Tensor, n: int) -> Segments:
    """Segments of rows already sorted by expert (dropless): sizes stay on the device (no sync)."""
    counts = torch.zeros(n, dtype=torch.long, device=sorted_expert.device)
    counts.index_add_(0, sorted_expert, torch.ones_like(sorted_expert))
    return Segments(offs=counts.cumsum(0).to(torch.int32), row_expert=sorted_expert,
                    rows=int(sorted_expert.numel()), sizes=None)


@torch.library.custom_op("syslab_moe::grouped_mm", mutates_args=())
def _gmm(x: torch.Tensor, w: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
    """(rows, d) x (n, d, h) -> (rows, h): segment e of x times w[e]."""
    return torch._grouped_mm(x, w, offs=offs)


@_gmm.register_fake
def _gmm_fake(x, w, offs):
    return x.new_empty(x.shape[0], w.shape[2])


@torch.library.custom_op("syslab_moe::grouped_mm_wgrad", mutates_args=())
def _gmm_wgrad(x: torch.Tensor, g: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
    """(rows, d), (rows, h) -> (n, d, h): per segment e, x[seg_e]^T g[seg_e]."""
    return torch._grouped_mm(x.t(), g, offs=offs)


@_gmm_wgrad.register_fake
def _gmm_wgrad_fake(x, g, offs):
    return x.new_empty(offs.shape[0], x.shape[1], g.shape[1])


def _gmm_setup(ctx, inputs, output):
    x, w, offs = inputs
    ctx.save_for_backward(x, w, offs)


def _gmm_backward(ctx, g):
    x, w, offs = ctx.saved_tensors
    g = g.contiguous()
    dx = _gmm(g, w.transpose(-2, -1), offs) if ctx.needs_input_grad[0] else None
    dw = _gmm_wgrad(x, g, offs) if ctx.needs_input_grad[1] else None
    return dx, dw, None


_gmm.register_autograd(_gmm_backward, setup_context=_gmm_setup)
"""``torch._grouped_mm`` as an opaque custom op (its own meta function accepts bf16 only, which would
stop ``torch.compile`` from tracing float32 graphs), forward and backward as grouped GEMMs."""


def grouped_mm_supported(device: torch.device | str, dtype: torch.dtype) -> bool:
    """Whether ``torch._grouped_mm`` runs forward and backward correctly here (probed once, cached)."""
    dev = torch.device(device)
    key = (dev.type, dtype)
    if key not in _SUPPORT:
        _SUPPORT[key] = _probe(dev, dtype)
    return _SUPPORT[key]


def _probe(dev: torch.device, dtype: torch.dtype) -> bool:
    if not hasattr(torch, "_grouped_mm"):
        return False
    try:
        g = torch.Generator().manual_seed(0)
        sizes = (16, 0, 32)
        x = torch.randn(48, 32, generator=g).to(dev, dtype).requires_grad_()
        w = torch.randn(3, 32, 16, generator=g).to(dev, dtype).requires_grad_()
        seg = segments_from_sizes(sizes, dev)
        y = _gmm(x, w, seg.offs)
        y.float().square().sum().backward()
        ref = _loop_mm(x.detach().float(), w.detach().float(), sizes)
        tol = 1e-4 if dtype == torch.float32 else 5e-2
        return bool(torch.allclose(y.detach().float(), ref, atol=tol * 32, rtol=tol)
                    and x.grad is not None and w.grad is not None and torch.isfinite(w.grad).all())
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return False


def resolve_impl(impl: str, device: torch.device | str, dtype: torch.dtype, dims: tuple[int, ...] = ()) -> str:
    """The concrete implementation ``impl`` means on this device and dtype, for matrices whose inner
    sizes are ``dims`` (``torch._grouped_mm`` needs rows of a multiple of 16 bytes)."""
    if impl not in IMPLS:
        raise ValueError(f"unknown grouped GEMM implementation {impl!r}; valid: {', '.join(IMPLS)}")
    item = torch.empty((), dtype=dtype).element_size()
    aligned = all(d * item % 16 == 0 for d in dims)
    if impl == "auto":
        return "grouped_mm" if aligned and grouped_mm_supported(device, dtype) else "padded_bmm"
    if impl == "grouped_mm" and not (aligned and grouped_mm_supported(device, dtype)):
        raise ValueError(f"torch._grouped_mm is not usable for {dtype} on {torch.device(device).type} with "
                         f"torch {torch.__version__} and sizes {dims} (rows must be multiples of 16 bytes); "
                         f"use kernel='padded_bmm' or 'auto'")
    return impl


def _loop_mm(x: torch.Tensor, w: torch.Tensor, sizes) -> torch.Tensor:
    out, off = [], 0
    for e, s in enumerate(sizes):
        out.append(x[off:off + s] @ w[e])
        off += s
    return torch.cat(out) if out else x.new_zeros(0, w.shape[2])


def grouped_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, seg: Segments,
                   impl: str) -> torch.Tensor:
    """``y[seg_e] = x[seg_e] @ w[e] (+ b[e])``: x (rows, d), w (n, d, h), b (n, 1, h) -> (rows, h)."""
    if impl == "grouped_mm":
        y = _gmm(x, w, seg.offs)
    elif impl == "padded_bmm":
        y = _padded_bmm(x, w, seg)
    elif impl == "loop":
        y = _loop_mm(x, w, seg.sizes if seg.sizes is not None else _host_sizes(seg))
    else:
        raise ValueError(f"unknown grouped GEMM implementation {impl!r}; valid: grouped_mm, padded_bmm, loop "
                         f"(resolve 'auto' first with resolve_impl)")
    if b is not None:
        y = y + b[:, 0][seg.row_expert]
    return y


def _host_sizes(seg: Segments) -> tuple[int, ...]:
    """Segment sizes read back from the device (a host synchronisation: fallback paths only)."""
    ends = seg.offs.tolist()
    return tuple(e - s for s, e in zip([0, *ends[:-1]], ends))


def _padded_bmm(x: torch.Tensor, w: torch.Tensor, seg: Segments) -> torch.Tensor:
    n, d, h = w.shape
    sizes = seg.sizes if seg.sizes is not None else _host_sizes(seg)
    if len(set(sizes)) == 1:  # equal capacities: the grouped buffer already is (n, C, d)
        return torch.bmm(x.view(n, sizes[0], d), w).view(-1, h)
    cap = -(-max(sizes) // PAD_QUANTUM) * PAD_QUANTUM
    starts = torch.tensor([0, *_cumsum(sizes)[:-1]], device=x.device)
    pos = torch.arange(seg.rows, device=x.device) - starts[seg.row_expert]
    dest = seg.row_expert * cap + pos  # row of the padded (n * cap) buffer
    buf = x.new_zeros(n * cap, d).index_copy(0, dest, x)
    out = torch.bmm(buf.view(n, cap, d), w).view(n * cap, h)
    return out.index_select(0, dest)


def _cumsum(xs) -> list[int]:
    out, s = [], 0
    for v in xs:
        s += int(v)
        out.append(s)
    return out
