"""moe: DynaMoE — MoE capacity factors and assignment caching re-compiled as routing changes.

Methods (``systems.moe.methods``): a static capacity factor chosen in advance (``static-cf-0.625``,
``-1.0``, ``-1.25``, ``-2.0``; ``static-cf-2.0`` is the reference), the hindsight-picked
``static-cf-oracle``, DynaMoE's ``dynamic-cf``, ``local-cf`` and ``cache`` (re-compiled by
``systems.moe.controller``), and the peers Tutel ``tutel-cf0``, ``dropless`` and the ``peer-moe`` package.
Primary metric: measured training ``tokens_per_s`` at equal-or-better held-out ``final_loss``; every
result also carries ``meets_drop_limit`` (dropped assignments below ``methods.DROP_LIMIT``).
"""

from systems.core import Method, QualityGate, SystemSpec

from systems.moe.config import CONFIGS
from systems.moe.methods import EXPERT, METHODS as MOE_METHODS
from systems.moe.workloads import SUITES, workload_overrides

QUALITY_TOLERANCE = 0.02
"""Allowed held-out final-loss excess over the expert, in loss units (unit-variance MSE or cross-entropy).
Jobs of one flow share seed, initialisation and data order, so the comparison is paired; 0.02 is about
half the seed-to-seed standard deviation of the expert's loss on the smoke workloads (0.019-0.041 over
4 seeds), i.e. a difference smaller than what re-seeding alone produces."""

METHODS: tuple[Method, ...] = tuple(
    Method(name, m.role, m.description,
           overrides={"method": name, **({"compile": False} if m.backend in ("tutel", "peer") else {})})
    for name, m in MOE_METHODS.items())
"""The methods as the platform sees them (each sets ``RunConfig.method``; details in ``systems.moe.methods``).
``tutel-cf0`` and ``peer-moe`` size their buffers from every step's routing (no fixed shape to
specialise a graph to, and no recompilation in their design): they run eager under any config."""

SPEC = SystemSpec(
    name="moe",
    description="DynaMoE: MoE capacity factors / assignment caching re-compiled as routing changes",
    primary_metric="tokens_per_s",
    direction="max",
    methods=METHODS,
    configs=CONFIGS,
    suites=SUITES,
    workload_overrides=workload_overrides,
    reference_baseline=EXPERT,
    quality=QualityGate("final_loss", "min", QUALITY_TOLERANCE),
    runner="systems.moe.evaluate:run",
    benchmark_version="1",
    benchmark_sources=("systems.moe.workloads", "systems.moe.data"),
)
