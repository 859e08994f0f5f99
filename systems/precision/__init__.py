"""precision: mixed-precision assignment of training tensors with emulated 8-bit floats.

Reproduces Lee, Sharma, Aiken, "Training with Mixed-Precision Floating-Point Assignments"
(TMLR 2023): pi_ours(r) (grouping, largest-first ordering, share r, precision promotion)
against the HFP8 operator-based assignment pi_op. ``quantize`` is the pure-torch float
emulator (imported lazily so that importing the spec does not import torch).
"""

from __future__ import annotations

from systems.core.types import QualityGate, SystemSpec
from systems.precision.workloads import BASELINES, METHODS, make_jobs, workloads

SPEC = SystemSpec(
    name="precision",
    description="which training tensors live in 8-bit vs 16-bit floats (pi_ours(r) vs HFP8 pi_op)",
    primary_metric="memory_mb",
    direction="min",
    methods=METHODS,
    baselines=BASELINES,
    make_jobs=make_jobs,
    runner="systems.precision.evaluate:run",
    workloads=workloads,
    reference_baseline="pi-op",
    quality=QualityGate("accuracy", "max", 0.005),
    benchmark_version="1",
)

__all__ = ["SPEC", "quantize"]


def __getattr__(name: str):
    if name == "quantize":
        from systems.precision.floatfmt import quantize

        return quantize
    raise AttributeError(f"module 'systems.precision' has no attribute {name!r}")
