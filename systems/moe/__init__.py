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
"""Allowed held-out final-loss excess over the expert, in loss units (unit-variance MSE or cross-entropy).
Jobs of one flow share seed, initialisation and data order, so the comparison is paired; 0.02 is about
half the seed-to-seed standard deviation of the expert's loss on the smoke workloads (0.019-0.041 over
4 seeds), i.e. a difference smaller than what re-seeding alone produces."""

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
