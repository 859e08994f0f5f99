"""precision: mixed-precision assignment of training tensors with emulated 8-bit floats.

Reproduces Lee, Sharma, Aiken, "Training with Mixed-Precision Floating-Point Assignments"
(TMLR 2023): pi_ours(r) (grouping, largest-first ordering, share r, precision promotion)
against the HFP8 operator-based assignment pi_op. ``quantize`` is the pure-torch float
emulator (imported lazily so that importing the spec does not import torch).
"""

from __future__ import annotations

from systems.core.types import Method, QualityGate, SystemSpec
from systems.precision.config import CONFIGS
from systems.precision.workloads import SUITES, workload_overrides

METHODS: tuple[Method, ...] = (
    Method("ours", "optimizer", "pi_ours(r): grouping, largest-first, share r low, precision promotion"),
    Method("fp32", "baseline", "every tensor FP32"),
    Method("pi-op", "baseline", "HFP8 operator-based assignment (the expert)"),
    Method("unif-lo", "baseline", "every tensor in its low format"),
    Method("amp", "baseline", "AMP-style pi_op' (our reconstruction): all GEMM operands low"),
    Method("ours-smallest-first", "ablation", "pi_ours with smallest-first order"),
    Method("ours-random", "ablation", "pi_ours with a random group order"),
    Method("ours-no-promotion", "ablation", "pi_ours without precision promotion"),
)

# The headline is the paper's measure: the share of tensor elements held in low precision (from bits,
# as the authors' code logs it), divided by pi_op's, at matched accuracy (quality gate: mean accuracy
# within 1 point of pi_op's; the benchmark uses the paired-seed CI instead). Total memory (memory_mb)
# is reported beside it with its cap M(pi_op)/M(pi_unif(lo)) (memory_cap_op).
SPEC = SystemSpec(
    name="precision",
    description="which training tensors live in 8-bit vs 16-bit floats (pi_ours(r) vs HFP8 pi_op)",
    primary_metric="low_share",
    direction="max",
    methods=METHODS,
    configs=CONFIGS,
    suites=SUITES,
    workload_overrides=workload_overrides,
    runner="systems.precision.evaluate:run",
    benchmark_sources=("systems.precision.workloads", "systems.precision.data", "systems.precision.models",
                       "systems.precision.evaluate", "systems.precision.train", "systems.precision.floatfmt",
                       "systems.precision.search", "systems.precision.baselines", "systems.precision.assign"),
    reference_baseline="pi-op",
    quality=QualityGate("accuracy", "max", 0.01),
    benchmark_version="2",
)

__all__ = ["SPEC", "quantize"]


def __getattr__(name: str):
    if name == "quantize":
        from systems.precision.floatfmt import quantize

        return quantize
    raise AttributeError(f"module 'systems.precision' has no attribute {name!r}")
