"""layerwise: a parallelization configuration per CNN layer (Jia et al., ICML 2018, "OptCNN").

Every layer gets its own split of the sample/channel/height/width dimensions over a device
block; an exact node/edge-elimination search (any graph: variable elimination on what is left,
MCMC beyond a stated budget) over a cost model — compute calibrated against published throughput
or profiled with torch/cuDNN, a node/NIC network — picks them jointly, against data parallelism,
model parallelism and "one weird trick". Figures are simulated (predicted step time) except the
multi-process execution; see ``docs/results/layerwise.md``.
"""

from systems.core import Method, SystemSpec
from systems.layerwise.config import CONFIGS
from systems.layerwise.workloads import SUITES, workload_overrides

METHODS: tuple[Method, ...] = (
    Method("layerwise-dp", "optimizer", "node/edge elimination over the cost model (the paper's search), "
           "exact on any graph within a budget, MCMC fallback beyond it", overrides={"method": "layerwise-dp"},
           seeded=False),
    Method("mcmc", "optimizer", "Metropolis MCMC over strategies (FlexFlow-style), chains from the experts",
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
