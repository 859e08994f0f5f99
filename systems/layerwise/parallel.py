"""Parallelization configurations of one layer and the tensor regions its tasks own and need.

A configuration gives every parallelizable output dimension a power-of-two degree (sample,
channel, height, width for conv/pool/concat/add; sample, channel for linear; sample only for
flatten/softmax). The product ``d`` of the degrees is at most the device count P and every degree
divides its dimension, so all tasks have equal shapes. The ``d`` tasks run on a contiguous block of
devices ``offset .. offset+d-1`` in row-major task order; by default ``offset = 0`` (blocks nested
at device 0 maximise co-location, which is what the additive cost model rewards), optionally every
aligned block (``offsets=True``).

Regions are boxes ``[lo, hi)`` per dimension. ``needed_box`` maps a consumer task's output box to
the box of a producer's output it reads (conv/pool halos included, clipped to the tensor; the part
that falls into padding is returned separately so the emulator can pad).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from systems.layerwise.graph import Graph, Layer

DIM_NAMES = {4: ("n", "c", "h", "w"), 2: ("n", "c")}


@dataclass(frozen=True)
class ParallelConfig:
    """How one layer is split: a degree per output dimension, on devices ``offset..offset+size-1``."""

    degrees: tuple[int, ...]
    """Degree per output dimension (``(n, c, h, w)`` or ``(n, c)``); 1 = not split."""
    offset: int = 0
    """First device of the contiguous block the tasks run on."""

    @property
    def size(self) -> int:
        """Number of tasks (= devices used)."""
        out = 1
        for d in self.degrees:
            out *= d
        return out

    def devices(self) -> list[int]:
        return list(range(self.offset, self.offset + self.size))

    def label(self) -> str:
        names = DIM_NAMES[len(self.degrees)]
        return " ".join(f"{n}={d}" for n, d in zip(names, self.degrees)) + f" @{self.offset}"

    def to_json(self) -> dict:
        names = DIM_NAMES[len(self.degrees)]
        return {"degrees": dict(zip(names, self.degrees)), "devices": self.devices()}


def parallel_dims(layer: Layer) -> tuple[int, ...]:
    """Indices of the output dimensions this layer may split."""
    if layer.op in ("flatten", "softmax"):
        return (0,)
    if layer.op == "linear":
        return (0, 1)
    return tuple(range(layer.rank))


def _pow2_divisors(size: int, cap: int) -> list[int]:
    out, d = [], 1
    while d <= cap and size % d == 0:
        out.append(d)
        d *= 2
    return out


def enumerate_configs(layer: Layer, devices: int, offsets: bool = False,
                      max_degree: dict[str, int] | None = None) -> list[ParallelConfig]:
    """All valid configurations of ``layer`` on ``devices`` devices (P must be a power of two).

    ``max_degree`` optionally caps a dimension by name (e.g. ``{"h": 1, "w": 1}`` disables spatial
    splits). The first configuration is always the unsplit one on device 0.
    """
    if devices < 1 or devices & (devices - 1):
        raise ValueError(f"device count must be a power of two >= 1, got {devices}")
    names = DIM_NAMES[layer.rank]
    pdims = parallel_dims(layer)
    choices = []
    for i in range(layer.rank):
        cap = devices
        if max_degree and names[i] in max_degree:
            cap = min(cap, max_degree[names[i]])
        choices.append(_pow2_divisors(layer.out_shape[i], cap) if i in pdims else [1])
    out: list[ParallelConfig] = []
    for degs in itertools.product(*choices):
        size = int(np.prod(degs))
        if size > devices:
            continue
        starts = range(0, devices, size) if offsets else (0,)
        out.extend(ParallelConfig(tuple(degs), s) for s in starts)
    out.sort(key=lambda c: (c.size, c.offset, c.degrees))
    return out


def task_boxes(shape: tuple[int, ...], cfg: ParallelConfig) -> list[tuple[tuple[int, int], ...]]:
    """Output box of every task in row-major task order (task i runs on device ``offset + i``)."""
    return list(_task_boxes(tuple(shape), cfg.degrees))


@lru_cache(maxsize=65536)
def _task_boxes(shape: tuple[int, ...], degrees: tuple[int, ...]):
    per_dim = [[(i * s // d, (i + 1) * s // d) for i in range(d)] for s, d in zip(shape, degrees)]
    return tuple(itertools.product(*per_dim))


Box = tuple[tuple[int, int], ...]


def needed_box(layer: Layer, k: int, out_box: Box) -> tuple[Box | None, tuple[tuple[int, int], ...]]:
    """Region of input ``k`` that the task computing ``out_box`` of ``layer`` reads.

    Returns ``(box, pad)``: ``box`` clipped to the input tensor (None when empty, e.g. a concat task
    whose channels come from other inputs) and ``pad`` = (before, after) per dimension for the part
    outside the tensor (conv/pool padding).
    """
    ishape = layer.in_shapes[k]
    op = layer.op
    if op in ("conv2d", "pool2d"):
        (n0, n1), (c0, c1), (h0, h1), (w0, w1) = out_box
        kh, kw = layer.attrs["kernel"]
        sh, sw = layer.attrs["stride"]
        ph, pw = layer.attrs["padding"]
        cr = (0, ishape[1]) if op == "conv2d" else (c0, c1)
        boxes, pads = [(n0, n1), cr], [(0, 0), (0, 0)]
        for (o0, o1), kk, s, p, size in (((h0, h1), kh, sh, ph, ishape[2]),
                                         ((w0, w1), kw, sw, pw, ishape[3])):
            a, b = o0 * s - p, (o1 - 1) * s - p + kk
            boxes.append((max(a, 0), min(b, size)))
            pads.append((max(0, -a), max(0, b - size)))
        return tuple(boxes), tuple(pads)
    zero = tuple((0, 0) for _ in ishape)
    if op in ("linear", "flatten"):
        n0, n1 = out_box[0]
        return ((n0, n1),) + tuple((0, s) for s in ishape[1:]), zero
    if op == "softmax":
        n0, n1 = out_box[0]
        return ((n0, n1), (0, ishape[1])), zero
    if op == "add":
        return tuple(out_box), zero
    if op == "concat":
        off = sum(s[1] for s in layer.in_shapes[:k])
        c0, c1 = out_box[1]
        lo, hi = max(c0, off) - off, min(c1, off + ishape[1]) - off
        if hi <= lo:
            return None, zero
        return (out_box[0], (lo, hi), *out_box[2:]), zero
    raise ValueError(f"layer {layer.name!r}: unknown op {op!r}")


def layer_configs(graph: Graph, devices: int, offsets: bool = False,
                  max_degree: dict[str, int] | None = None) -> dict[str, list[ParallelConfig]]:
    """Configurations of every layer."""
    return {ly.name: enumerate_configs(ly, devices, offsets, max_degree) for ly in graph.layers}


def find_config(configs: list[ParallelConfig], degrees: dict[str, int] | tuple[int, ...],
                offset: int = 0) -> int:
    """Index of the configuration with these degrees (dict by dim name or tuple)."""
    for i, c in enumerate(configs):
        if isinstance(degrees, dict):
            names = DIM_NAMES[len(c.degrees)]
            want = tuple(degrees.get(n, 1) for n in names)
        else:
            want = tuple(degrees)
        if c.degrees == want and c.offset == offset:
            return i
    raise KeyError(f"no configuration with degrees {degrees} at offset {offset}")
