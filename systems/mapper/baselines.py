"""The expert baseline: evaluate the benchmark's expert mapper (``systems/mapper/experts/*.dsl``) as a job.

The expert mappers encode the decisions of the public expert mappers of the paper's authors (see the
header of each file); the method ``expert`` of :data:`systems.mapper.SPEC` runs :func:`run_expert`.
"""

from __future__ import annotations

import time

from systems.core import Job, JobResult, hardware_description
from systems.mapper.config import MapperConfig
from systems.mapper.evaluate import evaluate_mapper, outcome_metrics, to_json
from systems.mapper.experts import expert_mapper

EXPERT_METHOD = "expert"
"""Method name of the expert baseline."""


def run_expert(job: Job, cfg: MapperConfig) -> JobResult:
    """Evaluate the expert mapper of ``cfg.app`` on its machine (or ``cfg.machine``) at the configured sizes."""
    t0 = time.perf_counter()
    text = expert_mapper(cfg.app)
    sizes = cfg.resolved_sizes()
    out = evaluate_mapper(text, cfg.app, cfg.machine, **sizes)
    if not out.ok:
        raise RuntimeError(f"expert mapper for {job.workload} failed: {out.status} ({out.error_kind}): {out.message}")
    return JobResult(system=job.system, workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=outcome_metrics(out),
                     params={"machine": out.machine, "sizes": sizes, "evaluations": 1},
                     artifacts={"mapper.dsl": text, "profile.json": to_json(out.profile)},
                     hardware=hardware_description(), wall_s=time.perf_counter() - t0, simulated=True)


__all__ = ["EXPERT_METHOD", "expert_mapper", "run_expert"]
