"""Task-graph representation of a Legion-style program: regions, tasks, and the launched task instances.

An :class:`App` is built once per (benchmark, sizes, machine) and is immutable afterwards; the
simulator walks its task instances in program (issue) order. Dependences are not stored: like
Legion, the simulator derives them from each instance's region requirements (privileges on data
pieces).
"""

from __future__ import annotations

from dataclasses import dataclass, field

R, W, RW, RED = 1, 2, 3, 4
"""Privileges: read-only, write-discard, read-write, reduce."""
PRIV_NAMES = {R: "read", W: "write", RW: "read-write", RED: "reduce"}


@dataclass
class Region:
    """A logical region (a partitioned array) of the program."""

    name: str
    """Region name as the program's tasks see it."""
    size_bytes: int
    """Total size."""
    pieces: int
    """Number of pieces (subregions) of its partition."""
    fields: int = 1
    """Fields per element (SOA vs AOS matters only when > 1)."""
    dims: int = 1
    """Dimensionality (C vs F order matters only when > 1)."""
    order: str = "C"
    """Dimension order the kernels iterate fastest over (``C`` or ``F``)."""
    desc: str = ""
    """One line for describe()."""
    alias_of: str | None = None
    """For a view (e.g. ``rp_ghost``): the region whose pieces it names; it has no data of its own."""

    @property
    def piece_bytes(self) -> int:
        return self.size_bytes // max(1, self.pieces)


@dataclass
class TaskDef:
    """A task of the program."""

    name: str
    """Task name (the real application's name)."""
    variants: set[str]
    """Processor kinds with a variant (``CPU``, ``GPU``, ``OMP``)."""
    index_launch: bool
    """True when launched over an index space (IndexTaskMap applies), False for single tasks."""
    launch_shape: tuple[int, ...] | None
    """Launch domain of the index launch (None for single tasks)."""
    regions: list[str]
    """Region arguments by position (display names)."""
    paths: list[tuple[str, ...]] = field(default_factory=list)
    """Per argument, the region's names as the real mapper sees them with ``-tm:use_semantic_name``
    (the subregion's partition, then the parent region), empty when unnamed."""
    library: bool = False
    """True for external-library leaf tasks (cuBLAS GEMM) that require C-order operands."""
    efficiency: dict[str, float] = field(default_factory=lambda: {"GPU": 0.5, "CPU": 0.5, "OMP": 0.5})
    """Fraction of peak flop/s the kernel reaches on each kind."""
    desc: str = ""
    """One line for describe()."""
    inner: bool = False
    """An inner task: it only launches subtasks (its region arguments are mapped virtually)."""
    local: bool = False
    """Launched with SAME_ADDRESS_SPACE: without an IndexTaskMap its points stay on the parent's node."""


@dataclass
class Req:
    """One region requirement of one task instance on one data piece."""

    arg: int
    """Argument position in ``TaskDef.regions``."""
    piece: int
    """Global id of the data piece (see ``App.piece_region``)."""
    priv: int
    """R, W, RW or RED."""
    nbytes: int
    """Bytes of the piece the task needs (a ghost halo needs only part of a piece)."""
    bbox: int
    """Bytes of the instance the runtime allocates by default (the bounding box of what is needed)."""
    touched: float
    """Bytes the kernel moves through memory for this requirement (sets the memory time)."""
    names: tuple[str, ...] | None = None
    """Region names of this requirement when they differ from the task's argument path (a task launched
    on different partitions, e.g. pennant's point tasks on rp_all_private_p and rp_all_shared_p)."""


@dataclass
class TaskInst:
    """One launched task (one point of an index launch, or a single task)."""

    tdef: TaskDef
    ipoint: tuple[int, ...]
    ispace: tuple[int, ...]
    reqs: list[Req]
    flops: float
    parent: int = -1
    """Index of the parent instance (-1: the top-level task on node 0)."""
    phase: int = 1
    """0: untimed prologue (initialisation; a fence follows it), 1: timed, 2: untimed epilogue (validation)."""


@dataclass
class App:
    """A benchmark instance: regions, tasks and the task instances in issue order."""

    name: str
    description: str
    params: dict
    regions: dict[str, Region]
    tasks: dict[str, TaskDef]
    instances: list[TaskInst]
    piece_region: list[str]
    """Region name of each data piece."""
    piece_bytes: list[int]
    """Size of each data piece."""
    flops_total: float = 0.0
    semantic_names: bool = False
    """True when the real run matches ``Region``/``Layout`` rules by region names
    (``-tm:use_semantic_name``); otherwise rules match region arguments by their 0-based index."""
    timing: str = "fence"
    """How the timed phase is measured: ``fence`` (an execution fence before it, as DISTAL's timer
    and pennant do) or ``timestamps`` (from the first timed task's start, as circuit and stencil read
    the timestamps their tasks record)."""
    sources: dict = field(default_factory=dict)
    """Where each number of the benchmark comes from (parameter -> source)."""

    def region_keys(self, t: "TaskDef", arg: int, names: tuple[str, ...] | None = None) -> list[str]:
        """The names a ``Region``/``Layout``/``CollectMemory`` rule can match for argument ``arg`` of ``t``
        (``names``: the requirement's own names, when it has them)."""
        if self.semantic_names:
            if names is not None:
                return list(names)
            return list(t.paths[arg]) if arg < len(t.paths) else []
        return [str(arg)]

    def describe(self) -> str:
        """A human/LLM-readable summary: tasks, variants, launch domains, regions and their users."""
        lines = [f"Application {self.name}: {self.description}",
                 "Parameters: " + ", ".join(f"{k}={v}" for k, v in self.params.items()),
                 f"{len(self.instances)} task instances; {self.flops_total / 1e9:.1f} GFLOP in total.", "", "Tasks:"]
        users: dict[str, dict[str, set]] = {r: {"read": set(), "write": set()} for r in self.regions}
        for t in self.tasks.values():
            launch = f"index launch over {t.launch_shape}" if t.index_launch else "single task"
            if t.inner:
                launch += " (inner: launches subtasks)"
            lib = "; external library (cuBLAS/BLAS), needs C_order operands" if t.library else ""
            args = [f"{i}:{'/'.join(t.paths[i]) if self.semantic_names and i < len(t.paths) else r}"
                    for i, r in enumerate(t.regions)]
            lines.append(f"  {t.name}: variants {'/'.join(sorted(t.variants))}; {launch}; "
                         f"region args [{', '.join(args)}]{lib}. {t.desc}")
        seen: set = set()
        for inst in self.instances:
            key = inst.tdef.name
            for rq in inst.reqs:
                if (key, rq.piece, rq.priv) in seen:
                    continue
                seen.add((key, rq.piece, rq.priv))
                rname = self.piece_region[rq.piece]
                if rq.priv in (R, RW):
                    users[rname]["read"].add(key)
                if rq.priv in (W, RW, RED):
                    users[rname]["write"].add(key)
        how = ("by name (any name listed for an argument)" if self.semantic_names else
               "by 0-based argument index (Region/Layout rules must name regions 0, 1, ...)")
        lines += ["", f"Region rules match region arguments {how}.",
                  "Regions (data; args of a task may name different parts of one region):"]
        for r in self.regions.values():
            if r.alias_of is not None:
                lines.append(f"  {r.name}: a view of {r.alias_of} ({r.size_bytes / 1e6:.3f} MB per task); {r.desc}")
                continue
            rd = ", ".join(sorted(users[r.name]["read"])) or "-"
            wr = ", ".join(sorted(users[r.name]["write"])) or "-"
            lines.append(f"  {r.name}: {r.size_bytes / 1e6:.1f} MB in {r.pieces} piece(s) of "
                         f"{r.piece_bytes / 1e6:.3f} MB; {r.fields} field(s), {r.dims}-d. {r.desc} "
                         f"Read by: {rd}. Written/reduced by: {wr}.")
        return "\n".join(lines)

    def task(self, name: str) -> TaskDef:
        return self.tasks[name]


class AppBuilder:
    """Helper that assembles an :class:`App`."""

    def __init__(self, name: str, description: str, params: dict, semantic_names: bool = False,
                 timing: str = "fence"):
        self.semantic_names = semantic_names
        self.timing = timing
        self.sources: dict = {}
        self.name = name
        self.description = description
        self.params = params
        self.regions: dict[str, Region] = {}
        self.tasks: dict[str, TaskDef] = {}
        self.instances: list[TaskInst] = []
        self.piece_region: list[str] = []
        self.piece_bytes: list[int] = []
        self._piece_base: dict[str, int] = {}

    def region(self, name: str, size_bytes: int, pieces: int, **kw) -> Region:
        r = Region(name, int(size_bytes), int(pieces), **kw)
        self.regions[name] = r
        if r.alias_of is not None:
            return r
        self._piece_base[name] = len(self.piece_region)
        for _ in range(r.pieces):
            self.piece_region.append(name)
            self.piece_bytes.append(r.piece_bytes)
        return r

    def piece(self, region: str, i: int) -> int:
        r = self.regions[region]
        return self._piece_base[region] + (i % r.pieces)

    def task(self, name: str, variants, index: bool, shape, regions, paths=None, **kw) -> TaskDef:
        paths = [tuple(p) for p in paths] if paths is not None else [(r,) for r in regions]
        t = TaskDef(name, set(variants), index, tuple(shape) if shape is not None else None, list(regions),
                    paths, **kw)
        self.tasks[name] = t
        return t

    def req(self, task: TaskDef, arg: str, region: str, i: int, priv: int, nbytes=None, bbox=None,
            passes: float = 1.0, names: tuple[str, ...] | None = None) -> Req:
        pid = self.piece(region, i)
        nb = self.piece_bytes[pid] if nbytes is None else int(nbytes)
        return Req(task.regions.index(arg), pid, priv, nb, nb if bbox is None else int(bbox), nb * passes,
                   tuple(names) if names is not None else None)

    def launch(self, task: TaskDef, point, space, reqs, flops: float, parent: int = -1, phase: int = 1) -> int:
        self.instances.append(TaskInst(task, tuple(point), tuple(space), list(reqs), float(flops), parent, phase))
        return len(self.instances) - 1

    def build(self) -> App:
        app = App(self.name, self.description, self.params, self.regions, self.tasks, self.instances,
                  self.piece_region, self.piece_bytes, semantic_names=self.semantic_names, timing=self.timing,
                  sources=dict(self.sources))
        app.flops_total = sum(i.flops for i in self.instances)
        return app
