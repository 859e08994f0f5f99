"""layerwise: a parallelization configuration per CNN layer (Jia et al., ICML 2018, "OptCNN").

Every layer gets its own split of the sample/channel/height/width dimensions over a device
block; an exact node/edge-elimination search over an analytic (or torch-profiled) cost model picks
them jointly, against data parallelism, model parallelism and "one weird trick". Figures are
simulated (predicted step time); see ``docs/results/layerwise.md``.
"""

from systems.core import SystemSpec
from systems.layerwise.workloads import BASELINE_METHODS, METHODS, make_jobs, workloads

SPEC = SystemSpec(
    name="layerwise",
    description="per-layer parallelization configurations of CNNs (OptCNN): exact elimination search "
                "vs data/model parallel and OWT",
    primary_metric="throughput",
    direction="max",
    methods=METHODS,
    baselines=BASELINE_METHODS,
    make_jobs=make_jobs,
    runner="systems.layerwise.evaluate:run",
    workloads=workloads,
    reference_baseline=None,
    simulated=True,
)

__all__ = ["SPEC"]
