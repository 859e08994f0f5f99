"""``run(job) -> JobResult``: one (workload, method, seed) training run, measured on this machine.

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

Job params: ``steps`` (int), ``compile`` (bool), ``compile_backend`` (str) override the workload.
"""

from __future__ import annotations

from dataclasses import replace

from systems.core import Job, JobResult, hardware_description
from systems.core.env import device as pick_device

from systems.moe.workloads import workload_config

_KNOWN_PARAMS = {"steps": int, "compile": bool, "compile_backend": str}


def config_for(job: Job):
    """The RunConfig a job runs (workload size of its suite + job params)."""
    cfg = workload_config(job.workload, job.suite)
    for k, v in job.params.items():
        if k not in _KNOWN_PARAMS:
            raise ValueError(f"job param {k!r} not understood by moe; valid: {', '.join(_KNOWN_PARAMS)}")
        if not isinstance(v, _KNOWN_PARAMS[k]):
            raise ValueError(f"job param {k!r} must be {_KNOWN_PARAMS[k].__name__}, got {v!r}")
    cfg = replace(cfg, method=job.method, seed=job.seed, device=pick_device(job.wants_gpu),
                  **{k: v for k, v in job.params.items()})
    return cfg


def run(job: Job) -> JobResult:
    """Train the job's method on its workload and return the measured metrics."""
    from systems.moe.methods import ORACLE

    cfg = config_for(job)
    if job.method == ORACLE:  # a meta-method: runs the engine several times and reports one run
        from systems.moe.baselines import run_oracle

        res = run_oracle(cfg)
    else:
        from systems.moe.train import train

        res = train(cfg)
    return JobResult(system="moe", workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=res.metrics, params={**res.params, "device": cfg.device}, series=res.series,
                     artifacts=res.artifacts, hardware=hardware_description(), simulated=False)
