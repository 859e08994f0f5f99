"""GPU section of moe: DynaMoE's capacity policies at the FastMoE shape on one GPU.

FastMoE's benchmark shape (d = 1024, h = 4096, top-2, 16 experts, 8k tokens per step; a second
size with 64 experts and 16k tokens when time allows), bf16, every method's experts through the
same grouped GEMM (``torch._grouped_mm`` when the installed torch has it for bf16 on this GPU, else
the padded batched matmul), fused Adam. The routing's needed capacity starts high and settles
(clustered tokens whose popularity skew relaxes), as in the DynaMoE paper's traces.

Tables:
1. the grouped GEMM against a per-expert loop (self-check);
2. eager training: a static alpha chosen in advance (1.0, 1.25, 2.0) vs dynamic-cf / local-cf /
   cache / tutel-cf0 / dropless — tokens/s, peak memory (``max_memory_allocated``), drops, loss;
3. ``torch.compile(dynamic=False)`` with CUDA graphs (``reduce-overhead``): each capacity change
   recompiles and re-captures; compiles counted and timed, tokens/s with them included;
4. the largest expert width each method fits in a stated memory budget (measured peaks).

Imports only stdlib, torch and ``systems.*``. ``ctx.tiny`` runs toy sizes on the CPU in seconds with
the same code paths (the compile table then uses the ``eager`` torch.compile backend).
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace

TITLE = "MoE (DynaMoE): static alpha in advance vs recompiled capacities, grouped GEMM, bf16"
BUDGET_S = 90

EAGER_METHODS = ("static-cf-1.0", "static-cf-1.25", "static-cf-2.0", "dynamic-cf", "local-cf", "cache",
                 "tutel-cf0", "dropless")
REFERENCE = "static-cf-2.0"


def _cfg(ctx, n_experts: int = 16, tokens: int = 8192, steps: int = 60):
    from systems.moe.config import ControllerConfig, LayerConfig, RunConfig, WorkloadConfig

    if ctx.tiny:
        d, h, n_experts, tokens, steps = 32, 64, 4, 128, 8
    else:
        d, h = 1024, 4096
    return RunConfig(
        layer=LayerConfig(d_model=d, d_hidden=h, n_experts=n_experts, top_k=2),
        workload=WorkloadConfig(kind="drift", batch_size=tokens, n_batches=4, d_in=d, n_clusters=32,
                                skew=8.0, skew_end=0.5, settle_steps=max(2.0, steps / 6), drift=0.002,
                                eval_batches=1),
        controller=ControllerConfig(cooldown=max(2, steps // 12), min_observations=3, cache_min_steps=steps // 3),
        steps=steps, mem_samples=1 if ctx.tiny else 0, lr=1e-3, seed=0,
        device=ctx.device, threads=1 if ctx.device == "cpu" else 0, dtype="float32" if ctx.device == "cpu" else "bfloat16",
        compile_backend="eager" if ctx.device == "cpu" else "inductor",
        compile_mode="default" if ctx.device == "cpu" else "reduce-overhead")


def _free(ctx) -> None:
    if ctx.device != "cpu":
        import torch

        gc.collect()
        torch.cuda.empty_cache()


def _kernel_check(ctx) -> str:
    import torch

    from systems.moe.kernels import grouped_linear, resolve_impl, segments_from_sizes

    dt = torch.float32 if ctx.device == "cpu" else torch.bfloat16
    d, h = (32, 64) if ctx.tiny else (1024, 4096)
    impl = resolve_impl("auto", ctx.device, dt, (d, h))
    g = torch.Generator().manual_seed(0)
    sizes = (300, 0, 129, 812, 64, 5, 1000, 290) if not ctx.tiny else (7, 0, 12, 5)
    n = len(sizes)
    x = (torch.randn(sum(sizes), d, generator=g) / d ** 0.5).to(ctx.device, dt)
    w = torch.randn(n, d, h, generator=g).to(ctx.device, dt)
    b = torch.randn(n, 1, h, generator=g).to(ctx.device, dt)
    seg = segments_from_sizes(sizes, ctx.device)
    y = grouped_linear(x, w, b, seg, impl).float()
    ref = grouped_linear(x.float(), w.float(), b.float(), seg, "loop")
    err = (y - ref).abs().max().item() / ref.abs().max().item()
    ctx.check("moe grouped GEMM equals per-expert matmuls", err < (1e-5 if dt == torch.float32 else 2e-2),
              f"{impl}, max relative error {err:.2e} ({dt})")
    return impl


def _eager_table(ctx, cfg, methods, title: str) -> dict:
    from systems.moe.train import train

    rows, runs = [], {}
    for m in methods:
        if ctx.time_left() < 25:
            ctx.note(f"{title}: stopped before {m} (time budget)")
            break
        _free(ctx)
        t0 = time.perf_counter()
        r = train(replace(cfg, method=m))
        runs[m] = r
        mt = r.metrics
        rows.append([m, mt["tokens_per_s"], mt["peak_mem_mb"], 100 * mt["dropped_frac"], mt["final_loss"],
                     mt["mean_alpha"], mt["final_alpha"], int(mt["recompiles"]), time.perf_counter() - t0])
    ref = runs.get(REFERENCE)
    for row in rows:
        row.insert(2, row[1] / ref.metrics["tokens_per_s"] if ref else float("nan"))
    lc, w = cfg.layer, cfg.workload
    ctx.table(title, ["method", "tokens/s", f"vs {REFERENCE}", "peak MiB", "dropped %", "final loss",
                      "mean alpha", "final alpha", "recompiles", "run s"], rows,
              note=f"{cfg.steps} steps, B = {w.batch_size} tokens, {lc.n_experts} experts top-{lc.top_k}, "
                   f"d = {lc.d_model}, h = {lc.d_hidden}, {cfg.dtype}, eager; tokens/s over all steps "
                   f"(one synchronisation at the end), peak = max_memory_allocated over the run.")
    return runs


def _compile_table(ctx, cfg) -> None:
    """Compiled runs, gated on the measured cost of the first compile so the section never overruns."""
    from systems.moe.train import train

    rows, per_graph = [], None
    plan = (("static-cf-2.0", 0.0, 1), ("dynamic-cf", 0.0, 4), ("local-cf", 0.25, 8), ("dropless", 0.0, 1))
    for m, bucket, graphs in plan:
        need = (20 if ctx.tiny else 15) + (per_graph or (30 if ctx.tiny else 45)) * graphs
        if ctx.time_left() < need:
            ctx.note(f"compile table: {m} skipped ({ctx.time_left():.0f} s left, about {need:.0f} s needed)")
            continue
        _free(ctx)
        c = replace(cfg, method=m, compile=True, controller=replace(cfg.controller, bucket_alpha=bucket))
        r = train(c)
        mt = r.metrics
        n_graphs = max(1, int(mt.get("graphs_compiled", 1)))
        per_graph = max(per_graph or 0.0, (mt["compile_s"] + mt["recompile_s"]) / n_graphs)
        rows.append([m + (f" (bucket {bucket:g})" if bucket else ""), mt["tokens_per_s"],
                     mt["tokens_per_s_steady"], mt["compile_s"], int(mt["recompiles"]),
                     int(mt.get("graphs_compiled", 0)), int(mt["graph_cache_hits"]), mt["recompile_s"],
                     100 * mt["dropped_frac"], mt["peak_mem_mb"]])
    if rows:
        ctx.table("torch.compile(dynamic=False): recompiles counted and timed",
                  ["method", "tokens/s incl. compiles", "steady tokens/s", "first compile s", "recompiles",
                   "graphs compiled", "graph cache hits", "recompile s", "dropped %", "peak MiB"], rows,
                  note=f"backend {cfg.compile_backend}, mode {cfg.compile_mode}; inductor caches off (every graph "
                       "compiled cold); each capacity change is a new graph (and CUDA-graph capture) unless the "
                       "configuration was seen before (a graph cache hit). Compile time = extra host time of the "
                       f"steps in which a graph was compiled over the median step. {cfg.steps} steps.")


def _memory_table(ctx, cfg, runs) -> None:
    from systems.moe.budget import largest_model
    from systems.moe.methods import get_method

    budget = 2.0 if ctx.tiny else 4096.0
    rows = []
    for m in ("static-cf-2.0", "static-cf-1.25", "local-cf", "dropless"):
        r = runs.get(m)
        if r is None or ctx.time_left() < (15 if ctx.tiny else 25):
            continue
        _free(ctx)
        final = tuple(r.params["final_caps"]) if m != "dropless" else None
        try:
            fit = largest_model(cfg, get_method(m), final, budget, quantum=16 if ctx.tiny else 256, max_probes=8)
        except RuntimeError as exc:  # did not converge in the probes allowed: say so, keep the section
            ctx.note(f"largest model for {m}: {exc}")
            continue
        rows.append([m, "settled" if m == "local-cf" else "whole run", fit["d_hidden"], fit["expert_params_m"],
                     fit["peak_mb"]])
    base = next((row[2] for row in rows if row[0] == REFERENCE), None)
    for row in rows:
        row.append(row[2] / base if base else float("nan"))
    ctx.table(f"Largest expert width that fits {budget:g} MiB", ["method", "capacities", "d_hidden",
              "expert params (M)", "measured peak MiB", f"vs {REFERENCE}"], rows,
              note="peak of one forward + backward + fused-Adam step at the method's capacities "
                   "(local-cf: its settled capacities; it starts from alpha0 = 4), measured with "
                   "max_memory_allocated at two widths, solved, and confirmed at the width reported.")


def run(ctx) -> None:
    import torch

    impl = _kernel_check(ctx)
    ctx.note(f"moe: grouped GEMM implementation {impl}; torch {torch.__version__}.")
    cfg = _cfg(ctx)
    runs = {}
    try:
        runs = _eager_table(ctx, cfg, EAGER_METHODS, _title(cfg))
    finally:
        _free(ctx)
    if ctx.time_left() > (20 if ctx.tiny else 60):
        _compile_table(ctx, cfg)
    if ctx.time_left() > 20:
        _memory_table(ctx, cfg, runs)
    if ctx.time_left() > 30 and not ctx.tiny:
        big = _cfg(ctx, n_experts=64, tokens=16384, steps=40)
        _eager_table(ctx, big, ("static-cf-2.0", "local-cf", "dropless"), _title(big))


def _title(cfg) -> str:
    return f"Eager training, {cfg.layer.n_experts} experts, {cfg.workload.batch_size} tokens per step"
