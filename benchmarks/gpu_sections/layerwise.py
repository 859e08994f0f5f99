"""GPU section of layerwise: cuDNN-profiled per-layer compute fed into the cost model.

1. One device, several batch sizes: the sum of the per-layer profiled times (forward + backward + SGD
   update of each layer, cuDNN autotuned, fp32 with TF32 off) against an end-to-end training step of
   the whole network — how additive per-layer profiling is — and against the calibrated model.
2. Partitionings: every configuration (sub-shape) of every layer at P devices is profiled on this
   GPU and fed into the cost model (``compute="profiled"``) with the ``h100_8`` network description
   (2 nodes x 8, NVLink pairs, one shared NIC per node); DP / MP / OWT / layer-wise / MCMC are
   re-evaluated, with the ceiling (best baseline / minimum profiled compute) recomputed.

Only stdlib, numpy, torch and ``systems.*`` are imported. ``ctx.tiny`` runs toy networks on the CPU
in seconds (same code paths).
"""

from __future__ import annotations

import time

TITLE = "Layer-wise parallelism: cuDNN-profiled per-layer compute in the cost model"
BUDGET_S = 90


class _OutOfTime(RuntimeError):
    pass


def _end_to_end(graph, device: str, repeats: int) -> float:
    """Median seconds of one full training step (forward, backward, SGD) of the unsplit network."""
    import torch
    import torch.nn.functional as F

    from systems.core import median_time
    from systems.layerwise.emulate import forward_full, init_params

    params = {n: (w.float().to(device).requires_grad_(), b.float().to(device).requires_grad_())
              for n, (w, b) in init_params(graph).items()}
    x = torch.randn(graph.input_shape, device=device)
    y = torch.randint(0, graph.layers[-1].out_shape[1], (graph.batch,), device=device)
    flat = [t for pair in params.values() for t in pair]

    def step():
        out = forward_full(graph, params, x)[graph.layers[-1].name]
        loss = F.nll_loss(torch.log(out + 1e-12), y)
        grads = torch.autograd.grad(loss, flat)
        with torch.no_grad():
            for p, g in zip(flat, grads):
                p.sub_(1e-6 * g)

    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    return median_time(step, repeats=repeats, warmup=1, sync=sync)


class _DeadlineProfiler:
    """A TorchProfiler that stops (raises) when the section's time is nearly spent."""

    def __init__(self, prof, ctx, reserve_s: float):
        self.prof, self.ctx, self.reserve_s = prof, ctx, reserve_s

    def time(self, layer, cfg):
        if self.prof.key(layer, cfg) not in self.prof.cache and self.ctx.time_left() < self.reserve_s:
            raise _OutOfTime()
        return self.prof.time(layer, cfg)

    @property
    def n_profiled(self):
        return self.prof.n_profiled


def run(ctx) -> None:
    import torch

    from systems.layerwise.baselines import BASELINES
    from systems.layerwise.compute import TorchProfiler, layer_time
    from systems.layerwise.config import CostConfig, LayerwiseConfig, SearchConfig
    from systems.layerwise.cost import CostModel
    from systems.layerwise.evaluate import plan
    from systems.layerwise.graph import build
    from systems.layerwise.hardware import cluster
    from systems.layerwise.parallel import ParallelConfig

    dev = "cuda" if ctx.device.startswith("cuda") else "cpu"
    tiny = ctx.tiny
    nets = ("tiny_alexnet", "tiny_vgg") if tiny else ("alexnet", "vgg16", "inception_v3")
    batches = (2, 4) if tiny else (32, 64)
    worlds = (2, 4) if tiny else (4, 8, 16)
    bpd = 2 if tiny else 32
    repeats = 1 if tiny else 3
    clus = "h100_8"
    spec = cluster(clus)
    if dev == "cpu":
        torch.set_num_threads(1)
    if dev == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    how = "fp32, TF32 off, cuDNN autotuning on" if dev == "cuda" else "fp32, torch CPU kernels, 1 thread"
    ctx.note(f"Compute profiled on `{ctx.device}` ({how}); network: the "
             f"`{clus}` description ({spec.gpus_per_node} devices per node, {spec.bw_intra / 1e9:.0f} GB/s per "
             f"pair, one {spec.bw_nic / 1e9:.0f} GB/s NIC per node, summed t_x, parameter-server sync) — "
             "simulated network, measured compute.")

    # ---------------------------------------------------------------- 1. one device
    prof = TorchProfiler(repeats=repeats, warmup=1, device=dev)
    rows = []
    for net in nets:
        for b in batches:
            if ctx.time_left() < (5 if tiny else 60):
                break
            g = build(net, b)
            one = {ly.name: ParallelConfig(tuple(1 for _ in ly.out_shape)) for ly in g.layers}
            t_layers = sum(prof.time(ly, one[ly.name]) for ly in g.layers)
            t_e2e = _end_to_end(g, dev, repeats)
            t_model = sum(layer_time(ly, one[ly.name], spec) for ly in g.layers)
            rows.append([net, b, round(b / t_layers, 1), round(b / t_e2e, 1), round(t_e2e / t_layers, 3),
                         round(b / t_model, 1)])
            ctx.check(f"{net} b{b}: per-layer profile positive and finite", 0 < t_layers < float("inf"))
    ctx.table("One device: per-layer profiled sum vs an end-to-end training step",
              ["network", "batch", "per-layer sum img/s", "end-to-end img/s", "end-to-end / sum (time)",
               f"calibrated model ({clus}, uncalibrated efficiencies) img/s"], rows,
              note="end-to-end / sum > 1: the whole step costs more than its layers profiled one by one "
                   "(allocator, launches, framework); < 1: overlap or caching the per-layer timing misses.")

    # ---------------------------------------------------------------- 2. partitionings
    rows = []
    stopped = None
    for world in worlds:
        for net in nets:
            if ctx.time_left() < (3 if tiny else 12):
                stopped = f"{net}@{world}"
                break
            g = build(net, bpd * world)
            dl = _DeadlineProfiler(prof, ctx, reserve_s=2 if tiny else 8)
            n0, t0 = prof.n_profiled, time.perf_counter()
            try:
                model = CostModel(g, world, spec, CostConfig(compute="profiled"), profiler=dl)
            except _OutOfTime:
                stopped = f"{net}@{world} (profiling)"
                break
            except RuntimeError as exc:  # e.g. CUDA out of memory on an unsplit global-batch task
                ctx.check(f"{net}@{world}: profiling ran", False, f"{type(exc).__name__}: {str(exc)[:200]}")
                if dev == "cuda":
                    torch.cuda.empty_cache()
                continue
            t_prof = time.perf_counter() - t0
            cfg = LayerwiseConfig(network=net, devices=world, cluster=clus, cost=CostConfig(compute="profiled"),
                                  search=SearchConfig(mcmc_iterations=2000 if not tiny else 200))
            res = {m: plan(g, world, m, cfg, model=model) for m in ("layerwise-dp", "mcmc", *BASELINES)}
            best_m = min(BASELINES, key=lambda m: res[m].breakdown.total_s)
            best = res[best_m].breakdown.total_s
            ceiling = best / model.min_compute_s()
            lw = res["layerwise-dp"]
            modelled = CostModel(g, world, spec, CostConfig(compute="calibrated"))
            mod_best = min(modelled.total(BASELINES[m](g, modelled.configs, world)) for m in BASELINES)
            mod_lw = plan(g, world, "layerwise-dp", cfg, model=modelled).breakdown.total_s
            rows.append([net, world, round(g.batch / lw.breakdown.total_s, 1),
                         *[round(g.batch / res[m].breakdown.total_s, 1) for m in ("data-parallel", "model-parallel",
                                                                                   "owt", "mcmc")],
                         best_m, round(best / lw.breakdown.total_s, 3), round(ceiling, 3),
                         round(lw.breakdown.comm_bytes / 1e6, 1), round(mod_best / mod_lw, 3),
                         prof.n_profiled - n0, round(t_prof, 1)])
            ctx.check(f"{net}@{world}: layer-wise no worse than every baseline (profiled compute)",
                      lw.breakdown.total_s <= best * (1 + 1e-9))
            ctx.check(f"{net}@{world}: speedup within the ceiling", best / lw.breakdown.total_s <= ceiling * (1 + 1e-9))
        if stopped:
            break
    ctx.table(f"Partitionings: throughput (samples/s, {bpd} samples per device) with profiled compute",
              ["network", "P", "layer-wise", "DP", "MP", "OWT", "MCMC", "best baseline", "speedup", "ceiling",
               "layer-wise comm MB/step", "speedup with modelled compute", "sub-shapes profiled", "profiling s"],
              rows, note=(f"stopped before {stopped}: section budget" if stopped else None))
