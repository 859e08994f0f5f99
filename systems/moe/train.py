"""The training engine: one method on one workload, with lagged statistics, the controller and
(optionally) ``torch.compile`` graphs re-specialised whenever the capacities change.

A configuration change (``Decision``) is a *re-compilation*: the GroupBy layout is rebuilt at the
new capacities (and cached plans are rebuilt), and in compile mode the forward+loss graph,
compiled with ``dynamic=False`` and the capacities held as Python ints, misses its guards and is
compiled again for the new capacities on the next step (a configuration seen before reuses its
graph: a graph-cache hit). Compiles are counted by a backend wrapper and timed as the extra wall
and CPU time of the steps in which they happened.

Hot path: the step never reads a device value on the host. Statistics travel as non-blocking
copies read ``launch_ahead`` steps later (``controller.Pending``); the expert GEMMs take their
segment ends as device tensors (``kernels``). Only ``tutel-cf0`` reads this step's maximum load on
the host, as Tutel itself does.

This module runs *one* method; meta-methods that run several (the hindsight-picked oracle α in
``systems.moe.baselines``) call :func:`train` and are dispatched by the runner.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import time
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from systems.moe.config import RunConfig
from systems.moe.controller import Decision, RecompileController, StepStats, pack_stats
from systems.moe.data import Data, make_data
from systems.moe.layer import Layout, MoEModel, Plan, capacity_for, make_layout, make_plan
from systems.moe.memory import TensorMemoryTracker, persistent_bytes
from systems.moe.methods import DROP_LIMIT, Method, get_method

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
ADAMS = ("fused", "foreach", "loop")
EAGER_ONLY = ("tutel", "peer")
"""Back-ends whose buffer shapes follow each step's routing (no fixed shape to compile)."""


@dataclass
class TrainResult:
    """Metrics, per-step series, settings and text artifacts of one run."""

    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    counts: list[list[int]] = field(default_factory=list)
    """Per-step demand per expert (the routing trace; used by the oracle)."""


class CountingBackend:
    """A torch.compile backend wrapper counting graph compilations (each one is a (re)compile).

    ``mode`` applies inductor's mode options (``reduce-overhead``: CUDA graphs, re-captured for every
    new graph)."""

    def __init__(self, name: str, mode: str = "default") -> None:
        self.name = name
        self.mode = mode
        self.count = 0

    def __call__(self, gm, example_inputs, **_):
        self.count += 1
        if self.name == "inductor" and self.mode != "default":
            from torch._inductor import list_mode_options
            from torch._inductor.compile_fx import compile_fx

            return compile_fx(gm, example_inputs, config_patches=list_mode_options(self.mode))
        from torch._dynamo.backends.registry import lookup_backend

        return lookup_backend(self.name)(gm, example_inputs)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the C++ compiler runs as a child)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def forward_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, coef: float,
                 layout: Layout | None, backend: str, tutel_cf: float, plan: Plan | None = None):
    """Forward + loss. ``layout`` holds the capacities as Python ints: under ``dynamic=False`` each
    configuration is its own graph."""
    out, aux = model(x, layout=layout, backend=backend, tutel_cf=tutel_cf, plan=plan)
    out = out.float()
    if task == "classify":
        task_loss = F.cross_entropy(out, y)
        correct = (out.argmax(-1) == y).sum()
    else:
        task_loss = F.mse_loss(out, y)
        correct = torch.zeros((), dtype=torch.long, device=out.device)
    return task_loss + coef * aux["balance_loss"], task_loss.detach(), aux["counts"], aux["dropped"], \
        aux["topi"], correct


class PeerModel(nn.Module):
    """The ``mixture-of-experts`` package's GShard top-2 MoE inside the same model frame."""

    def __init__(self, d_in: int, d_out: int, cfg: RunConfig) -> None:
        super().__init__()
        from mixture_of_experts import MoE

        lc = cfg.layer
        if lc.top_k != 2:
            raise ValueError(f"peer-moe implements top-2 gating only; workload has top_k={lc.top_k}")
        self.inp = nn.Linear(d_in, lc.d_model)
        self.norm = nn.LayerNorm(lc.d_model)
        cf = cfg.peer_alpha * lc.top_k  # its capacity is int(cf * B / n); ours ceil(alpha * k * B / n)
        self.moe = MoE(dim=lc.d_model, num_experts=lc.n_experts, hidden_dim=lc.d_hidden,
                       activation=nn.GELU if lc.activation == "gelu" else nn.ReLU,
                       second_policy_train="all", second_policy_eval="all",
                       capacity_factor_train=cf, capacity_factor_eval=cf, loss_coef=lc.balance_coef)
        self.head = nn.Linear(lc.d_model, d_out)
        self.k, self.n = lc.top_k, lc.n_experts
        gate = self.moe.gate
        orig = gate.forward
        self._last: dict = {}

        def gate_fwd(x, importance=None):  # record dispatch statistics of the package's gate
            dispatch, combine, loss = orig(x, importance)
            with torch.no_grad():
                raw = torch.einsum("...bnd,...de->...bne", x, gate.w_gating).softmax(-1)
                topi = raw.reshape(-1, self.n).topk(2, dim=-1).indices
                counts = torch.zeros(self.n, dtype=torch.long, device=x.device)
                self._last["counts"] = counts.index_add_(0, topi.reshape(-1), torch.ones_like(topi.reshape(-1)))
                self._last["dropped"] = (2 * topi.shape[0] - dispatch.sum()).round().long()
                self._last["topi"] = topi
            return dispatch, combine, loss

        gate.forward = gate_fwd

    def forward(self, x, **_):
        h = self.inp(x)
        y, loss = self.moe(self.norm(h).unsqueeze(0))
        aux = dict(self._last)
        aux["balance_loss"] = loss / max(self.moe.loss_coef, 1e-12)
        return self.head(h + y.squeeze(0)), aux


def make_optimizer(params, lr: float, kind: str, device: torch.device) -> tuple[torch.optim.Optimizer, str]:
    """Adam as ``kind`` (``fused`` falls back to ``foreach`` where torch has no fused kernel); returns
    the optimizer and the implementation actually used."""
    if kind not in ADAMS:
        raise ValueError(f"adam must be one of {', '.join(ADAMS)}, got {kind!r}")
    params = list(params)
    if kind == "fused":
        try:
            return torch.optim.Adam(params, lr=lr, fused=True), "fused"
        except (RuntimeError, ValueError):
            kind = "foreach"
    return torch.optim.Adam(params, lr=lr, foreach=kind == "foreach"), kind


@contextlib.contextmanager
def compiler_settings(cfg: RunConfig):
    """Within the block: dynamo limits high enough for every recompile, inductor's caches off unless
    ``compile_caches``, and on CPU inductor compiling in this process (its C++ compiler runs as a child
    process, counted by :func:`cpu_seconds`; on a GPU, Triton kernels compile in inductor's worker
    pool as usual). Dynamo's in-memory graphs are dropped before and after."""
    import torch._dynamo as dynamo

    with contextlib.ExitStack() as stack:
        limits = {"recompile_limit": max(dynamo.config.recompile_limit, 256)}
        if hasattr(dynamo.config, "accumulated_recompile_limit"):
            limits["accumulated_recompile_limit"] = max(dynamo.config.accumulated_recompile_limit, 1024)
        stack.enter_context(dynamo.config.patch(**limits))
        if cfg.compile and cfg.compile_backend == "inductor":
            import torch._inductor.config as ic

            patch = {"force_disable_caches": not cfg.compile_caches}
            if torch.device(cfg.device).type == "cpu":  # in-process C++ builds: their CPU time is counted
                patch["compile_threads"] = 1
            stack.enter_context(ic.patch(**patch))
        dynamo.reset()
        try:
            yield
        finally:
            dynamo.reset()


@contextlib.contextmanager
def cpu_threads(n: int):
    """torch intra-op threads set to ``n`` within the block (0: leave torch's setting)."""
    if n < 0:
        raise ValueError(f"threads must be >= 0, got {n}")
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train(cfg: RunConfig, method: Method | None = None) -> TrainResult:
    """Train ``cfg.method`` (or the given ``method``, e.g. a static alpha picked by the oracle) on
    ``cfg.workload``; metrics described in ``systems/moe/evaluate.py``."""
    with cpu_threads(cfg.threads):
        if cfg.compile:
            with compiler_settings(cfg):
                return _train(cfg, method or get_method(cfg.method))
        return _train(cfg, method or get_method(cfg.method))


def _check(cfg: RunConfig, method: Method) -> None:
    if method.backend == "meta":
        raise ValueError(f"{method.name!r} runs other methods and picks one; run it through "
                         f"systems.moe.baselines.run_oracle, not train()")
    if cfg.steps < 1:
        raise ValueError(f"steps must be >= 1, got {cfg.steps}")
    if cfg.compile and method.backend in EAGER_ONLY:
        raise ValueError(f"compile=True needs capacities fixed between recompiles; method {method.name!r} "
                         f"sizes its buffers from each step's routing (data-dependent shapes) — run it eager")
    if cfg.dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {cfg.dtype!r}")
    if cfg.compile_mode not in ("default", "reduce-overhead"):
        raise ValueError(f"compile_mode must be 'default' or 'reduce-overhead', got {cfg.compile_mode!r}")


def _train(cfg: RunConfig, method: Method) -> TrainResult:
    _check(cfg, method)
    torch.manual_seed(cfg.seed)
    dev = torch.device(cfg.device)
    dtype = DTYPES[cfg.dtype]
    data = make_data(cfg.workload, cfg.seed, dev)
    lc = cfg.layer
    B, n, k = cfg.workload.batch_size, lc.n_experts, lc.top_k
    with torch.device(dev):  # parameters are drawn on the device (no host-side copy of a large model)
        model = (PeerModel(data.d_in, data.d_out, cfg) if method.backend == "peer"
                 else MoEModel(data.d_in, data.d_out, lc, cfg.kernel)).to(dtype)
    kernel = model.moe.experts.resolve_kernel() if method.backend != "peer" else "einsum (package)"
    opt, adam = make_optimizer(model.parameters(), cfg.lr, cfg.adam, dev)
    alpha0 = method.alpha if method.alpha is not None else cfg.controller.alpha0
    if method.backend == "peer":
        alpha0 = cfg.peer_alpha  # recorded only: the package sizes its own buffers from the same alpha
    ctrl = RecompileController(cfg.controller, method.policy, n, k, B, alpha0, cache=method.cache)
    backend = "padded" if method.backend == "peer" else method.backend

    counter: CountingBackend | None = None
    fn = forward_loss
    cudagraphs = cfg.compile and cfg.compile_mode == "reduce-overhead" and dev.type == "cuda"
    if cfg.compile:
        counter = CountingBackend(cfg.compile_backend, cfg.compile_mode)
        fn = torch.compile(forward_loss, backend=counter, dynamic=False)

    caps = caps0 = peak_caps = ctrl.caps
    layout = make_layout(caps, dev) if backend == "padded" else None
    assign_cache: dict[int, torch.Tensor] = {}
    plan_cache: dict[int, Plan] = {}
    wall: list[float] = []
    cpu: list[float] = []
    compiled_in_step: list[int] = []
    losses, drops, counts_log, match_log, rows_log, correct_log = [], [], [], [], [], []
    mem_series: list[tuple[int, float]] = []
    mem_steps = _mem_steps(cfg.steps, cfg.mem_samples)
    decisions: list[Decision] = []
    seen_configs = {(caps, False)}
    graph_hits = 0
    cache_steps = 0
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
    t_start, c_start = time.perf_counter(), cpu_seconds()
    aside_w = aside_c = 0.0  # data generation and memory probes: not part of a training step
    for step in range(cfg.steps):
        a0, ac0 = time.perf_counter(), cpu_seconds()
        x, y = data.batch(step)
        x, y = x.to(dev, dtype if x.is_floating_point() else x.dtype), y.to(dev)
        aside_w, aside_c = aside_w + time.perf_counter() - a0, aside_c + cpu_seconds() - ac0
        pos = step % data.n_batches
        plan = None
        if ctrl.cache_on and pos in assign_cache:
            if pos not in plan_cache:
                plan_cache[pos] = make_plan(assign_cache[pos], layout)
            plan = plan_cache[pos]
            cache_steps += 1
        graphs_before = counter.count if counter else 0
        t0, c0 = time.perf_counter(), cpu_seconds()
        opt.zero_grad(set_to_none=True)
        if cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        loss, task_loss, counts, dropped, topi, correct = fn(
            model, x, y, data.task, lc.balance_coef, layout, backend, method.tutel_cf, plan)
        if cudagraphs:  # graph outputs are overwritten by the next replay: keep copies of what outlives the step
            task_loss, counts, dropped, topi, correct = (t.clone() for t in (task_loss, counts, dropped, topi, correct))
        loss.backward()
        opt.step()
        match = None
        if method.cache:
            prev = assign_cache.get(pos)
            if prev is not None:
                match = (topi.sort(-1).values == prev.sort(-1).values).all(-1).float().mean()
            if not ctrl.cache_on:  # frozen while in use: the cached assignment is what GroupBy reads
                assign_cache[pos] = topi.detach()
        ctrl.observe(StepStats(step, pack_stats(counts, dropped, match), None))
        dec = ctrl.after_step(step)
        if dec is not None:
            caps = dec.caps
            peak_caps = caps if sum(caps) > sum(peak_caps) else peak_caps
            layout = make_layout(caps, dev) if backend == "padded" else None
            plan_cache.clear()  # rebuild: cached plans are re-made at the new capacities when next used
            decisions.append(dec)
            key = (caps, dec.cache_on)
            graph_hits += key in seen_configs
            seen_configs.add(key)
        if dev.type == "cpu" or cfg.sync_steps:
            _sync(dev)
        wall.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds() - c0)
        compiled_in_step.append((counter.count if counter else 0) - graphs_before)
        losses.append(task_loss)
        drops.append(dropped.detach())
        counts_log.append(counts.detach())
        match_log.append(match)
        correct_log.append(correct)
        rows_log.append(sum(caps) if backend == "padded" else None)
        if step in mem_steps and dev.type == "cpu":
            a0, ac0 = time.perf_counter(), cpu_seconds()
            mem_series.append((step, _probe_memory(model, opt, x, y, data.task, lc.balance_coef, layout,
                                                   backend, method.tutel_cf, plan)))
            aside_w, aside_c = aside_w + time.perf_counter() - a0, aside_c + cpu_seconds() - ac0
    _sync(dev)
    total_wall = time.perf_counter() - t_start - aside_w
    total_cpu = cpu_seconds() - c_start - aside_c
    if dev.type == "cuda":
        mem_series = [(cfg.steps - 1, torch.cuda.max_memory_allocated(dev) / 2**20)]
    ctrl.flush()
    final = _evaluate(model, data, lc.balance_coef, layout, backend, method.tutel_cf, dev, dtype, cfg.steps)
    m, series = _metrics(cfg, method, data, wall, cpu, compiled_in_step, total_wall, total_cpu, losses, drops,
                         counts_log, match_log, rows_log, mem_series, decisions, caps, backend, final)
    m["recompiles"] = float(len(decisions))
    m["graph_cache_hits"] = float(graph_hits)
    m["cache_steps_frac"] = cache_steps / cfg.steps
    if counter is not None:
        m["graphs_compiled"] = float(counter.count)
    params = {"method": method.name, "backend": method.backend, "policy": method.policy, "cache": method.cache,
              "alpha0": alpha0, "caps0": list(caps0), "steps": cfg.steps, "batch_tokens": B, "n_experts": n,
              "top_k": k, "d_model": lc.d_model, "d_hidden": lc.d_hidden, "workload_kind": cfg.workload.kind,
              "dataset": cfg.workload.dataset if cfg.workload.kind == "classify" else "",
              "compile": cfg.compile, "compile_backend": cfg.compile_backend if cfg.compile else "",
              "compile_caches": cfg.compile_caches if cfg.compile else "", "kernel": kernel, "adam": adam,
              "dtype": cfg.dtype, "launch_ahead": cfg.controller.launch_ahead,
              "bucket_alpha": cfg.controller.bucket_alpha, "final_caps": list(caps), "peak_caps": list(peak_caps), "data": data.description}
    log = "\n".join(f"step {d.step}: caps={list(d.caps)} alpha={d.alpha} cache={d.cache_on}  # {d.reason}"
                    for d in decisions) or "no configuration change"
    return TrainResult(m, series, params, {"recompile_log.txt": log + "\n"},
                       [[int(v) for v in c.tolist()] for c in counts_log])


def _metrics(cfg, method, data, wall, cpu, compiled, total_wall, total_cpu, losses, drops, counts_log, match_log,
             rows_log, mem_series, decisions, caps, backend, final):
    lc = cfg.layer
    B, n, k = cfg.workload.batch_size, lc.n_experts, lc.top_k
    drops_f = [float(d) for d in drops]
    counts_f = [c.tolist() for c in counts_log]
    loss_f = [float(v) for v in losses]
    steady_w = [t for t, c in zip(wall, compiled) if not c] or wall
    steady_c = [t for t, c in zip(cpu, compiled) if not c] or cpu
    med_w, med_c = statistics.median(steady_w), statistics.median(steady_c)
    extra_w = [max(0.0, t - med_w) for t, c in zip(wall, compiled) if c]
    extra_c = [max(0.0, t - med_c) for t, c in zip(cpu, compiled) if c]
    if method.backend == "tutel":
        rows_step = [n * _tutel_rows(c, method.tutel_cf, k, B) for c in counts_f]
    elif method.backend == "dropless":
        rows_step = [k * B] * cfg.steps
    else:
        rows_step = [r if r is not None else 0 for r in rows_log]
    alpha_eff = [r / (k * B) for r in rows_step]
    needed = [max(c) * n / (k * B) for c in counts_f]
    tail = max(1, cfg.steps // 10)
    tokens = B * cfg.steps
    m: dict[str, float] = {
        "tokens_per_s": tokens / total_wall if total_wall > 0 else float("nan"),
        "tokens_per_cpu_s": tokens / total_cpu if total_cpu > 0 else float("nan"),
        "tokens_per_s_steady": B / med_w if med_w > 0 else float("nan"),
        "tokens_per_cpu_s_steady": B / med_c if med_c > 0 else float("nan"),
        "step_ms_median": 1e3 * med_w,
        "step_cpu_ms_median": 1e3 * med_c,
        "peak_mem_mb": max(v for _, v in mem_series) if mem_series else float("nan"),
        "final_mem_mb": mem_series[-1][1] if mem_series else float("nan"),
        "dropped_frac": sum(drops_f) / (k * B * cfg.steps),
        "meets_drop_limit": float(sum(drops_f) / (k * B * cfg.steps) < DROP_LIMIT),
        "final_loss": final["loss"],
        "train_loss_tail": sum(loss_f[-tail:]) / tail,
        "compile_s": extra_w[0] if extra_w else 0.0,
        "compile_cpu_s": extra_c[0] if extra_c else 0.0,
        "recompile_s": sum(extra_w[1:]),
        "recompile_cpu_s": sum(extra_c[1:]),
        "final_alpha": sum(caps) / (k * B) if backend == "padded" else alpha_eff[-1],
        "mean_alpha": sum(alpha_eff) / len(alpha_eff),
        "alpha_needed_mean": sum(needed) / len(needed),
        "alpha_needed_max": max(needed),
        "padded_rows_per_token": sum(rows_step) / (B * cfg.steps),
        "train_s": total_wall,
        "train_cpu_s": total_cpu,
        "threads": float(torch.get_num_threads()),
    }
    if data.task == "classify":
        m["accuracy"] = final["accuracy"]
    matches = [float(v) for v in match_log if v is not None]
    if matches:
        m["cache_match_mean"] = sum(matches) / len(matches)
    series = {
        "loss": loss_f,
        "tokens_per_s": [B / t if t > 0 else float("nan") for t in wall],
        "step_cpu_s": cpu,
        "capacity_factor": alpha_eff,
        "alpha_needed": needed,
        "drops": drops_f,
        "compiled_graphs": [float(c) for c in compiled],
        "recompile_steps": [float(d.step) for d in decisions],
        "mem_steps": [float(s) for s, _ in mem_series],
        "mem_mb": [v for _, v in mem_series],
    }
    if matches:
        series["cache_match"] = [float("nan") if v is None else float(v) for v in match_log]
    return m, series


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _tutel_rows(counts: list[float], cf: float, k: int, B: int) -> int:
    n = len(counts)
    static = k * int(abs(cf) * ((B + n - 1) // n))
    if cf > 0:
        return max(1, min(B, static))
    need = int(max(counts))
    return max(1, need if cf == 0 else min(need, static))


def _mem_steps(steps: int, samples: int) -> set[int]:
    if samples <= 0:
        return set()
    if samples == 1:
        return {steps - 1}
    return {round(i * (steps - 1) / (samples - 1)) for i in range(samples)}


def _probe_memory(model, opt, x, y, task, coef, layout, backend, tutel_cf, plan) -> float:
    """Peak MB of one eager forward+backward at the configuration in force (no update)."""
    opt.zero_grad(set_to_none=True)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    persistent = list(model.parameters()) + state
    plan_t = [plan.topi, plan.slot, plan.src, plan.keep, plan.counts] if plan is not None else []
    layout_t = [layout.cap_t, layout.starts, layout.seg.offs, layout.seg.row_expert] if layout is not None else []
    with TensorMemoryTracker(exclude=persistent + [x, y, *plan_t, *layout_t]) as tr:
        loss, *_ = forward_loss(model, x, y, task, coef, layout, backend, tutel_cf, plan)
        loss.backward()
        del loss
    opt.zero_grad(set_to_none=True)
    return (persistent_bytes(persistent) + tr.peak_bytes) / 2**20


@torch.no_grad()
def _evaluate(model, data: Data, coef, layout, backend, tutel_cf, dev, dtype, step: int = 0) -> dict[str, float]:
    """Held-out loss (and accuracy) with the method's final dispatch configuration, on held-out tokens
    from the distribution the stream has at ``step`` (drifting workloads)."""
    model.eval()
    tot, correct, n = 0.0, 0, 0
    for x, y in (data.eval_at(step) if data.eval_at else data.eval_set):
        x, y = x.to(dev, dtype if x.is_floating_point() else x.dtype), y.to(dev)
        _, task_loss, _, _, _, c = forward_loss(model, x, y, data.task, coef, layout, backend, tutel_cf)
        tot += float(task_loss) * len(x)
        correct += int(c)
        n += len(x)
    model.train()
    return {"loss": tot / n, "accuracy": correct / n}


def with_method(cfg: RunConfig, method: str) -> RunConfig:
    """Copy of ``cfg`` running ``method``."""
    return replace(cfg, method=method)


def capacity_rows(alpha: float, cfg: RunConfig) -> int:
    """Expert buffer rows of a static alpha on ``cfg``'s workload."""
    return capacity_for(alpha, cfg.layer.top_k, cfg.layer.n_experts, cfg.workload.batch_size)


__all__ = ["TrainResult", "train", "forward_loss", "CountingBackend", "with_method", "make_optimizer",
           "compiler_settings", "cpu_seconds"]
