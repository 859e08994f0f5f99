"""Cluster descriptions for the cost model: per-op-class compute, and a node/NIC network topology.

**Compute** (``compute="calibrated"``, the default): a task's forward + backward time is a sum over
its kernels of ``max(FLOPs / (peak * eff), bytes / (mem_bw * eff_mem))`` with the efficiency chosen by
op class — ``eff_winograd`` for 3x3 and 5x5 stride-1 convolutions (cuDNN >= 5.1 runs them with Winograd, so their
*effective* FLOP rate may exceed the peak), ``eff_conv`` for every other convolution and for GEMMs
(linear layers) — plus elementwise traffic (bias, ReLU) at ``mem_bw * eff_mem``, the SGD update of the
task's weight shard, and a fixed ``kernel_overhead_s`` per kernel. ``eff_winograd``, ``eff_conv`` and
``kernel_overhead_s`` are *fitted* to published single-device training throughput (:data:`PUBLISHED`,
:func:`calibrate`); the peak figures are the vendors' data-sheet numbers; ``eff_mem`` is assumed.

**Network**: devices ``k*gpus_per_node ..`` form node ``k``. Every ordered pair of devices in one node
has its own link (``bw_intra`` bytes/s per direction, ``latency_intra`` per message). Each node has
ONE network interface (``bw_nic`` per direction, ``latency_inter``) shared by all of its devices, so
concurrent inter-node transfers of one node contend for it (see ``CostConfig.transfer``).

Every preset states its sources and what is assumed; :func:`describe` renders that for result docs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass
class DeviceSpec:
    """A homogeneous cluster: per-device compute and the node/NIC network."""

    name: str
    """Preset name (``p100_4x4``, ``dgx1_p100``, ``k80_gce``, ``h100_8``, ``cpu``)."""
    gpus_per_node: int
    """Devices per node; devices ``k*gpus_per_node .. (k+1)*gpus_per_node-1`` share node ``k``."""
    max_nodes: int
    """Number of nodes available (so at most ``gpus_per_node * max_nodes`` devices)."""
    peak_flops: float
    """Data-sheet fp32 peak FLOP/s of one device."""
    mem_bw: float
    """Data-sheet device-memory bandwidth, bytes/s."""
    eff_winograd: float
    """Effective fraction of ``peak_flops`` reached by 3x3/5x5 stride-1 convolutions (fitted; Winograd)."""
    eff_conv: float
    """Fraction of ``peak_flops`` reached by other convolutions and by GEMMs (fitted)."""
    eff_mem: float
    """Fraction of ``mem_bw`` reached by memory-bound kernels (assumed)."""
    kernel_overhead_s: float
    """Fixed time per kernel (launch + framework), seconds (fitted)."""
    bw_intra: float
    """Bandwidth of the link between two devices of one node, bytes/s per direction."""
    bw_nic: float
    """Bandwidth of a node's one network interface, bytes/s per direction (shared by its devices)."""
    latency_intra: float = 5e-6
    """Per-message latency inside a node, seconds."""
    latency_inter: float = 1e-5
    """Per-message latency between nodes, seconds."""
    roofline_flops: float = 0.0
    """Uniform sustained FLOP/s of the uncalibrated ``roofline`` compute mode (0 = 55 % of peak)."""
    update_passes: int = 3
    """Memory passes of the weight update per parameter (plain SGD: read w, read g, write w)."""
    compute_slots: int = 0
    """Devices that can compute at the same time (0 = all; a CPU testbed with fewer cores than
    processes sets its core count: a layer's ``d`` tasks then take ``ceil(d / slots)`` rounds)."""
    source: str = ""
    """Where the numbers come from and what is assumed."""
    calibration: str = ""
    """How the fitted fields were obtained (empty when nothing was fitted)."""

    @property
    def max_devices(self) -> int:
        return self.gpus_per_node * self.max_nodes

    @property
    def flops(self) -> float:
        """Sustained FLOP/s of the roofline mode."""
        return self.roofline_flops or 0.55 * self.peak_flops

    def with_(self, **kw) -> "DeviceSpec":
        """A copy with some fields changed (sensitivity studies); unknown names are an error."""
        valid = {f.name for f in fields(self)}
        bad = sorted(set(kw) - valid)
        if bad:
            raise ValueError(f"unknown DeviceSpec field(s) {bad}; valid: {', '.join(sorted(valid))}")
        return replace(self, **kw)


# ----------------------------------------------------------------------------- published measurements

TF_BENCH = ("TensorFlow benchmarks, May 2017 (tensorflow.org/performance/benchmarks; source "
            "tensorflow/tensorflow tensorflow/docs_src/performance/benchmarks.md): tf_cnn_benchmarks, "
            "synthetic data, 1 GPU, fp32, SGD, CUDA 8 / cuDNN 5.1")


@dataclass(frozen=True)
class Published:
    """One published single-device training throughput."""

    device: str
    """Preset whose compute it calibrates or checks."""
    network: str
    """Builder name of the network (``alexnet_tf`` = tf_cnn_benchmarks' AlexNet variant)."""
    batch: int
    """Batch size per device."""
    img_s: float
    """Published images/s."""
    use: str
    """``fit`` (used by :func:`calibrate`) or ``held-out`` (only compared)."""
    where: str
    """Which table of the source."""


PUBLISHED: tuple[Published, ...] = (
    Published("p100", "vgg16", 32, 144.0, "fit", "DGX-1 (P100), other results (batch 32)"),
    Published("p100", "inception_v3", 32, 128.0, "fit", "DGX-1 (P100), other results (batch 32)"),
    Published("p100", "vgg16", 64, 154.0, "fit", "DGX-1 (P100), results (batch 64)"),
    Published("p100", "inception_v3", 64, 142.0, "fit", "DGX-1 (P100), results (batch 64)"),
    Published("p100", "alexnet_tf", 512, 2987.0, "held-out", "DGX-1 (P100), results (batch 512)"),
    Published("k80", "vgg16", 32, 35.4, "fit", "Google Compute Engine (K80), results (batch 32)"),
    Published("k80", "inception_v3", 32, 29.3, "fit", "Google Compute Engine (K80), other results (batch 32)"),
    Published("k80", "inception_v3", 64, 30.5, "fit", "Google Compute Engine (K80), results (batch 64)"),
    Published("k80", "alexnet_tf", 512, 656.0, "held-out", "Google Compute Engine (K80), results (batch 512)"),
)
"""Single-GPU training throughput from :data:`TF_BENCH` (read in the source; not re-measured here)."""

PUBLISHED_SCALING = {
    # (device, network, batch per GPU, GPUs in one DGX-1 node) -> published images/s (same source)
    ("p100", "vgg16", 32, 8): 820.0,
    ("p100", "inception_v3", 32, 8): 995.0,
    ("p100", "vgg16", 32, 4): 549.0,
    ("p100", "inception_v3", 32, 4): 520.0,
}
"""Published data-parallel throughput in one DGX-1 (VGG-16: replicated variables with NCCL;
Inception-v3: parameter server on the CPU), for checking the network model — never fitted."""


# ----------------------------------------------------------------------------- presets

_P100 = dict(peak_flops=10.6e12, mem_bw=732e9, eff_mem=0.75,
             # fitted by calibrate("p100") on PUBLISHED (see tests/systems/layerwise/test_hardware.py)
             eff_winograd=1.544, eff_conv=0.3969, kernel_overhead_s=7.234e-5,
             roofline_flops=5.8e12)
_P100_SRC = ("Tesla P100 SXM2 data sheet: 10.6 TFLOP/s fp32, 732 GB/s HBM2; per-op-class efficiencies and "
             "kernel overhead fitted to TensorFlow's published P100 training throughput")


def p100_4x4() -> DeviceSpec:
    """The paper's cluster: 4 nodes x 4 P100, NVLink inside a node, one 100 Gb/s EDR InfiniBand link per node.

    Network assumptions: each pair of GPUs in a 4-GPU NVLink group has one NVLink-1 link (20 GB/s per
    direction, the P100 SXM2 figure; a DGX-1 quad is fully connected); the node's one EDR link gives
    12.5 GB/s per direction, shared by its 4 GPUs; latencies 5 us (NVLink) / 10 us (InfiniBand +
    runtime) are round-number assumptions.
    """
    return DeviceSpec(name="p100_4x4", gpus_per_node=4, max_nodes=4, **_P100,
                      bw_intra=20e9, bw_nic=12.5e9, latency_intra=5e-6, latency_inter=1e-5,
                      source=_P100_SRC + "; network: 4 nodes x 4 GPUs, NVLink-1 20 GB/s per GPU pair, one "
                             "100 Gb/s (12.5 GB/s) EDR InfiniBand NIC per node shared by its GPUs (the "
                             "paper's cluster description); latencies 5/10 us assumed",
                      calibration=calibration_note("p100"))


def dgx1_p100() -> DeviceSpec:
    """One DGX-1 (8 P100): the machine of the published scaling figures (network check only).

    Assumption: every GPU pair at 20 GB/s (in the real hybrid cube-mesh 3 of 7 peers of a GPU are two
    hops away, so this is optimistic for all-to-all traffic, exact for rings).
    """
    return DeviceSpec(name="dgx1_p100", gpus_per_node=8, max_nodes=1, **_P100,
                      bw_intra=20e9, bw_nic=12.5e9, latency_intra=5e-6, latency_inter=1e-5,
                      source=_P100_SRC + "; network: one DGX-1 node, NVLink-1 20 GB/s per GPU pair "
                             "(optimistic: the cube mesh links 4 of 7 peers directly)",
                      calibration=calibration_note("p100"))


def k80_gce() -> DeviceSpec:
    """8 K80 GPUs (4 boards) in one Google Compute Engine node: the second calibrated device.

    GK210 (one of a K80 board's two GPUs) at boost clock: 4.37 TFLOP/s fp32, 240 GB/s. Network (only
    used by multi-device runs): PCIe 3.0, assumed 6 GB/s per GPU pair (shared switches), 10 Gb/s NIC.
    """
    return DeviceSpec(name="k80_gce", gpus_per_node=8, max_nodes=1, peak_flops=4.37e12, mem_bw=240e9,
                      eff_mem=0.75, eff_winograd=0.8542, eff_conv=0.1772, kernel_overhead_s=1.167e-4,
                      bw_intra=6e9, bw_nic=1.25e9, latency_intra=1e-5, latency_inter=2e-5,
                      source="Tesla K80 data sheet (per GK210 GPU, boost): 4.37 TFLOP/s fp32, 240 GB/s; "
                             "efficiencies and kernel overhead fitted to TensorFlow's published K80 "
                             "(GCE) throughput; PCIe network assumed",
                      calibration=calibration_note("k80"))


def h100_8() -> DeviceSpec:
    """DGX-H100-like nodes (8 x H100 SXM, NVLink 4 / NVSwitch), two nodes at most. NOT calibrated.

    No published fp32 training throughput of these networks on H100 was found, so the efficiencies
    are the P100 fit's (an assumption; ``benchmarks/gpu_sections/layerwise.py`` profiles the real
    device instead). Data sheet: 67 TFLOP/s fp32 (no tensor cores), 3.35 TB/s HBM3; NVLink 4 450 GB/s
    per direction per GPU taken as 360 GB/s per pair (80 %; optimistic when one GPU talks to many);
    the node's 8 x 400 Gb/s NDR NICs are modelled as one 320 GB/s interface (80 % of 400 GB/s).
    """
    return DeviceSpec(name="h100_8", gpus_per_node=8, max_nodes=2, peak_flops=67e12, mem_bw=3.35e12,
                      eff_mem=0.8, eff_winograd=_P100["eff_winograd"], eff_conv=_P100["eff_conv"],
                      kernel_overhead_s=5e-6, roofline_flops=2.0e14 / 5.4,
                      bw_intra=360e9, bw_nic=320e9, latency_intra=3e-6, latency_inter=6e-6,
                      source="DGX-H100-like: H100 SXM data sheet (67 TFLOP/s fp32, 3.35 TB/s), NVLink4 "
                             "360 GB/s per pair, 8 x 400 Gb/s NDR per node modelled as one 320 GB/s NIC; "
                             "efficiencies copied from the P100 fit (uncalibrated); 5 us kernel overhead "
                             "assumed")


def cpu_emulated(bw: float = 5e9, gpus_per_node: int = 16, flops: float = 5e10, mem_bw: float = 1e10,
                 latency: float = 0.0, slots: int = 0) -> DeviceSpec:
    """Devices emulated by processes (or tasks) on this CPU; numbers are measured or given by the caller."""
    return DeviceSpec(name="cpu", gpus_per_node=gpus_per_node, max_nodes=1, peak_flops=flops, mem_bw=mem_bw,
                      eff_winograd=1.0, eff_conv=1.0, eff_mem=1.0, kernel_overhead_s=0.0, roofline_flops=flops,
                      bw_intra=bw, bw_nic=bw, latency_intra=latency, latency_inter=latency,
                      compute_slots=slots, update_passes=3,
                      source="processes on the local CPU; bandwidth/latency measured (gloo) or given; "
                             f"{'all devices compute at once' if not slots else f'{slots} compute slots (cores)'}")


CLUSTERS = {"p100_4x4": p100_4x4, "dgx1_p100": dgx1_p100, "k80_gce": k80_gce, "h100_8": h100_8,
            "cpu": cpu_emulated}
DEVICE_PRESET = {"p100": dgx1_p100, "k80": k80_gce}
"""Which preset carries each calibrated device's compute fields."""


def cluster(name: str) -> DeviceSpec:
    """A named cluster description."""
    if name not in CLUSTERS:
        raise ValueError(f"unknown cluster {name!r}; known: {', '.join(CLUSTERS)}")
    return CLUSTERS[name]()


def describe(spec: DeviceSpec) -> str:
    """One paragraph with every assumption of a preset (for result docs)."""
    return (f"`{spec.name}`: {spec.max_nodes} node(s) x {spec.gpus_per_node} devices; compute peak "
            f"{spec.peak_flops / 1e12:.3g} TFLOP/s, memory {spec.mem_bw / 1e9:.0f} GB/s, efficiencies "
            f"Winograd conv {spec.eff_winograd:.3f} / other conv+GEMM {spec.eff_conv:.3f} / memory {spec.eff_mem:.2f}, "
            f"{spec.kernel_overhead_s * 1e6:.0f} us per kernel; network: {spec.bw_intra / 1e9:.3g} GB/s per "
            f"intra-node pair, one {spec.bw_nic / 1e9:.3g} GB/s NIC per node, latency "
            f"{spec.latency_intra * 1e6:.0f}/{spec.latency_inter * 1e6:.0f} us. Source: {spec.source}.")


def calibration_note(device: str) -> str:
    pts = [p for p in PUBLISHED if p.device == device]
    fit = ", ".join(f"{p.network} b{p.batch} {p.img_s:g} img/s" for p in pts if p.use == "fit")
    held = ", ".join(f"{p.network} b{p.batch} {p.img_s:g} img/s" for p in pts if p.use == "held-out")
    return (f"eff_winograd, eff_conv and kernel_overhead_s fitted (least squares on log throughput) to "
            f"{fit}; held out: {held} ({TF_BENCH})")


# ----------------------------------------------------------------------------- calibration

def modelled_throughput(spec: DeviceSpec, network: str, batch: int) -> float:
    """Images/s of one device training ``network`` at ``batch`` under the calibrated compute model."""
    from systems.layerwise.compute import layer_time
    from systems.layerwise.graph import build
    from systems.layerwise.parallel import ParallelConfig

    g = build(network, batch)
    t = sum(layer_time(ly, ParallelConfig(tuple(1 for _ in ly.out_shape)), spec) for ly in g.layers)
    return batch / t


def calibrate(device: str) -> dict[str, float]:
    """Fit ``eff_winograd``, ``eff_conv`` and ``kernel_overhead_s`` of ``device`` to :data:`PUBLISHED`.

    Least squares on ``log(modelled / published)`` over the ``fit`` points, parameters in log space
    (bounded: efficiencies 0.05..3, overhead 1 us..2 ms). Returns the fitted values plus the RMS
    relative error. Deterministic (no random start).
    """
    import numpy as np
    from scipy.optimize import least_squares

    if device not in DEVICE_PRESET:
        raise ValueError(f"no published measurements for {device!r}; known: {', '.join(DEVICE_PRESET)}")
    base = DEVICE_PRESET[device]()
    pts = [p for p in PUBLISHED if p.device == device and p.use == "fit"]

    def resid(x):
        s = base.with_(eff_winograd=float(np.exp(x[0])), eff_conv=float(np.exp(x[1])),
                       kernel_overhead_s=float(np.exp(x[2])))
        return [np.log(modelled_throughput(s, p.network, p.batch) / p.img_s) for p in pts]

    lo, hi = np.log([0.05, 0.05, 1e-6]), np.log([3.0, 3.0, 2e-3])
    r = least_squares(resid, x0=np.log([0.8, 0.4, 2e-5]), bounds=(lo, hi), x_scale=1.0, xtol=1e-12,
                      ftol=1e-12)
    return {"eff_winograd": float(np.exp(r.x[0])), "eff_conv": float(np.exp(r.x[1])),
            "kernel_overhead_s": float(np.exp(r.x[2])),
            "rms_rel_error": float(np.sqrt(np.mean(np.expm1(np.asarray(r.fun)) ** 2)))}


def calibration_table() -> list[dict]:
    """Modelled vs published images/s for every :data:`PUBLISHED` point (the docs table)."""
    rows = []
    for p in PUBLISHED:
        spec = DEVICE_PRESET[p.device]()
        m = modelled_throughput(spec, p.network, p.batch)
        rows.append({"device": p.device, "network": p.network, "batch": p.batch, "published": p.img_s,
                     "modelled": m, "ratio": m / p.img_s, "use": p.use, "where": p.where,
                     "roofline": modelled_throughput_roofline(spec, p.network, p.batch)})
    return rows


def modelled_throughput_roofline(spec: DeviceSpec, network: str, batch: int) -> float:
    """Images/s under the uncalibrated roofline (uniform ``spec.flops``) for comparison."""
    from systems.layerwise.compute import roofline_time
    from systems.layerwise.graph import build
    from systems.layerwise.parallel import ParallelConfig

    g = build(network, batch)
    t = sum(roofline_time(ly, ParallelConfig(tuple(1 for _ in ly.out_shape)), spec) for ly in g.layers)
    return batch / t
