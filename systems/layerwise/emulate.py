"""Single-process emulation of a strategy: really split the tensors, run every task, check equality.

Each layer's output lives as one shard per task (on emulated device ``offset + i``). A task
gathers exactly the input region its output box needs from the producers' shards (halos included,
padding materialised: zeros, or -inf for max pooling), computes its sub-output with its slice of the
weights (a per-task *replica*), and stores its shard. The backward pass runs per task too
(``torch.autograd.grad`` on the task's local graph): input-region gradients are scattered back into
the producers' shard gradients and the replicas' weight gradients are summed per shard (the
parameter synchronisation). Bytes crossing emulated devices are counted in both directions, which
the tests compare with the cost model's transfer tables.

:func:`reference` runs the unsplit network with plain torch ops; :func:`check` compares the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from systems.layerwise.graph import INPUT, Graph, Layer
from systems.layerwise.parallel import ParallelConfig, needed_box, task_boxes


def init_params(graph: Graph, seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Seeded weights and biases of every conv/linear layer (float64 for exact comparisons)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for ly in graph.layers:
        if ly.op == "conv2d":
            kh, kw = ly.attrs["kernel"]
            fan_in = ly.in_shapes[0][1] * kh * kw
            w = torch.randn(ly.attrs["out_channels"], ly.in_shapes[0][1], kh, kw, generator=g, dtype=torch.float64)
        elif ly.op == "linear":
            fan_in = 1
            for s in ly.in_shapes[0][1:]:
                fan_in *= s
            w = torch.randn(ly.attrs["out_features"], fan_in, generator=g, dtype=torch.float64)
        else:
            continue
        out[ly.name] = (w * (2.0 / fan_in) ** 0.5, 0.1 * torch.randn(w.shape[0], generator=g, dtype=torch.float64))
    return out


def sinks(graph: Graph) -> list[str]:
    """Layers nobody consumes (the network's outputs)."""
    return _sinks(graph)


def _sinks(graph: Graph) -> list[str]:
    cons = graph.consumers()
    return [n for n, c in cons.items() if not c]


def forward_full(graph: Graph, ps, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The unsplit network with plain torch ops: every layer's output (``ps``: name -> (w, b))."""
    vals: dict[str, torch.Tensor] = {INPUT: x}
    for ly in graph.layers:
        ins = [vals[i] for i in ly.inputs]
        a = ly.attrs
        if ly.op == "conv2d":
            y = F.conv2d(ins[0], *ps[ly.name], stride=a["stride"], padding=a["padding"])
            y = F.relu(y) if a["relu"] else y
        elif ly.op == "pool2d":
            fn = F.max_pool2d if a["mode"] == "max" else F.avg_pool2d
            y = fn(ins[0], a["kernel"], a["stride"], a["padding"])
        elif ly.op == "linear":
            y = F.linear(ins[0].flatten(1), *ps[ly.name])
            y = F.relu(y) if a["relu"] else y
        elif ly.op == "flatten":
            y = ins[0].flatten(1)
        elif ly.op == "softmax":
            y = F.softmax(ins[0], dim=1)
        elif ly.op == "add":
            y = sum(ins[1:], ins[0])
        else:
            y = torch.cat(ins, dim=1)
        vals[ly.name] = y
    return vals


def reference(graph: Graph, params, x: torch.Tensor, grad_out: dict[str, torch.Tensor]):
    """Unsplit forward and backward with plain torch ops: (outputs, param grads, input grad)."""
    x = x.clone().requires_grad_()
    ps = {n: (w.clone().requires_grad_(), b.clone().requires_grad_()) for n, (w, b) in params.items()}
    vals = forward_full(graph, ps, x)
    sinks = _sinks(graph)
    loss = sum((vals[s] * grad_out[s]).sum() for s in sinks)
    loss.backward()
    grads = {n: (w.grad, b.grad) for n, (w, b) in ps.items()}
    return {s: vals[s].detach() for s in sinks}, grads, x.grad


def task_forward(layer: Layer, xs: list, params: list, out_box, padded: bool = True) -> torch.Tensor:
    """Compute one task's output from its gathered (already padded) input pieces."""
    a = layer.attrs
    op = layer.op
    if op == "conv2d":
        y = F.conv2d(xs[0], params[0], params[1], stride=a["stride"])
        y = F.relu(y) if a["relu"] else y
    elif op == "pool2d":
        fn = F.max_pool2d if a["mode"] == "max" else F.avg_pool2d
        y = fn(xs[0], a["kernel"], a["stride"])
    elif op == "linear":
        y = F.linear(xs[0].flatten(1), params[0], params[1])
        y = F.relu(y) if a["relu"] else y
    elif op == "flatten":
        y = xs[0].flatten(1)
    elif op == "softmax":
        y = F.softmax(xs[0], dim=1)
    elif op == "add":
        y = xs[0]
        for x in xs[1:]:
            y = y + x
    else:
        y = torch.cat([x for x in xs if x is not None], dim=1)
    want = tuple(hi - lo for lo, hi in out_box)
    if tuple(y.shape) != want:
        raise RuntimeError(f"layer {layer.name!r}: task output {tuple(y.shape)} != box {want}")
    return y


def _inter(a, b):
    box = tuple((max(x0, y0), min(x1, y1)) for (x0, x1), (y0, y1) in zip(a, b))
    return None if any(hi <= lo for lo, hi in box) else box


def _sl(box, origin):
    return tuple(slice(lo - o, hi - o) for (lo, hi), o in zip(box, origin))


@dataclass
class _Task:
    layer: str
    index: int
    device: int
    box: tuple
    inputs: list  # per input k: (needed box, pad, leaf tensor) or None
    params: list
    out: torch.Tensor
    t_gather: float = 0.0
    t_fwd: float = 0.0
    t_bwd: float = 0.0
    t_scatter: float = 0.0


@dataclass
class EmulationResult:
    """Outputs, gradients, bytes moved between emulated devices and per-layer timings."""

    outputs: dict[str, torch.Tensor]
    param_grads: dict[str, tuple[torch.Tensor, torch.Tensor]]
    input_grad: torch.Tensor
    fwd_bytes: float
    bwd_bytes: float
    layer_time: dict[str, float] = field(default_factory=dict)
    """Per layer: slowest task's gather+forward plus slowest task's backward+scatter, plus the
    replica-gradient summation (emulated devices would run tasks concurrently)."""
    task_time: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Per layer, per task: (gather + forward, backward + scatter) seconds."""
    sync_time: dict[str, float] = field(default_factory=dict)
    """Per layer: seconds to sum the replicas' weight gradients (slowest shard)."""

    @property
    def step_s(self) -> float:
        return sum(self.layer_time.values())


def measured_step(runs: list[EmulationResult]) -> float:
    """Step time from repeated emulations: each task's (and sync's) minimum over the runs, then per
    layer the slowest task, summed over layers. The minimum filters scheduler noise on shared hosts."""
    total = 0.0
    for name, tasks in runs[0].task_time.items():
        fwd = max(min(r.task_time[name][i][0] for r in runs) for i in range(len(tasks)))
        bwd = max(min(r.task_time[name][i][1] for r in runs) for i in range(len(tasks)))
        total += fwd + bwd + min(r.sync_time[name] for r in runs)
    return total


def emulate(graph: Graph, configs: dict[str, list[ParallelConfig]], strategy: dict[str, int], params,
            x: torch.Tensor, grad_out: dict[str, torch.Tensor], dtype_bytes: int = 4) -> EmulationResult:
    """Run the strategy task by task (forward and backward) on split tensors."""
    shards: dict[str, list[tuple[tuple, torch.Tensor, int]]] = {}
    full_in = tuple((0, s) for s in x.shape)
    tasks: dict[str, list[_Task]] = {}
    fwd_bytes = 0.0
    for ly in graph.layers:
        cfg = configs[ly.name][strategy[ly.name]]
        tasks[ly.name] = []
        for i, box in enumerate(task_boxes(ly.out_shape, cfg)):
            dev = cfg.offset + i
            t0 = time.perf_counter()
            ins = []
            for k, src in enumerate(ly.inputs):
                nb, pad = needed_box(ly, k, box)
                if nb is None:
                    ins.append(None)
                    continue
                fill = float("-inf") if (ly.op == "pool2d" and ly.attrs["mode"] == "max") else 0.0
                shape = [hi - lo + p0 + p1 for (lo, hi), (p0, p1) in zip(nb, pad)]
                piece = torch.full(shape, fill, dtype=x.dtype)
                origin = [lo - p0 for (lo, _), (p0, _) in zip(nb, pad)]
                prods = [(full_in, x, -1)] if src == INPUT else shards[src]
                for pbox, pt, pdev in prods:
                    ib = _inter(pbox, nb)
                    if ib is None:
                        continue
                    piece[_sl(ib, origin)] = pt[_sl(ib, [lo for lo, _ in pbox])]
                    if pdev >= 0 and pdev != dev:
                        n = 1
                        for lo, hi in ib:
                            n *= hi - lo
                        fwd_bytes += n * dtype_bytes
                ins.append((nb, pad, piece.requires_grad_()))
            ps = []
            if ly.name in params:
                w, b = params[ly.name]
                c0, c1 = box[1]
                ps = [w[c0:c1].clone().requires_grad_(), b[c0:c1].clone().requires_grad_()]
            t1 = time.perf_counter()
            with torch.enable_grad():
                out = task_forward(ly, [None if e is None else e[2] for e in ins], ps, box)
            t2 = time.perf_counter()
            tasks[ly.name].append(_Task(ly.name, i, dev, box, ins, ps, out, t1 - t0, t2 - t1))
        shards[ly.name] = [(t.box, t.out.detach(), t.device) for t in tasks[ly.name]]

    # backward
    gshard = {n: [torch.zeros_like(t.out) for t in ts] for n, ts in tasks.items()}
    sinks = _sinks(graph)
    for s in sinks:
        for t, g in zip(tasks[s], gshard[s]):
            g += grad_out[s][_sl(t.box, [0] * len(t.box))]
    in_grad = torch.zeros_like(x)
    pgrads = {n: (torch.zeros_like(w), torch.zeros_like(b)) for n, (w, b) in params.items()}
    bwd_bytes = 0.0
    layer_time: dict[str, float] = {}
    task_time: dict[str, list[tuple[float, float]]] = {}
    sync_time: dict[str, float] = {}
    for ly in reversed(graph.layers):
        ts = tasks[ly.name]
        replica_grads: dict[tuple, list] = {}
        for t, g in zip(ts, gshard[ly.name]):
            leaves = [e[2] for e in t.inputs if e is not None] + t.params
            t0 = time.perf_counter()
            grads = list(torch.autograd.grad(t.out, leaves, g, allow_unused=True)) if t.out.requires_grad else []
            t1 = time.perf_counter()
            gi = 0
            for k, e in enumerate(t.inputs):
                if e is None:
                    continue
                nb, pad, _ = e
                gx = grads[gi] if grads else None
                gi += 1
                if gx is None:
                    continue
                gx = gx[tuple(slice(p0, gx.shape[d] - p1) for d, (p0, p1) in enumerate(pad))]
                src = ly.inputs[k]
                if src == INPUT:
                    in_grad[_sl(nb, [0] * len(nb))] += gx
                    continue
                for (pbox, _, pdev), pg in zip(shards[src], gshard[src]):
                    ib = _inter(pbox, nb)
                    if ib is None:
                        continue
                    pg[_sl(ib, [lo for lo, _ in pbox])] += gx[_sl(ib, [lo for lo, _ in nb])]
                    if pdev != t.device:
                        n = 1
                        for lo, hi in ib:
                            n *= hi - lo
                        bwd_bytes += n * dtype_bytes
            t.t_bwd, t.t_scatter = t1 - t0, time.perf_counter() - t1
            if t.params and grads:
                replica_grads.setdefault(t.box[1], []).append(grads[gi:gi + 2])
        t_sync = 0.0
        for (c0, c1), reps in replica_grads.items():
            t0 = time.perf_counter()
            gw = torch.stack([r[0] for r in reps]).sum(0)
            gb = torch.stack([r[1] for r in reps]).sum(0)
            t_sync = max(t_sync, time.perf_counter() - t0)
            pgrads[ly.name][0][c0:c1] += gw
            pgrads[ly.name][1][c0:c1] += gb
        layer_time[ly.name] = (max(t.t_gather + t.t_fwd for t in ts) + max(t.t_bwd + t.t_scatter for t in ts)
                               + t_sync)
        task_time[ly.name] = [(t.t_gather + t.t_fwd, t.t_bwd + t.t_scatter) for t in ts]
        sync_time[ly.name] = t_sync
    outputs = {}
    for s in sinks:
        ly = graph.by_name[s]
        o = torch.zeros(ly.out_shape, dtype=x.dtype)
        for box, sh, _ in shards[s]:
            o[_sl(box, [0] * len(box))] = sh
        outputs[s] = o
    return EmulationResult(outputs, pgrads, in_grad, fwd_bytes, bwd_bytes, layer_time, task_time, sync_time)


@dataclass
class CheckResult:
    """Largest absolute differences between emulated and unsplit results."""

    max_out_diff: float
    max_grad_diff: float
    max_input_grad_diff: float
    fwd_bytes: float
    bwd_bytes: float

    def ok(self, tol: float = 1e-9) -> bool:
        return max(self.max_out_diff, self.max_grad_diff, self.max_input_grad_diff) <= tol


def check(graph: Graph, configs: dict[str, list[ParallelConfig]], strategy: dict[str, int],
          seed: int = 0, dtype_bytes: int = 4, threads: int | None = 1) -> CheckResult:
    """Emulate ``strategy`` and compare outputs and all gradients with the unsplit network (float64).

    ``threads``: torch intra-op threads while checking (1 = fast and deterministic for the many tiny
    per-task ops; restored afterwards; None leaves torch's setting alone).
    """
    prev = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _check(graph, configs, strategy, seed, dtype_bytes)
    finally:
        torch.set_num_threads(prev)


def _check(graph, configs, strategy, seed, dtype_bytes) -> CheckResult:
    g = torch.Generator().manual_seed(seed + 1)
    params = init_params(graph, seed)
    x = torch.randn(graph.input_shape, generator=g, dtype=torch.float64)
    grad_out = {s: torch.randn(graph.by_name[s].out_shape, generator=g, dtype=torch.float64)
                for s in _sinks(graph)}
    ref_out, ref_grads, ref_in = reference(graph, params, x, grad_out)
    em = emulate(graph, configs, strategy, params, x, grad_out, dtype_bytes)
    od = max(float((em.outputs[s] - ref_out[s]).abs().max()) for s in ref_out)
    gd = 0.0
    for n, (gw, gb) in ref_grads.items():
        ew, eb = em.param_grads[n]
        gd = max(gd, float((ew - gw).abs().max()), float((eb - gb).abs().max()))
    idf = float((em.input_grad - ref_in).abs().max())
    return CheckResult(od, gd, idf, em.fwd_bytes, em.bwd_bytes)
