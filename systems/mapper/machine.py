"""Machine model: nodes x (CPU cores, OpenMP groups, GPUs), their memories, and the links between them.

All figures are per device and in SI units (bytes, bytes/s, flop/s, seconds). Sizes follow the run
settings of the experts' scripts (``-ll:gpu 4 -ll:fsize 15000 -ll:zsize 2048 -ll:csize 150000``); rates
are spec-sheet figures of the machine those scripts target, LLNL Lassen (``bsub``/``jsrun``): per node
2 IBM POWER9 (22 cores, 3.45 GHz), 4 NVIDIA V100 SXM2 16 GB, NVLink 2.0 between GPUs and to the CPUs,
dual-rail EDR InfiniBand. Each constant names its source; [ours] marks order-of-magnitude choices.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

PROC_KINDS = ("CPU", "GPU", "OMP")
"""Processor kinds the simulator models (the DSL also accepts IO, PY, PROC, which no task has)."""
ALL_PROC_KINDS = ("CPU", "GPU", "OMP", "IO", "PY", "PROC")
"""Every processor kind name the DSL grammar knows."""
MEM_KINDS = ("SYSMEM", "FBMEM", "ZCMEM", "RDMEM", "SOCKMEM", "VIRTUAL")
"""Every memory kind name the DSL grammar knows."""


@dataclass(frozen=True)
class Proc:
    """One processor: its kind, node and index among the node's processors of that kind."""

    kind: str
    """``CPU``, ``GPU`` or ``OMP``."""
    node: int
    """Node index."""
    local: int
    """Index among the node's processors of this kind."""

    @property
    def label(self) -> str:
        return f"node{self.node}.{self.kind.lower()}{self.local}"


@dataclass(frozen=True)
class Memory:
    """One memory: its kind, node, and (for FBMEM) the GPU it belongs to."""

    kind: str
    """``SYSMEM``, ``FBMEM``, ``ZCMEM``, ``RDMEM`` or ``SOCKMEM``."""
    node: int
    """Node index."""
    local: int
    """GPU index for FBMEM, 0 otherwise."""
    capacity: int
    """Capacity in bytes."""

    @property
    def label(self) -> str:
        suffix = str(self.local) if self.kind == "FBMEM" else ""
        short = {"SYSMEM": "sysmem", "FBMEM": "fb", "ZCMEM": "zcmem", "RDMEM": "rdmem", "SOCKMEM": "sockmem"}
        return f"node{self.node}.{short[self.kind]}{suffix}"

    @property
    def short_kind(self) -> str:
        return {"SYSMEM": "sys", "FBMEM": "fb", "ZCMEM": "zc", "RDMEM": "rd", "SOCKMEM": "sock"}[self.kind]


@dataclass
class Machine:
    """A cluster of identical nodes. Every field can be changed to model another machine."""

    name: str = "2n4g"
    """Name used in listings and results (``{ranks}n{gpus}g``, plus ``{r}r`` when ranks share a node)."""
    nodes: int = 2
    """Number of Legion address spaces (ranks). ``Machine(GPU)`` is ``(nodes, gpus_per_node)``."""
    gpus_per_node: int = 4
    """GPUs per rank (``-ll:gpu 4``)."""
    ranks_per_node: int = 1
    """Ranks sharing one physical node (DISTAL's Johnson/COSMA runs use 4 ranks of 1 GPU per node:
    ``jsrun -a 4``). Ranks on one physical node copy over intra-node links, not the network."""
    cpus_per_node: int = 4
    """CPU processors (cores given to Legion) per node (``-ll:cpu 4``)."""
    omps_per_node: int = 1
    """OpenMP processors per node (``-ll:ocpu 1``), each a group of ``omp_threads`` cores."""
    omp_threads: int = 10
    """Threads of one OpenMP processor (``-ll:othr 10``)."""
    fb_bytes: int = 15_000 * 2**20
    """Framebuffer per GPU (``-ll:fsize 15000`` MB)."""
    zc_bytes: int = 2_048 * 2**20
    """Zero-copy (pinned host) memory per node (``-ll:zsize 2048`` MB)."""
    sys_bytes: int = 150_000 * 2**20
    """System memory per node (``-ll:csize 150000`` MB)."""
    rd_bytes: int = 512 * 2**20
    """Registered (RDMA) memory per node (``-ll:rsize 512`` MB)."""
    sock_bytes: int = 75_000 * 2**20
    """Socket-local memory per node (one NUMA domain, half the system memory)."""
    gpu_flops: float = 7.8e12
    """GPU peak: V100 SXM2 double precision, 7.8 TFLOP/s (NVIDIA V100 datasheet)."""
    cpu_flops: float = 27.6e9
    """One POWER9 core: 3.45 GHz x 8 double-precision flop/cycle (two 128-bit VSX FMA pipes)."""
    fb_bw: float = 900e9
    """GPU <-> own framebuffer: V100 HBM2, 900 GB/s (datasheet)."""
    zc_gpu_bw: float = 75e9
    """GPU reading/writing zero-copy (pinned host) memory in a kernel: over the GPU's NVLink 2.0 link to
    its POWER9 socket, 3 bricks x 25 GB/s = 75 GB/s per direction (IBM AC922 / Lassen node diagrams)."""
    sys_core_bw: float = 8.5e9
    """One core's share of a POWER9 socket's memory bandwidth: 8 DDR4-2666 channels = 170 GB/s over 20 cores."""
    sys_omp_bw: float = 85e9
    """An OpenMP group (``-ll:othr 10``): 10 cores' share of the socket bandwidth."""
    sock_bonus: float = 1.15
    """Bandwidth factor of SOCKMEM over SYSMEM for CPU/OMP (NUMA-local vs interleaved) [ours]."""
    nvlink_bw: float = 75e9
    """GPU <-> GPU peer copies inside a node: NVLink 2.0, 3 bricks = 75 GB/s per direction (pairs on
    different sockets cross the 64 GB/s X-bus, which the model does not distinguish)."""
    host_link_bw: float = 75e9
    """Framebuffer <-> host memory copies per GPU and direction: the GPU's NVLink 2.0 link to its socket."""
    host_copy_bw: float = 20e9
    """Host memory <-> host memory copies inside a node (Realm's DMA threads) [ours, order of magnitude]."""
    nic_bw: float = 25e9
    """Inter-node bandwidth per physical node and direction: dual-rail EDR InfiniBand, 2 x 100 Gb/s."""
    intra_latency: float = 8e-6
    """Fixed cost of one intra-node copy (DMA setup, Realm event) [ours, order of magnitude]."""
    inter_latency: float = 20e-6
    """Fixed cost of one inter-node copy (network round trip plus Realm events) [ours, order of magnitude]."""
    task_overhead: dict = field(default_factory=lambda: {"GPU": 25e-6, "CPU": 10e-6, "OMP": 30e-6})
    """Runtime overhead per task launch by processor kind (mapping, kernel launch): Legion's tens of
    microseconds per task [ours, order of magnitude]."""

    @property
    def physical_nodes(self) -> int:
        """Physical nodes (ranks / ranks per node, rounded up)."""
        return -(-self.nodes // self.ranks_per_node)

    def same_host(self, a: int, b: int) -> bool:
        """True when ranks ``a`` and ``b`` run on the same physical node."""
        return a // self.ranks_per_node == b // self.ranks_per_node

    def count(self, kind: str) -> int:
        """Processors of ``kind`` per rank."""
        return {"GPU": self.gpus_per_node, "CPU": self.cpus_per_node, "OMP": self.omps_per_node}.get(kind, 0)

    def with_(self, **changes) -> "Machine":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        gb = 1e9
        ranks = (f" ({self.ranks_per_node} ranks per physical node, {self.physical_nodes} physical node(s))"
                 if self.ranks_per_node > 1 else "")
        return (f"machine {self.name}: {self.nodes} rank(s){ranks} x ({self.gpus_per_node} GPU, {self.cpus_per_node} CPU, "
                f"{self.omps_per_node} OMP); FBMEM {self.fb_bytes / gb:.1f} GB per GPU, ZCMEM {self.zc_bytes / gb:.1f} GB, "
                f"SYSMEM {self.sys_bytes / gb:.0f} GB per rank; GPU {self.gpu_flops / 1e12:.1f} TFLOP/s, "
                f"FB {self.fb_bw / 1e9:.0f} GB/s, GPU-GPU {self.nvlink_bw / 1e9:.0f} GB/s, GPU-host {self.host_link_bw / 1e9:.0f} GB/s, "
                f"network {self.nic_bw / 1e9:.0f} GB/s")


def default_machine() -> Machine:
    """2 ranks (nodes) x 4 GPUs, the paper's per-node run settings."""
    return Machine()


_SHAPE = re.compile(r"(\d+)n(\d+)g(?:(\d+)r)?")
_LEGACY = re.compile(r"(\d+)x(\d+)")


def machine_name(nodes: int, gpus: int, ranks_per_node: int = 1) -> str:
    """The canonical name of a shape: ``2n4g``, ``8n1g4r``."""
    return f"{nodes}n{gpus}g" + (f"{ranks_per_node}r" if ranks_per_node > 1 else "")


def parse_shape(name: str) -> tuple[int, int, int] | None:
    """``(ranks, gpus per rank, ranks per physical node)`` of ``NnGg[Rr]`` (or the older ``NxG``), else None."""
    m = _SHAPE.fullmatch(name)
    if m:
        n, g, r = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    else:
        m = _LEGACY.fullmatch(name)
        if not m:
            return None
        n, g, r = int(m.group(1)), int(m.group(2)), 1
    if n < 1 or g < 1 or r < 1:
        return None
    return n, g, r


def get_machine(name: str | Machine | None = None, base: Machine | None = None,
                ranks_per_node: int | None = None) -> Machine:
    """A machine by shape name, applied to ``base`` (a benchmark's own machine: its CPU/OMP counts and
    memory sizes) or to the default machine.

    Names: ``NnGg`` = N ranks x G GPUs per rank (one rank per physical node), ``NnGgRr`` = R ranks per
    physical node (``8n1g4r``: 2 physical nodes of 4 single-GPU ranks); the older ``NxG`` = ``NnGg``;
    ``2x4-small-fb`` has 2 GiB framebuffers. ``ranks_per_node`` overrides the name's R.
    """
    if isinstance(name, Machine):
        m = name
    else:
        b = base if base is not None else default_machine()
        if name is None:
            m = b
        elif name == "2x4-small-fb":
            m = b.with_(name="2x4-small-fb", nodes=2, gpus_per_node=4, ranks_per_node=1, fb_bytes=2 * 2**30)
        else:
            shape = parse_shape(name)
            if shape is None:
                raise ValueError(f"unknown machine {name!r}; use NnGg (N ranks x G GPUs, e.g. 2n4g), NnGgRr "
                                 "(R ranks per physical node, e.g. 8n1g4r), NxG, or 2x4-small-fb")
            n, g, r = shape
            m = b.with_(name=machine_name(n, g, r), nodes=n, gpus_per_node=g, ranks_per_node=r)
    if ranks_per_node is not None and ranks_per_node != m.ranks_per_node:
        if ranks_per_node < 1:
            raise ValueError(f"ranks per node must be >= 1, got {ranks_per_node}")
        m = m.with_(ranks_per_node=ranks_per_node, name=machine_name(m.nodes, m.gpus_per_node, ranks_per_node))
    return m


class MachineLayout:
    """The processors and memories of a machine, indexed for fast lookups by the simulator."""

    def __init__(self, machine: Machine):
        self.machine = machine
        m = machine
        self.procs: list[Proc] = []
        for n in range(m.nodes):
            for kind in PROC_KINDS:
                for i in range(m.count(kind)):
                    self.procs.append(Proc(kind, n, i))
        self.proc_index = {p: i for i, p in enumerate(self.procs)}
        self.by_kind: dict[str, list[Proc]] = {k: [p for p in self.procs if p.kind == k] for k in PROC_KINDS}
        self.mems: list[Memory] = []
        for n in range(m.nodes):
            self.mems.append(Memory("SYSMEM", n, 0, m.sys_bytes))
            self.mems.append(Memory("ZCMEM", n, 0, m.zc_bytes))
            self.mems.append(Memory("RDMEM", n, 0, m.rd_bytes))
            self.mems.append(Memory("SOCKMEM", n, 0, m.sock_bytes))
            for g in range(m.gpus_per_node):
                self.mems.append(Memory("FBMEM", n, g, m.fb_bytes))
        self.mem_index = {(mm.kind, mm.node, mm.local): i for i, mm in enumerate(self.mems)}

    def mem_id(self, kind: str, node: int, local: int = 0) -> int:
        return self.mem_index[(kind, node, local)]

    def access_bw(self, proc: Proc, mem: Memory) -> float:
        """Bandwidth of ``proc`` reading/writing ``mem`` directly in a kernel; 0 when not addressable."""
        m = self.machine
        if proc.kind == "GPU":
            if mem.kind == "FBMEM" and mem.node == proc.node and mem.local == proc.local:
                return m.fb_bw
            if mem.kind == "ZCMEM" and mem.node == proc.node:
                return m.zc_gpu_bw
            return 0.0
        if mem.node != proc.node or mem.kind == "FBMEM":
            return 0.0
        base = m.sys_omp_bw if proc.kind == "OMP" else m.sys_core_bw
        if mem.kind == "SOCKMEM":
            return base * m.sock_bonus
        return base

    def best_memory(self, proc: Proc, kind: str) -> int | None:
        """The memory of ``kind`` with the highest bandwidth to ``proc`` (None when none is addressable)."""
        if kind == "FBMEM":
            if proc.kind != "GPU":
                return None
            return self.mem_id("FBMEM", proc.node, proc.local)
        if kind in ("SYSMEM", "ZCMEM", "RDMEM", "SOCKMEM"):
            mid = self.mem_id(kind, proc.node)
            return mid if self.access_bw(proc, self.mems[mid]) > 0 else None
        return None

    def default_memory(self, proc: Proc) -> int:
        """Legion's default choice: the GPU's framebuffer, else the node's system memory."""
        if proc.kind == "GPU":
            return self.mem_id("FBMEM", proc.node, proc.local)
        return self.mem_id("SYSMEM", proc.node)
