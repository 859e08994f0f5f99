"""Turn a compiled mapper into per-task decisions: processor kind, mapping function, memories, layouts.

Resolution follows DSLMapper's rules: a rule naming a task (or region) beats a ``*`` rule, and among
equally specific rules the later statement wins. Unknown task or region names and a ``Task``
statement that names a task with none of its kinds are reported as located compile errors.
"""

from __future__ import annotations

from systems.mapper.apps.base import App, TaskDef
from systems.mapper.dsl.compiler import Mapper, Rule
from systems.mapper.dsl.errors import MapperCompileError
from systems.mapper.machine import MachineLayout

DEFAULT_KIND_ORDER = ("GPU", "OMP", "CPU")
"""Legion's default mapper prefers GPU, then OpenMP, then CPU variants."""
DEFAULT_LAYOUT = {"fields": "SOA", "order": "F_order"}
"""Legion's default instance layout: struct-of-arrays, dimension 0 fastest (Fortran order)."""


class Policy:
    """Per-task mapping decisions derived from a mapper, for one app on one machine."""

    def __init__(self, mapper: Mapper, app: App, layout: MachineLayout):
        self.mapper = mapper
        self.app = app
        self.layout = layout
        self._check_names()
        self.kind: dict[str, str] = {}
        self.kind_rule: dict[str, Rule | None] = {}
        for t in app.tasks.values():
            self.kind[t.name], self.kind_rule[t.name] = self._resolve_kind(t)
        self.map_rule: dict[str, Rule | None] = {t.name: self._resolve_map(t) for t in app.tasks.values()}
        self.limit: dict[str, tuple[int, Rule] | None] = {t.name: self._resolve_limit(t) for t in app.tasks.values()}
        self._mem_cache: dict = {}
        self._layout_cache: dict = {}
        self._collect_cache: dict = {}

    # -- validation ---------------------------------------------------------------------------
    def _check_names(self) -> None:
        app = self.app
        kinds = {"CPU", "GPU", "OMP", "IO", "PY", "PROC"}

        def check_task(name, tok, allow_kind=False):
            if name is None or name in app.tasks or (allow_kind and name in kinds):
                return
            import difflib

            close = difflib.get_close_matches(str(name), list(app.tasks), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise MapperCompileError("undefined_name", f"unknown task {name!r} for app {app.name} (tasks: "
                                     f"{', '.join(app.tasks)}){hint}", tok.line, tok.column)

        def check_region(task, region, tok):
            if region is None:
                return
            if task is None:
                ok = any((region in t.regions) if isinstance(region, str) else region < len(t.regions)
                         for t in app.tasks.values())
                if not ok:
                    names = sorted({r for t in app.tasks.values() for r in t.regions})
                    raise MapperCompileError("undefined_name" if isinstance(region, str) else "index_out_of_bounds",
                                             f"no task of app {app.name} has a region argument {region!r} "
                                             f"(region names: {', '.join(names)})", tok.line, tok.column)
                return
            t = app.tasks[task]
            if isinstance(region, int):
                if not 0 <= region < len(t.regions):
                    raise MapperCompileError("index_out_of_bounds", f"task {task} has {len(t.regions)} region "
                                             f"argument(s); index {region} is out of bounds", tok.line, tok.column)
            elif region not in t.regions:
                raise MapperCompileError("undefined_name", f"task {task} has no region argument {region!r} "
                                         f"(its regions: {', '.join(t.regions) or 'none'})", tok.line, tok.column)

        m = self.mapper
        for r in m.task_rules:
            for name, tok in r.args["task_tokens"]:
                check_task(name, tok)
        for r in m.region_rules + m.layout_rules + m.collects:
            tname = r.tasks[0] if r.tasks else None
            check_task(tname, r.args["task_tok"])
            if "region_tok" in r.args:
                check_region(tname, r.args["region"], r.args["region_tok"])
        for r in m.limits:
            check_task(r.tasks[0] if r.tasks else None, r.args["task_tok"])
        for r in m.index_maps + m.single_maps:
            for name, tok in r.args["task_tokens"]:
                check_task(name, tok, allow_kind=True)

    # -- tasks --------------------------------------------------------------------------------
    def _available(self, t: TaskDef, kind: str) -> bool:
        return kind in t.variants and self.layout.machine.count(kind) > 0

    def _resolve_kind(self, t: TaskDef):
        best, best_score = None, -1
        for r in self.mapper.task_rules:
            if r.tasks is None:
                score = 0
            elif t.name in r.tasks:
                score = 1
            else:
                continue
            if score >= best_score:
                best, best_score = r, score
        if best is not None:
            for k in best.args["kinds"]:
                if self._available(t, k):
                    return k, best
            if best.tasks is not None:
                raise MapperCompileError(
                    "no_variant", f"Invalid policy: task {t.name} requested {', '.join(best.args['kinds'])}, but has no "
                    f"valid task variant for {'that kind' if len(best.args['kinds']) == 1 else 'those kinds'} "
                    f"(variants: {', '.join(sorted(t.variants))})", best.line, best.column)
        for k in DEFAULT_KIND_ORDER:
            if self._available(t, k):
                return k, None
        raise MapperCompileError("no_variant", f"task {t.name} has no variant for any processor of machine "
                                 f"{self.layout.machine.name}")

    def _resolve_map(self, t: TaskDef) -> Rule | None:
        rules = self.mapper.index_maps if t.index_launch else self.mapper.single_maps
        best, best_score = None, -1
        kind = self.kind[t.name]
        for r in rules:
            if r.tasks is None:
                score = 0
            elif t.name in r.tasks:
                score = 2
            elif kind in r.tasks:
                score = 1
            else:
                continue
            if score >= best_score:
                best, best_score = r, score
        return best

    def _resolve_limit(self, t: TaskDef):
        best, best_score = None, -1
        for r in self.mapper.limits:
            if r.args["proc"] is not None and r.args["proc"] != self.kind[t.name]:
                continue
            if r.tasks is None:
                score = 0
            elif t.name in r.tasks:
                score = 1
            else:
                continue
            if score >= best_score:
                best, best_score = r, score
        return (best.args["limit"], best) if best is not None else None

    # -- regions ------------------------------------------------------------------------------
    def memory_kinds(self, t: TaskDef, arg: int, proc_kind: str) -> tuple[str, ...] | None:
        key = (t.name, arg, proc_kind)
        if key in self._mem_cache:
            return self._mem_cache[key]
        best = _most_specific(self.mapper.region_rules, t, arg, "proc", proc_kind)
        out = best.args["mems"] if best is not None else None
        self._mem_cache[key] = out
        return out

    def layout_of(self, t: TaskDef, arg: int, mem_kind: str) -> dict:
        key = (t.name, arg, mem_kind)
        if key in self._layout_cache:
            return self._layout_cache[key]
        best = _most_specific(self.mapper.layout_rules, t, arg, "mem", mem_kind)
        out = dict(DEFAULT_LAYOUT)
        if best is not None:
            out.update(best.args["constraints"])
            out["_line"] = best.line
        self._layout_cache[key] = out
        return out

    def collects(self, t: TaskDef, arg: int) -> bool:
        key = (t.name, arg)
        if key in self._collect_cache:
            return self._collect_cache[key]
        rname = t.regions[arg]
        out = False
        for r in self.mapper.collects:
            if r.tasks is not None and t.name not in r.tasks:
                continue
            reg = r.args["region"]
            if reg is not None and reg != rname and reg != arg:
                continue
            out = True
        self._collect_cache[key] = out
        return out


def _most_specific(rules, t: TaskDef, arg: int, kind_key: str, kind: str):
    """The rule that matches (task, region ``arg``, processor/memory kind) most specifically.

    A named task outranks a named region, which outranks a named kind (scores 4/2/1); among equally
    specific matches the later statement wins, as in the DSL. ``None`` fields are wildcards.
    """
    rname = t.regions[arg]
    best, best_score = None, -1
    for r in rules:
        s = 0
        if r.tasks is not None:
            if t.name not in r.tasks:
                continue
            s += 4
        reg = r.args["region"]
        if reg is not None:
            if reg != rname and reg != arg:
                continue
            s += 2
        if r.args[kind_key] is not None:
            if r.args[kind_key] != kind:
                continue
            s += 1
        if s >= best_score:
            best, best_score = r, s
    return best
