"""Real parallel execution of a strategy: one process per device, ``torch.distributed`` between them.

Device ``d`` is rank ``d`` (gloo on CPU; NCCL with one GPU per rank where GPUs exist). Every layer's
output lives as one shard per task, on the rank of the task's device (a rank runs at most one task
per layer). Before a layer runs, each of its tasks needs the region of each input that its output
box reads (conv/pool halos included); the pieces owned by other ranks arrive as point-to-point
messages, posted together with ``batch_isend_irecv`` — so a sample split after a sample split moves
nothing, a spatial split moves halo rows, a channel-split layer after a sample-split one all-gathers
its input, and the reverse moves slices. The backward pass sends every piece's gradient back to the
rank that owns it, where the pieces are summed (a reduce-scatter where several consumers read one
region). Replicated weight shards (every split except the channel split replicates the weights)
sum their gradients with ``all_reduce`` over the replica group, then every replica takes the same
SGD step.

:func:`run_strategies` spawns the processes once and runs several strategies in them (training
steps, timing, bytes sent); :func:`reference_train` is the single-process run they are compared
with (:func:`check_against_reference`). Loss: cross entropy when the network ends in a softmax,
else the linear functional ``sum(out * G)`` with a seeded ``G``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import traceback
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from systems.layerwise.emulate import forward_full, init_params, sinks, task_forward
from systems.layerwise.graph import INPUT, Graph
from systems.layerwise.parallel import ParallelConfig, needed_box, task_boxes

Box = tuple[tuple[int, int], ...]


def _inter(a: Box, b: Box) -> Box | None:
    box = tuple((max(x0, y0), min(x1, y1)) for (x0, x1), (y0, y1) in zip(a, b))
    return None if any(hi <= lo for lo, hi in box) else box


def _sl(box: Box, origin) -> tuple[slice, ...]:
    return tuple(slice(lo - o, hi - o) for (lo, hi), o in zip(box, origin))


def _numel(box: Box) -> int:
    return math.prod(hi - lo for lo, hi in box)


@dataclass(frozen=True)
class Message:
    """One piece of a producer's output that a consumer task on another device reads."""

    layer: str
    """Consumer layer."""
    k: int
    """Input index of the consumer."""
    src: int
    """Rank (device) of the producer task."""
    dst: int
    """Rank of the consumer task."""
    box: Box
    """Region of the producer's output tensor (global coordinates)."""
    tag: int
    """Unique message tag (same on every rank)."""


@dataclass
class Layout:
    """Where every task of every layer runs and which messages each layer's inputs need."""

    graph: Graph
    configs: dict[str, ParallelConfig]
    tasks: dict[str, list[tuple[int, Box]]]
    """Layer -> [(device, output box)] in task order."""
    messages: dict[str, list[Message]]
    """Consumer layer -> messages of its inputs (forward direction)."""
    groups: dict[str, list[tuple[int, ...]]]
    """Layer -> replica groups (devices holding the same weight shard, size >= 2)."""

    @classmethod
    def build(cls, graph: Graph, configs: dict[str, ParallelConfig]) -> "Layout":
        tasks = {ly.name: [(configs[ly.name].offset + i, box)
                           for i, box in enumerate(task_boxes(ly.out_shape, configs[ly.name]))]
                 for ly in graph.layers}
        messages: dict[str, list[Message]] = {}
        tag = 0
        for ly in graph.layers:
            msgs = []
            for dev, box in tasks[ly.name]:
                for k, src in enumerate(ly.inputs):
                    if src == INPUT:
                        continue
                    nb, _ = needed_box(ly, k, box)
                    if nb is None:
                        continue
                    for pdev, pbox in tasks[src]:
                        ib = _inter(pbox, nb)
                        if ib is not None and pdev != dev:
                            msgs.append(Message(ly.name, k, pdev, dev, ib, tag))
                            tag += 1
            messages[ly.name] = msgs
        groups = {}
        for ly in graph.layers:
            cfg = configs[ly.name]
            if ly.n_params() == 0:
                groups[ly.name] = []
                continue
            grid = np.arange(cfg.size).reshape(cfg.degrees) + cfg.offset
            gs = [tuple(sorted(int(d) for d in np.take(grid, ic, axis=1).ravel())) for ic in range(cfg.degrees[1])]
            groups[ly.name] = [g for g in gs if len(g) > 1]
        return cls(graph, configs, tasks, messages, groups)

    def message_bytes(self, dtype_bytes: int = 4) -> float:
        """Forward + backward point-to-point bytes of one step (what the cost model calls t_x bytes)."""
        return 2.0 * dtype_bytes * sum(_numel(m.box) for ms in self.messages.values() for m in ms)


# ----------------------------------------------------------------------------- one rank

@dataclass
class StepTimes:
    """Seconds of one training step on one rank."""

    total: float = 0.0
    compute: float = 0.0
    p2p: float = 0.0
    sync: float = 0.0
    layer_compute: dict[str, float] = field(default_factory=dict)
    """Per layer this rank ran a task of: forward + backward seconds."""


class RankRunner:
    """Runs a :class:`Layout` on one rank: forward, backward, gradient sync, SGD update."""

    def __init__(self, layout: Layout, rank: int, params_full: dict, dtype: torch.dtype, device: str,
                 groups: dict[tuple[int, ...], object]):
        import torch.distributed as dist

        self.dist = dist
        self.L, self.rank, self.dtype, self.device = layout, rank, dtype, device
        self.pg = groups
        self.mine: dict[str, tuple[int, Box]] = {}
        for name, ts in layout.tasks.items():
            for i, (dev, box) in enumerate(ts):
                if dev == rank:
                    self.mine[name] = (i, box)
        # this rank's weight shards (a replica per task)
        self.params: dict[str, list[torch.Tensor]] = {}
        for name, (i, box) in self.mine.items():
            if name in params_full:
                w, b = params_full[name]
                c0, c1 = box[1]
                self.params[name] = [w[c0:c1].to(device=device, dtype=dtype).clone(),
                                     b[c0:c1].to(device=device, dtype=dtype).clone()]
        self.bytes_sent = 0.0

    def _exchange(self, ops_spec) -> float:
        """Post (kind, tensor, peer, tag) point-to-point ops together and wait; returns seconds."""
        if not ops_spec:
            return 0.0
        t0 = time.perf_counter()
        ops = [self.dist.P2POp(self.dist.isend if kind == "send" else self.dist.irecv, t, peer, tag=tag)
               for kind, t, peer, tag in ops_spec]
        for r in self.dist.batch_isend_irecv(ops):
            r.wait()
        return time.perf_counter() - t0

    def step(self, x: torch.Tensor, loss_grad, lr: float, keep: bool = False) -> tuple[StepTimes, dict]:
        """One training step on the global batch ``x`` (each rank reads only the regions it needs).

        ``loss_grad(sink, box, out_shard) -> grad`` gives the loss gradient of a sink shard.
        With ``keep`` the outputs, synced gradients and shards are returned too.
        """
        g, L, rank = self.L.graph, self.L, self.rank
        st = StepTimes()
        t_start = time.perf_counter()
        shard: dict[str, torch.Tensor] = {}
        pieces: dict[str, list] = {}
        outs: dict[str, torch.Tensor] = {}
        # ---------------- forward
        for ly in g.layers:
            mine = self.mine.get(ly.name)
            recv: dict[int, torch.Tensor] = {}
            ops = []
            for m in L.messages[ly.name]:
                if m.dst == rank:
                    recv[m.tag] = torch.empty([hi - lo for lo, hi in m.box], dtype=self.dtype, device=self.device)
                    ops.append(("recv", recv[m.tag], m.src, m.tag))
                elif m.src == rank:
                    pbox = self.mine[ly.inputs[m.k]][1]
                    t = shard[ly.inputs[m.k]][_sl(m.box, [lo for lo, _ in pbox])].contiguous()
                    ops.append(("send", t, m.dst, m.tag))
                    self.bytes_sent += t.numel() * t.element_size()
            st.p2p += self._exchange(ops)
            if mine is None:
                continue
            t0 = time.perf_counter()
            _, box = mine
            ins = []
            for k, src in enumerate(ly.inputs):
                nb, pad = needed_box(ly, k, box)
                if nb is None:
                    ins.append(None)
                    continue
                fill = float("-inf") if (ly.op == "pool2d" and ly.attrs["mode"] == "max") else 0.0
                shape = [hi - lo + p0 + p1 for (lo, hi), (p0, p1) in zip(nb, pad)]
                piece = torch.full(shape, fill, dtype=self.dtype, device=self.device)
                origin = [lo - p0 for (lo, _), (p0, _) in zip(nb, pad)]
                if src == INPUT:
                    piece[_sl(nb, origin)] = x[_sl(nb, [0] * len(nb))].to(device=self.device, dtype=self.dtype)
                else:
                    if src in self.mine:  # the local part of the region
                        pbox = self.mine[src][1]
                        ib = _inter(pbox, nb)
                        if ib is not None:
                            piece[_sl(ib, origin)] = shard[src][_sl(ib, [lo for lo, _ in pbox])]
                    for m in L.messages[ly.name]:
                        if m.dst == rank and m.k == k:
                            piece[_sl(m.box, origin)] = recv[m.tag]
                # the graph input needs no gradient (as in training; the cost model skips it too)
                ins.append((nb, pad, origin, piece if src == INPUT else piece.requires_grad_()))
            ps = [p.requires_grad_() for p in self.params.get(ly.name, [])]
            with torch.enable_grad():
                out = task_forward(ly, [None if e is None else e[3] for e in ins], ps, box)
            pieces[ly.name] = [ins, ps, out]
            shard[ly.name] = out.detach()
            st.compute += time.perf_counter() - t0
            st.layer_compute[ly.name] = time.perf_counter() - t0
        # ---------------- backward
        gshard: dict[str, torch.Tensor] = {n: torch.zeros_like(t) for n, t in shard.items()}
        for s in sinks(g):
            if s in self.mine:
                gshard[s] += loss_grad(s, self.mine[s][1], shard[s])
                if keep:
                    outs[s] = shard[s].clone()
        grads_keep: dict[str, list[torch.Tensor]] = {}
        for ly in reversed(g.layers):
            t0 = time.perf_counter()
            piece_grads: dict[int, torch.Tensor] = {}
            pgrads: list[torch.Tensor] = []
            if ly.name in pieces:
                ins, ps, out = pieces.pop(ly.name)
                wanted = [k for k, e in enumerate(ins) if e is not None and e[3].requires_grad]
                leaves = [ins[k][3] for k in wanted] + ps
                grads = list(torch.autograd.grad(out, leaves, gshard[ly.name], allow_unused=True)) \
                    if out.requires_grad and leaves else [None] * len(leaves)
                for gi, k in enumerate(wanted):
                    piece_grads[k] = grads[gi]
                gi = len(wanted)
                pgrads = [gr if gr is not None else torch.zeros_like(p) for gr, p in zip(grads[gi:], ps)]
                box = self.mine[ly.name][1]
                # local parts go straight into the producers' shard gradients
                for k, src in enumerate(ly.inputs):
                    if src == INPUT or k not in piece_grads or piece_grads[k] is None or src not in self.mine:
                        continue
                    nb, pad, origin, _ = ins[k]
                    pbox = self.mine[src][1]
                    ib = _inter(pbox, nb)
                    if ib is not None:
                        gshard[src][_sl(ib, [lo for lo, _ in pbox])] += piece_grads[k][_sl(ib, origin)]
                origins = {k: e[2] for k, e in enumerate(ins) if e is not None}
                st.layer_compute[ly.name] += time.perf_counter() - t0
            st.compute += time.perf_counter() - t0
            # send piece gradients back to their owners, who accumulate them
            ops, recv = [], {}
            for m in L.messages[ly.name]:
                if m.dst == rank:
                    gp = piece_grads.get(m.k)
                    t = (gp[_sl(m.box, origins[m.k])] if gp is not None else
                         torch.zeros([hi - lo for lo, hi in m.box], dtype=self.dtype, device=self.device))
                    t = t.contiguous()
                    ops.append(("send", t, m.src, m.tag))
                    self.bytes_sent += t.numel() * t.element_size()
                elif m.src == rank:
                    recv[m.tag] = torch.empty([hi - lo for lo, hi in m.box], dtype=self.dtype, device=self.device)
                    ops.append(("recv", recv[m.tag], m.dst, m.tag))
            st.p2p += self._exchange(ops)
            for m in L.messages[ly.name]:
                if m.src == rank:
                    src = ly.inputs[m.k]
                    pbox = self.mine[src][1]
                    gshard[src][_sl(m.box, [lo for lo, _ in pbox])] += recv[m.tag]
            # weight gradients: sum over the replica group, then the SGD step
            if pgrads:
                t0 = time.perf_counter()
                i, box = self.mine[ly.name]
                grp = self._group_of(ly.name)
                if grp is not None:
                    flat = torch.cat([gr.reshape(-1) for gr in pgrads])
                    self.dist.all_reduce(flat, group=self.pg[grp])
                    n0 = 0
                    for j, gr in enumerate(pgrads):
                        pgrads[j] = flat[n0:n0 + gr.numel()].view_as(gr)
                        n0 += gr.numel()
                st.sync += time.perf_counter() - t0
                if keep:
                    grads_keep[ly.name] = [gr.detach().clone() for gr in pgrads]
                with torch.no_grad():
                    for p, gr in zip(self.params[ly.name], pgrads):
                        p.sub_(lr * gr)
                        p.grad = None
        st.total = time.perf_counter() - t_start
        kept = {}
        if keep:
            kept = {"outputs": {s: (self.mine[s][1], o) for s, o in outs.items()},
                    "grads": {n: (self.mine[n][1][1], gs) for n, gs in grads_keep.items()}}
        return st, kept

    def _group_of(self, name: str) -> tuple[int, ...] | None:
        for grp in self.L.groups[name]:
            if self.rank in grp:
                return grp
        return None

    def weights(self) -> dict[str, tuple[tuple[int, int], list[torch.Tensor]]]:
        return {n: (self.mine[n][1][1], [p.detach().clone() for p in ps]) for n, ps in self.params.items()}


# ----------------------------------------------------------------------------- losses and data

def make_batches(graph: Graph, steps: int, seed: int, dtype: torch.dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Seeded (input, labels) per step."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    n_cls = graph.layers[-1].out_shape[1] if graph.layers[-1].rank == 2 else 1
    for _ in range(steps):
        x = torch.randn(graph.input_shape, generator=gen, dtype=torch.float64).to(dtype)
        y = torch.randint(0, n_cls, (graph.batch,), generator=gen)
        out.append((x, y))
    return out


def _functional_weights(graph: Graph, seed: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed + 7)
    return {s: torch.randn(graph.by_name[s].out_shape, generator=gen, dtype=torch.float64).to(dtype)
            for s in sinks(graph)}


def loss_grad_fn(graph: Graph, y: torch.Tensor, G: dict[str, torch.Tensor]):
    """d loss / d (sink shard): cross entropy through a softmax sink (mean over the global batch),
    else the linear functional ``sum(out * G)``."""
    n = graph.batch

    def fn(sink: str, box: Box, out: torch.Tensor) -> torch.Tensor:
        if graph.by_name[sink].op == "softmax":
            (n0, n1), _ = box
            g = torch.zeros_like(out)
            idx = y[n0:n1].to(out.device)
            rows = torch.arange(n1 - n0, device=out.device)
            g[rows, idx] = -1.0 / (n * out[rows, idx])
            return g
        return G[sink][_sl(box, [0] * len(box))].to(device=out.device, dtype=out.dtype)

    return fn


def reference_train(graph: Graph, params: dict, batches, lr: float, seed: int = 0):
    """Single-process training with plain torch: (step-0 outputs, step-0 grads, final params)."""
    ps = {n: (w.clone(), b.clone()) for n, (w, b) in params.items()}
    G = _functional_weights(graph, seed, next(iter(ps.values()))[0].dtype if ps else torch.float64)
    first_out, first_grads = None, None
    for x, y in batches:
        leaves = {n: (w.requires_grad_(), b.requires_grad_()) for n, (w, b) in ps.items()}
        vals = forward_full(graph, leaves, x)
        loss = 0.0
        for s in sinks(graph):
            if graph.by_name[s].op == "softmax":
                loss = loss + F.nll_loss(torch.log(vals[s]), y, reduction="mean")
            else:
                loss = loss + (vals[s] * G[s]).sum()
        flat = [t for pair in leaves.values() for t in pair]
        grads = torch.autograd.grad(loss, flat) if flat else []
        gd = {n: (grads[2 * i], grads[2 * i + 1]) for i, n in enumerate(leaves)}
        if first_out is None:
            first_out = {s: vals[s].detach() for s in sinks(graph)}
            first_grads = gd
        ps = {n: (w.detach() - lr * gd[n][0], b.detach() - lr * gd[n][1]) for n, (w, b) in leaves.items()}
    return first_out, first_grads, ps


# ----------------------------------------------------------------------------- processes

@dataclass
class Job:
    """What every rank runs: strategies (layer -> config), training steps, timing repeats."""

    graph: Graph
    strategies: dict[str, dict[str, ParallelConfig]]
    steps: int = 2
    """Training steps whose results are compared with single-process training."""
    timing_steps: int = 0
    """Timed steps per strategy after one warm-up step each, interleaved round-robin over the
    strategies (same batch, lr 0); 0 = no timing."""
    lr: float = 0.05
    seed: int = 0
    dtype: str = "float64"
    link_probe: bool = False
    """Also measure point-to-point bandwidth and latency between ranks 0 and 1 (ping-pong) and the
    median time of an all-rank barrier."""


@dataclass
class RankResult:
    rank: int
    per_strategy: dict[str, dict] = field(default_factory=dict)
    link: dict[str, float] = field(default_factory=dict)
    error: str = ""


def _to_np(obj):
    """Tensors -> numpy arrays (results cross process boundaries as pickles)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {k: _to_np(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_np(v) for v in obj)
    return obj


def _probe_link(dist, rank: int, dtype, device: str) -> dict[str, float]:
    """Ping-pong between ranks 0 and 1 (after a warm-up): latency = one-way time of a 1 KB message,
    bandwidth = slope between 512 KB and 4 MB messages; best of 7 round trips each."""
    sizes = [256, 131072, 1048576]
    times = []
    for n in [256] + sizes:  # the first size warms the connection up
        t = torch.zeros(n, dtype=torch.float32, device=device)
        best = float("inf")
        for _ in range(7):
            dist.barrier()
            t0 = time.perf_counter()
            if rank == 0:
                dist.send(t, 1)
                dist.recv(t, 1)
            elif rank == 1:
                dist.recv(t, 0)
                dist.send(t, 0)
            best = min(best, (time.perf_counter() - t0) / 2)
        times.append(best)
    times = times[1:]
    b = [4.0 * n for n in sizes]
    bw = (b[2] - b[1]) / max(times[2] - times[1], 1e-9)
    return {"latency_s": float(times[0]), "bw": float(bw), "sizes": sizes, "times": [float(t) for t in times]}


def _worker(rank: int, world: int, init: str, backend: str, job: Job) -> RankResult:
    res = RankResult(rank)
    try:
        import datetime

        import torch.distributed as dist

        torch.set_num_threads(1)
        dist.init_process_group(backend, init_method=init, rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=300))
        device = f"cuda:{rank}" if backend == "nccl" else "cpu"
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dtype = getattr(torch, job.dtype)
        layouts = {name: Layout.build(job.graph, cfgs) for name, cfgs in job.strategies.items()}
        all_groups = sorted({grp for lay in layouts.values() for gs in lay.groups.values() for grp in gs})
        pgs = {grp: dist.new_group(ranks=list(grp)) for grp in all_groups}  # every rank, same order
        dist.barrier()
        if job.link_probe and world >= 2:
            res.link = _probe_link(dist, rank, dtype, device)
            ts = []
            for _ in range(21):  # an empty synchronisation of all ranks (what every collective waits for)
                t0 = time.perf_counter()
                dist.barrier()
                ts.append(time.perf_counter() - t0)
            res.link["barrier_s"] = float(np.median(ts))
        params = {n: (w.to(dtype), b.to(dtype)) for n, (w, b) in init_params(job.graph, job.seed).items()}
        G = _functional_weights(job.graph, job.seed, dtype)
        batches = make_batches(job.graph, max(job.steps, 1), job.seed + 1, dtype)
        runners = {}
        for name, lay in layouts.items():
            runner = RankRunner(lay, rank, params, dtype, device, pgs)
            out: dict = {}
            for s, (x, y) in enumerate(batches[:job.steps]):
                st, kept = runner.step(x, loss_grad_fn(job.graph, y, G), job.lr, keep=(s == 0))
                if s == 0:
                    out.update(kept)
            out["weights"] = runner.weights()
            out["bytes_sent_train"] = runner.bytes_sent
            res.per_strategy[name] = _to_np(out)
            runners[name] = runner
            dist.barrier()
        if job.timing_steps:
            # timed steps interleaved round-robin over the strategies, so that load changes on a shared
            # host hit all strategies alike; lr = 0 keeps the weights fixed
            x, y = batches[0]
            lg = loss_grad_fn(job.graph, y, G)
            times: dict[str, list] = {name: [] for name in runners}
            for name, runner in runners.items():
                runner.step(x, lg, 0.0)  # warm-up
            for _ in range(job.timing_steps):
                for name, runner in runners.items():
                    dist.barrier()
                    t0, c0 = time.perf_counter(), time.process_time()
                    st, _ = runner.step(x, lg, 0.0)
                    dist.barrier()
                    times[name].append({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                                        "compute": st.compute, "p2p": st.p2p, "sync": st.sync,
                                        "layers": st.layer_compute})
            for name in runners:
                res.per_strategy[name]["times"] = times[name]
        dist.destroy_process_group()
    except Exception:  # noqa: BLE001 - reported to the parent with the traceback
        res.error = traceback.format_exc()
    return res


class DistributedError(RuntimeError):
    """A rank failed (the message carries its traceback)."""


def run_strategies(job: Job, world: int, backend: str | None = None, timeout_s: float = 600.0) -> list[RankResult]:
    """Start ``world`` processes (``python -m systems.layerwise.distributed``), run ``job`` in them and
    return each rank's result in rank order. Ranks rendezvous through a file; the job and the results
    travel as pickles in a temporary directory (no ``__main__`` guard needed by the caller)."""
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and torch.cuda.device_count() >= world else "gloo"
    for name, cfgs in job.strategies.items():
        for ly, c in cfgs.items():
            if c.offset + c.size > world:
                raise ValueError(f"strategy {name!r}: layer {ly!r} uses devices {c.devices()} but world size is {world}")
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="layerwise-dist-") as tmp:
        jp = os.path.join(tmp, "job.pkl")
        with open(jp, "wb") as f:
            pickle.dump(job, f)
        init = "file://" + os.path.join(tmp, "rendezvous")
        outs = [os.path.join(tmp, f"rank{r}.pkl") for r in range(world)]
        procs = [subprocess.Popen([sys.executable, "-m", "systems.layerwise.distributed", jp, str(r), str(world),
                                   init, backend, outs[r]], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for r in range(world)]
        logs = []
        try:
            for p in procs:
                try:
                    out, _ = p.communicate(timeout=max(1.0, timeout_s))
                except subprocess.TimeoutExpired:
                    raise DistributedError(f"a rank did not finish within {timeout_s:.0f}s") from None
                logs.append(out.decode(errors="replace")[-4000:])
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        results = []
        for r, path in enumerate(outs):
            if not os.path.exists(path):
                raise DistributedError(f"rank {r} exited with code {procs[r].returncode} and no result:\n{logs[r]}")
            with open(path, "rb") as f:
                results.append(pickle.load(f))
    errs = [r for r in results if r.error]
    if errs:
        raise DistributedError(f"rank {errs[0].rank} failed:\n{errs[0].error}")
    return results


def _main(argv: list[str]) -> None:
    import pickle

    jp, rank, world, init, backend, out = argv
    with open(jp, "rb") as f:
        job = pickle.load(f)
    res = _worker(int(rank), int(world), init, backend, job)
    with open(out, "wb") as f:
        pickle.dump(res, f)


# ----------------------------------------------------------------------------- checking and timing

@dataclass
class Comparison:
    """Largest absolute differences to single-process training, per strategy."""

    max_out_diff: float
    max_grad_diff: float
    max_weight_diff: float
    bytes_sent_train: float

    def ok(self, tol: float) -> bool:
        return max(self.max_out_diff, self.max_grad_diff, self.max_weight_diff) <= tol


def check_against_reference(job: Job, results: list[RankResult]) -> dict[str, Comparison]:
    """Assemble every strategy's step-0 outputs and gradients and its final weights from the ranks and
    compare them with :func:`reference_train` (same data, same initial weights, same steps)."""
    dtype = getattr(torch, job.dtype)
    params = {n: (w.to(dtype), b.to(dtype)) for n, (w, b) in init_params(job.graph, job.seed).items()}
    batches = make_batches(job.graph, max(job.steps, 1), job.seed + 1, dtype)[:job.steps]
    ref_out, ref_grads, ref_w = reference_train(job.graph, params, batches, job.lr, job.seed)
    out: dict[str, Comparison] = {}
    for name in job.strategies:
        od = gd = wd = 0.0
        covered_out = {s: np.zeros(ref_out[s].shape, dtype=bool) for s in ref_out}
        covered_w = {n: np.zeros(w.shape[0], dtype=bool) for n, (w, _) in ref_w.items()}
        sent = 0.0
        for r in results:
            d = r.per_strategy[name]
            sent += d["bytes_sent_train"]
            for s, (box, o) in d.get("outputs", {}).items():
                ref = ref_out[s].numpy()[_sl(box, [0] * len(box))]
                od = max(od, float(np.abs(o - ref).max()))
                covered_out[s][_sl(box, [0] * len(box))] = True
            for n, ((c0, c1), gs) in d.get("grads", {}).items():
                gd = max(gd, float(np.abs(gs[0] - ref_grads[n][0].numpy()[c0:c1]).max()),
                         float(np.abs(gs[1] - ref_grads[n][1].numpy()[c0:c1]).max()))
            for n, ((c0, c1), ws) in d["weights"].items():
                wd = max(wd, float(np.abs(ws[0] - ref_w[n][0].numpy()[c0:c1]).max()),
                         float(np.abs(ws[1] - ref_w[n][1].numpy()[c0:c1]).max()))
                covered_w[n][c0:c1] = True
        missing = [s for s, c in covered_out.items() if not c.all()] + [n for n, c in covered_w.items() if not c.all()]
        if missing:
            raise DistributedError(f"strategy {name!r}: no rank returned all of {missing}")
        out[name] = Comparison(od, gd, wd, sent)
    return out


def measured_step(results: list[RankResult], name: str) -> dict[str, float]:
    """Step time of a strategy: per timed step the slowest rank's wall time; median and spread over
    steps; the busiest rank's compute seconds, the ranks' mean p2p / sync seconds (waiting included)
    and mean process CPU seconds (medians over steps)."""
    per_step = list(zip(*[r.per_strategy[name]["times"] for r in results]))
    walls = sorted(max(t["wall"] for t in step) for step in per_step)
    med = walls[len(walls) // 2]

    def per_rank(key):
        return [float(np.median([t[key] for t in r.per_strategy[name]["times"]])) for r in results]

    return {"step_s": med, "min_s": walls[0], "max_s": walls[-1], "compute_s": max(per_rank("compute")),
            "p2p_s": float(np.mean(per_rank("p2p"))), "sync_s": float(np.mean(per_rank("sync"))),
            "cpu_s": float(np.mean(per_rank("cpu")))}


if __name__ == "__main__":
    import sys

    from systems.layerwise import distributed as _module  # pickles must name the module, not __main__

    _module._main(sys.argv[1:])
