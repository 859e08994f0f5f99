"""moe: DynaMoE — MoE capacity factors and assignment caching re-compiled as routing changes.

Methods (``systems.moe.methods``): static capacity ``static-cf-{1.0,1.25,2.0}`` and the expert's
pick ``static-cf-expert`` (smallest of those dropping < 1 % of assignments, chosen inside the job),
DynaMoE's ``dynamic-cf``, ``local-cf`` and ``cache`` (re-compiled by ``systems.moe.controller``),
Tutel's ``tutel-cf0``, ``dropless`` sort-and-segment and the ``peer-moe`` package.
Primary metric: measured training ``tokens_per_s`` at equal-or-better held-out ``final_loss``.
"""

from systems.core import QualityGate, SystemSpec

from systems.moe.methods import BASELINES, EXPERT, METHODS
from systems.moe.workloads import make_jobs, workloads

QUALITY_TOLERANCE = 0.02
"""Allowed final-loss excess over the expert (losses are unit-variance MSE or cross-entropy)."""

SPEC = SystemSpec(
    name="moe",
    description="DynaMoE: MoE capacity factors / assignment caching re-compiled as routing changes",
    primary_metric="tokens_per_s",
    direction="max",
    methods=tuple(METHODS),
    baselines=BASELINES,
    reference_baseline=EXPERT,
    quality=QualityGate("final_loss", "min", QUALITY_TOLERANCE),
    make_jobs=make_jobs,
    runner="systems.moe.evaluate:run",
    workloads=workloads,
    benchmark_version="1",
)
