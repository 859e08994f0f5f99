"""A structured mapper space: a flat set of categorical knobs that renders to DSL text.

Every knob renders to (at most) one DSL statement, so a point *is* a mapper and a statement
is a knob: the offline optimizers edit statements by editing knobs, and a failing source line
maps back to the knob that produced it (credit assignment for ``raw``/``guide`` feedback).

Knobs, per application:

- ``proc:<task>``          processor kind among the task's variants        → ``Task t GPU;``
- ``mem:<task>:<region>``  memory for the region when the task is on a GPU → ``Region t r GPU ZCMEM;``
- ``layout:<task>:<region>`` SOA/AOS × C_order/F_order                   → ``Layout t r * AOS F_order;``
- ``limit:<task>``         InstanceLimit none/1/2/4                        → ``InstanceLimit t 2;``
- ``collect:<task>``       CollectMemory on/off                            → ``CollectMemory t *;``
- ``map:<task>``           index-launch placement function from a family   → ``IndexTaskMap t block_lin;``

The index-map family covers block / cyclic over the linearised machine, node-major and
GPU-major cyclic, 2-D/3-D block and cyclic decompositions (``balance_split`` / ``auto_split``
machine transforms), and "same GPU 0 per node" placements, each over the launch linearised in
row-major order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

LAYOUTS: tuple[str, ...] = ("SOA C_order", "SOA F_order", "AOS C_order", "AOS F_order")
"""Layout constraint pairs a region may get."""
GPU_MEMS: tuple[str, ...] = ("FBMEM", "ZCMEM")
"""Memories a region may get when its task runs on a GPU."""
HOST_MEMS: tuple[str, ...] = ("SYSMEM",)
"""Memories for CPU/OMP tasks (fixed)."""
LIMITS: tuple[str, ...] = ("none", "1", "2", "4")
"""InstanceLimit choices."""
KIND_ORDER: tuple[str, ...] = ("GPU", "OMP", "CPU")

# Index-map function family: name -> (minimum launch dims, DSL body with {LIN} = linear point
# and {EXT} = launch volume). ``m`` = Machine(GPU) (node, gpu); ``m1`` = merged 1-D space.
_LIN = {1: "task.ipoint[0]",
        2: "task.ipoint[0] * task.ispace[1] + task.ipoint[1]",
        3: "(task.ipoint[0] * task.ispace[1] + task.ipoint[1]) * task.ispace[2] + task.ipoint[2]"}
_EXT = {1: "task.ispace[0]", 2: "task.ispace[0] * task.ispace[1]",
        3: "task.ispace[0] * task.ispace[1] * task.ispace[2]"}

MAP_FAMILY: dict[str, tuple[int, str]] = {
    # linearised launch over the linearised machine
    "block_lin": (1, "return m1[{LIN} * m1.size[0] / ({EXT})];"),
    "cyclic_lin": (1, "return m1[({LIN}) % m1.size[0]];"),
    # node-major: consecutive points on consecutive nodes (pennant-style)
    "cyclic_node": (1, "return m[({LIN}) % m.size[0], ({LIN}) / m.size[0] % m.size[1]];"),
    # GPU-major: consecutive points on the GPUs of one node (circuit-style)
    "cyclic_gpu": (1, "return m[({LIN}) / m.size[1] % m.size[0], ({LIN}) % m.size[1]];"),
    # block over nodes, cyclic over the GPUs of a node
    "block_node_cyclic_gpu": (1, "return m[{LIN} * m.size[0] / ({EXT}), ({LIN}) % m.size[1]];"),
    # 2-D launches on a balanced 2-D view of the machine
    "block_2d": (2, "return m2[task.ipoint[0] * m2.size[0] / task.ispace[0], "
                    "task.ipoint[1] * m2.size[1] / task.ispace[1]];"),
    "cyclic_2d": (2, "return m2[task.ipoint[0] % m2.size[0], task.ipoint[1] % m2.size[1]];"),
    "block_cyclic_2d": (2, "return m2[task.ipoint[0] * m2.size[0] / task.ispace[0], "
                           "task.ipoint[1] % m2.size[1]];"),
    # 2-D block on (node, gpu) directly: dim 0 over nodes, dim 1 over GPUs
    "block_node_gpu_2d": (2, "return m[task.ipoint[0] * m.size[0] / task.ispace[0], "
                             "task.ipoint[1] * m.size[1] / task.ispace[1]];"),
    # 3-D launches: balanced 3-D view; and the first two dims only (third dim stays local)
    "block_3d": (3, "return m3[task.ipoint[0] * m3.size[0] / task.ispace[0], "
                    "task.ipoint[1] * m3.size[1] / task.ispace[1], task.ipoint[2] * m3.size[2] / task.ispace[2]];"),
    "block_2d_drop3": (3, "return m2[task.ipoint[0] * m2.size[0] / task.ispace[0], "
                          "task.ipoint[1] * m2.size[1] / task.ispace[1]];"),
}

HEADER_SPACES = ("m = Machine(GPU);", "m1 = m.merge(0, 1);", "m2 = m1.balance_split(0, 2);",
                 "m3 = m1.balance_split(0, 3);")


@dataclass(frozen=True)
class Knob:
    """One categorical dimension of the space."""

    name: str
    """``kind:task[:region]``."""
    choices: tuple[str, ...]
    """Allowed values; ``choices[0]`` is the default."""
    task: str
    """Task it concerns."""
    region: str | None = None
    """Region it concerns (mem/layout knobs)."""

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass
class Rendered:
    """A point rendered to DSL, with the knob behind each source line."""

    text: str
    """The mapper."""
    line_knob: dict[int, str] = field(default_factory=dict)
    """1-based line → knob name that produced it (header lines are absent)."""


def _task_region_names(task) -> list[str]:
    return [r if isinstance(r, str) else getattr(r, "name", str(r)) for r in (getattr(task, "regions", []) or [])]


def _launch_dims(task) -> int:
    shape = getattr(task, "launch_shape", None)
    if shape is None:
        return 1
    try:
        return max(1, len(tuple(shape)))
    except TypeError:
        return 1


class MapperSpace:
    """The knobs of one application and their rendering."""

    def __init__(self, app) -> None:
        self.app = app
        self.knobs: list[Knob] = []
        self.tasks = list(getattr(app, "tasks", []) or [])
        for t in self.tasks:
            variants = set(getattr(t, "variants", ()) or ())
            kinds = tuple(k for k in KIND_ORDER if k in variants) or ("CPU",)
            if len(kinds) > 1:
                self.knobs.append(Knob(f"proc:{t.name}", kinds, t.name))
            regs = _task_region_names(t)
            if "GPU" in variants:
                for r in regs:
                    self.knobs.append(Knob(f"mem:{t.name}:{r}", GPU_MEMS, t.name, r))
            for r in regs:
                self.knobs.append(Knob(f"layout:{t.name}:{r}", LAYOUTS, t.name, r))
            if getattr(t, "index_launch", False):
                dims = _launch_dims(t)
                fams = tuple(n for n, (d, _) in MAP_FAMILY.items() if d <= dims)
                self.knobs.append(Knob(f"map:{t.name}", fams, t.name))
                self.knobs.append(Knob(f"limit:{t.name}", LIMITS, t.name))
            self.knobs.append(Knob(f"collect:{t.name}", ("off", "on"), t.name))
        self.by_name = {k.name: k for k in self.knobs}

    # -- points ----------------------------------------------------------------------------------
    def default(self) -> dict[str, str]:
        """The default point: first choice of every knob (GPU first, FBMEM, SOA C_order, ...)."""
        return {k.name: k.choices[0] for k in self.knobs}

    def random(self, rng: random.Random) -> dict[str, str]:
        """A uniformly random point."""
        return {k.name: rng.choice(k.choices) for k in self.knobs}

    def size(self) -> float:
        """Number of points in the space."""
        n = 1.0
        for k in self.knobs:
            n *= len(k.choices)
        return n

    def knobs_for(self, task: str | None = None, region: str | None = None, kind: str | None = None) -> list[Knob]:
        """Knobs matching the filters (None = any)."""
        return [k for k in self.knobs if (task is None or k.task == task)
                and (region is None or k.region == region) and (kind is None or k.kind == kind)]

    # -- rendering -------------------------------------------------------------------------------
    def render(self, point: dict[str, str]) -> Rendered:
        """DSL text of ``point`` (missing knobs take their default)."""
        p = {**self.default(), **point}
        lines: list[str] = ["# generated by systems.mapper.agent.space",
                            "Region * * GPU FBMEM;", "Region * * CPU SYSMEM;", "Region * * OMP SYSMEM;",
                            "Layout * * * SOA C_order;"]
        line_knob: dict[int, str] = {}

        def add(text: str, knob: str | None) -> None:
            for sub in text.splitlines():
                lines.append(sub)
                if knob:
                    line_knob[len(lines)] = knob

        used_fams: list[str] = []
        for t in self.tasks:
            variants = set(getattr(t, "variants", ()) or ())
            kn = f"proc:{t.name}"
            kind = p.get(kn) or next((k for k in KIND_ORDER if k in variants), "CPU")
            fallback = [k for k in KIND_ORDER if k in variants and k != kind]
            add(f"Task {t.name} {','.join([kind, *fallback])};", kn if kn in self.by_name else None)
        for k in self.knobs:
            v = p[k.name]
            if k.kind == "mem" and v != "FBMEM":
                add(f"Region {k.task} {k.region} GPU {v};", k.name)
            elif k.kind == "layout" and v != "SOA C_order":
                add(f"Layout {k.task} {k.region} * {v};", k.name)
            elif k.kind == "limit" and v != "none":
                add(f"InstanceLimit {k.task} {v};", k.name)
            elif k.kind == "collect" and v == "on":
                add(f"CollectMemory {k.task} *;", k.name)
            elif k.kind == "map" and v not in used_fams:
                used_fams.append(v)
        body_start = len(lines)
        fam_lines: list[str] = list(HEADER_SPACES)
        for fam in used_fams:
            dims, body = MAP_FAMILY[fam]
            body = body.replace("{LIN}", _LIN[dims]).replace("{EXT}", _EXT[dims])
            fam_lines.append(f"def {fam}(Task task) {{ {body} }}")
        lines[body_start:body_start] = fam_lines
        # shift the line->knob entries that came after the insertion point
        shift = len(fam_lines)
        line_knob = {(ln + shift if ln > body_start else ln): kn for ln, kn in line_knob.items()}
        for k in self.knobs:
            if k.kind == "map":
                add(f"IndexTaskMap {k.task} {p[k.name]};", k.name)
        return Rendered("\n".join(lines) + "\n", line_knob)
