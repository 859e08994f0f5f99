"""Mapper system: mapping-DSL mappers for Legion-style programs, scored on a runtime simulator.

Reproduces Wei et al., "Improving Parallel Program Performance with LLM Optimizers via
Agent-System Interfaces" (ICML 2025). The metric is a *simulated* makespan.
"""

from systems.core import SystemSpec
from systems.mapper.workloads import make_jobs, workloads

SPEC = SystemSpec(
    name="mapper",
    description="mappers (task->processor, region->memory, layouts, index-launch placement) in a mapping DSL, "
                "scored on a Legion-like runtime simulator",
    primary_metric="time_s",
    direction="min",
    methods=("expert", "random-search", "scalar-tuner", "evolve", "llm-agent"),
    baselines=("expert",),
    make_jobs=make_jobs,
    runner="systems.mapper.evaluate:run",
    workloads=workloads,
    reference_baseline="expert",
    simulated=True,
    benchmark_version="1",
    status_hook="systems.mapper.agent.llm:llm_status",
)
