"""The cost model: t_o = sum_i [t_c(l_i, c_i) + t_s(l_i, c_i)] + sum_(i,j) t_x(e_ij, c_i, c_j).

* **t_c** — forward+backward time of one task (all tasks of a configuration have the same shape, so
  one task per configuration suffices). ``analytic``: a roofline ``max(FLOPs / flops, bytes /
  mem_bw) + kernels * overhead``; ``profiled``: torch fwd+bwd of the exact sub-shape on the local
  device, median of repeats, cached per sub-shape.
* **t_x** — for every producer task s and consumer task t on different devices, the overlap of the
  region s owns and the region t reads (conv/pool halos included) times the element size over the
  pair's bandwidth (intra- or inter-node) plus a per-message latency. ``parallel`` mode (default)
  takes the busiest device's inbound or outbound traffic (links run concurrently); ``sum`` adds all
  pairs up (the paper's literal formula). Backward gradient transfers double it (configurable).
* **t_s** — parameter synchronisation per weight shard (the channel split shards the weights; the
  other splits replicate them): parameter-server style ``W*(replicas_in_node-1)/bw_intra +
  W*(nodes-1)/bw_inter`` as in the paper's code, or ring all-reduce ``2(r-1)/r*W/bw``.

Everything is tabulated once per (graph, P): node cost vectors and one ``(C_producer, C_consumer)``
table per edge, which the searches share. All numbers are *simulated* predictions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from systems.layerwise.config import CostConfig, DeviceSpec, SearchConfig
from systems.layerwise.graph import Graph, Layer
from systems.layerwise.parallel import ParallelConfig, enumerate_configs, needed_box, task_boxes


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def sub_shape(layer: Layer, cfg: ParallelConfig) -> tuple[int, ...]:
    """Output shape of one task."""
    return tuple(s // d for s, d in zip(layer.out_shape, cfg.degrees))


def task_work(layer: Layer, cfg: ParallelConfig, dtype_bytes: int = 4) -> tuple[float, float, int]:
    """(FLOPs, bytes of device memory traffic, kernels) of one task's forward + backward."""
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
        flops = 3 * 2.0 * o * ci * kh * kw
        return flops, dtype_bytes * 3.0 * (inp + o + w), 3
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


class TorchProfiler:
    """Profiles t_c with torch: forward+backward of one task's sub-shape, median of repeats, cached."""

    def __init__(self, repeats: int = 5, warmup: int = 1, device: str = "cpu"):
        self.repeats, self.warmup, self.device = repeats, warmup, device
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

        boxes = task_boxes(layer.out_shape, cfg)
        box = boxes[0]
        dev = self.device
        gen = torch.Generator().manual_seed(0)
        xs = []
        for k in range(len(layer.inputs)):
            nb, pad = needed_box(layer, k, box)
            if nb is None:
                xs.append(None)
                continue
            shape = [hi - lo + p0 + p1 for (lo, hi), (p0, p1) in zip(nb, pad)]
            xs.append(torch.randn(shape, generator=gen).to(dev).requires_grad_())
        params = []
        if layer.op in ("conv2d", "linear"):
            c0, c1 = box[1]
            ci = layer.in_shapes[0][1]
            if layer.op == "conv2d":
                kh, kw = layer.attrs["kernel"]
                wshape = (c1 - c0, ci, kh, kw)
            else:
                wshape = (c1 - c0, _prod(layer.in_shapes[0][1:]))
            params = [torch.randn(wshape, generator=gen).to(dev).requires_grad_(),
                      torch.randn(c1 - c0, generator=gen).to(dev).requires_grad_()]
        grad = torch.randn([hi - lo for lo, hi in box], generator=gen).to(dev)
        leaves = [x for x in xs if x is not None] + params
        sync = torch.cuda.synchronize if dev.startswith("cuda") else None

        def step():
            out = task_forward(layer, xs, params, box, padded=True)
            if leaves and out.requires_grad:
                torch.autograd.grad(out, leaves, grad, allow_unused=True)

        return median_time(step, repeats=self.repeats, warmup=self.warmup, sync=sync)


@dataclass
class _TaskArrays:
    lo: np.ndarray
    hi: np.ndarray
    dev: np.ndarray
    seg: np.ndarray


@dataclass
class Breakdown:
    """Cost of one strategy, split into its parts (seconds and bytes, simulated)."""

    total_s: float
    compute_s: float
    sync_s: float
    transfer_s: float
    sync_bytes: float
    transfer_bytes: float
    per_layer: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def comm_bytes(self) -> float:
        return self.sync_bytes + self.transfer_bytes


class CostModel:
    """Tabulated costs of every layer configuration and every edge configuration pair."""

    def __init__(self, graph: Graph, devices: int, spec: DeviceSpec, cost: CostConfig | None = None,
                 search: SearchConfig | None = None, profiler: TorchProfiler | None = None,
                 configs: dict[str, list[ParallelConfig]] | None = None):
        self.graph, self.P, self.spec = graph, devices, spec
        self.cfg = cost or CostConfig()
        self.search_cfg = search or SearchConfig()
        if devices > spec.max_devices:
            raise ValueError(f"{devices} devices requested but cluster {spec.name!r} has "
                             f"{spec.max_devices} ({spec.max_nodes} nodes x {spec.gpus_per_node})")
        if self.cfg.compute == "profiled" and profiler is None:
            profiler = TorchProfiler(self.cfg.profile_repeats, self.cfg.profile_warmup)
        self.profiler = profiler
        t0, c0 = time.perf_counter(), time.process_time()
        self.configs = configs or {ly.name: enumerate_configs(ly, devices, self.search_cfg.offsets)
                                   for ly in graph.layers}
        devs = np.arange(devices)
        node = devs // spec.gpus_per_node
        same_node = node[:, None] == node[None, :]
        self.inv_bw = np.where(same_node, 1.0 / spec.bw_intra, 1.0 / spec.bw_inter)
        self.lat = np.where(same_node, spec.latency_intra, spec.latency_inter)
        np.fill_diagonal(self.inv_bw, 0.0)
        np.fill_diagonal(self.lat, 0.0)
        self.t_c: dict[str, np.ndarray] = {}
        self.t_s: dict[str, np.ndarray] = {}
        self.s_bytes: dict[str, np.ndarray] = {}
        for ly in graph.layers:
            cs = self.configs[ly.name]
            self.t_c[ly.name] = np.array([self.compute_time(ly, c) for c in cs])
            ts, sb = zip(*(self.sync_cost(ly, c) for c in cs))
            self.t_s[ly.name], self.s_bytes[ly.name] = np.array(ts), np.array(sb)
        self.node_cost = {n: self.t_c[n] + self.t_s[n] for n in self.t_c}
        self._own = {ly.name: self._owned(ly) for ly in graph.layers}
        self.edges: list[tuple[str, str, int]] = graph.edges()
        self.x_time: dict[tuple[str, str, int], np.ndarray] = {}
        self.x_bytes: dict[tuple[str, str, int], np.ndarray] = {}
        self._edge_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        for e in self.edges:
            self.x_time[e], self.x_bytes[e] = self._edge_tables(*e)
        self.build_s = time.perf_counter() - t0
        self.build_cpu_s = time.process_time() - c0
        """Wall and CPU seconds spent tabulating (CPU time is robust to a shared host)."""

    # ------------------------------------------------------------------ per-node costs
    def compute_time(self, layer: Layer, cfg: ParallelConfig) -> float:
        """t_c of one task (= of the layer, tasks run concurrently)."""
        if self.cfg.compute == "profiled":
            return self.profiler.time(layer, cfg)
        flops, nbytes, kernels = task_work(layer, cfg, self.cfg.dtype_bytes)
        return max(flops / self.spec.flops, nbytes / self.spec.mem_bw) + kernels * self.spec.kernel_overhead_s

    def sync_cost(self, layer: Layer, cfg: ParallelConfig) -> tuple[float, float]:
        """(t_s seconds, bytes moved) to synchronise the layer's parameter gradients."""
        n_params = layer.n_params()
        if n_params == 0 or cfg.size == 1:
            return 0.0, 0.0
        dc = cfg.degrees[1]
        shard = n_params / dc * self.cfg.dtype_bytes
        grid = np.arange(cfg.size).reshape(cfg.degrees) + cfg.offset
        g = self.spec.gpus_per_node
        worst, total = 0.0, 0.0
        for ic in range(dc):
            devs = np.take(grid, ic, axis=1).ravel()
            r = devs.size
            if r == 1:
                continue
            per_node = np.bincount(devs // g)
            per_node = per_node[per_node > 0]
            nodes = per_node.size
            if self.cfg.sync == "ps":
                t = (shard * (per_node.max() - 1) / self.spec.bw_intra + shard * (nodes - 1) / self.spec.bw_inter
                     + (per_node.max() - 1) * self.spec.latency_intra + (nodes - 1) * self.spec.latency_inter)
            else:
                bw, lat = ((self.spec.bw_inter, self.spec.latency_inter) if nodes > 1
                           else (self.spec.bw_intra, self.spec.latency_intra))
                t = 2.0 * (r - 1) / r * shard / bw + 2 * (r - 1) * lat
            worst = max(worst, t)
            total += 2.0 * (r - 1) * shard
        return worst, total

    # ------------------------------------------------------------------ per-edge costs
    def _owned(self, layer: Layer) -> _TaskArrays:
        lo, hi, dev, seg = [], [], [], []
        for c in self.configs[layer.name]:
            seg.append(len(dev))
            for i, box in enumerate(task_boxes(layer.out_shape, c)):
                lo.append([b[0] for b in box]); hi.append([b[1] for b in box]); dev.append(c.offset + i)
        return _TaskArrays(np.array(lo), np.array(hi), np.array(dev), np.array(seg))

    def _needed(self, layer: Layer, k: int) -> _TaskArrays:
        lo, hi, dev, seg = [], [], [], []
        r = len(layer.in_shapes[k])
        for c in self.configs[layer.name]:
            seg.append(len(dev))
            for i, box in enumerate(task_boxes(layer.out_shape, c)):
                nb, _ = needed_box(layer, k, box)
                if nb is None:
                    lo.append([0] * r); hi.append([0] * r)
                else:
                    lo.append([b[0] for b in nb]); hi.append([b[1] for b in nb])
                dev.append(c.offset + i)
        return _TaskArrays(np.array(lo), np.array(hi), np.array(dev), np.array(seg))

    def _edge_key(self, prod: str, cons: str, k: int) -> tuple:
        """Edges with equal keys have equal tables (same producer configs, same consumer access)."""
        pl, cl = self.graph.by_name[prod], self.graph.by_name[cons]
        pk = (pl.out_shape, tuple(self.configs[prod]))
        attrs = tuple(sorted((a, v) for a, v in cl.attrs.items() if a not in ("relu", "out_channels",
                                                                              "out_features")))
        if cl.op == "concat":
            ck = (cl.op, cl.out_shape, sum(s[1] for s in cl.in_shapes[:k]))
        elif cl.op in ("conv2d", "linear"):
            ck = (cl.op, attrs, (cl.out_shape[0], *cl.out_shape[2:]))  # reads all input channels
        else:
            ck = (cl.op, attrs, cl.out_shape)
        return pk, ck, tuple((c.degrees, c.offset) for c in self.configs[cons])

    def _edge_tables(self, prod: str, cons: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        key = self._edge_key(prod, cons, k)
        hit = self._edge_cache.get(key)
        if hit is None:
            hit = self._edge_cache[key] = self._compute_edge(prod, cons, k)
        return hit

    def _compute_edge(self, prod: str, cons: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        p = self._own[prod]
        c = self._needed(self.graph.by_name[cons], k)
        vol = None
        for d in range(p.lo.shape[1]):
            ov = np.minimum(p.hi[:, d, None], c.hi[None, :, d])
            ov -= np.maximum(p.lo[:, d, None], c.lo[None, :, d])
            np.maximum(ov, 0, out=ov)
            if vol is None:
                vol = ov.astype(np.float64)
            else:
                vol *= ov
        vol[p.dev[:, None] == c.dev[None, :]] = 0.0
        nbytes = vol
        nbytes *= self.cfg.dtype_bytes
        pair_t = nbytes * self.inv_bw[np.ix_(p.dev, c.dev)]
        pair_t += self.lat[np.ix_(p.dev, c.dev)] * (nbytes > 0)
        tot_bytes = np.add.reduceat(np.add.reduceat(nbytes, p.seg, axis=0), c.seg, axis=1)
        if self.cfg.transfer == "sum":
            t = np.add.reduceat(np.add.reduceat(pair_t, p.seg, axis=0), c.seg, axis=1)
        else:
            inbound = np.maximum.reduceat(np.add.reduceat(pair_t, p.seg, axis=0), c.seg, axis=1)
            outbound = np.maximum.reduceat(np.add.reduceat(pair_t, c.seg, axis=1), p.seg, axis=0)
            t = np.maximum(inbound, outbound)
        f = 2.0 if self.cfg.backward_transfers else 1.0
        return t * f, tot_bytes * f

    # ------------------------------------------------------------------ strategies
    def n_configs(self) -> int:
        return sum(len(v) for v in self.configs.values())

    def log10_space(self) -> float:
        return float(sum(np.log10(len(v)) for v in self.configs.values()))

    def total(self, strategy: dict[str, int]) -> float:
        """Predicted step time (s) of a strategy (layer name → configuration index)."""
        t = sum(float(self.node_cost[n][c]) for n, c in strategy.items())
        t += sum(float(self.x_time[e][strategy[e[0]], strategy[e[1]]]) for e in self.edges)
        return t

    def breakdown(self, strategy: dict[str, int]) -> Breakdown:
        missing = [ly.name for ly in self.graph.layers if ly.name not in strategy]
        if missing:
            raise ValueError(f"strategy has no configuration for layer(s) {missing}")
        per: dict[str, dict[str, float]] = {}
        for ly in self.graph.layers:
            c = strategy[ly.name]
            per[ly.name] = {"compute_s": float(self.t_c[ly.name][c]), "sync_s": float(self.t_s[ly.name][c]),
                            "sync_bytes": float(self.s_bytes[ly.name][c]), "transfer_s": 0.0,
                            "transfer_bytes": 0.0}
        for e in self.edges:
            a, b = strategy[e[0]], strategy[e[1]]
            per[e[1]]["transfer_s"] += float(self.x_time[e][a, b])
            per[e[1]]["transfer_bytes"] += float(self.x_bytes[e][a, b])
        sums = {k: sum(v[k] for v in per.values()) for k in
                ("compute_s", "sync_s", "transfer_s", "sync_bytes", "transfer_bytes")}
        return Breakdown(total_s=sums["compute_s"] + sums["sync_s"] + sums["transfer_s"], per_layer=per, **sums)

    def strategy_json(self, strategy: dict[str, int]) -> dict[str, dict]:
        """Layer → {degrees, devices} (the ``strategy.json`` artifact)."""
        return {ly.name: self.configs[ly.name][strategy[ly.name]].to_json() for ly in self.graph.layers}
