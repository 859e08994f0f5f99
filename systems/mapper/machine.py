"""Machine model: nodes x (CPU cores, OpenMP groups, GPUs), their memories, and the links between them.

All figures are per device and in SI units (bytes, bytes/s, flop/s, seconds). The defaults follow
the run settings quoted in the paper notes (4 GPUs per node, ~15 GB framebuffer, ~2 GB zero-copy,
~150 GB system memory) and public figures of a P100-class GPU node (see docs/mapper-model.md).
"""

from __future__ import annotations

import dataclasses
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

    name: str = "2x4"
    """Name used in listings and results."""
    nodes: int = 2
    """Number of nodes."""
    gpus_per_node: int = 4
    """GPUs per node (``-ll:gpu 4``)."""
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
    gpu_flops: float = 4.7e12
    """GPU peak (P100 double precision)."""
    cpu_flops: float = 35e9
    """One CPU core's peak (2.2 GHz x 16 double-precision flop/cycle)."""
    fb_bw: float = 732e9
    """GPU <-> own framebuffer bandwidth (HBM2)."""
    zc_gpu_bw: float = 11e9
    """GPU reading/writing zero-copy memory across PCIe (in-kernel access)."""
    sys_core_bw: float = 10e9
    """One CPU core's bandwidth to system memory."""
    sys_omp_bw: float = 60e9
    """An OpenMP group's bandwidth to system memory (one socket)."""
    sock_bonus: float = 1.15
    """Bandwidth factor of SOCKMEM over SYSMEM for CPU/OMP (NUMA-local)."""
    nvlink_bw: float = 35e9
    """GPU <-> GPU peer copy bandwidth inside a node."""
    pcie_bw: float = 12e9
    """Framebuffer <-> host memory copy bandwidth (per GPU, per direction)."""
    host_copy_bw: float = 8e9
    """Host memory <-> host memory copy bandwidth inside a node (per node)."""
    nic_bw: float = 12e9
    """Inter-node bandwidth per node and direction (EDR InfiniBand)."""
    intra_latency: float = 8e-6
    """Fixed cost of one intra-node copy (DMA setup, Realm event)."""
    inter_latency: float = 20e-6
    """Fixed cost of one inter-node copy."""
    task_overhead: dict = field(default_factory=lambda: {"GPU": 25e-6, "CPU": 10e-6, "OMP": 30e-6})
    """Runtime overhead per task launch by processor kind (mapping, kernel launch)."""

    def count(self, kind: str) -> int:
        """Processors of ``kind`` per node."""
        return {"GPU": self.gpus_per_node, "CPU": self.cpus_per_node, "OMP": self.omps_per_node}.get(kind, 0)

    def with_(self, **changes) -> "Machine":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        gb = 1e9
        return (f"machine {self.name}: {self.nodes} node(s) x ({self.gpus_per_node} GPU, {self.cpus_per_node} CPU, "
                f"{self.omps_per_node} OMP); FBMEM {self.fb_bytes / gb:.1f} GB per GPU, ZCMEM {self.zc_bytes / gb:.1f} GB, "
                f"SYSMEM {self.sys_bytes / gb:.0f} GB per node; GPU {self.gpu_flops / 1e12:.1f} TFLOP/s, "
                f"FB {self.fb_bw / 1e9:.0f} GB/s, NVLink {self.nvlink_bw / 1e9:.0f} GB/s, PCIe {self.pcie_bw / 1e9:.0f} GB/s, "
                f"network {self.nic_bw / 1e9:.0f} GB/s")


def default_machine() -> Machine:
    """2 nodes x 4 GPUs, the paper's per-node run settings."""
    return Machine()


MACHINES = {
    "2x4": lambda: Machine(),
    "1x4": lambda: Machine(name="1x4", nodes=1),
    "1x1": lambda: Machine(name="1x1", nodes=1, gpus_per_node=1),
    "1x2": lambda: Machine(name="1x2", nodes=1, gpus_per_node=2),
    "2x1": lambda: Machine(name="2x1", gpus_per_node=1),
    "2x2": lambda: Machine(name="2x2", gpus_per_node=2),
    "4x4": lambda: Machine(name="4x4", nodes=4),
    "2x4-small-fb": lambda: Machine(name="2x4-small-fb", fb_bytes=2 * 2**30),
}
"""Named machines (``NxG`` = N nodes x G GPUs per node)."""


def get_machine(name: str | Machine | None = None) -> Machine:
    """A named machine (``2x4`` default); unknown names fail listing the known ones."""
    if name is None:
        return default_machine()
    if isinstance(name, Machine):
        return name
    if name in MACHINES:
        return MACHINES[name]()
    import re

    m = re.fullmatch(r"(\d+)x(\d+)", name)
    if m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1:
        return Machine(name=name, nodes=int(m.group(1)), gpus_per_node=int(m.group(2)))
    raise ValueError(f"unknown machine {name!r}; known: {', '.join(MACHINES)} (or any NxG, e.g. 4x2)")


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
