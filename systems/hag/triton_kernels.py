"""The fused pull-sum kernel on CUDA, in Triton (imported lazily; absent Triton means the executor's
``csr`` path runs instead, see :func:`available`).

Same contract as the CPU kernel in ``native/hag_native.cpp``: for each range of rows (one HAG level, or
the real nodes) ``dst[r - base] = Σ_{p in ptr[r]..ptr[r+1]} src(idx[p])`` with ``src(j) = lo[j]`` for
``j < split`` and ``hi[j - split]`` otherwise, accumulated in fp32. Aggregation-node levels of the
forward pass have exactly two inputs each and use a tiled two-gather kernel; all other ranges (real
nodes, and every backward range) use one program per row looping over the row's inputs — the
structure of ``aggre_coop_kernel`` in ``jiazhihao/HAG`` (``gnn_kernel.cu``), without its shared-memory
atomics (one program owns one output row).
"""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when CUDA and Triton are both usable."""
    if not torch.cuda.is_available():
        return False
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def row_kernel(ptr, idx, lo, hi, out, r0, base, split, d, BLOCK_D: tl.constexpr):
        row = r0 + tl.program_id(0)
        f = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        fm = f < d
        s = tl.load(ptr + row)
        e = tl.load(ptr + row + 1)
        acc = tl.zeros([BLOCK_D], dtype=tl.float32)
        for p in range(s, e):
            j = tl.load(idx + p).to(tl.int64)
            in_lo = j < split
            v_lo = tl.load(lo + j * d + f, mask=fm & in_lo, other=0.0)
            v_hi = tl.load(hi + (j - split) * d + f, mask=fm & (j >= split), other=0.0)
            acc += v_lo.to(tl.float32) + v_hi.to(tl.float32)
        tl.store(out + (row - base).to(tl.int64) * d + f, acc.to(out.dtype.element_ty), mask=fm)

    @triton.jit
    def pair_kernel(ptr, idx, lo, hi, out, r0, r1, base, split, d, ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
        rows = r0 + tl.program_id(0) * ROWS + tl.arange(0, ROWS)
        rm = rows < r1
        f = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
        fm = f < d
        s = tl.load(ptr + rows, mask=rm, other=0)
        m2 = rm[:, None] & fm[None, :]
        acc = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
        for q in range(2):
            j = tl.load(idx + s + q, mask=rm, other=0).to(tl.int64)
            in_lo = (j < split)[:, None]
            v_lo = tl.load(lo + j[:, None] * d + f[None, :], mask=m2 & in_lo, other=0.0)
            in_hi = (j >= split)[:, None]
            v_hi = tl.load(hi + (j - split)[:, None] * d + f[None, :], mask=m2 & in_hi, other=0.0)
            acc += v_lo.to(tl.float32) + v_hi.to(tl.float32)
        o = out + (rows - base).to(tl.int64)[:, None] * d + f[None, :]
        tl.store(o, acc.to(out.dtype.element_ty), mask=m2)

    return triton, row_kernel, pair_kernel


def pull_sum(arrs: dict, split: int, lo: torch.Tensor, hi: torch.Tensor, out: torch.Tensor) -> None:
    """Run every range of ``arrs`` (see ``FusedCSR``) on the GPU; ``hi`` is the aggregation buffer."""
    triton, row_kernel, pair_kernel = _kernels()
    d = lo.shape[1]
    block_d = min(128, max(16, triton.next_power_of_2(d)))
    nfb = triton.cdiv(d, block_d)
    ranges, flags, bases = arrs["ranges"], arrs["hi"], arrs["base"]
    ptr, idx = arrs["ptr"], arrs["idx"]
    for k in range(len(flags)):
        r0, r1 = int(ranges[2 * k]), int(ranges[2 * k + 1])
        if r1 <= r0:
            continue
        dst = hi if flags[k] else out
        base = int(bases[k])
        if flags[k] == 2:  # an aggregation-node level of the forward pass: two inputs per row
            rows = 32
            pair_kernel[(triton.cdiv(r1 - r0, rows), nfb)](ptr, idx, lo, hi, dst, r0, r1, base, split, d,
                                                           ROWS=rows, BLOCK_D=block_d)
        else:
            row_kernel[(r1 - r0, nfb)](ptr, idx, lo, hi, dst, r0, base, split, d, BLOCK_D=block_d)
