"""``run(job, cfg) -> JobResult``: one (workload, method, seed) training run, measured on this machine.

Metrics (all measured, none simulated; a "step" is forward, backward, Adam, statistics, controller
and any recompile — data generation and memory probes are timed apart and excluded):

* ``tokens_per_s`` / ``tokens_per_cpu_s`` — tokens over the wall / process CPU seconds (this process
  and its finished children, e.g. the C++ compiler) of *all* steps: the first compile and every
  recompile included. ``tokens_per_s_steady`` / ``tokens_per_cpu_s_steady`` — tokens over the median
  step without a compile; ``step_ms_median``, ``step_cpu_ms_median``.
* ``compile_s`` / ``compile_cpu_s`` — extra time of the step that compiled the first graph over the
  median step; ``recompile_s`` / ``recompile_cpu_s`` — the same summed over later graphs;
  ``graphs_compiled`` (compile mode), ``recompiles`` (configuration changes, each a rebuild of the
  GroupBy layout and, in compile mode, a new graph unless seen before: ``graph_cache_hits``).
* ``peak_mem_mb`` / ``final_mem_mb`` — CPU: parameters + Adam state + peak live tensor storage of an
  eager forward+backward at the configuration in force, probed ``mem_samples`` times (max / last;
  ``systems.moe.memory``); CUDA: ``max_memory_allocated`` over the run.
* ``dropped_frac`` — dropped token->expert assignments / (k * B * steps), counted exactly;
  ``meets_drop_limit`` — 1 when below ``methods.DROP_LIMIT`` (1 %), the limit every method is held to.
* ``final_loss`` — held-out task loss (MSE on unit-variance targets, or cross-entropy) with the
  final capacities; ``accuracy`` for classification workloads; ``train_loss_tail``.
* ``mean_alpha`` / ``final_alpha`` / ``padded_rows_per_token`` — expert buffer rows per routed
  assignment (proportional to expert FLOPs); ``alpha_needed_mean`` / ``alpha_needed_max`` — the
  capacity factor zero drops would have needed; ``cache_steps_frac``, ``cache_match_mean``.
* ``static-cf-oracle`` adds ``oracle_alpha`` and ``oracle_selection_s`` (not charged).

The config is resolved by the platform (named config -> workload -> method -> job params, strictly); any
``RunConfig`` field may be overridden by a job, e.g. ``steps``, ``compile``, ``controller.bucket_alpha``.
"""

from __future__ import annotations

from dataclasses import replace

from systems.core import Job, JobResult, hardware_description
from systems.core.env import device as pick_device

from systems.moe.config import RunConfig


def run(job: Job, cfg: RunConfig) -> JobResult:
    """Train the job's method on its workload and return the measured metrics."""
    from systems.moe.methods import ORACLE

    cfg = replace(cfg.scaled(), device=pick_device(job.wants_gpu))
    if job.method == ORACLE:  # a meta-method: runs the engine several times and reports one run
        from systems.moe.baselines import run_oracle

        res = run_oracle(cfg)
    else:
        from systems.moe.train import train

        res = train(cfg)
    return JobResult(system="moe", workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=res.metrics, params={**res.params, "device": cfg.device}, series=res.series,
                     artifacts=res.artifacts, hardware=hardware_description(), simulated=False)
