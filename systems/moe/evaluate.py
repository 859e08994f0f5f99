"""``run(job, cfg) -> JobResult``: one (workload, method, seed) training run, measured on this machine.

Metrics (all measured, none simulated):

* ``tokens_per_s`` — tokens / wall second over every step after ``warmup_steps`` (forward, backward,
  Adam, statistics, controller), re-compilation time included.
* ``tokens_per_s_steady`` — tokens / median step time (recompile steps excluded).
* ``peak_mem_mb`` / ``final_mem_mb`` — parameters + Adam state + peak live tensor storage of an eager
  forward+backward at the configuration in force, probed ``mem_samples`` times (max / last);
  tracked by a TorchDispatchMode (``systems.moe.memory``), tensor bytes only.
* ``dropped_frac`` — dropped token->expert assignments / (k * B * steps), counted exactly.
* ``final_loss`` — held-out task loss (MSE on unit-variance targets, or cross-entropy) with the
  final capacities; ``accuracy`` for classification workloads.
* ``recompiles`` — configuration changes (each rebuilds buffers; in compile mode a new graph);
  ``recompile_s`` — their measured cost (compile mode: extra time of the first step after each change
  over the median step, plus rebuild time); ``initial_compile_s`` for the first graph.

The config is resolved by the platform (named config -> workload -> method -> job params, strictly); any
``RunConfig`` field may be overridden by a job, e.g. ``steps``, ``compile``, ``compile_backend``.
"""

from __future__ import annotations

from dataclasses import replace

from systems.core import Job, JobResult, hardware_description
from systems.core.env import device as pick_device

from systems.moe.config import RunConfig


def run(job: Job, cfg: RunConfig) -> JobResult:
    """Train the job's method on its workload and return the measured metrics."""
    from systems.moe.train import train

    cfg = replace(cfg.scaled(), device=pick_device(job.wants_gpu))
    res = train(cfg)
    return JobResult(system="moe", workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=res.metrics, params={**res.params, "device": cfg.device}, series=res.series,
                     artifacts=res.artifacts, hardware=hardware_description(), simulated=False)
