"""The cost model: t_o = sum_i [t_c(l_i, c_i) + t_s(l_i, c_i)] + sum_(i,j) t_x(e_ij, c_i, c_j).

* **t_c** — forward + backward (+ weight-shard update) time of one task, from
  :mod:`systems.layerwise.compute`: ``calibrated`` per-op-class model (default), ``roofline``, or
  ``profiled`` (torch / cuDNN). On a testbed with fewer compute slots than devices
  (``DeviceSpec.compute_slots``) a layer's ``d`` tasks take ``ceil(d / slots)`` rounds.
* **t_x** — for every producer task s and consumer task t on different devices, the overlap of the
  region s owns and the region t reads (conv/pool halos included) times the element size. Inside a
  node every device pair has its own link; between nodes all traffic of a node goes through its ONE
  NIC. ``sum`` (default, the paper's formula) adds ``bytes / bandwidth + latency`` over all pairs;
  ``parallel`` lets transfers run concurrently: the busiest resource — one intra-node pair link, or
  one node's NIC egress or ingress — sets the time, plus the largest per-device message latency.
  Backward gradient transfers double it (configurable).
* **t_s** — parameter synchronisation per weight shard (the channel split shards the weights; the
  other splits replicate them), all shards of a layer at once, on the same topology: ``ps`` as in
  the paper's code (``W*(replicas_in_node-1)/bw_intra`` inside nodes, then each node sends its
  partial sum to the others, ``W*(nodes-1)`` through its NIC — summed over the shards that share the
  NIC), or ``ring`` all-reduce (``2(r-1)/r*W`` per hop; hops crossing nodes load the NICs).

Everything is tabulated once per (graph, P): node cost vectors and one ``(C_producer, C_consumer)``
table per edge, which the searches share. All numbers are *simulated* predictions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from systems.layerwise.compute import (COMPUTE_MODES, TorchProfiler, layer_time, roofline_time,  # noqa: F401
                                       sub_shape, task_work)
from systems.layerwise.config import CostConfig, SearchConfig
from systems.layerwise.graph import Graph, Layer
from systems.layerwise.hardware import DeviceSpec
from systems.layerwise.parallel import ParallelConfig, enumerate_configs, needed_box, task_boxes


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
        if self.cfg.compute not in COMPUTE_MODES:
            raise ValueError(f"unknown compute mode {self.cfg.compute!r}; valid: {', '.join(COMPUTE_MODES)}")
        if self.cfg.transfer not in ("sum", "parallel"):
            raise ValueError(f"unknown transfer mode {self.cfg.transfer!r}; valid: sum, parallel")
        if self.cfg.sync not in ("ps", "ring"):
            raise ValueError(f"unknown sync mode {self.cfg.sync!r}; valid: ps, ring")
        if self.cfg.compute == "profiled" and profiler is None:
            profiler = TorchProfiler(self.cfg.profile_repeats, self.cfg.profile_warmup)
        self.profiler = profiler
        t0, c0 = time.perf_counter(), time.process_time()
        self.configs = configs or {ly.name: enumerate_configs(ly, devices, self.search_cfg.offsets)
                                   for ly in graph.layers}
        devs = np.arange(devices)
        node = devs // spec.gpus_per_node
        self.node_of = node
        self.n_nodes = int(node.max()) + 1
        same_node = node[:, None] == node[None, :]
        self.inv_bw = np.where(same_node, 1.0 / spec.bw_intra, 1.0 / spec.bw_nic)
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
        """t_c of one task (= of the layer: its tasks run concurrently, up to ``compute_slots``)."""
        if self.cfg.compute == "profiled":
            t = self.profiler.time(layer, cfg)
        elif self.cfg.compute == "roofline":
            t = roofline_time(layer, cfg, self.spec, self.cfg.dtype_bytes)
        else:
            t = layer_time(layer, cfg, self.spec, self.cfg.dtype_bytes)
        slots = self.spec.compute_slots
        return t * math.ceil(cfg.size / slots) if slots else t

    def sync_groups(self, cfg: ParallelConfig) -> list[list[int]]:
        """Devices holding a replica of each weight shard (one group per channel slice, size >= 2)."""
        grid = np.arange(cfg.size).reshape(cfg.degrees) + cfg.offset
        groups = [sorted(int(d) for d in np.take(grid, ic, axis=1).ravel()) for ic in range(cfg.degrees[1])]
        return [g for g in groups if len(g) > 1]

    def sync_cost(self, layer: Layer, cfg: ParallelConfig) -> tuple[float, float]:
        """(t_s seconds, bytes moved) to synchronise the layer's parameter gradients."""
        n_params = layer.n_params()
        groups = self.sync_groups(cfg) if n_params else []
        if not groups:
            return 0.0, 0.0
        sp = self.spec
        shard = n_params / cfg.degrees[1] * self.cfg.dtype_bytes
        g = sp.gpus_per_node
        egress = np.zeros(self.n_nodes)
        ingress = np.zeros(self.n_nodes)
        total = 0.0
        if self.cfg.sync == "ps":
            intra_t, lat_t = 0.0, 0.0
            for devs in groups:
                nodes, counts = np.unique(np.array(devs) // g, return_counts=True)
                m, n = int(counts.max()), len(nodes)
                intra_t = max(intra_t, shard * (m - 1) / sp.bw_intra + (m - 1) * sp.latency_intra)
                egress[nodes] += shard * (n - 1)
                lat_t = max(lat_t, (n - 1) * sp.latency_inter)
                total += 2.0 * shard * float((counts - 1).sum()) + shard * n * (n - 1)
            return intra_t + float(egress.max()) / sp.bw_nic + lat_t, total
        pair: dict[tuple[int, int], float] = {}
        lat_t = 0.0
        for devs in groups:
            r = len(devs)
            v = 2.0 * (r - 1) / r * shard
            cross = False
            for a, b in zip(devs, devs[1:] + devs[:1]):
                if a // g == b // g:
                    pair[(a, b)] = pair.get((a, b), 0.0) + v
                else:
                    egress[a // g] += v
                    ingress[b // g] += v
                    cross = True
            lat_t = max(lat_t, 2 * (r - 1) * (sp.latency_inter if cross else sp.latency_intra))
            total += r * v
        t = max(max(pair.values(), default=0.0) / sp.bw_intra, float(max(egress.max(), ingress.max())) / sp.bw_nic)
        return t + lat_t, total

    def min_compute_s(self) -> float:
        """The smallest possible compute term: every layer at its fastest configuration. No strategy's
        step can be shorter, so ``best_baseline_step / min_compute_s`` bounds any speedup (the ceiling)."""
        return float(sum(float(v.min()) for v in self.t_c.values()))

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
        f = 2.0 if self.cfg.backward_transfers else 1.0
        tot_bytes = np.add.reduceat(np.add.reduceat(vol, p.seg, axis=0), c.seg, axis=1) * self.cfg.dtype_bytes
        nbytes = vol * self.cfg.dtype_bytes
        lat = self.lat[np.ix_(p.dev, c.dev)] * (nbytes > 0)
        if self.cfg.transfer == "sum":
            pair_t = nbytes * self.inv_bw[np.ix_(p.dev, c.dev)] + lat
            t = np.add.reduceat(np.add.reduceat(pair_t, p.seg, axis=0), c.seg, axis=1)
            return t * f, tot_bytes * f
        # parallel: within one (producer config, consumer config) pair every task pair is a distinct
        # device pair, so the busiest intra-node link is the largest intra-node task-pair volume
        sp = self.spec
        np_, nc_ = self.node_of[p.dev], self.node_of[c.dev]
        intra = np_[:, None] == nc_[None, :]
        inter_b = np.where(intra, 0.0, nbytes)
        link = np.maximum.reduceat(np.maximum.reduceat(nbytes - inter_b, p.seg, axis=0), c.seg, axis=1)
        t = link / sp.bw_intra
        if self.n_nodes > 1:
            out_rows = np.add.reduceat(inter_b, c.seg, axis=1)          # (producer task, consumer config)
            in_cols = np.add.reduceat(inter_b, p.seg, axis=0)           # (producer config, consumer task)
            for k in range(self.n_nodes):
                eg = np.add.reduceat(out_rows * (np_ == k)[:, None], p.seg, axis=0)
                ig = np.add.reduceat(in_cols * (nc_ == k)[None, :], c.seg, axis=1)
                np.maximum(t, np.maximum(eg, ig) / sp.bw_nic, out=t)
        # latency: the producer device that sends the most messages (tasks of a config = distinct devices)
        t += np.maximum.reduceat(np.add.reduceat(lat, c.seg, axis=1), p.seg, axis=0)
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
