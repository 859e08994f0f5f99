"""The training engine: one method on one workload, with lagged statistics, the controller and
(optionally) ``torch.compile`` graphs re-specialised whenever the capacities change.

A configuration change (``Decision``) is a *re-compilation*: the GroupBy buffers are rebuilt at the
new capacities (and cached plans are rebuilt), and in compile mode the forward+loss graph,
compiled with ``dynamic=False`` and the capacities passed as Python ints, misses its guards and is
compiled again for the new capacities on the next step. Recompiles are counted and timed.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from systems.moe.config import RunConfig
from systems.moe.controller import Decision, RecompileController, StepStats
from systems.moe.data import Data, make_data
from systems.moe.layer import MoEModel, Plan, capacity_for, make_plan
from systems.moe.memory import TensorMemoryTracker, persistent_bytes
from systems.moe.methods import EXPERT, Method, get_method


@dataclass
class TrainResult:
    """Metrics, per-step series, settings and text artifacts of one run."""

    metrics: dict[str, float] = field(default_factory=dict)
    series: dict[str, list[float]] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    state: dict | None = None
    """With ``keep_state=True``: the trained model, optimizer and final dispatch configuration
    (used by the benchmark to time all methods' final configurations interleaved)."""


class _Abort(Exception):
    pass


class CountingBackend:
    """A torch.compile backend wrapper counting graph compilations (each one is a (re)compile)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def __call__(self, gm, example_inputs):
        self.count += 1
        from torch._dynamo.backends.registry import lookup_backend

        return lookup_backend(self.name)(gm, example_inputs)


def forward_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str, coef: float,
                 caps: tuple[int, ...] | None, backend: str, tutel_cf: float,
                 plan_topi: torch.Tensor | None = None, plan_slot: torch.Tensor | None = None,
                 plan_src: torch.Tensor | None = None, plan_keep: torch.Tensor | None = None,
                 plan_counts: torch.Tensor | None = None):
    """Forward + loss. Capacities are Python ints: under ``dynamic=False`` each tuple is its own graph."""
    plan = None
    if plan_topi is not None:
        plan = Plan(plan_topi, plan_slot, plan_src, plan_keep, plan_counts, caps)
    out, aux = model(x, caps=caps, backend=backend, tutel_cf=tutel_cf, plan=plan)
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
                self._last["counts"] = torch.bincount(topi.reshape(-1), minlength=self.n)
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


def train(cfg: RunConfig, abort_drop_assignments: float | None = None, keep_state: bool = False) -> TrainResult:
    """Train ``cfg.method`` on ``cfg.workload``; metrics described in ``systems/moe/evaluate.py``."""
    if cfg.threads < 0:
        raise ValueError(f"threads must be >= 0, got {cfg.threads}")
    before = torch.get_num_threads()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, abort_drop_assignments, keep_state)
    finally:
        torch.set_num_threads(before)


def _train(cfg: RunConfig, abort_drop_assignments: float | None, keep_state: bool = False) -> TrainResult:
    method = get_method(cfg.method)
    if method.name == EXPERT:
        from systems.moe.baselines import run_expert

        return run_expert(cfg, keep_state=keep_state)
    if cfg.steps < 1:
        raise ValueError(f"steps must be >= 1, got {cfg.steps}")
    if cfg.compile and method.backend in ("tutel", "dropless", "peer"):
        raise ValueError(f"compile=True needs capacities fixed between recompiles; method {method.name!r} "
                         f"sizes its buffers from each step's routing (data-dependent shapes) — run it eager")
    torch.manual_seed(cfg.seed)
    dev = torch.device(cfg.device)
    data = make_data(cfg.workload, cfg.seed)
    lc = cfg.layer
    B, n, k = cfg.workload.batch_size, lc.n_experts, lc.top_k
    model = (PeerModel(data.d_in, data.d_out, cfg) if method.backend == "peer"
             else MoEModel(data.d_in, data.d_out, lc)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    alpha0 = method.alpha if method.alpha is not None else cfg.controller.alpha0
    if method.backend == "peer":
        alpha0 = cfg.peer_alpha  # recorded only: the package sizes its own buffers from the same alpha
    ctrl = RecompileController(cfg.controller, method.policy, n, k, B, alpha0, cache=method.cache)
    backend = "padded" if method.backend == "peer" else method.backend

    counter: CountingBackend | None = None
    fn = forward_loss
    if cfg.compile:
        import torch._dynamo as dynamo

        dynamo.config.recompile_limit = max(dynamo.config.recompile_limit, 256)
        dynamo.config.accumulated_recompile_limit = max(
            getattr(dynamo.config, "accumulated_recompile_limit", 256), 1024)
        dynamo.reset()
        counter = CountingBackend(cfg.compile_backend)
        fn = torch.compile(forward_loss, backend=counter, dynamic=False)

    caps = caps0 = ctrl.caps
    assign_cache: dict[int, torch.Tensor] = {}
    plan_cache: dict[int, Plan] = {}
    step_times: list[float] = []
    fresh: list[bool] = []  # step ran right after a configuration change (or is the first step)
    rebuild_s: list[float] = []
    losses, drops, counts_log, match_log, rows_log, correct_log = [], [], [], [], [], []
    mem_series: list[tuple[int, float]] = []
    mem_steps = _mem_steps(cfg.steps, cfg.mem_samples)
    decisions: list[Decision] = []
    cache_steps = 0
    need_compile = True
    for step in range(cfg.steps):
        x, y = (t.to(dev) for t in data.batch(step))
        pos = step % data.n_batches
        plan_args: tuple = ()
        if ctrl.cache_on and pos in assign_cache:
            if pos not in plan_cache:
                plan_cache[pos] = make_plan(assign_cache[pos], caps)
            p = plan_cache[pos]
            plan_args = (p.topi, p.slot, p.src, p.keep, p.counts)
            cache_steps += 1
        _sync(dev)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss, task_loss, counts, dropped, topi, correct = fn(
            model, x, y, data.task, lc.balance_coef, caps, backend, method.tutel_cf, *plan_args)
        loss.backward()
        opt.step()
        match = None
        if method.cache:
            prev = assign_cache.get(pos)
            if prev is not None:
                match = (topi.sort(-1).values == prev.sort(-1).values).all(-1).float().mean()
            if not ctrl.cache_on:  # frozen while in use: the cached assignment is what GroupBy reads
                assign_cache[pos] = topi.detach()
        ctrl.observe(StepStats(step, counts.detach(), dropped.detach(), match))
        dec = ctrl.after_step(step)
        _sync(dev)  # timing only: the step itself never waits on its statistics (they are read lagged)
        t1 = time.perf_counter()
        rb = 0.0
        if dec is not None:
            caps = dec.caps
            plan_cache.clear()  # rebuild: cached plans are re-made at the new capacities when next used
            decisions.append(dec)
            rb = time.perf_counter() - t1
        step_times.append(time.perf_counter() - t0)
        fresh.append(need_compile)
        need_compile = dec is not None
        rebuild_s.append(rb)
        losses.append(task_loss)
        drops.append(dropped.detach())
        counts_log.append(counts.detach())
        match_log.append(match)
        correct_log.append(correct)
        rows_log.append(sum(caps) if backend == "padded" else None)
        if step in mem_steps:
            mem_series.append((step, _probe_memory(model, opt, x, y, data.task, lc.balance_coef, caps,
                                                   backend, method.tutel_cf, plan_args)))
        if abort_drop_assignments is not None and ctrl.stats.dropped_total > abort_drop_assignments:
            raise _Abort(step)
    ctrl.flush()

    # -- metrics ------------------------------------------------------------------------------
    drops_f = [float(d) for d in drops]
    counts_f = [c.tolist() for c in counts_log]
    loss_f = [float(v) for v in losses]
    w = min(cfg.warmup_steps, cfg.steps - 1)
    timed = step_times[w:]
    total_t = sum(timed)
    steady = [t for t, f in zip(step_times[w:], fresh[w:]) if not f] or timed
    med = statistics.median(steady)
    compile_extra = [max(0.0, t - med) for t, f in zip(step_times, fresh) if f]
    initial_compile = compile_extra[0] if (cfg.compile and compile_extra) else 0.0
    recompile_s = sum(compile_extra[1:]) if cfg.compile else 0.0
    recompile_s += sum(rebuild_s)
    if method.backend == "tutel":
        rows_step = [k * B * 0 + n * _tutel_rows(c, method.tutel_cf, k, B) for c in counts_f]
    elif method.backend in ("dropless",):
        rows_step = [k * B] * cfg.steps
    else:
        rows_step = [r if r is not None else 0 for r in rows_log]
    alpha_eff = [r / (k * B) for r in rows_step]
    needed = [max(c) * n / (k * B) for c in counts_f]
    final = _evaluate(model, data, lc.balance_coef, caps, backend, method.tutel_cf, dev, cfg.steps)
    tail = max(1, cfg.steps // 10)
    m: dict[str, float] = {
        "tokens_per_s": B * len(timed) / total_t if total_t > 0 else float("nan"),
        "tokens_per_s_steady": B / med if med > 0 else float("nan"),
        "step_ms_median": 1e3 * med,
        "peak_mem_mb": max(v for _, v in mem_series) if mem_series else float("nan"),
        "final_mem_mb": mem_series[-1][1] if mem_series else float("nan"),
        "dropped_frac": sum(drops_f) / (k * B * cfg.steps),
        "final_loss": final["loss"],
        "train_loss_tail": sum(loss_f[-tail:]) / tail,
        "recompiles": float(len(decisions)),
        "recompile_s": recompile_s,
        "initial_compile_s": initial_compile,
        "final_alpha": sum(caps) / (k * B) if backend == "padded" else alpha_eff[-1],
        "mean_alpha": sum(alpha_eff) / len(alpha_eff),
        "alpha_needed_mean": sum(needed) / len(needed),
        "padded_rows_per_token": sum(rows_step) / (B * cfg.steps),
        "cache_steps_frac": cache_steps / cfg.steps,
        "train_s": sum(step_times),
        "threads": float(torch.get_num_threads()),
    }
    if data.task == "classify":
        m["accuracy"] = final["accuracy"]
    if counter is not None:
        m["graphs_compiled"] = float(counter.count)
    matches = [float(v) for v in match_log if v is not None]
    if matches:
        m["cache_match_mean"] = sum(matches) / len(matches)
    series = {
        "loss": loss_f,
        "tokens_per_s": [B / t if t > 0 else float("nan") for t in step_times],
        "capacity_factor": alpha_eff,
        "alpha_needed": needed,
        "drops": drops_f,
        "recompile_steps": [float(d.step) for d in decisions],
        "mem_steps": [float(s) for s, _ in mem_series],
        "mem_mb": [v for _, v in mem_series],
    }
    if matches:
        series["cache_match"] = [float("nan") if v is None else float(v) for v in match_log]
    params = {"method": method.name, "backend": method.backend, "policy": method.policy, "cache": method.cache,
              "alpha0": alpha0, "caps0": list(caps0), "steps": cfg.steps, "batch_tokens": B, "n_experts": n, "top_k": k,
              "d_model": lc.d_model, "d_hidden": lc.d_hidden, "workload_kind": cfg.workload.kind,
              "dataset": cfg.workload.dataset if cfg.workload.kind == "classify" else "",
              "compile": cfg.compile, "compile_backend": cfg.compile_backend if cfg.compile else "",
              "launch_ahead": cfg.controller.launch_ahead, "final_caps": list(caps),
              "data": data.description}
    log = "\n".join(f"step {d.step}: caps={list(d.caps)} alpha={d.alpha} cache={d.cache_on}  # {d.reason}"
                    for d in decisions) or "no configuration change"
    state = None
    if keep_state:
        state = {"model": model, "opt": opt, "caps": caps, "backend": backend, "tutel_cf": method.tutel_cf,
                 "data": data, "plans": {p: plan_cache[p] for p in plan_cache} if ctrl.cache_on else {},
                 "task": data.task, "coef": lc.balance_coef, "batch": B, "threads": cfg.threads}
    return TrainResult(m, series, params, {"recompile_log.txt": log + "\n"}, state)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _tutel_rows(counts: list[float], cf: float, k: int, B: int) -> int:
    return tutel_capacity_from_list(cf, counts, k, B)


def tutel_capacity_from_list(cf: float, counts: list[float], k: int, B: int) -> int:
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


def _probe_memory(model, opt, x, y, task, coef, caps, backend, tutel_cf, plan_args) -> float:
    """Peak MB of one eager forward+backward at the configuration in force (no update)."""
    opt.zero_grad(set_to_none=True)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    persistent = list(model.parameters()) + state
    with TensorMemoryTracker(exclude=persistent + [x, y, *plan_args]) as tr:
        loss, *_ = forward_loss(model, x, y, task, coef, caps, backend, tutel_cf, *plan_args)
        loss.backward()
        del loss
    opt.zero_grad(set_to_none=True)
    return (persistent_bytes(persistent) + tr.peak_bytes) / 2**20


@torch.no_grad()
def _evaluate(model, data: Data, coef, caps, backend, tutel_cf, dev, step: int = 0) -> dict[str, float]:
    """Held-out loss (and accuracy) with the method's final dispatch configuration, on held-out tokens
    from the distribution the stream has at ``step`` (drifting workloads)."""
    model.eval()
    tot, correct, n = 0.0, 0, 0
    for x, y in (data.eval_at(step) if data.eval_at else data.eval_set):
        x, y = x.to(dev), y.to(dev)
        _, task_loss, _, _, _, c = forward_loss(model, x, y, data.task, coef, caps, backend, tutel_cf)
        tot += float(task_loss) * len(x)
        correct += int(c)
        n += len(x)
    model.train()
    return {"loss": tot / n, "accuracy": correct / n}


def abort_type() -> type:
    return _Abort


def with_method(cfg: RunConfig, method: str) -> RunConfig:
    """Copy of ``cfg`` running ``method``."""
    return replace(cfg, method=method)


__all__ = ["TrainResult", "train", "forward_loss", "CountingBackend", "with_method", "capacity_for"]


def steady_step_times(state: dict, n_steps: int, start: int = 0) -> list[float]:
    """Wall times of ``n_steps`` further training steps at a run's *final* configuration (frozen:
    no statistics, no controller). The benchmark interleaves these across methods so every method
    is timed under the same background load."""
    model, opt, data = state["model"], state["opt"], state["data"]
    before = torch.get_num_threads()
    if state.get("threads"):
        torch.set_num_threads(state["threads"])
    times = []
    try:
        for i in range(n_steps):
            step = start + i
            dev = next(model.parameters()).device
            x, y = (t.to(dev) for t in data.batch(step))
            p = state["plans"].get(step % data.n_batches)
            plan_args = (p.topi, p.slot, p.src, p.keep, p.counts) if p is not None else ()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss, *_ = forward_loss(model, x, y, state["task"], state["coef"], state["caps"], state["backend"],
                                    state["tutel_cf"], *plan_args)
            loss.backward()
            opt.step()
            _sync(dev)
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return times
