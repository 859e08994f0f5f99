"""Memory as the DynaMoE paper reports it: the largest model each method fits in a stated budget.

The model grows by its expert width ``d_hidden`` (``n`` experts, token width ``d`` and tokens per
step ``B`` fixed). At fixed capacities the peak memory of a training step is exactly linear in
``d_hidden``: parameters, gradients and both Adam moments grow with ``n (2 d h + h + d)``, and the
saved expert activations with ``rows x h``. :func:`largest_model` measures the peak of one
forward + backward + Adam step at two widths, solves the line for the largest width (a multiple of
``quantum``) that fits the budget, and measures that width again to confirm it fits (stepping down
if it does not). Peaks are measured, never modelled: on CPU with the tensor tracker
(``systems.moe.memory``), on CUDA with ``torch.cuda.max_memory_allocated``.

Capacities are a method's *peak* configuration over its run (the most rows it ever allocated), so
the width found is one the whole run fits in, not only its settled phase.
"""

from __future__ import annotations

import gc
import math
from dataclasses import replace

import torch

from systems.moe.config import RunConfig
from systems.moe.data import make_data
from systems.moe.layer import MoEModel, make_layout
from systems.moe.memory import TensorMemoryTracker, persistent_bytes
from systems.moe.methods import Method
from systems.moe.train import DTYPES, PeerModel, cpu_threads, forward_loss, make_optimizer


def step_peak_mb(cfg: RunConfig, method: Method, caps: tuple[int, ...] | None, d_hidden: int) -> float:
    """Measured peak MB of one training step (forward, backward, Adam) of ``method`` at ``caps``
    (None: the back-end sizes its own buffers) with expert width ``d_hidden``."""
    with cpu_threads(cfg.threads):
        peak = _step_peak_mb(cfg, method, caps, d_hidden)
    if torch.device(cfg.device).type == "cuda":  # the probe's model and optimizer are gone: hand memory back
        gc.collect()
        torch.cuda.empty_cache()
    return peak


def _step_peak_mb(cfg: RunConfig, method: Method, caps: tuple[int, ...] | None, d_hidden: int) -> float:
    lc = replace(cfg.layer, d_hidden=d_hidden)
    dev, dtype = torch.device(cfg.device), DTYPES[cfg.dtype]
    data = make_data(cfg.workload, cfg.seed, dev)
    torch.manual_seed(cfg.seed)
    if method.backend == "peer":
        model = PeerModel(data.d_in, data.d_out, replace(cfg, layer=lc))
    else:
        model = MoEModel(data.d_in, data.d_out, lc, cfg.kernel)
    model = model.to(dev, dtype)
    if method.backend != "peer":
        model.moe.experts.resolve_kernel()
    opt, _ = make_optimizer(model.parameters(), cfg.lr, cfg.adam, dev)
    x, y = data.batch(0)
    x, y = x.to(dev, dtype), y.to(dev)
    backend = "padded" if method.backend in ("peer", "meta") else method.backend
    layout = make_layout(caps, dev) if backend == "padded" and caps is not None else None

    def step():
        opt.zero_grad(set_to_none=True)
        loss, *_ = forward_loss(model, x, y, data.task, lc.balance_coef, layout, backend, method.tutel_cf)
        loss.backward()
        opt.step()

    step()  # optimizer state exists from here on
    if dev.type == "cuda":
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        step()
        torch.cuda.synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) / 2**20
    opt.zero_grad(set_to_none=True)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
    persistent = list(model.parameters()) + state
    extra = [layout.cap_t, layout.starts, layout.seg.offs, layout.seg.row_expert] if layout else []
    with TensorMemoryTracker(exclude=persistent + [x, y, *extra]) as tr:
        step()
    return (persistent_bytes(persistent) + tr.peak_bytes) / 2**20


def largest_model(cfg: RunConfig, method: Method, caps: tuple[int, ...] | None, budget_mb: float,
                  quantum: int = 16, probe: tuple[int, int] | None = None, max_probes: int = 14) -> dict:
    """Largest expert width (a multiple of ``quantum``) whose measured step peak fits ``budget_mb``.

    Two probes fit the line ``peak = a + b * h``; its solution is measured, then the bracket
    [largest width that fits, smallest that does not] is closed by bisection to one quantum, every
    point measured. Returns the width, the expert parameters it means, its measured peak, the peak
    one quantum wider, and the line."""
    h0 = cfg.layer.d_hidden
    h1, h2 = probe or (max(quantum, h0 // 2 // quantum * quantum), max(2 * quantum, h0 // quantum * quantum))
    seen: dict[int, float] = {}

    def peak(h: int) -> float:
        if h not in seen:
            seen[h] = step_peak_mb(cfg, method, caps, h)
        return seen[h]

    p1, p2 = peak(h1), peak(h2)
    b = (p2 - p1) / (h2 - h1)
    a = p1 - b * h1
    if b <= 0:
        raise RuntimeError(f"peak memory does not grow with d_hidden ({p1:.2f} MB at {h1}, {p2:.2f} MB at {h2})")
    lo, hi = 0, None  # lo fits (0: nothing), hi does not
    for h in (h1, h2):
        if seen[h] <= budget_mb:
            lo = max(lo, h)
        elif hi is None or h < hi:
            hi = h
    h = max(quantum, math.floor((budget_mb - a) / b / quantum) * quantum)
    while len(seen) < max_probes:
        if h <= lo or (hi is not None and h >= hi):
            if hi is not None and hi - lo <= quantum:
                break
            h = (lo + quantum) if hi is None else max(lo + quantum, (lo + hi) // 2 // quantum * quantum)
        if peak(h) <= budget_mb:
            lo = h
            h = h + quantum if hi is None else (lo + hi) // 2 // quantum * quantum
        else:
            hi = h
            h = (lo + hi) // 2 // quantum * quantum
    if hi is None or hi - lo > quantum:
        raise RuntimeError(f"largest_model did not converge in {max_probes} probes (fits {lo}, fails {hi})")
    n, d = cfg.layer.n_experts, cfg.layer.d_model
    return {"d_hidden": lo, "expert_params_m": n * (2 * d * lo + lo + d) / 1e6,
            "peak_mb": seen.get(lo, float("nan")), "next_peak_mb": peak(hi), "line_mb": [a, b],
            "budget_mb": budget_mb, "probes": len(seen)}
