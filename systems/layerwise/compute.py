"""t_c, the compute time of one task (forward + backward + its weight-shard update).

Three ways, chosen by ``CostConfig.compute``:

* ``calibrated`` (default) — per-op-class model of :mod:`systems.layerwise.hardware`:
  convolutions split into Winograd-eligible ones (3x3 and 5x5, stride 1) and the rest, GEMMs (linear layers) with
  the other convolutions, and memory-bound ops (pooling, softmax, concat, add, bias/ReLU passes, the
  SGD update) at the memory bandwidth; plus a fixed overhead per kernel. Fitted to published numbers.
* ``roofline`` — the previous, uncalibrated model: ``max(FLOPs / flops, bytes / mem_bw)`` at one
  uniform sustained FLOP rate, plus the kernel overhead; no update term. Kept for sensitivity.
* ``profiled`` — :class:`TorchProfiler` runs the task's exact sub-shape forward + backward (+ SGD
  update) with torch on the local device — cuDNN with autotuning on a GPU, torch's CPU kernels
  otherwise — median of repeats, cached per sub-shape.

All tasks of a configuration have equal shapes, so one task stands for the layer.
"""

from __future__ import annotations

import time

from systems.layerwise.graph import INPUT, Layer
from systems.layerwise.hardware import DeviceSpec
from systems.layerwise.parallel import ParallelConfig, needed_box, task_boxes

COMPUTE_MODES = ("calibrated", "roofline", "profiled")


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def sub_shape(layer: Layer, cfg: ParallelConfig) -> tuple[int, ...]:
    """Output shape of one task."""
    return tuple(s // d for s, d in zip(layer.out_shape, cfg.degrees))


WINOGRAD_KERNELS = ((3, 3), (5, 5))
"""Stride-1 kernel sizes cuDNN (since 5.1: ``WINOGRAD_NONFUSED``, forward and both backward passes)
can run with Winograd transforms."""


def op_class(layer: Layer) -> str:
    """``winograd`` (3x3 or 5x5, stride 1), ``conv`` (other convolutions), ``gemm`` (linear), or
    ``memory`` (pooling, softmax, concat, add, flatten)."""
    if layer.op == "conv2d":
        wino = layer.attrs["kernel"] in WINOGRAD_KERNELS and layer.attrs["stride"] == (1, 1)
        return "winograd" if wino else "conv"
    if layer.op == "linear":
        return "gemm"
    return "memory"


def shard_params(layer: Layer, cfg: ParallelConfig) -> int:
    """Parameters one task holds (the channel split shards weights and bias)."""
    n = layer.n_params()
    return n // cfg.degrees[1] if n else 0


def task_work(layer: Layer, cfg: ParallelConfig, dtype_bytes: int = 4) -> tuple[float, float, int]:
    """(FLOPs, bytes of device-memory traffic of the main kernels, kernels) of a task's fwd + bwd."""
    out = sub_shape(layer, cfg)
    o = _prod(out)
    op = layer.op
    if op == "conv2d":
        n, co, ho, wo = out
        ci = layer.in_shapes[0][1]
        kh, kw = layer.attrs["kernel"]
        sh, sw = layer.attrs["stride"]
        inp = n * ci * ((ho - 1) * sh + kh) * ((wo - 1) * sw + kw)
        w = co * ci * kh * kw
        # forward, data gradient, weight gradient; a layer reading the graph input needs no data gradient
        passes = 2 if layer.inputs == [INPUT] else 3
        flops = passes * 2.0 * o * ci * kh * kw
        return flops, dtype_bytes * passes * (inp + o + w), passes
    if op == "pool2d":
        n, c, ho, wo = out
        kh, kw = layer.attrs["kernel"]
        sh, sw = layer.attrs["stride"]
        inp = n * c * ((ho - 1) * sh + kh) * ((wo - 1) * sw + kw)
        return 2.0 * o * kh * kw, dtype_bytes * (2.0 * inp + 3.0 * o), 2
    if op == "linear":
        n, fo = out
        fi = _prod(layer.in_shapes[0][1:])
        return 3 * 2.0 * n * fi * fo, dtype_bytes * 3.0 * (n * fi + n * fo + fi * fo), 3
    if op == "flatten":
        return 0.0, 0.0, 0  # a view
    if op == "softmax":
        return 4.0 * o, dtype_bytes * 4.0 * o, 2
    # concat / add: copy in forward, copy gradient back
    return float(o) * (len(layer.inputs) - 1 if op == "add" else 0), dtype_bytes * 4.0 * o, 2


def layer_time(layer: Layer, cfg: ParallelConfig, spec: DeviceSpec, dtype_bytes: int = 4) -> float:
    """Calibrated t_c of one task (seconds)."""
    flops, nbytes, kernels = task_work(layer, cfg, dtype_bytes)
    if kernels == 0:
        return 0.0
    mem = spec.mem_bw * spec.eff_mem
    cls = op_class(layer)
    if cls == "memory":
        return nbytes / mem + kernels * spec.kernel_overhead_s
    eff = spec.eff_winograd if cls == "winograd" else spec.eff_conv
    t = max(flops / (spec.peak_flops * eff), nbytes / mem)
    o = _prod(sub_shape(layer, cfg))
    # bias (+ ReLU) forward and their backward: 5 elementwise passes with ReLU, 3 without
    passes = 5 if layer.attrs.get("relu") else 3
    t += passes * o * dtype_bytes / mem
    kernels += 3 if layer.attrs.get("relu") else 2
    # SGD update of this task's weight shard
    t += spec.update_passes * shard_params(layer, cfg) * dtype_bytes / mem
    kernels += 1
    return t + kernels * spec.kernel_overhead_s


def roofline_time(layer: Layer, cfg: ParallelConfig, spec: DeviceSpec, dtype_bytes: int = 4) -> float:
    """The uncalibrated roofline t_c (uniform ``spec.flops``)."""
    flops, nbytes, kernels = task_work(layer, cfg, dtype_bytes)
    return max(flops / spec.flops, nbytes / (spec.mem_bw * spec.eff_mem)) + kernels * spec.kernel_overhead_s


class TorchProfiler:
    """Profiles t_c with torch: forward + backward + SGD update of one task's sub-shape, median (or
    minimum) of repeats, cached per sub-shape. On CUDA it enables cuDNN autotuning (``cudnn.benchmark``), keeps
    fp32 exact (TF32 off unless ``tf32=True``) and synchronises around each timed run."""

    def __init__(self, repeats: int = 5, warmup: int = 1, device: str = "cpu", tf32: bool = False,
                 stat: str = "median"):
        if stat not in ("median", "min"):
            raise ValueError(f"stat must be 'median' or 'min', got {stat!r}")
        self.repeats, self.warmup, self.device, self.tf32, self.stat = repeats, warmup, device, tf32, stat
        self.cache: dict[tuple, float] = {}
        self.n_profiled = 0

    def key(self, layer: Layer, cfg: ParallelConfig) -> tuple:
        a = tuple(sorted((k, v) for k, v in layer.attrs.items()))
        ins = tuple(tuple(s) for s in layer.in_shapes)
        # the sub-shape fixes the work; channel-split concat tasks differ in how inputs contribute
        return (layer.op, a, ins if layer.op in ("concat", "add") else ins[0][1:], sub_shape(layer, cfg),
                cfg.degrees if layer.op == "concat" else None)

    def time(self, layer: Layer, cfg: ParallelConfig) -> float:
        k = self.key(layer, cfg)
        if k not in self.cache:
            self.cache[k] = self._measure(layer, cfg)
            self.n_profiled += 1
        return self.cache[k]

    def _measure(self, layer: Layer, cfg: ParallelConfig) -> float:
        import torch

        from systems.core import median_time
        from systems.layerwise.emulate import task_forward

        dev = self.device
        cuda = dev.startswith("cuda")
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.allow_tf32 = self.tf32
            torch.backends.cuda.matmul.allow_tf32 = self.tf32
        box = task_boxes(layer.out_shape, cfg)[0]
        gen = torch.Generator(device=dev).manual_seed(0)  # random data made on the device itself
        xs = []
        for k in range(len(layer.inputs)):
            nb, pad = needed_box(layer, k, box)
            if nb is None:
                xs.append(None)
                continue
            shape = [hi - lo + p0 + p1 for (lo, hi), (p0, p1) in zip(nb, pad)]
            x = torch.randn(shape, generator=gen, device=dev)
            # the graph input needs no gradient (no data-gradient pass for the first layer)
            xs.append(x if layer.inputs[k] == INPUT else x.requires_grad_())
        params = []
        if layer.op in ("conv2d", "linear"):
            c0, c1 = box[1]
            ci = layer.in_shapes[0][1]
            if layer.op == "conv2d":
                kh, kw = layer.attrs["kernel"]
                wshape = (c1 - c0, ci, kh, kw)
            else:
                wshape = (c1 - c0, _prod(layer.in_shapes[0][1:]))
            params = [torch.randn(wshape, generator=gen, device=dev).requires_grad_(),
                      torch.randn(c1 - c0, generator=gen, device=dev).requires_grad_()]
        grad = torch.randn([hi - lo for lo, hi in box], generator=gen, device=dev)
        leaves = [x for x in xs if x is not None and x.requires_grad] + params
        sync = torch.cuda.synchronize if cuda else None

        def step():
            out = task_forward(layer, xs, params, box, padded=True)
            if leaves and out.requires_grad:
                gs = torch.autograd.grad(out, leaves, grad, allow_unused=True)
                with torch.no_grad():
                    for p, g in zip(params, gs[len(gs) - len(params):]):
                        p.add_(g, alpha=-1e-6)

        if self.stat == "median":
            return median_time(step, repeats=self.repeats, warmup=self.warmup, sync=sync)
        for _ in range(self.warmup):  # min: filters interference from other processes on a shared host
            step()
        best = float("inf")
        for _ in range(self.repeats):
            if sync:
                sync()
            t0 = time.perf_counter()
            step()
            if sync:
                sync()
            best = min(best, time.perf_counter() - t0)
        return best
