"""Typed configuration of the layer-wise parallelism system: cost model, search, a run.

Cluster descriptions (:class:`DeviceSpec` and its presets) live in :mod:`systems.layerwise.hardware`
and are re-exported here. Named configs are functions returning a config (:data:`CONFIGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from systems.layerwise.hardware import (CLUSTERS, DeviceSpec, cluster, cpu_emulated, dgx1_p100,  # noqa: F401
                                        h100_8, k80_gce, p100_4x4)


@dataclass
class CostConfig:
    """How the cost model computes t_c, t_x and t_s."""

    compute: Literal["calibrated", "roofline", "profiled"] = "calibrated"
    """``calibrated``: per-op-class model fitted to published throughput (``hardware.py``);
    ``roofline``: one uniform FLOP rate (the uncalibrated model); ``profiled``: torch fwd+bwd timing
    of every sub-shape on the local device (cuDNN on a GPU)."""
    transfer: Literal["sum", "parallel"] = "sum"
    """``sum`` (the paper's formula): every producer/consumer pair's bytes / its link's bandwidth,
    added up; ``parallel``: transfers run concurrently and t_x is the busiest resource — one link of
    a device pair inside a node, or one node's shared NIC (egress or ingress)."""
    sync: Literal["ps", "ring"] = "ps"
    """Parameter synchronisation on the node/NIC topology: parameter server as in the paper's code
    (replicas reduce inside a node, nodes exchange over their NICs), or ring all-reduce."""
    dtype_bytes: int = 4
    """Bytes per tensor element (fp32)."""
    backward_transfers: bool = True
    """Count the gradient transfers of the backward pass (doubles t_x and its bytes)."""
    profile_repeats: int = 5
    """Repeats per profiled sub-shape (the median is used)."""
    profile_warmup: int = 1
    """Warm-up runs before timing a sub-shape."""


@dataclass
class SearchConfig:
    """Search-space and optimizer settings."""

    offsets: bool = False
    """Also place a layer on every aligned device block (not only the one starting at device 0)."""
    final_limit: int = 2_000_000
    """Largest joint enumeration brute force may do (verification only)."""
    exact_budget: float = 1e8
    """Table entries the exact search may visit on the graph left after node/edge elimination
    (variable elimination, with conditioning on hub nodes if that is cheaper); beyond it the search
    falls back to MCMC (the result then says ``exact: 0``)."""
    mcmc_iterations: int = 20_000
    """Proposals per MCMC chain."""
    mcmc_alpha: float = 50.0
    """MCMC inverse temperature: a proposal worse by fraction f is accepted w.p. exp(-alpha*f)."""
    mcmc_init: Literal["experts", "data-parallel", "random"] = "experts"
    """Starting strategies of the MCMC chains: ``experts`` = one chain from each of data parallelism,
    OWT and model parallelism; ``data-parallel`` = one chain from it (as FlexFlow); ``random``."""
    mcmc_restarts: int = 1
    """Extra chains restarted from the best strategy found so far, after one chain per start (each
    ``mcmc_iterations`` long, chain i seeded ``seed + i``); the best result is kept. The elimination
    search's MCMC fallback uses the same chains, started also from its restricted exact optimum."""


@dataclass
class ClusterScale:
    """Multipliers on the cluster preset's figures, for sensitivity studies (1.0 = as described)."""

    bw_intra: float = 1.0
    """Scales the bandwidth of every intra-node device pair."""
    bw_nic: float = 1.0
    """Scales the bandwidth of each node's shared NIC."""
    latency: float = 1.0
    """Scales both message latencies (intra- and inter-node)."""
    compute_speed: float = 1.0
    """Scales the device's peak FLOP/s and memory bandwidth (and divides the kernel overhead)."""
    eff_conv: float = 1.0
    """Scales only the fitted efficiency of non-Winograd convolutions and GEMMs."""


@dataclass
class LayerwiseConfig:
    """One search run: a network on P devices of a cluster."""

    network: str = "alexnet"
    """Builder name (``alexnet``, ``vgg16``, ``inception_v3``, ``tiny_*``, ``micro_cnn``)."""
    devices: int = 16
    """Number of devices P (power of two)."""
    batch_per_device: int = 32
    """Samples per device; the global batch is ``batch_per_device * devices`` (weak scaling)."""
    cluster: str = "p100_4x4"
    """Cluster description preset (see :data:`CLUSTERS`)."""
    scale: ClusterScale = field(default_factory=ClusterScale)
    """Multipliers on the preset (sensitivity); all 1.0 by default."""
    method: str = "layerwise-dp"
    """Search method or baseline (``layerwise-dp``, ``mcmc``, ``brute-force``, ``data-parallel``,
    ``model-parallel``, ``owt``)."""
    cost: CostConfig = field(default_factory=CostConfig)
    """Cost-model settings."""
    search: SearchConfig = field(default_factory=SearchConfig)
    """Search settings."""
    seed: int = 0
    """Seed (MCMC, random strategies)."""


def layerwise_default() -> LayerwiseConfig:
    """The paper's setting; the workload picks network, device count and cluster."""
    return LayerwiseConfig()


def layerwise_debug_cpu() -> LayerwiseConfig:
    """The smoke suite: the paper's setting with short MCMC chains (2,000 proposals)."""
    return LayerwiseConfig(search=SearchConfig(mcmc_iterations=2000))


def scaled_cluster(cfg: LayerwiseConfig) -> DeviceSpec:
    """The run's cluster: the named preset with ``cfg.scale`` applied."""
    spec = cluster(cfg.cluster)
    sc = cfg.scale
    for name in ("bw_intra", "bw_nic", "latency", "compute_speed", "eff_conv"):
        v = getattr(sc, name)
        if not v > 0:
            raise ValueError(f"scale.{name} must be > 0, got {v!r}")
    if (sc.bw_intra, sc.bw_nic, sc.latency, sc.compute_speed, sc.eff_conv) == (1.0,) * 5:
        return spec
    return spec.with_(bw_intra=spec.bw_intra * sc.bw_intra, bw_nic=spec.bw_nic * sc.bw_nic,
                      latency_intra=spec.latency_intra * sc.latency, latency_inter=spec.latency_inter * sc.latency,
                      peak_flops=spec.peak_flops * sc.compute_speed, mem_bw=spec.mem_bw * sc.compute_speed,
                      roofline_flops=spec.flops * sc.compute_speed,
                      kernel_overhead_s=spec.kernel_overhead_s / sc.compute_speed,
                      eff_conv=spec.eff_conv * sc.eff_conv)


CONFIGS = {"default": layerwise_default, "debug_cpu": layerwise_debug_cpu}
"""Named configs (``SuiteEntry.config``)."""
