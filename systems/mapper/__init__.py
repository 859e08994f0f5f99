"""Mapper system: mapping-DSL mappers for Legion-style programs, scored on a runtime simulator.

Reproduces Wei et al., "Improving Parallel Program Performance with LLM Optimizers via
Agent-System Interfaces" (ICML 2025). The metric is a *simulated* makespan.
"""

from systems.core import Method, SystemSpec
from systems.mapper.config import CONFIGS
from systems.mapper.workloads import SUITES, workload_overrides

METHODS: tuple[Method, ...] = (
    Method("expert", "baseline", "the hand-written expert mapper of the benchmark", seeded=False),
    Method("random-search", "optimizer", "uniform random mappers from the structured space",
           overrides={"optimizer": "random-search"}),
    Method("scalar-tuner", "optimizer", "OpenTuner-style bandit over search techniques, scalar reward only",
           overrides={"optimizer": "scalar-tuner"}),
    Method("evolve", "optimizer", "local search editing DSL statements, steered by AutoGuide feedback",
           overrides={"optimizer": "evolve"}),
    Method("llm-agent", "optimizer", "LLM proposer over an OpenAI-compatible endpoint with AutoGuide feedback",
           overrides={"optimizer": "llm-agent"}, requires="systems.mapper.workloads:llm_unavailable"),
    Method("optoprime", "optimizer", "Microsoft Trace OptoPrime over the same endpoint: the mapper a trainable node, "
           "the simulator a bundled operator, AutoGuide text the feedback",
           overrides={"optimizer": "optoprime"}, requires="systems.mapper.workloads:optoprime_unavailable"),
)

SPEC = SystemSpec(
    name="mapper",
    description="mappers (task->processor, region->memory, layouts, index-launch placement) in a mapping DSL, "
                "scored on a Legion-like runtime simulator",
    primary_metric="time_s",
    direction="min",
    methods=METHODS,
    configs=CONFIGS,
    suites=SUITES,
    workload_overrides=workload_overrides,
    runner="systems.mapper.runner:run",
    benchmark_sources=("systems.mapper.apps.base", "systems.mapper.apps.matmul", "systems.mapper.apps.scientific",
                       "systems.mapper.machine", "systems.mapper.sim.simulator", "systems.mapper.sim.policy"),
    reference_baseline="expert",
    simulated=True,
    benchmark_version="1",
    status_hook="systems.mapper.agent.llm:llm_status",
)
