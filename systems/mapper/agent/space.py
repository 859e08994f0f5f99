"""A structured mapper space: a flat set of categorical knobs that renders to DSL text.

Every knob renders to (at most) one DSL statement, so a point *is* a mapper and a statement
is a knob: the offline optimizers edit statements by editing knobs, and a failing source line
maps back to the knob that produced it (credit assignment for ``raw``/``guide`` feedback).

Knobs, per application:

- ``proc:<task>``            processor kind among the task's variants          → ``Task t GPU,CPU;``
- ``mem:*:<region>``         memory of the region for GPU tasks               → ``Region * r GPU ZCMEM;``
  (benchmarks that match regions by argument index get ``mem:<task>:<index>`` → ``Region t 1 GPU ZCMEM;``)
- ``layout:*:<region>``      SOA/AOS × C_order/F_order (only regions where it can matter:
  more than one field or more than one dimension)                            → ``Layout * r * AOS F_order;``
  (index-matched benchmarks get ``layout:<task>:*`` → ``Layout t * * AOS F_order;``: the grammar allows
  no index in a Layout rule)
- ``limit:<task>``           InstanceLimit none/1/2/4 (index tasks)            → ``InstanceLimit t 2;``
- ``collect:<task>``         CollectMemory on/off                              → ``CollectMemory t *;``
- ``map:<domain>``           placement function of every GPU task launched over that
  index domain (tasks over one domain share data piece by piece)             → ``IndexTaskMap t1,t2 block_lin2;``
- ``hostmem:*``              SYSMEM or SOCKMEM for CPU/OMP tasks               → ``Region * * CPU SOCKMEM;``

The index-map family covers block / cyclic over the linearised machine, node-major and
GPU-major cyclic, block over nodes × cyclic over GPUs, 2-D/3-D block and cyclic decompositions
over ``balance_split`` views, and the shape-aware ``auto_split`` decompositions the DISTAL
experts use (block over nodes × cyclic or block over each node's GPU grid). Functions are
emitted per launch dimensionality (``block_lin2`` for a 2-D launch). A task placed on CPU/OMP
gets no IndexTaskMap (the default block distribution over that kind's processors).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

LAYOUTS: tuple[str, ...] = ("SOA C_order", "SOA F_order", "AOS C_order", "AOS F_order")
"""Layout constraint pairs a region may get (the first is the default)."""
GPU_MEMS: tuple[str, ...] = ("FBMEM", "ZCMEM")
"""Memories a region may get when its task runs on a GPU."""
LIMITS: tuple[str, ...] = ("none", "1", "2", "4")
"""InstanceLimit choices."""
KIND_ORDER: tuple[str, ...] = ("GPU", "OMP", "CPU")
"""Processor kinds, preferred first."""


def _lin(d: int) -> str:
    e = "task.ipoint[0]"
    for i in range(1, d):
        e = f"({e}) * task.ispace[{i}] + task.ipoint[{i}]"
    return e


def _ext(d: int) -> str:
    return " * ".join(f"task.ispace[{i}]" for i in range(d))


def _dims(d: int) -> str:
    return "(" + ",".join(str(i) for i in range(d)) + ("," if d == 1 else "") + ")"


def _auto(d: int, lower: str) -> str:
    head = f"ma = m.auto_split(0, task.ispace); mb = ma.auto_split({d}, task.ispace / ma[:-1]); "
    if lower == "cyclic":  # block over nodes, cyclic over each node's GPU grid (the DISTAL experts)
        up = f"upper = tuple(task.ipoint[i] * mb.size[i] / task.ispace[i] for i in {_dims(d)}); "
        lo = f"lower = tuple(task.ipoint[i] % mb.size[i + {d}] for i in {_dims(d)}); "
    else:  # one contiguous block per processor, node-major
        g = f"task.ipoint[i] * mb.size[i] * mb.size[i + {d}] / task.ispace[i]"
        up = f"upper = tuple({g} / mb.size[i + {d}] for i in {_dims(d)}); "
        lo = f"lower = tuple({g} % mb.size[i + {d}] for i in {_dims(d)}); "
    return head + up + lo + "return mb[*upper, *lower];"


MAP_FAMILY: dict[str, tuple[int, object]] = {
    # linearised launch over the linearised machine (m1 = nodes*gpus)
    "block_lin": (1, lambda d: f"return m1[({_lin(d)}) * m1.size[0] / ({_ext(d)})];"),
    "cyclic_lin": (1, lambda d: f"return m1[({_lin(d)}) % m1.size[0]];"),
    # node-major cyclic: consecutive points on consecutive nodes (pennant-style)
    "cyclic_node": (1, lambda d: f"ip = {_lin(d)}; return m[ip % m.size[0], ip / m.size[0] % m.size[1]];"),
    # GPU-major cyclic: consecutive points on the GPUs of one node (circuit-style)
    "cyclic_gpu": (1, lambda d: f"ip = {_lin(d)}; return m[ip / m.size[1] % m.size[0], ip % m.size[1]];"),
    # block over nodes, cyclic over the GPUs of a node
    "block_node_cyclic_gpu": (1, lambda d: f"ip = {_lin(d)}; return m[ip * m.size[0] / ({_ext(d)}), ip % m.size[1]];"),
    # 2-D: balanced 2-D view of the machine
    "block_2d": (2, lambda d: "return m2[task.ipoint[0] * m2.size[0] / task.ispace[0], "
                              "task.ipoint[1] * m2.size[1] / task.ispace[1]];"),
    "cyclic_2d": (2, lambda d: "return m2[task.ipoint[0] % m2.size[0], task.ipoint[1] % m2.size[1]];"),
    # first two launch dims straight onto (node, gpu)
    "block_node_gpu": (2, lambda d: "return m[task.ipoint[0] * m.size[0] / task.ispace[0], "
                                    "task.ipoint[1] * m.size[1] / task.ispace[1]];"),
    # shape-aware auto_split decompositions
    "auto_block_cyclic": (2, lambda d: _auto(d, "cyclic")),
    "auto_block": (2, lambda d: _auto(d, "block")),
    # 3-D: balanced 3-D view
    "block_3d": (3, lambda d: "return m3[task.ipoint[0] * m3.size[0] / task.ispace[0], "
                              "task.ipoint[1] * m3.size[1] / task.ispace[1], "
                              "task.ipoint[2] * m3.size[2] / task.ispace[2]];"),
}
"""Index-map families: name → (minimum launch dimensions, body builder for a D-d launch)."""

HEADER_SPACES = ("m = Machine(GPU);", "m1 = m.merge(0, 1);", "m2 = m1.balance_split(0, 2);",
                 "m3 = m1.balance_split(0, 3);")
"""Machine spaces the mapping functions use."""


@dataclass(frozen=True)
class Knob:
    """One categorical dimension of the space."""

    name: str
    """``kind:task[:region]``."""
    choices: tuple[str, ...]
    """Allowed values; ``choices[0]`` is the default."""
    task: str
    """Task it concerns (``*`` when it concerns every task using ``region``, or a group)."""
    region: str | None = None
    """Region it concerns (mem/layout knobs)."""
    tasks: tuple[str, ...] = ()
    """Every task the knob affects."""

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]


@dataclass
class Rendered:
    """A point rendered to DSL, with the knob behind each source line."""

    text: str
    """The mapper."""
    line_knob: dict[int, str] = field(default_factory=dict)
    """1-based line → knob name that produced it (lines of fixed text are absent)."""


def app_tasks(app) -> list:
    """The app's task definitions (``app.tasks`` may be a dict or a list)."""
    tasks = getattr(app, "tasks", None) or []
    return list(tasks.values()) if isinstance(tasks, dict) else list(tasks)


def app_regions(app) -> dict:
    """Region name → region object."""
    regs = getattr(app, "regions", None) or {}
    if isinstance(regs, dict):
        return dict(regs)
    return {getattr(r, "name", str(r)): r for r in regs}


def task_region_names(task) -> list[str]:
    """Region argument names of a task, by position."""
    return [r if isinstance(r, str) else getattr(r, "name", str(r)) for r in (getattr(task, "regions", []) or [])]


def launch_dims(task) -> int:
    """Dimensionality of a task's index launch (1 when unknown)."""
    shape = getattr(task, "launch_shape", None)
    try:
        return max(1, len(tuple(shape))) if shape is not None else 1
    except TypeError:
        return 1


def _layout_matters(region) -> bool:
    if region is None:
        return True
    return int(getattr(region, "fields", 2) or 1) > 1 or int(getattr(region, "dims", 2) or 1) > 1


class MapperSpace:
    """The knobs of one application and their rendering."""

    def __init__(self, app) -> None:
        self.app = app
        self.knobs: list[Knob] = []
        self.tasks = app_tasks(app)
        regions = app_regions(app)

        def region_obj(name):
            r = regions.get(name)
            alias = getattr(r, "alias_of", None) if r is not None else None
            return regions.get(alias, r) if alias else r

        gpu_tasks = [t for t in self.tasks if "GPU" in (getattr(t, "variants", ()) or ())]
        for t in self.tasks:
            variants = set(getattr(t, "variants", ()) or ())
            kinds = tuple(k for k in KIND_ORDER if k in variants) or ("CPU",)
            if len(kinds) > 1:
                self.knobs.append(Knob(f"proc:{t.name}", kinds, t.name, tasks=(t.name,)))
        # memory and layout per region, for every task using it (``Region * r GPU ZCMEM;``); rules name
        # regions the way the benchmark's run matches them: by name, or by argument index
        semantic = bool(getattr(app, "semantic_names", True))
        leaf = [t for t in self.tasks if not getattr(t, "inner", False)]
        if semantic:
            users: dict[str, list[str]] = {}
            objs: dict[str, object] = {}
            for t in leaf:
                paths = getattr(t, "paths", None) or [(r,) for r in task_region_names(t)]
                for r, path in zip(task_region_names(t), paths):
                    key = path[0] if path else r
                    users.setdefault(key, []).append(t.name)
                    objs.setdefault(key, region_obj(r))
            for r, ts in users.items():
                if any(t.name in ts for t in gpu_tasks):
                    self.knobs.append(Knob(f"mem:*:{r}", GPU_MEMS, "*", r, tuple(ts)))
            for r, ts in users.items():
                if _layout_matters(objs.get(r)):
                    self.knobs.append(Knob(f"layout:*:{r}", LAYOUTS, "*", r, tuple(ts)))
        else:
            for t in leaf:
                if t in gpu_tasks:
                    for i, _r in enumerate(task_region_names(t)):
                        self.knobs.append(Knob(f"mem:{t.name}:{i}", GPU_MEMS, t.name, str(i), (t.name,)))
            for t in leaf:
                if any(_layout_matters(region_obj(r)) for r in task_region_names(t)):
                    self.knobs.append(Knob(f"layout:{t.name}:*", LAYOUTS, t.name, "*", (t.name,)))
        # one index-map knob per launch domain: tasks launched over the same domain share data
        # piece by piece, so they are placed by one function (as every expert mapper does)
        groups: dict[tuple, list] = {}
        for t in gpu_tasks:
            # SAME_ADDRESS_SPACE launches (DISTAL's task_5 in Cannon/SUMMA/PUMMA) stay on their parent's
            # node: a machine-wide placement function cannot apply to them
            if getattr(t, "index_launch", False) and not getattr(t, "local", False):
                groups.setdefault(tuple(getattr(t, "launch_shape", None) or ()), []).append(t)
        for shape, ts in groups.items():
            dims = launch_dims(ts[0])
            fams = tuple(n for n, (d, _) in MAP_FAMILY.items() if d <= dims)
            label = "x".join(str(x) for x in shape) or "1"
            self.knobs.append(Knob(f"map:{label}", fams, ts[0].name, tasks=tuple(t.name for t in ts)))
        for t in self.tasks:
            if getattr(t, "index_launch", False):
                self.knobs.append(Knob(f"limit:{t.name}", LIMITS, t.name, tasks=(t.name,)))
            self.knobs.append(Knob(f"collect:{t.name}", ("off", "on"), t.name, tasks=(t.name,)))
        if any(k in getattr(t, "variants", ()) for t in self.tasks for k in ("CPU", "OMP")):
            self.knobs.append(Knob("hostmem:*", ("SYSMEM", "SOCKMEM"), "*", tasks=tuple(t.name for t in self.tasks)))
        self.by_name = {k.name: k for k in self.knobs}

    # -- points ----------------------------------------------------------------------------------
    def default(self) -> dict[str, str]:
        """The default point: first choice of every knob (GPU first, FBMEM, SOA C_order, block, ...)."""
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
        return [k for k in self.knobs if (task is None or k.task == task or task in k.tasks)
                and (region is None or k.region == region) and (kind is None or k.kind == kind)]

    # -- rendering -------------------------------------------------------------------------------
    def render(self, point: dict[str, str]) -> Rendered:
        """DSL text of ``point`` (missing knobs take their default)."""
        p = {**self.default(), **point}
        host = p.get("hostmem:*", "SYSMEM")
        lines: list[str] = ["# generated by systems.mapper.agent.space", "Region * * GPU FBMEM;",
                            f"Region * * CPU {host};", f"Region * * OMP {host};", "Layout * * * SOA C_order;"]
        line_knob: dict[int, str] = {}
        if "hostmem:*" in self.by_name:
            line_knob[3] = line_knob[4] = "hostmem:*"

        def add(text: str, knob: str | None) -> None:
            lines.append(text)
            if knob:
                line_knob[len(lines)] = knob

        kind_of: dict[str, str] = {}
        for t in self.tasks:
            variants = set(getattr(t, "variants", ()) or ())
            kn = f"proc:{t.name}"
            kind = p.get(kn) or next((k for k in KIND_ORDER if k in variants), "CPU")
            kind_of[t.name] = kind
            fallback = [k for k in KIND_ORDER if k in variants and k != kind]
            add(f"Task {t.name} {','.join([kind, *fallback])};", kn if kn in self.by_name else None)
        maps: list[tuple[str, str, str]] = []  # (task, function name, knob)
        for k in self.knobs:
            v = p[k.name]
            if k.kind == "mem" and v != "FBMEM":
                add(f"Region {k.task} {k.region} GPU {v};", k.name)
            elif k.kind == "layout" and v != LAYOUTS[0]:
                add(f"Layout {k.task} {k.region} * {v};", k.name)
            elif k.kind == "limit" and v != "none":
                add(f"InstanceLimit {k.task} {v};", k.name)
            elif k.kind == "collect" and v == "on":
                add(f"CollectMemory {k.task} *;", k.name)
            elif k.kind == "map":
                on_gpu = [t for t in k.tasks if kind_of.get(t) == "GPU"]
                if on_gpu:
                    maps.append((",".join(on_gpu), f"{v}{launch_dims(self._task(k.task))}", k.name))
        if maps:
            lines += list(HEADER_SPACES)
            emitted: set[str] = set()
            for _task, fn, kn in maps:
                if fn in emitted:
                    continue
                emitted.add(fn)
                fam = fn.rstrip("0123456789")
                add(f"def {fn}(Task task) {{ {MAP_FAMILY[fam][1](int(fn[len(fam):]))} }}", kn)
            for task, fn, kn in maps:
                add(f"IndexTaskMap {task} {fn};", kn)
        return Rendered("\n".join(lines) + "\n", line_knob)

    def _task(self, name: str):
        return next(t for t in self.tasks if t.name == name)
