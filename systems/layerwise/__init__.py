"""layerwise: a parallelization configuration per CNN layer (Jia et al., ICML 2018, "OptCNN").

Every layer gets its own split of the sample/channel/height/width dimensions over a device
block; an exact node/edge-elimination search over an analytic (or torch-profiled) cost model picks
them jointly, against data parallelism, model parallelism and "one weird trick". Figures are
simulated (predicted step time); see ``docs/results/layerwise.md``.
"""

from systems.core import Method, SystemSpec
from systems.layerwise.config import CONFIGS
from systems.layerwise.workloads import SUITES, workload_overrides

METHODS: tuple[Method, ...] = (
    Method("layerwise-dp", "optimizer", "exact node/edge elimination over the cost model (the paper's search)",
           overrides={"method": "layerwise-dp"}, seeded=False),
    Method("mcmc", "optimizer", "MCMC over strategies from data parallelism (FlexFlow-style)",
           overrides={"method": "mcmc"}),
    Method("brute-force", "verification", "joint enumeration (checks the elimination where feasible)",
           overrides={"method": "brute-force"}, seeded=False),
    Method("data-parallel", "baseline", "every layer splits the sample dimension",
           overrides={"method": "data-parallel"}, seeded=False),
    Method("model-parallel", "baseline", "every layer splits its channel dimension",
           overrides={"method": "model-parallel"}, seeded=False),
    Method("owt", "baseline", "one weird trick: convolutions data parallel, fully connected layers model parallel",
           overrides={"method": "owt"}, seeded=False),
)

SPEC = SystemSpec(
    name="layerwise",
    description="per-layer parallelization configurations of CNNs (OptCNN): exact elimination search "
                "vs data/model parallel and OWT",
    primary_metric="throughput",
    direction="max",
    methods=METHODS,
    configs=CONFIGS,
    suites=SUITES,
    workload_overrides=workload_overrides,
    runner="systems.layerwise.evaluate:run",
    reference_baseline=None,
    simulated=True,
    benchmark_sources=("systems.layerwise.workloads", "systems.layerwise.graph"),
)

__all__ = ["SPEC"]
