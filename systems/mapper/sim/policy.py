"""Per-task decisions of a loaded mapper for one benchmark on one machine, as DSLMapper makes them.

All rule lookups go through :class:`systems.mapper.dsl.compiler.Program`, which implements the real
mapper's queries once (``query_memory_list``, ``query_constraint``, ``should_collect_memory``,
``task_policies``, ``indextask2func``/``singletask2func``, ``query_max_instance``); this module only
caches their answers per task and argument and applies them to the benchmark:

- processor kind: the first kind of the task's ``Task`` list that the machine has and the task has a
  variant for; else Legion's default mapper (GPU, then OpenMP, then CPU);
- memory: the first kind of the concatenated ``Region`` lists the processor can address (best
  bandwidth within the kind); ``VIRTUAL`` maps no instance; none: the default memory;
- layout: the first matching ``Layout`` rule, else Legion's default (SOA, F order).

Names that no task or region of the benchmark has are ignored, as the real mapper ignores them; they
are listed in :attr:`Policy.warnings` (feedback shows them, so a typo does not go unnoticed).
"""

from __future__ import annotations

from systems.mapper.apps.base import App, TaskDef
from systems.mapper.dsl.compiler import Constraints, FuncDef, Program
from systems.mapper.dsl.errors import MapperCompileError
from systems.mapper.machine import MachineLayout

DEFAULT_KIND_ORDER = ("GPU", "OMP", "CPU")
"""Legion's default mapper prefers GPU, then OpenMP, then CPU variants."""
DEFAULT_LAYOUT = Constraints()
"""Legion's default instance layout: struct-of-arrays, dimension 0 fastest (F order)."""


class Policy:
    """Mapping decisions of ``program`` for ``app`` on ``layout``'s machine (answers cached per key)."""

    def __init__(self, program: Program, app: App, layout: MachineLayout):
        self.program = program
        self.app = app
        self.layout = layout
        self.warnings: list[str] = []
        self._check_names()
        self.kind: dict[str, str] = {t.name: self._resolve_kind(t) for t in app.tasks.values()}
        self.map_func: dict[str, FuncDef | None] = {
            t.name: program.mapping_function(t.name, t.index_launch, self.kind[t.name]) for t in app.tasks.values()}
        self.limit: dict[str, int] = {t.name: program.max_instance(t.name, self.kind[t.name]) for t in app.tasks.values()}
        self._mem: dict = {}
        self._layout: dict = {}
        self._collect: dict = {}

    # -- names -------------------------------------------------------------------------------------
    def _check_names(self) -> None:
        app, prog = self.app, self.program
        tasks = set(app.tasks)
        keys = {k for t in app.tasks.values() for i in range(len(t.regions)) for k in app.region_keys(t, i)}
        keys |= {n for inst in app.instances for rq in inst.reqs if rq.names for n in rq.names}
        seen = set()

        def note(what: str, name: str, line: int) -> None:
            if (what, name) not in seen:
                seen.add((what, name))
                how = "" if what == "task" or app.semantic_names else " (this benchmark matches regions by index)"
                self.warnings.append(f"line {line}: {app.name} has no {what} {name!r}{how}; the rule has no effect")
        for st in prog.mapper.stmts:
            d = st.data
            if st.kind in ("task", "index_map", "single_map", "control_replicate"):
                for n in d["names"]:
                    if n != "*" and n not in tasks and not (st.kind != "task" and n in ("CPU", "GPU", "OMP")):
                        note("task", n, st.line)
            if st.kind in ("region", "layout", "limit", "collect"):
                if d["task"] != "*" and d["task"] not in tasks:
                    note("task", d["task"], st.line)
            if st.kind in ("region", "layout", "collect") and d["region"] != "*" and d["region"] not in keys:
                note("region", d["region"], st.line)

    # -- tasks -------------------------------------------------------------------------------------
    def _available(self, t: TaskDef, kind: str) -> bool:
        return kind in t.variants and self.layout.machine.count(kind) > 0

    def _resolve_kind(self, t: TaskDef) -> str:
        for k in self.program.kind_list(t.name) or ():
            if self._available(t, k):
                return k
        for k in DEFAULT_KIND_ORDER:
            if self._available(t, k):
                return k
        raise MapperCompileError("no_variant", f"task {t.name} has no variant ({', '.join(sorted(t.variants))}) for any "
                                 f"processor of machine {self.layout.machine.name}")

    # -- regions -----------------------------------------------------------------------------------
    def memory_kinds(self, t: TaskDef, arg: int, proc_kind: str, names=None) -> list[str]:
        key = (t.name, arg, proc_kind, names)
        out = self._mem.get(key)
        if out is None:
            out = self.program.memory_list(t.name, self.app.region_keys(t, arg, names), proc_kind)
            self._mem[key] = out
        return out

    def layout_of(self, t: TaskDef, arg: int, mem_kind: str, names=None) -> Constraints:
        key = (t.name, arg, mem_kind, names)
        out = self._layout.get(key)
        if out is None:
            out = self.program.constraint(t.name, self.app.region_keys(t, arg, names), mem_kind) or DEFAULT_LAYOUT
            self._layout[key] = out
        return out

    def collects(self, t: TaskDef, arg: int, names=None) -> bool:
        key = (t.name, arg, names)
        out = self._collect.get(key)
        if out is None:
            out = self.program.should_collect(t.name, self.app.region_keys(t, arg, names))
            self._collect[key] = out
        return out
