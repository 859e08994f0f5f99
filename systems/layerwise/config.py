"""Typed configuration of the layer-wise parallelism system: devices, cost model, search, a run.

Device descriptions are *assumptions* used by a simulated cost model, not measurements; their
sources are given per preset. Named configs are functions returning a config (:data:`CONFIGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class DeviceSpec:
    """A homogeneous cluster of accelerators for the cost model."""

    name: str
    """Preset name (``p100_4x4``, ``h100_8``, ``cpu``)."""
    gpus_per_node: int
    """Devices per node; devices ``k*gpus_per_node ..`` share node ``k``."""
    max_nodes: int
    """Number of nodes available (so at most ``gpus_per_node * max_nodes`` devices)."""
    flops: float
    """Sustained FLOP/s of one device on conv/GEMM kernels (fp32 training)."""
    mem_bw: float
    """Sustained device-memory bandwidth in bytes/s (bounds pooling / elementwise ops)."""
    bw_intra: float
    """Point-to-point bandwidth between two devices of one node, bytes/s per direction."""
    bw_inter: float
    """Bandwidth between devices on different nodes, bytes/s per direction."""
    latency_intra: float = 5e-6
    """Per-message latency inside a node, seconds."""
    latency_inter: float = 1e-5
    """Per-message latency across nodes, seconds."""
    kernel_overhead_s: float = 1e-5
    """Fixed launch/runtime overhead per kernel, seconds (fwd + bwd run several kernels)."""
    source: str = ""
    """Where the numbers come from (and what was assumed)."""

    @property
    def max_devices(self) -> int:
        return self.gpus_per_node * self.max_nodes


def p100_4x4() -> DeviceSpec:
    """The paper's cluster (4 nodes x 4 P100, NVLink inside a node, 100 Gb/s EDR InfiniBand).

    Assumptions: P100 SXM2 peak fp32 10.6 TFLOP/s, taken at ~55 % sustained for cuDNN training
    kernels; HBM2 732 GB/s at 75 %; inter-node 100 Gb/s EDR = 12.5 GB/s; intra-node bandwidth set
    to 4x inter-node as in the legacy FlexFlow simulator (``scripts/simulator.cc``), i.e. 50 GB/s
    (2-3 NVLink-1 links of 20 GB/s). Latencies and kernel overhead are round-number guesses.
    """
    return DeviceSpec(name="p100_4x4", gpus_per_node=4, max_nodes=4, flops=5.8e12, mem_bw=550e9,
                      bw_intra=50e9, bw_inter=12.5e9, latency_intra=5e-6, latency_inter=1e-5,
                      kernel_overhead_s=1e-5,
                      source="paper cluster: 4 nodes x 4 P100 (NVLink), EDR IB; intra = 4x inter as in "
                             "legacy FlexFlow simulator; sustained fractions assumed")


def h100_8() -> DeviceSpec:
    """A DGX-H100-like node (8 x H100 SXM, NVLink 4 via NVSwitch), two such nodes at most.

    Assumptions: TF32 tensor-core dense peak ~495 TFLOP/s at ~40 % sustained (200 TFLOP/s);
    HBM3 3.35 TB/s at 80 %; NVLink 4 450 GB/s per direction per GPU at 80 % (360 GB/s); between
    nodes one 400 Gb/s NDR InfiniBand NIC per GPU = 50 GB/s at 80 % (40 GB/s).
    """
    return DeviceSpec(name="h100_8", gpus_per_node=8, max_nodes=2, flops=2.0e14, mem_bw=2.7e12,
                      bw_intra=360e9, bw_inter=40e9, latency_intra=3e-6, latency_inter=6e-6,
                      kernel_overhead_s=5e-6,
                      source="DGX-H100-like: 8 x H100 SXM, NVLink4/NVSwitch, 8 x 400 Gb/s NDR per node; "
                             "sustained fractions assumed")


def cpu_emulated(bw: float = 5e9, gpus_per_node: int = 16) -> DeviceSpec:
    """Emulated devices on this CPU (profiled compute; copies at ``bw`` bytes/s, no latency)."""
    return DeviceSpec(name="cpu", gpus_per_node=gpus_per_node, max_nodes=1, flops=5e10, mem_bw=1e10,
                      bw_intra=bw, bw_inter=bw, latency_intra=0.0, latency_inter=0.0,
                      kernel_overhead_s=0.0,
                      source="single-process emulation on the local CPU; bandwidth = measured or given copy rate")


CLUSTERS = {"p100_4x4": p100_4x4, "h100_8": h100_8, "cpu": cpu_emulated}


def cluster(name: str) -> DeviceSpec:
    """A named device description."""
    if name not in CLUSTERS:
        raise ValueError(f"unknown cluster {name!r}; known: {', '.join(CLUSTERS)}")
    return CLUSTERS[name]()


@dataclass
class CostConfig:
    """How the cost model computes t_c, t_x and t_s."""

    compute: Literal["analytic", "profiled"] = "analytic"
    """``analytic``: FLOP/bandwidth roofline (deterministic); ``profiled``: torch fwd+bwd timing."""
    transfer: Literal["parallel", "sum"] = "parallel"
    """``parallel``: t_x = slowest device's inbound/outbound traffic (links work concurrently);
    ``sum``: every producer/consumer pair's transfer added up (the paper's literal formula)."""
    sync: Literal["ps", "ring"] = "ps"
    """Parameter synchronisation: parameter-server formula as in the paper's code, or ring all-reduce."""
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
    """Largest joint enumeration allowed for the graph left after elimination (and for brute force)."""
    mcmc_iterations: int = 20_000
    """Proposals the MCMC search makes."""
    mcmc_alpha: float = 50.0
    """MCMC inverse temperature: a proposal worse by fraction f is accepted w.p. exp(-alpha*f)."""
    mcmc_init: Literal["data-parallel", "random"] = "data-parallel"
    """Initial strategy of the MCMC chain (FlexFlow starts from data parallelism)."""


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
    """Device description preset (see :data:`CLUSTERS`)."""
    method: str = "layerwise-dp"
    """Search method or baseline."""
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
    """The smoke suite: the paper's setting with a short MCMC chain (2,000 proposals)."""
    return LayerwiseConfig(search=SearchConfig(mcmc_iterations=2000))


CONFIGS = {"default": layerwise_default, "debug_cpu": layerwise_debug_cpu}
"""Named configs (``SuiteEntry.config``)."""
