"""Compile mapper text (real dialect by default) and run it with the real runtime's semantics.

Three stages, as in DSLMapper (``tree.cpp``, ``MSpace.cpp``, ``dsl_mapper.cc`` at commit c13b92e):

1. :func:`compile_mapper` parses (:mod:`systems.mapper.dsl.parser`) and runs static checks that
   only flag what the real system certainly rejects: a map statement naming a function that is not
   defined *before* it or that is not ``f(Task t)``; a global assigned twice; a top-level name used
   before it is assigned; in functions reachable from a map statement, names that are never defined
   and calls with the wrong number of arguments.
2. :meth:`Mapper.bind` runs the top-level statements in order against a machine, as
   ``Tree2Legion``'s constructor does: policy tables keep the *first* statement for a key (C++
   ``unordered_map::insert``), assignments are evaluated, ``print`` runs.
3. :meth:`Program.map_task` calls a mapping function for one task (``runindex``/``runsingle``) and
   checks its result: a point of a machine space of the task's processor kind, inside the machine.

Values follow the C++ node types: ``int``, ``bool``, a tuple of ints (``TupleIntNode``),
:class:`TExpr` (``TupleExprNode``: a tuple built at run time, e.g. by ``tuple(... for ...)``),
:class:`Point` (a machine point with its processor kind), :class:`ProcSet` (``m[*, 0]``),
:class:`MSpace`, processor/memory kinds, ``*`` and the task. Every error carries the source line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from systems.mapper.dsl.errors import MapperCompileError, MapperError, MappingError
from systems.mapper.dsl.lalr import Node, Tok
from systems.mapper.dsl.mspace import DSLRuntimeError, MSpace
from systems.mapper.dsl.parser import parse_text

PROC_KINDS_DSL = ("CPU", "GPU", "IO", "PY", "PROC", "OMP")
"""Processor kinds the grammar knows."""
MEM_KINDS_DSL = ("SYSMEM", "FBMEM", "RDMEM", "ZCMEM", "SOCKMEM", "VIRTUAL")
"""Memory kinds the grammar knows."""
ANY = None
"""The ``*`` key of a policy table (ALLPROC / ALLMEM)."""


# -- values ----------------------------------------------------------------------------------------
class TExpr(tuple):
    """A tuple built at run time (``TupleExprNode``); converts to a tuple of ints where needed."""


class Point(tuple):
    """``m[...]``: a root ``(node, processor)`` point of a machine space of processor kind ``kind``."""

    kind: str

    def __new__(cls, coords, kind):
        p = super().__new__(cls, coords)
        p.kind = kind
        return p


class ProcSet(tuple):
    """``m[..., *, ...]``: several root points (all must be on one node), of processor kind ``kind``."""

    kind: str

    def __new__(cls, points, kind):
        p = super().__new__(cls, points)
        p.kind = kind
        return p


class Kind(str):
    """A processor kind value (``GPU``)."""


class MemKind(str):
    """A memory kind value (``FBMEM``)."""


class _Star:
    def __repr__(self):
        return "*"


STAR = _Star()
"""The ``*`` expression."""


class _Unpack:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class TaskView:
    """What a mapping function sees as ``task``.

    Index-launch points (``runindex``) have ``ipoint``/``ispace`` and no parent; single tasks
    (``runsingle``) have a parent and the processor they currently run on, but no ``ipoint``.
    """

    __slots__ = ("name", "index_launch", "ipoint", "ispace", "parent", "proc")

    def __init__(self, name: str, index_launch: bool, ipoint=(), ispace=(), parent=None, proc=(0, 0)):
        self.name = name
        self.index_launch = index_launch
        self.ipoint = tuple(ipoint)
        self.ispace = tuple(ispace)
        self.parent = parent
        self.proc = proc
        """(node, index among the node's processors of its kind) of the processor it runs on."""


def _type(v) -> str:
    if isinstance(v, bool):
        return "BoolValType"
    if isinstance(v, int):
        return "IntValType"
    if isinstance(v, ProcSet):
        return "SetTupleIntType"
    if isinstance(v, TExpr):
        return "TupleExprType"
    if isinstance(v, tuple):
        return "TupleIntType"
    if isinstance(v, MSpace):
        return "MSpaceType"
    if isinstance(v, TaskView):
        return "TaskNodeType"
    if isinstance(v, Kind):
        return "ProcType"
    if isinstance(v, MemKind):
        return "MemType"
    if v is STAR:
        return "StarExprType"
    if isinstance(v, _Unpack):
        return "UnpackExprType"
    if isinstance(v, FuncDef):
        return "FuncDefType"
    return type(v).__name__


def _convert(v):
    """``Convert2TupleInt``: a TupleExpr of ints becomes a tuple of ints."""
    if isinstance(v, TExpr) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return tuple(v)
    return v


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_tint(v) -> bool:
    return isinstance(v, tuple) and not isinstance(v, (TExpr, ProcSet))


def _cdiv(a: int, b: int) -> int:
    if b == 0:
        raise DSLRuntimeError("division_by_zero", f"integer division by zero ({a} / {b}); the real runtime crashes")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _cmod(a: int, b: int) -> int:
    if b == 0:
        raise DSLRuntimeError("division_by_zero", f"integer modulo by zero ({a} % {b}); the real runtime crashes")
    return a - b * _cdiv(a, b)


_INT_OPS: dict[str, Callable] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": _cdiv, "%": _cmod,
    ">": lambda a, b: a > b, "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
_BOOL_OPS: dict[str, Callable] = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b,
                                  "||": lambda a, b: a or b, "&&": lambda a, b: a and b}
_TUPLE_OPS = ("+", "-", "*", "/", "%")


def _binop(op: str, a, b):
    """``BinaryExprNode::run``: both sides evaluated, TupleExprs converted, types must match."""
    a, b = _convert(a), _convert(b)
    ta, tb = _type(a), _type(b)
    if ta != tb:
        raise DSLRuntimeError("type_mismatch", f"type mismatch!! {ta} {op} {tb}")
    if ta == "BoolValType":
        f = _BOOL_OPS.get(op)
        if f is None:
            raise DSLRuntimeError("type_mismatch", f"Unsupported binary operator for Boolean variable: {op}")
        return bool(f(a, b))
    if ta == "IntValType":
        f = _INT_OPS.get(op)
        if f is None:
            raise DSLRuntimeError("type_mismatch", f"Unsupported binary operator for Integer: {op}")
        return f(a, b)
    if ta == "TupleIntType":
        if op not in _TUPLE_OPS:
            raise DSLRuntimeError("type_mismatch", f"Unsupported binary operator for TupleIntNode: {op}")
        if len(a) != len(b):
            raise DSLRuntimeError("dimension_mismatch",
                                  f"Dimension mismatch in TupleIntNode's binary operation: {tuple(a)} {op} {tuple(b)}")
        f = _INT_OPS[op]
        return tuple(f(x, y) for x, y in zip(a, b))
    if ta == "TupleExprType":
        if len(a) != len(b):
            raise DSLRuntimeError("dimension_mismatch", "Dimension mismatch in TupleExprNode's binary operator")
        raise DSLRuntimeError("type_mismatch", "Only IntValType inside TupleExprNode is allowed in binary operation")
    raise DSLRuntimeError("type_mismatch", f"Unsupported operator type in BinaryExprNode: {ta} {op} {tb}")


def _slice_tuple(seq: tuple, a: int, b: int, expr: bool):
    """``TupleIntNode::slice``: ``b == 0`` means 'to the end'; negative ends count from the end."""
    n = len(seq)
    if b >= n and b >= 0:
        raise DSLRuntimeError("index_out_of_bounds", f"slice's right index is out of bound! ({b} for a {n}-tuple)")
    a = n + a if a < 0 else a
    b = n + b if b <= 0 else b
    out = tuple(seq[i] for i in range(a, b))
    return TExpr(out) if expr else out


def _at(seq: tuple, i: int):
    if i < len(seq) and i >= -len(seq):
        return seq[i]
    raise DSLRuntimeError("index_out_of_bounds", f"Index out of bound for TupleIntNode: index {i} of {tuple(seq)}")


# -- program structure -----------------------------------------------------------------------------
@dataclass
class Constraints:
    """A ``Layout`` statement's constraints (``ConstraintsNode``; later words override earlier ones)."""

    reverse: bool = False
    """C_order (True) or F_order (False, Legion's default: dimension 0 fastest)."""
    aos: bool = False
    compact: bool = False
    exact: bool = False
    align: tuple[str, int] | None = None
    line: int = 0

    @property
    def order(self) -> str:
        return "C" if self.reverse else "F"


@dataclass
class FuncDef:
    """A DSL function: parameters ``(type, name)`` and a compiled body."""

    name: str
    params: list[tuple[str, str]]
    body: list[tuple[str, Callable, int]]
    """Statements in order: (kind ``assign``/``return``/``print``, closure, line)."""
    line: int
    column: int
    node: Node | None = None

    def __repr__(self) -> str:
        return f"FuncDef({self.name})"


@dataclass
class Stmt:
    """One top-level statement."""

    kind: str
    """task | region | layout | limit | collect | index_map | single_map | control_replicate | assign |
    funcdef | print"""
    line: int
    column: int
    data: dict = field(default_factory=dict)


class _Return(Exception):
    def __init__(self, value):
        self.value = value


@dataclass
class Mapper:
    """A compiled mapper: top-level statements in order, ready to be bound to a machine."""

    text: str
    dialect: str = "real"
    stmts: list[Stmt] = field(default_factory=list)
    functions: dict[str, FuncDef] = field(default_factory=dict)
    """Functions by name (the first definition, as the real runtime keeps it)."""
    warnings: list[str] = field(default_factory=list)
    """Problems that fail only if reached (e.g. an undefined name in a function no map statement uses)."""

    def statements(self, kind: str) -> list[Stmt]:
        return [s for s in self.stmts if s.kind == kind]

    def bind(self, layout) -> "Program":
        """Run the top-level statements against ``layout`` (a ``MachineLayout``); load errors are
        :class:`MapperCompileError` with the failing statement's line."""
        return Program(self, layout)


class Program:
    """A mapper loaded on a machine: the policy tables of ``Tree2Legion`` plus the global symbols."""

    def __init__(self, mapper: Mapper, layout):
        self.mapper = mapper
        self.layout = layout
        self.task_policies: dict[str, tuple[str, ...]] = {}
        self.region_policies: dict[tuple[str, str], dict] = {}
        self.layouts: dict[tuple[str, str], dict] = {}
        self.limits: dict[str, int] = {}
        self.limit_kinds: dict[str, str | None] = {}
        self.collects: set[tuple[str, str]] = set()
        self.index_funcs: dict[str, FuncDef] = {}
        self.single_funcs: dict[str, FuncDef] = {}
        self.control_replicate: set[str] = set()
        self.globals: dict[str, Any] = {}
        self.output: list[str] = []
        for st in mapper.stmts:
            try:
                self._run(st)
            except DSLRuntimeError as exc:
                raise MapperCompileError(exc.kind, f"{exc.message}", st.line, st.column) from None
            except MappingError as exc:
                raise MapperCompileError(exc.kind, exc.message, exc.line, exc.column) from None

    # -- loading ---------------------------------------------------------------------------------
    def _run(self, st: Stmt) -> None:
        d = st.data
        k = st.kind
        if k == "task":
            for name in d["names"]:
                self.task_policies.setdefault(name, d["kinds"])
        elif k == "region":
            self.region_policies.setdefault((d["task"], d["region"]), {}).setdefault(d["proc"], d["mems"])
        elif k == "layout":
            self.layouts.setdefault((d["task"], d["region"]), {}).setdefault(d["mem"], d["constraints"])
        elif k == "limit":
            if d["task"] not in self.limits:
                self.limits[d["task"]] = d["n"]
                self.limit_kinds[d["task"]] = d.get("proc")
        elif k == "collect":
            self.collects.add((d["task"], d["region"]))
        elif k == "control_replicate":
            self.control_replicate.update(d["names"])
        elif k == "funcdef":
            self.globals.setdefault(d["func"].name, d["func"])
        elif k == "assign":
            name = d["name"]
            val = d["expr"](None, self)
            _check_assignable(val, st.line, st.column)
            if name in self.globals:
                raise MappingError("redefined_name", f"AssignNode multiple {name} cause conflicts in global_symbol!",
                                   st.line, st.column)
            self.globals[name] = val
        elif k == "print":
            self.output.append(_print(d["fmt"], [f(None, self) for f in d["args"]], st.line))
        elif k in ("index_map", "single_map"):
            what = "IndexTaskMap" if k == "index_map" else "SingleTaskMap"
            fname = d["func"]
            if fname not in self.globals:
                raise MappingError("undefined_name", f"{what}'s function undefined: {fname}", st.line, d["fcol"])
            fn = self.globals[fname]
            if not isinstance(fn, FuncDef):
                raise MappingError("undefined_name", f"{what}'s mapping function is undefined: {fname} is a "
                                   f"{_type(fn)}", st.line, d["fcol"])
            table = self.index_funcs if k == "index_map" else self.single_funcs
            for name in d["names"]:
                table.setdefault(name, fn)
            if not (len(fn.params) == 1 and fn.params[0][0] == "Task"):
                raise MappingError("arg_count", "Entry mapping function's definition must be like func(Task t): "
                                   f"{fname} takes ({', '.join(' '.join(p) for p in fn.params)})", st.line, d["fcol"])

    # -- the machine -----------------------------------------------------------------------------
    def machine_space(self, kind: str) -> MSpace:
        """``Machine(kind)`` on this machine: (nodes, processors of ``kind`` per node)."""
        m = self.layout.machine
        return MSpace.root(kind, m.nodes, m.count(kind))

    # -- queries (dsl_mapper.cc / Tree2Legion) ---------------------------------------------------
    @staticmethod
    def _keys(task: str, regions: list[str]):
        """The lookup order of every region query: (task, region) for each name, (task, *), (*, region), (*, *)."""
        for r in regions:
            yield (task, r)
        yield (task, "*")
        for r in regions:
            yield ("*", r)
        yield ("*", "*")

    def memory_list(self, task: str, regions: list[str], proc_kind: str) -> list[str]:
        """``query_memory_list``: the memory kinds of every matching ``Region`` rule, concatenated in lookup order."""
        out: list[str] = []
        for key in self._keys(task, regions):
            per = self.region_policies.get(key)
            if per:
                mems = per.get(proc_kind, per.get(ANY))
                if mems:
                    out.extend(mems)
        return out

    def constraint(self, task: str, regions: list[str], mem_kind: str) -> Constraints | None:
        """``query_constraint``: the first matching ``Layout`` rule (memory-specific before ``*``)."""
        for key in self._keys(task, regions):
            per = self.layouts.get(key)
            if per:
                c = per.get(mem_kind, per.get(ANY))
                if c is not None:
                    return c
        return None

    def should_collect(self, task: str, regions: list[str]) -> bool:
        """``should_collect_memory``."""
        c = self.collects
        if not c:
            return False
        if ("*", "*") in c or (task, "*") in c:
            return True
        return any((task, r) in c or ("*", r) in c for r in regions)

    def kind_list(self, task: str) -> tuple[str, ...] | None:
        """The ``Task`` statement's processor kinds for ``task`` (its own, else ``*``'s), None when none."""
        return self.task_policies.get(task, self.task_policies.get("*"))

    def mapping_function(self, task: str, index_launch: bool, proc_kind: str) -> FuncDef | None:
        """``should_fall_back``/``runindex``: by task name, else by the processor kind (``*`` never matches)."""
        table = self.index_funcs if index_launch else self.single_funcs
        fn = table.get(task)
        if fn is None and proc_kind in ("CPU", "GPU", "OMP"):
            fn = table.get(proc_kind)
        return fn

    def max_instance(self, task: str, proc_kind: str | None = None) -> int:
        """``query_max_instance`` (0: no limit). In the extended dialect a limit may name a kind."""
        n = self.limits.get(task, 0)
        k = self.limit_kinds.get(task)
        if k is not None and proc_kind is not None and k != proc_kind:
            return 0
        return n

    # -- mapping functions -----------------------------------------------------------------------
    def call(self, fn: FuncDef, task: TaskView, line: int | None = None):
        """Invoke entry function ``fn`` for ``task`` (the scope holds only its parameter)."""
        return _invoke(fn, {fn.params[0][1]: task}, self)

    def map_task(self, fn: FuncDef, task: TaskView, proc_kind: str, variants=None) -> list[tuple[int, int]]:
        """The root ``(node, processor)`` points ``fn`` returns for ``task``, checked as ``runindex`` checks them."""
        try:
            res = self.call(fn, task)
        except DSLRuntimeError as exc:
            raise MappingError(exc.kind, exc.message, fn.line, fn.column) from None
        if isinstance(res, Point):
            pts = [tuple(res)]
            kind = res.kind
        elif isinstance(res, ProcSet):
            pts = [tuple(p) for p in res]
            kind = res.kind
            if not pts:
                raise MappingError("not_a_processor", f"mapping function {fn.name} returned an empty set of processors "
                                   f"for task {task.name}", fn.line, fn.column)
        elif _is_tint(res):
            raise MappingError("not_a_processor", f"{task.name} is actually mapped to {proc_kind}, but machine model is "
                               f"for ALLPROC: mapping function {fn.name} returned the tuple {tuple(res)}, not a point of "
                               "a machine space (index a Machine(...) space)", fn.line, fn.column)
        else:
            raise MappingError("not_a_processor", "Must return TupleIntType or SetTupleIntType after invoking mapping "
                               f"function: {fn.name} returned {_type(res)} for task {task.name}", fn.line, fn.column)
        if kind != proc_kind:
            cls = "no_variant" if variants is not None and kind not in variants else "not_a_processor"
            extra = (f"; task {task.name} has no {kind} variant (variants: {', '.join(sorted(variants))})"
                     if cls == "no_variant" else f"; the Task statement placed it on {proc_kind}")
            raise MappingError(cls, f"{task.name} is actually mapped to {proc_kind}, but machine model is for {kind} "
                               f"(mapping function {fn.name}{extra})", fn.line, fn.column)
        node = pts[0][0]
        if any(p[0] != node for p in pts):
            raise MappingError("not_a_processor", f"mapping function {fn.name} returned processors on several nodes for "
                               f"task {task.name}: {pts} (they must be on the same node)", fn.line, fn.column)
        return pts


def _check_assignable(val, line, col) -> None:
    if not (isinstance(val, (bool, int, MSpace, tuple, TaskView)) and not isinstance(val, ProcSet)):
        raise MappingError("type_mismatch", f"Cannot Assign {_type(val)}", line, col)


def _print(fmt: str, args: list, line: int) -> str:
    parts = fmt.split("{}")
    if len(parts) - 1 > len(args):
        raise MappingError("arg_count", "Not enough arguments for print()", line, None)
    out = parts[0]
    for i, p in enumerate(parts[1:]):
        v = args[i]
        out += (",".join(str(x) for x in v) if isinstance(v, tuple) else str(v)) + p
    return out


def _invoke(fn: FuncDef, scope: dict, prog: Program):
    """``FuncDefNode::invoked``: run statements until the first ``return``."""
    for kind, f, line in fn.body:
        if kind == "return":
            v = f(scope, prog)
            if not (isinstance(v, (bool, int)) or (isinstance(v, tuple))):
                raise MappingError("type_mismatch", f"function {fn.name} returns {_type(v)} (only ints, bools and "
                                   "tuples may be returned)", line, None)
            return v
        if kind == "assign":
            name, expr = f
            v = expr(scope, prog)
            _check_assignable(v, line, None)
            scope.setdefault(name, v)  # the real runtime's insert keeps the first value
        else:
            fmt, args = f
            prog.output.append(_print(fmt, [a(scope, prog) for a in args], line))
    raise MappingError("no_return", f"Error: function without return ({fn.name})", fn.line, fn.column)


# -- compiler ----------------------------------------------------------------------------------------
def _tok(n) -> Tok:
    while isinstance(n, Node):
        n = n.children[0]
    return n


def _words(node: Node) -> list[Tok]:
    """Tokens of an identifier_list / identifier_star / identifier_star_num / proc node."""
    out = []
    for c in node.children:
        if isinstance(c, Node):
            out += _words(c)
        elif c.type not in ("COMMA",):
            out.append(c)
    return out


class _Compiler:
    def __init__(self, text: str, dialect: str):
        self.mapper = Mapper(text=text, dialect=dialect)
        self.errors: list[MapperCompileError] = []

    def compile(self) -> Mapper:
        tree = parse_text(self.mapper.text, self.mapper.dialect)
        stmts = []
        node = tree
        while True:  # program: stmt | program stmt (left recursive)
            if node.alt == 0:
                stmts.append(node.children[0])
                break
            stmts.append(node.children[1])
            node = node.children[0]
        stmts.reverse()
        for s in stmts:
            inner = s.children[0]
            self.mapper.stmts.append(getattr(self, "_s_" + inner.rule)(inner))
        self._static_checks()
        return self.mapper

    # -- statements ------------------------------------------------------------------------------
    def _s_proc_custom(self, n: Node) -> Stmt:
        names = [t.value for t in _words(n.children[1])]
        kinds = tuple(t.value for t in _words(n.children[2]))
        return Stmt("task", n.line, n.column, {"names": names, "kinds": kinds})

    def _s_region_custom(self, n: Node) -> Stmt:
        task = _tok(n.children[1]).value
        region = _tok(n.children[2]).value
        proc = _tok(n.children[3]).value
        mems = tuple(t.value for t in _words(n.children[4]))
        return Stmt("region", n.line, n.column, {"task": task, "region": region, "proc": ANY if proc == "*" else proc,
                                                 "mems": mems, "region_col": _tok(n.children[2]).column,
                                                 "task_col": _tok(n.children[1]).column})

    def _s_layout_custom(self, n: Node) -> Stmt:
        task = _tok(n.children[1]).value
        region = _tok(n.children[2]).value
        mem = _tok(n.children[3]).value
        c = Constraints(line=n.line)
        for w in self._constraint_words(n.children[4]):
            if isinstance(w, tuple):
                c.align = w
            elif w == "C_order":
                c.reverse = True
            elif w == "F_order":
                c.reverse = False
            elif w == "AOS":
                c.aos = True
            elif w == "SOA":
                c.aos = False
            elif w == "Compact":
                c.compact = True
            elif w == "Exact":
                c.exact = True
        return Stmt("layout", n.line, n.column, {"task": task, "region": region,
                                                 "mem": ANY if mem in ("*", "VIRTUAL") else mem, "constraints": c,
                                                 "region_col": _tok(n.children[2]).column,
                                                 "task_col": _tok(n.children[1]).column})

    def _constraint_words(self, n: Node) -> list:
        out = []
        while n.children:
            kids = n.children
            if len(kids) == 2:
                out.append(kids[1].value)
            else:
                out.append((kids[2].value, int(kids[3].value)))
            n = kids[0]
        out.reverse()
        return out

    def _s_instance_limit(self, n: Node) -> Stmt:
        kids = n.children
        if len(kids) == 5:  # extended: InstanceLimit task Proc n ;
            return Stmt("limit", n.line, n.column, {"task": kids[1].value, "n": int(kids[3].value),
                                                    "proc": _tok(kids[2]).value, "task_col": kids[1].column})
        return Stmt("limit", n.line, n.column, {"task": kids[1].value, "n": int(kids[2].value), "proc": None,
                                                "task_col": kids[1].column})

    def _s_memory_collect(self, n: Node) -> Stmt:
        return Stmt("collect", n.line, n.column, {"task": _tok(n.children[1]).value, "region": _tok(n.children[2]).value,
                                                  "task_col": _tok(n.children[1]).column,
                                                  "region_col": _tok(n.children[2]).column})

    def _map(self, n: Node, kind: str) -> Stmt:
        names = [t.value for t in _words(n.children[1])] if isinstance(n.children[1], Node) else [n.children[1].value]
        f = n.children[2]
        return Stmt(kind, n.line, n.column, {"names": names, "func": f.value, "fcol": f.column,
                                             "name_cols": [t.column for t in (_words(n.children[1]) if isinstance(
                                                 n.children[1], Node) else [n.children[1]])]})

    def _s_index_task_map(self, n: Node) -> Stmt:
        return self._map(n, "index_map")

    def _s_single_task_map(self, n: Node) -> Stmt:
        return self._map(n, "single_map")

    def _s_control_replicate(self, n: Node) -> Stmt:
        c = n.children[1]
        names = [t.value for t in _words(c)] if isinstance(c, Node) else [c.value]
        return Stmt("control_replicate", n.line, n.column, {"names": names})

    def _s_assign_stmt(self, n: Node) -> Stmt:
        name = n.children[0]
        return Stmt("assign", n.line, n.column, {"name": name.value, "expr": self._expr(n.children[2]),
                                                 "node": n.children[2]})

    def _s_print_stmt(self, n: Node) -> Stmt:
        fmt = n.children[2].value
        return Stmt("print", n.line, n.column, {"fmt": fmt, "args": [self._expr(e) for e in self._print_args(n.children[3])],
                                                "nodes": self._print_args(n.children[3])})

    def _print_args(self, n: Node) -> list[Node]:
        out = []
        while n.children:
            out.append(n.children[2])
            n = n.children[0]
        out.reverse()
        return out

    def _s_func_def(self, n: Node) -> Stmt:
        name = n.children[1]
        params = []
        a = n.children[3]
        if a.children:
            lst = a.children[0]
            items = []
            while True:
                if lst.alt == 0:
                    items.append((lst.children[0], lst.children[1]))
                    break
                items.append((lst.children[2], lst.children[3]))
                lst = lst.children[0]
            items.reverse()
            params = [(_tok(t).value, p.value) for t, p in items]
        body_nodes = []
        fs = n.children[6]
        while True:
            if fs.alt == 0:
                body_nodes.append(fs.children[0].children[0])
                break
            body_nodes.append(fs.children[1].children[0])
            fs = fs.children[0]
        body_nodes.reverse()
        body = []
        for b in body_nodes:
            if b.rule == "assign_stmt":
                body.append(("assign", (b.children[0].value, self._expr(b.children[2])), b.line))
            elif b.rule == "return_stmt":
                body.append(("return", self._expr(b.children[1]), b.line))
            else:
                body.append(("print", (b.children[2].value, [self._expr(e) for e in self._print_args(b.children[3])]),
                             b.line))
        fd = FuncDef(name.value, params, body, name.line, name.column, n)
        self.mapper.functions.setdefault(name.value, fd)
        return Stmt("funcdef", n.line, n.column, {"func": fd})

    # -- expressions -------------------------------------------------------------------------------
    def _expr(self, n) -> Callable:
        """Compile expression node ``n`` into ``f(scope, program)``; runtime errors carry ``n``'s line."""
        f = self._expr_inner(n)
        line, col = n.line, n.column

        def located(scope, prog, _f=f):
            try:
                return _f(scope, prog)
            except DSLRuntimeError as exc:
                raise MappingError(exc.kind, exc.message, line, col) from None
        return located

    def _expr_inner(self, n: Node) -> Callable:
        kids = n.children
        alt = n.alt
        # alternatives of `expr` in grammar order
        if alt <= 6 or 8 <= alt <= 13:  # binary operators
            op = kids[1].value
            a, b = self._expr(kids[0]), self._expr(kids[2])
            return lambda s, p: _binop(op, a(s, p), b(s, p))
        if alt == 7:  # ( expr ) is the inner node itself
            return self._expr_inner(kids[1])
        if alt == 14:
            return self._call(kids[0], kids[2])
        if alt == 15:
            return self._slice(kids[0], kids[2])
        if alt == 16:
            return self._index(kids[0], kids[2])
        if alt == 17:
            return lambda s, p: STAR
        if alt == 18:
            return self._negate(kids[1])
        if alt == 19:
            v = int(kids[0].value)
            return lambda s, p: v
        if alt == 20:
            return lambda s, p: True
        if alt == 21:
            return lambda s, p: False
        if alt == 22:
            return self._identifier(kids[0])
        if alt == 23:
            return self._tuple(kids[1])
        if alt == 24:
            k = Kind(_tok(kids[0]).value)
            return lambda s, p: k
        if alt == 25:
            k = MemKind(_tok(kids[0]).value)
            return lambda s, p: k
        if alt == 26:
            return self._attribute(kids[0], _tok(kids[2]).value)
        if alt == 27:
            c, a, b = self._expr(kids[0]), self._expr(kids[2]), self._expr(kids[4])

            def tern(s, p):
                v = c(s, p)
                if not isinstance(v, bool):
                    raise DSLRuntimeError("type_mismatch", f"the condition of ?: must be a bool, got {_type(v)}")
                return a(s, p) if v else b(s, p)
            return tern
        if alt == 28:
            e = self._expr(kids[1])

            def unpack(s, p):
                v = e(s, p)
                if not isinstance(v, tuple):
                    raise DSLRuntimeError("type_mismatch", f"cannot unpack {_type(v)} with '*'")
                return _Unpack(v)
            return unpack
        if alt == 29:
            return self._comprehension(kids[2], kids[4].value, kids[6])
        raise MapperCompileError("syntax", f"unsupported expression form {alt}", n.line, n.column)

    @staticmethod
    def _literal_int(n: Node) -> int | None:
        if n.rule == "expr" and n.alt == 19:
            return int(n.children[0].value)
        if n.rule == "expr" and n.alt == 7:
            return _Compiler._literal_int(n.children[1])
        return None

    def _expr_list(self, n: Node) -> list[Node]:
        """Items of expr_n / expr_n_1."""
        out = []
        while True:
            if n.rule == "expr_n_1" and n.alt == 0:
                out.append(n.children[0])
                break
            if n.rule == "expr_n" and n.alt == 0:
                out.append(n.children[2])
                out.append(n.children[0])
                break
            out.append(n.children[2])
            n = n.children[0]
        out.reverse()
        return out

    def _tuple_items(self, nodes: list[Node]) -> Callable:
        """``TupleExprNode::run``: evaluate items, expanding ``*t`` (a tuple; a set cannot be unpacked)."""
        fs = [self._expr(x) for x in nodes]

        def run(s, p):
            out = []
            for f in fs:
                v = f(s, p)
                if isinstance(v, _Unpack):
                    if isinstance(v.value, ProcSet):
                        raise DSLRuntimeError("type_mismatch", "Unsupported node type after UnpackingNode*: a set of "
                                              "processors cannot be unpacked")
                    out.extend(v.value)
                else:
                    out.append(v)
            return TExpr(out)
        return run

    def _tuple(self, n: Node) -> Callable:
        items = self._expr_list(n)
        lits = [self._literal_int(x) for x in items]
        if all(v is not None for v in lits):  # parse-time Convert2TupleInt
            t = tuple(lits)
            return lambda s, p: t
        return self._tuple_items(items)

    def _negate(self, n: Node) -> Callable:
        """``NegativeExprNode::run`` looks at the *syntax* of its operand: only int literals and literal tuples."""
        v = self._literal_int(n)
        if v is not None:
            return lambda s, p: -v
        inner = n
        while inner.rule == "expr" and inner.alt == 7:
            inner = inner.children[1]
        if inner.rule == "expr" and inner.alt == 23:
            items = self._expr_list(inner.children[1])
            lits = [self._literal_int(x) for x in items]
            if all(x is not None for x in lits):
                t = tuple(-x for x in lits)
                return lambda s, p: t

            def bad_tuple(s, p):
                raise DSLRuntimeError("type_mismatch", "We can only negate IntValType inside TupleExprNode (the real "
                                      "runtime negates literal integers only)")
            return bad_tuple

        def bad(s, p):
            raise DSLRuntimeError("type_mismatch", "Negating node must be applied to Int/TupleExpr/TupleInt: unary '-' "
                                  "works on integer literals and literal tuples only (write 0 - x)")
        return bad

    def _identifier(self, tok: Tok) -> Callable:
        name = tok.value
        if name == "Machine":
            return lambda s, p: MSpace(None, ())

        def get(s, p):
            if s is not None and name in s:
                return s[name]
            g = p.globals
            if name in g:
                return g[name]
            raise DSLRuntimeError("undefined_name", f"{name} not found")
        return get

    def _attribute(self, obj_node: Node, prop: str) -> Callable:
        obj = self._expr(obj_node)

        def attr(s, p):
            v = _convert(obj(s, p))
            if isinstance(v, tuple) and not isinstance(v, (TExpr, ProcSet)):
                if prop == "volume":
                    r = 1
                    for x in v:
                        r *= x
                    return r
                if prop == "size":
                    return v
                if prop == "len":
                    return len(v)
                raise DSLRuntimeError("type_mismatch", f"TupleInt only support volume/size/len, not .{prop}")
            if isinstance(v, MSpace):
                if prop == "volume":
                    return v.volume
                if prop == "size":
                    return v.shape
                if prop == "len":
                    return len(v.shape)
                raise DSLRuntimeError("type_mismatch", f"MSpace only support Volume/Size/LEN in ObjectInvokeNode, not "
                                      f".{prop} (call it: .{prop}(...))")
            if isinstance(v, TaskView):
                if prop == "ipoint":
                    if not v.index_launch:
                        raise DSLRuntimeError("type_mismatch", f"currently SingleTask does not support get_point(): "
                                              f"task {v.name} is not an index-launch point")
                    return v.ipoint
                if prop == "ispace":
                    if not v.index_launch:
                        raise DSLRuntimeError("type_mismatch", f"currently SingleTask does not support get_space(): "
                                              f"task {v.name} is not an index-launch point")
                    return v.ispace
                if prop == "parent":
                    if v.index_launch or v.parent is None:
                        raise DSLRuntimeError("type_mismatch", f"IndexTask or current task does not support "
                                              f"get_parent() (task {v.name}); the real runtime returns NULL")
                    return v.parent
                raise DSLRuntimeError("type_mismatch", f"TaskNode only support ipoint/ispace/parent, not .{prop}")
            raise DSLRuntimeError("type_mismatch", f"{_type(v)} is not supported ObjectInvokeNode (.{prop})")
        return attr

    def _call(self, fnode: Node, args_node: Node) -> Callable:
        arg_nodes = self._expr_list(args_node)
        args = self._tuple_items(arg_nodes)
        inner = fnode
        while inner.rule == "expr" and inner.alt == 7:
            inner = inner.children[1]
        if inner.rule == "expr" and inner.alt == 22 and inner.children[0].value == "Machine":
            def machine(s, p):
                a = args(s, p)
                if len(a) != 1 or not isinstance(a[0], Kind):
                    raise DSLRuntimeError("arg_count", f"Machine() takes one processor kind, got {len(a)} argument(s)")
                return p.machine_space(str(a[0]))
            return machine
        if inner.rule == "expr" and inner.alt == 26:
            return self._method(inner.children[0], _tok(inner.children[2]).value, args)
        if inner.rule == "expr" and inner.alt == 22:
            name = inner.children[0].value

            def user(s, p):
                if s is not None and name in s:
                    fn = s[name]
                elif name in p.globals:
                    fn = p.globals[name]
                else:
                    raise DSLRuntimeError("undefined_name", f"{name} not found")
                if not isinstance(fn, FuncDef):
                    raise DSLRuntimeError("type_mismatch", f"{name} is a {_type(fn)}, not a function")
                a = args(s, p)
                if len(a) != len(fn.params):
                    raise DSLRuntimeError("arg_count", f"argument number mismatch! {name} takes {len(fn.params)} "
                                          f"argument(s), got {len(a)}")
                scope = {}
                for (ptype, pname), v in zip(fn.params, a):
                    _check_param(name, ptype, pname, v)
                    scope.setdefault(pname, v)
                return _invoke(fn, scope, p)
            return user

        def bad(s, p):
            raise DSLRuntimeError("type_mismatch", "unsupported in FuncInvokeNode: only functions, Machine(...) and "
                                  "methods can be called")
        return bad

    def _method(self, obj_node: Node, api: str, args: Callable) -> Callable:
        obj = self._expr(obj_node)
        if api == "has":
            def has(s, p):
                raise DSLRuntimeError("type_mismatch", "m[i].has(MEM) fails in the real runtime (FuncInvokeNode asserts "
                                      "the index is an int but receives the index tuple)")
            return has
        arity = {"reverse": 1, "auto_split": 2, "greedy_split": 2, "decompose": 2, "split": 2, "swap": 2, "merge": 2,
                 "balance_split": 2, "slice": 3, "processor": 1}.get(api)
        if arity is None:
            def unsupported(s, p):
                raise DSLRuntimeError("type_mismatch", f"unsupported func_c->api: .{api}(...) is not a method "
                                      "(.size, .volume, .len, .ipoint, .ispace and .parent take no arguments)")
            return unsupported

        def method(s, p):
            a = args(s, p)
            if api == "processor":
                t = obj(s, p)
                if not isinstance(t, TaskView):
                    raise DSLRuntimeError("type_mismatch", f".processor() needs a task, got {_type(t)}")
                if len(a) != 1:
                    raise DSLRuntimeError("arg_count", f"argument number mismatch! .processor() takes 1 argument, got {len(a)}")
                m = a[0]
                if not isinstance(m, MSpace):
                    raise DSLRuntimeError("type_mismatch", f".processor() takes a machine space, got {_type(m)}")
                node, proc = (0, 0) if t.index_launch else t.proc
                return m.coords_of_root(node, proc)
            m = obj(s, p)
            if not isinstance(m, MSpace):
                raise DSLRuntimeError("type_mismatch", f".{api}() is a method of machine spaces, not of {_type(m)}")
            if len(a) != arity:
                raise DSLRuntimeError("arg_count", f"argument number mismatch! .{api}() takes {arity} argument(s), got {len(a)}")
            if api in ("auto_split", "greedy_split", "decompose"):
                d, vec = a[0], _convert(a[1])
                if not _is_int(d):
                    raise DSLRuntimeError("type_mismatch", f".{api}(): the dimension must be an int, got {_type(d)}")
                if not _is_tint(vec):
                    raise DSLRuntimeError("type_mismatch", f"Autosplit's second argument must be tuple of integers, while "
                                          f"getting {_type(vec)}")
                return m.greedy_split(d, vec) if api == "greedy_split" else m.auto_split(d, vec)
            for x in a:
                if not _is_int(x):
                    raise DSLRuntimeError("type_mismatch", f".{api}() takes integers, got {_type(x)}")
            return getattr(m, api)(*a)
        return method

    def _index(self, obj_node: Node, idx_node: Node) -> Callable:
        obj = self._expr(obj_node)
        idx = self._tuple_items(self._expr_list(idx_node))

        def index(s, p):
            i = idx(s, p)
            t = obj(s, p)
            if len(i) == 1 and _is_int(i[0]):
                k = i[0]
                if isinstance(t, MSpace):
                    return Point(t.root_point((k,)), t.kind)
                if isinstance(t, tuple) and not isinstance(t, ProcSet):
                    return _at(t, k)
                raise DSLRuntimeError("type_mismatch", f"Unsupported IndexExprNode tuple's type: {_type(t)} using "
                                      "integer index")
            if isinstance(t, MSpace):
                coords = []
                for x in i:
                    if x is STAR:
                        coords.append(-1)
                    elif _is_int(x):
                        coords.append(x)
                    else:
                        raise DSLRuntimeError("type_mismatch", f"Must only use tuple of integers to index a machine "
                                              f"model, got {_type(x)}")
                one, res = t.root_points(coords)
                if one:
                    return Point(res, t.kind)
                return ProcSet([Point(q, t.kind) for q in res], t.kind)
            raise DSLRuntimeError("type_mismatch", f"Please use tuple-indexing only for a machine model (indexing "
                                  f"{_type(t)} with {len(i)} values)")
        return index

    def _slice(self, obj_node: Node, sl: Node) -> Callable:
        obj = self._expr(obj_node)
        k = sl.children
        lo = hi = None
        if sl.alt == 0:
            lo, hi = self._expr(k[0]), self._expr(k[2])
        elif sl.alt == 1:
            hi = self._expr(k[1])
        elif sl.alt == 2:
            lo = self._expr(k[0])

        def sliced(s, p):
            a = lo(s, p) if lo else 0
            b = hi(s, p) if hi else 0
            if not _is_int(a) or not _is_int(b):
                raise DSLRuntimeError("type_mismatch", "Left/Right side of SliceExprNode must be NULL or integer")
            t = obj(s, p)
            if isinstance(t, MSpace):
                return _slice_tuple(t.shape, a, b, False)
            if isinstance(t, TExpr):
                return _slice_tuple(t, a, b, True)
            if isinstance(t, tuple) and not isinstance(t, ProcSet):
                return _slice_tuple(tuple(t), a, b, False)
            raise DSLRuntimeError("type_mismatch", f"unsupported IndexExprNode's type for slicing: {_type(t)}")
        return sliced

    def _comprehension(self, body_node: Node, var: str, range_node: Node) -> Callable:
        body, rng = self._expr(body_node), self._expr(range_node)

        def comp(s, p):
            if s is None:
                raise DSLRuntimeError("type_mismatch", "For expr should only happen during function invocation! "
                                      "(tuple(... for ...) is not allowed at top level)")
            r = rng(s, p)
            if not isinstance(r, tuple) or isinstance(r, ProcSet):
                raise DSLRuntimeError("type_mismatch", f"tuple(... for {var} in X): X must be a tuple, got {_type(r)}")
            out = []
            for v in r:
                inner = dict(s)
                inner[var] = v
                out.append(body(inner, p))
            return TExpr(out)
        return comp

    # -- static checks -----------------------------------------------------------------------------
    def _static_checks(self) -> None:
        m = self.mapper
        symbols: dict[str, str] = {}  # the real global_symbol as loading fills it: name -> "func" | "var"
        globals_anywhere = {s.data["name"] for s in m.stmts if s.kind == "assign"} | set(m.functions)
        reachable: list[str] = []
        for st in m.stmts:
            d = st.data
            if st.kind == "funcdef":
                symbols.setdefault(d["func"].name, "func")
            elif st.kind == "assign":
                self._names_defined(d["node"], set(symbols), None, st.line, "top")
                if d["name"] in symbols:
                    raise MapperCompileError("redefined_name", f"AssignNode multiple {d['name']} cause "
                                             "conflicts in global_symbol!", st.line, st.column)
                symbols[d["name"]] = "var"
            elif st.kind == "print":
                for e in d["nodes"]:
                    self._names_defined(e, set(symbols), None, st.line, "top")
            elif st.kind in ("index_map", "single_map"):
                what = "IndexTaskMap" if st.kind == "index_map" else "SingleTaskMap"
                f = d["func"]
                if f not in symbols:
                    hint = " (it is defined later; define functions before the map statement)" if f in m.functions else ""
                    raise MapperCompileError("undefined_name", f"{what}'s function undefined: {f}{hint}",
                                             st.line, d["fcol"])
                if symbols[f] != "func":
                    raise MapperCompileError("undefined_name", f"{what}'s mapping function is undefined: "
                                             f"{f} is a variable", st.line, d["fcol"])
                fd = m.functions[f]
                if not (len(fd.params) == 1 and fd.params[0][0] == "Task"):
                    raise MapperCompileError("arg_count", f"Entry mapping function's definition must be "
                                             f"like func(Task t): {f} takes "
                                             f"({', '.join(' '.join(x) for x in fd.params)})", st.line, d["fcol"])
                reachable.append(f)
        seen: set[str] = set()
        while reachable:
            f = reachable.pop()
            if f in seen:
                continue
            seen.add(f)
            reachable.extend(self._check_function(m.functions[f], globals_anywhere))
        for name, fd in m.functions.items():
            if name not in seen:
                try:
                    self._check_function(fd, globals_anywhere)
                except MapperCompileError as exc:
                    m.warnings.append(f"function {name} (not used by any map statement): {exc.message}")

    def _check_function(self, fd: FuncDef, globals_anywhere: set[str]) -> list[str]:
        """Undefined names and literal argument-count mismatches in ``fd``; returns the functions it calls."""
        scope = {p for _, p in fd.params}
        calls: list[str] = []
        n = fd.node
        fs = n.children[6]
        stmts = []
        while True:
            if fs.alt == 0:
                stmts.append(fs.children[0].children[0])
                break
            stmts.append(fs.children[1].children[0])
            fs = fs.children[0]
        stmts.reverse()
        for b in stmts:
            if b.rule == "assign_stmt":
                self._names_defined(b.children[2], scope, globals_anywhere, b.line, fd.name, calls)
                scope.add(b.children[0].value)
            elif b.rule == "return_stmt":
                self._names_defined(b.children[1], scope, globals_anywhere, b.line, fd.name, calls)
                break
            else:
                for e in self._print_args(b.children[3]):
                    self._names_defined(e, scope, globals_anywhere, b.line, fd.name, calls)
        return calls

    def _names_defined(self, e, scope: set[str], globals_anywhere: set[str] | None, line: int, where: str,
                       calls: list | None = None) -> None:
        """Raise ``undefined_name``/``arg_count`` for names and calls that certainly fail in expression ``e``."""
        if isinstance(e, Tok):
            return
        if e.rule == "expr" and e.alt == 22:
            name = e.children[0].value
            if name == "Machine" or name in scope or (globals_anywhere is not None and name in globals_anywhere):
                return
            place = "at top level" if globals_anywhere is None else f"in function {where}"
            raise MapperCompileError("undefined_name", f"{name} not found ({place}: it is not a "
                                     "parameter, a local assigned before this line or a global)", e.line, e.column)
        if e.rule == "expr" and e.alt == 29:  # comprehension binds its variable in the body
            self._names_defined(e.children[6], scope, globals_anywhere, line, where, calls)
            self._names_defined(e.children[2], scope | {e.children[4].value}, globals_anywhere, line, where, calls)
            return
        if e.rule == "expr" and e.alt == 14:
            fnode = e.children[0]
            while fnode.rule == "expr" and fnode.alt == 7:
                fnode = fnode.children[1]
            if fnode.rule == "expr" and fnode.alt == 22 and fnode.children[0].value != "Machine":
                fname = fnode.children[0].value
                fd = self.mapper.functions.get(fname)
                items = self._expr_list(e.children[2])
                has_unpack = any(isinstance(x, Node) and x.rule == "expr" and x.alt == 28 for x in items)
                if fd is not None and not has_unpack and len(items) != len(fd.params):
                    raise MapperCompileError("arg_count", f"argument number mismatch! {fname} takes "
                                             f"{len(fd.params)} argument(s), got {len(items)}", e.line, e.column)
                if fd is not None and calls is not None:
                    calls.append(fname)
            elif fnode.rule == "expr" and fnode.alt == 26:
                api = _tok(fnode.children[2]).value
                arity = {"reverse": 1, "auto_split": 2, "greedy_split": 2, "decompose": 2, "split": 2, "swap": 2,
                         "merge": 2, "balance_split": 2, "slice": 3, "processor": 1}.get(api)
                items = self._expr_list(e.children[2])
                has_unpack = any(isinstance(x, Node) and x.rule == "expr" and x.alt == 28 for x in items)
                if arity is not None and not has_unpack and len(items) != arity:
                    raise MapperCompileError("arg_count", f"argument number mismatch! .{api}() takes "
                                             f"{arity} argument(s), got {len(items)}", e.line, e.column)
        for c in e.children:
            if isinstance(c, Node):
                self._names_defined(c, scope, globals_anywhere, line, where, calls)


def _check_param(fname: str, ptype: str, pname: str, v) -> None:
    ok = {"int": _is_int(v), "bool": isinstance(v, bool), "IPoint": _is_tint(v), "ISpace": _is_tint(v),
          "MSpace": isinstance(v, MSpace)}.get(ptype, False)
    if not ok:
        if ptype == "Task":
            raise DSLRuntimeError("type_mismatch", f"{fname}({ptype} {pname}): only entry mapping functions may take a "
                                  "Task (the real runtime asserts on a Task argument)")
        raise DSLRuntimeError("type_mismatch", f"{fname}({ptype} {pname}) got {_type(v)}")


def compile_mapper(text: str, dialect: str = "real") -> Mapper:
    """Parse and statically check mapper ``text``; raises a located :class:`MapperCompileError`."""
    if not isinstance(text, str):
        raise MapperCompileError("syntax", f"mapper text must be a string, got {type(text).__name__}")
    return _Compiler(text, dialect).compile()


__all__ = ["ANY", "Constraints", "FuncDef", "Kind", "Mapper", "MapperError", "MemKind", "Point", "ProcSet", "Program",
           "STAR", "Stmt", "TExpr", "TaskView", "compile_mapper"]
