"""Parse mapper text (lark, LALR) and compile it into a :class:`Mapper`.

Static checks happen here and raise :class:`MapperCompileError` with the real compiler's classes:
``syntax``, ``undefined_name``, ``arg_count``; binding to an app/machine (:meth:`Mapper.bind`)
adds ``index_out_of_bounds`` (bad transformation arguments at top level), ``no_variant`` and
unknown task/region names. Mapping functions are compiled into Python closures (never ``eval``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from systems.mapper.dsl.errors import MapperCompileError, MapperError, MappingError
from systems.mapper.dsl.mspace import DSLRuntimeError, MSpace
from systems.mapper.machine import ALL_PROC_KINDS, MEM_KINDS

LAYOUT_WORDS = ("SOA", "AOS", "C_order", "F_order", "Compact", "Exact")
"""Layout constraints besides ``Align <op> <int>``."""
TYPE_NAMES = ("int", "bool", "IPoint", "ISpace", "MSpace", "Task")
"""Parameter types of DSL functions."""
METHOD_ARITY = {"merge": 2, "split": 2, "swap": 2, "slice": 3, "reverse": 1, "balance_split": 2,
                "auto_split": 2, "decompose": 2, "processor": 1}
"""Methods of machine spaces (and ``task.parent.processor``) with their argument counts."""
ATTRS = ("size", "ipoint", "ispace", "parent", "name")
"""Attributes the DSL knows."""
BUILTINS = ("Machine", "len", "min", "max", "abs") + ALL_PROC_KINDS
"""Names that are always defined."""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    text = (Path(__file__).with_name("grammar_legacy.lark")).read_text()
    return Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=True)


WILDCARD = object()
"""A ``*`` coordinate in a machine-space index (round-robin over that dimension)."""


class ProcSet(tuple):
    """Processors selected with a ``*`` coordinate; index points are dealt round-robin over them."""


class ParentView:
    """``task.parent``: the task that launched this one."""

    __slots__ = ("proc",)

    def __init__(self, proc):
        self.proc = proc


class TaskView:
    """What a mapping function sees as ``task``."""

    __slots__ = ("name", "ipoint", "ispace", "parent")

    def __init__(self, name: str, ipoint: tuple, ispace: tuple, parent_proc):
        self.name = name
        self.ipoint = ipoint
        self.ispace = ispace
        self.parent = ParentView(parent_proc)


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _loc(node) -> tuple[int | None, int | None]:
    if isinstance(node, Token):
        return node.line, node.column
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    return None, None


def _typename(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, tuple) and not isinstance(v, ProcSet):
        return "tuple"
    if isinstance(v, MSpace):
        return "machine space"
    if isinstance(v, TaskView):
        return "Task"
    if isinstance(v, str):
        return "processor kind"
    return type(v).__name__


def _c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _c_mod(a: int, b: int) -> int:
    return a - b * _c_div(a, b)


def _arith(op: str, a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        if isinstance(a, tuple) and isinstance(b, tuple):
            if len(a) != len(b):
                raise DSLRuntimeError("dimension_mismatch",
                                      f"Dimension mismatch in TupleIntNode's binary operation: {a} {op} {b}")
            return tuple(_arith(op, x, y) for x, y in zip(a, b))
        if isinstance(a, tuple):
            return tuple(_arith(op, x, b) for x in a)
        return tuple(_arith(op, a, y) for y in b)
    if not isinstance(a, int) or not isinstance(b, int):
        raise DSLRuntimeError("type_mismatch", f"cannot apply {op!r} to {_typename(a)} and {_typename(b)}")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise DSLRuntimeError("division_by_zero", f"division by zero in {a} {op} {b}")
    return _c_div(a, b) if op == "/" else _c_mod(a, b)


_CMP = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@dataclass
class FuncDef:
    """A compiled DSL function."""

    name: str
    params: list[tuple[str, str]]
    body: list[Callable]
    line: int
    column: int


@dataclass
class Rule:
    """One placement statement (``Task``/``Region``/``Layout``/...) with its source line."""

    kind: str
    tasks: tuple | None
    """Task names, or None for ``*``; for map statements also processor kinds."""
    args: dict[str, Any]
    line: int
    column: int


@dataclass
class Mapper:
    """A compiled mapper: placement rules plus compiled functions and top-level assignments."""

    text: str
    task_rules: list[Rule] = field(default_factory=list)
    region_rules: list[Rule] = field(default_factory=list)
    layout_rules: list[Rule] = field(default_factory=list)
    limits: list[Rule] = field(default_factory=list)
    collects: list[Rule] = field(default_factory=list)
    index_maps: list[Rule] = field(default_factory=list)
    single_maps: list[Rule] = field(default_factory=list)
    functions: dict[str, FuncDef] = field(default_factory=dict)
    assigns: list[tuple[str, Callable, int, int]] = field(default_factory=list)
    globals: dict[str, Any] = field(default_factory=dict)

    # -- binding --------------------------------------------------------------------------------
    def bind(self, layout) -> None:
        """Evaluate the top-level assignments against a machine layout (``MachineLayout``)."""
        self.globals = {"__layout__": layout}
        for name, fn, line, col in self.assigns:
            try:
                self.globals[name] = fn({})
            except MapperError as exc:
                raise MapperCompileError(exc.kind, exc.message, exc.line, exc.column) from None

    def call(self, fname: str, args: list, line: int | None = None, column: int | None = None):
        """Call DSL function ``fname`` with ``args`` (errors carry the failing expression's line)."""
        fd = self.functions[fname]
        if len(args) != len(fd.params):
            raise MappingError("arg_count", f"argument number mismatch! {fname} takes {len(fd.params)} "
                               f"argument(s), got {len(args)}", line or fd.line, column or fd.column)
        env = {p: a for (_, p), a in zip(fd.params, args)}
        try:
            for stmt in fd.body:
                stmt(env)
        except _Return as r:
            return r.value
        return None


class _Compiler:
    def __init__(self, text: str):
        self.text = text
        self.mapper = Mapper(text=text)
        self.global_names: set[str] = set()
        self.func_names: set[str] = set()
        self.func_params: dict[str, int] = {}

    # -- entry ----------------------------------------------------------------------------------
    def compile(self) -> Mapper:
        try:
            tree = _parser().parse(self.text)
        except UnexpectedInput as exc:
            raise self._syntax_error(exc) from None
        stmts = tree.children
        # first pass: names defined anywhere (functions may use globals assigned later)
        for st in stmts:
            if st.data == "funcdef":
                name = st.children[1]
                if str(name) in self.func_params:
                    raise MapperCompileError("syntax", f"function {name} defined twice", name.line, name.column)
                params = [p for p in st.children[2:] if isinstance(p, Tree) and p.data == "param"]
                self.func_names.add(str(name))
                self.func_params[str(name)] = len(params)
            elif st.data == "assign":
                self.global_names.add(str(st.children[0]))
        defined_so_far: set[str] = set()
        for st in stmts:
            getattr(self, "_stmt_" + st.data)(st, defined_so_far)
        return self.mapper

    def _syntax_error(self, exc: UnexpectedInput) -> MapperCompileError:
        line = getattr(exc, "line", None)
        col = getattr(exc, "column", None)
        if isinstance(exc, UnexpectedToken):
            tok = exc.token
            what = "end of file" if tok.type == "$END" else f"{tok.type} {str(tok)!r}"
            exp = sorted(x for x in exc.expected if not x.startswith("__"))[:8]
            if tok.type == "$END":
                line, col = self._last_line()
            msg = f"Error at line {line}: syntax error, unexpected {what}"
            if exp:
                msg += f", expecting one of {', '.join(exp)}"
            if tok.type == "$END":
                line, col = self._last_line()
        elif isinstance(exc, UnexpectedCharacters):
            ch = self.text[exc.pos_in_stream] if exc.pos_in_stream < len(self.text) else "?"
            msg = f"Error at line {line}: syntax error, unexpected character {ch!r}"
        elif isinstance(exc, UnexpectedEOF):
            line, col = self._last_line()
            msg = f"Error at line {line}: syntax error, unexpected end of file"
        else:
            msg = f"Error at line {line}: syntax error"
        if line is not None and line > 0:
            src = self.text.splitlines()[line - 1] if line - 1 < len(self.text.splitlines()) else ""
            if src.strip():
                msg += f"\n    {src.strip()}"
        return MapperCompileError("syntax", msg, line if line and line > 0 else None, col if col and col > 0 else None)

    def _last_line(self) -> tuple[int, int]:
        """Line and column just after the last non-blank, non-comment text (where an end-of-file error is)."""
        lines = self.text.splitlines()
        for i in range(len(lines) - 1, -1, -1):
            code = lines[i].split("#")[0].split("//")[0].rstrip()
            if code:
                return i + 1, len(code) + 1
        return 1, 1

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def _err(kind: str, msg: str, node) -> MapperCompileError:
        line, col = _loc(node)
        return MapperCompileError(kind, msg, line, col)

    @staticmethod
    def _target(t: Tree):
        tok = t.children[0]
        if tok.type == "STAR":
            return None, tok
        if tok.type == "INT":
            return int(tok), tok
        return str(tok), tok

    def _names(self, t: Tree) -> list[tuple[Any, Token]]:
        return [self._target(c) for c in t.children]

    def _tasks(self, t: Tree):
        names = self._names(t)
        if any(n is None for n, _ in names):
            return None, names
        for n, tok in names:
            if isinstance(n, int):
                raise self._err("syntax", f"expected a task name, got {n}", tok)
        return tuple(n for n, _ in names), names

    def _kind(self, value, tok, allowed, what: str, wildcard_ok: bool = True):
        if value is None:
            if wildcard_ok:
                return None
            raise self._err("syntax", f"{what} cannot be '*'", tok)
        if value not in allowed:
            raise self._err("undefined_name", f"unknown {what} {value!r}; valid: {', '.join(allowed)}", tok)
        return value

    # -- statements -----------------------------------------------------------------------------
    def _stmt_task_stmt(self, st, _defined):
        kw, tnames, kinds = st.children
        tasks, _ = self._tasks(tnames)
        ks = []
        for k, tok in self._names(kinds):
            ks.append(self._kind(k, tok, ALL_PROC_KINDS, "processor kind", wildcard_ok=False))
        line, col = _loc(kw)
        self.mapper.task_rules.append(Rule("Task", tasks, {"kinds": tuple(ks), "task_tokens": self._names(tnames)}, line, col))

    def _stmt_region_stmt(self, st, _defined):
        kw, task, region, proc, mems = st.children
        tname, ttok = self._target(task)
        if isinstance(tname, int):
            raise self._err("syntax", "expected a task name or '*'", ttok)
        rname, rtok = self._target(region)
        pk, ptok = self._target(proc)
        pk = self._kind(pk, ptok, ALL_PROC_KINDS, "processor kind")
        mk = [self._kind(m, tok, MEM_KINDS, "memory kind", wildcard_ok=False) for m, tok in self._names(mems)]
        line, col = _loc(kw)
        self.mapper.region_rules.append(Rule("Region", None if tname is None else (tname,),
                                             {"region": rname, "proc": pk, "mems": tuple(mk), "task_tok": ttok,
                                              "region_tok": rtok}, line, col))

    def _stmt_layout_stmt(self, st, _defined):
        kw, task, region, mem, *cons = st.children
        tname, ttok = self._target(task)
        rname, rtok = self._target(region)
        mk, mtok = self._target(mem)
        mk = self._kind(mk, mtok, MEM_KINDS, "memory kind")
        constraints: dict[str, Any] = {}
        for c in cons:
            if len(c.children) == 1:
                word = str(c.children[0])
                if word not in LAYOUT_WORDS:
                    raise self._err("undefined_name", f"unknown layout constraint {word!r}; valid: "
                                    f"{', '.join(LAYOUT_WORDS)}, Align <op> <int>", c.children[0])
                if word in ("SOA", "AOS"):
                    constraints["fields"] = word
                elif word in ("C_order", "F_order"):
                    constraints["order"] = word
                else:
                    constraints[word.lower()] = True
            else:
                _, op, val = c.children
                constraints["align"] = (str(op), int(val))
        line, col = _loc(kw)
        self.mapper.layout_rules.append(Rule("Layout", None if tname is None else (tname,),
                                             {"region": rname, "mem": mk, "constraints": constraints,
                                              "task_tok": ttok, "region_tok": rtok}, line, col))

    def _stmt_limit_stmt(self, st, _defined):
        kw, task, proc, num = st.children
        tname, ttok = self._target(task)
        pk = None
        if proc is not None:
            pk = self._kind(str(proc), proc, ALL_PROC_KINDS, "processor kind")
        line, col = _loc(kw)
        self.mapper.limits.append(Rule("InstanceLimit", None if tname is None else (tname,),
                                       {"limit": int(num), "proc": pk, "task_tok": ttok}, line, col))
        if int(num) < 1:
            raise self._err("index_out_of_bounds", f"InstanceLimit must be at least 1, got {int(num)}", num)

    def _stmt_collect_stmt(self, st, _defined):
        kw, task, region = st.children
        tname, ttok = self._target(task)
        rname, rtok = self._target(region)
        line, col = _loc(kw)
        self.mapper.collects.append(Rule("CollectMemory", None if tname is None else (tname,),
                                         {"region": rname, "task_tok": ttok, "region_tok": rtok}, line, col))

    def _map_stmt(self, st, dest: list, what: str):
        kw, tnames, fname = st.children
        tasks, toks = self._tasks(tnames)
        if str(fname) not in self.func_params:
            raise self._err("undefined_name", f"{what}: function {fname} is not defined", fname)
        if self.func_params[str(fname)] != 1:
            raise self._err("arg_count", f"argument number mismatch! mapping function {fname} must take one "
                            f"argument (Task task), it takes {self.func_params[str(fname)]}", fname)
        line, col = _loc(kw)
        dest.append(Rule(what, tasks, {"func": str(fname), "task_tokens": toks}, line, col))

    def _stmt_itm_stmt(self, st, _defined):
        self._map_stmt(st, self.mapper.index_maps, "IndexTaskMap")

    def _stmt_stm_stmt(self, st, _defined):
        self._map_stmt(st, self.mapper.single_maps, "SingleTaskMap")

    def _stmt_cr_stmt(self, st, _defined):
        return None  # ControlReplicate: accepted; the model has no control-replication cost

    def _stmt_steal_stmt(self, st, _defined):
        return None  # TaskSteal: accepted; the simulator does not steal work

    def _stmt_print_stmt(self, st, defined):
        for e in st.children[2:]:
            self._expr(e, scope=set(defined), toplevel=True)

    def _stmt_assign(self, st, defined):
        name, expr = st.children
        fn = self._expr(expr, scope=set(defined), toplevel=True)
        line, col = _loc(name)
        self.mapper.assigns.append((str(name), fn, line, col))
        defined.add(str(name))

    def _stmt_funcdef(self, st, _defined):
        _, name, *rest = st.children
        params = []
        body_nodes = []
        for c in rest:
            if isinstance(c, Tree) and c.data == "param":
                ptype, pname = c.children
                if str(ptype) not in TYPE_NAMES:
                    raise self._err("undefined_name", f"unknown type {ptype!r}; valid: {', '.join(TYPE_NAMES)}", ptype)
                params.append((str(ptype), str(pname)))
            elif c is not None:
                body_nodes.append(c)
        scope = {p for _, p in params}
        for b in body_nodes:  # locals assigned anywhere in the body are in scope
            if b.data == "assign":
                scope.add(str(b.children[0]))
        body = []
        for b in body_nodes:
            if b.data == "assign":
                lname = str(b.children[0])
                fn = self._expr(b.children[1], scope=scope)
                body.append(self._mk_assign(lname, fn))
            elif b.data == "return_stmt":
                fn = self._expr(b.children[1], scope=scope)
                body.append(self._mk_return(fn))
            else:  # print
                fns = [self._expr(e, scope=scope) for e in b.children[2:]]
                body.append(self._mk_print(fns))
        self.mapper.functions[str(name)] = FuncDef(str(name), params, body, name.line, name.column)

    @staticmethod
    def _mk_assign(lname, fn):
        def run(env):
            env[lname] = fn(env)
        return run

    @staticmethod
    def _mk_return(fn):
        def run(env):
            raise _Return(fn(env))
        return run

    @staticmethod
    def _mk_print(fns):
        def run(env):
            for f in fns:  # evaluated for their errors; output is discarded in simulation
                f(env)
        return run

    # -- expressions ----------------------------------------------------------------------------
    def _expr(self, node, scope: set[str], toplevel: bool = False) -> Callable:
        """Compile an expression into ``fn(env) -> value``; errors carry the node's location."""
        inner = self._expr_inner(node, scope, toplevel)
        line, col = _loc(node)

        def located(env, _f=inner, _l=line, _c=col):
            try:
                return _f(env)
            except DSLRuntimeError as exc:
                raise MappingError(exc.kind, exc.message, _l, _c) from None
        return located if isinstance(node, Tree) and node.data in ("index", "method", "call", "binop", "attr") else inner

    def _expr_inner(self, node, scope, toplevel):
        mapper = self.mapper
        if isinstance(node, Token):
            raise self._err("syntax", f"unexpected {node!r}", node)
        d = node.data
        ch = node.children
        line, col = _loc(node)
        if d == "int_lit":
            v = int(ch[0])
            return lambda env: v
        if d == "true_lit":
            return lambda env: True
        if d == "false_lit":
            return lambda env: False
        if d == "var":
            name = str(ch[0])
            if name in scope:
                def get_local(env, _n=name):
                    if _n in env:
                        return env[_n]
                    if _n in mapper.globals:
                        return mapper.globals[_n]
                    raise MappingError("undefined_name", f"{_n} is used before it is assigned", line, col)
                return get_local
            if name in ALL_PROC_KINDS:
                return lambda env: name
            if not toplevel and name in self.global_names:
                def get_global(env, _n=name):
                    try:
                        return mapper.globals[_n]
                    except KeyError:
                        raise MappingError("undefined_name", f"global {_n} is not assigned yet", line, col) from None
                return get_global
            if name in self.func_names:
                raise self._err("syntax", f"function {name} used as a value (call it: {name}(...))", ch[0])
            raise self._err("undefined_name", f"undefined name {name!r}", ch[0])
        if d == "neg":
            f = self._expr(ch[0], scope, toplevel)
            return lambda env: _arith("-", 0, f(env))
        if d == "not_op":
            f = self._expr(ch[0], scope, toplevel)
            return lambda env: not f(env)
        if d in ("binop",):
            a = self._expr(ch[0], scope, toplevel)
            op = str(ch[1])
            b = self._expr(ch[2], scope, toplevel)
            return lambda env: _arith(op, a(env), b(env))
        if d == "compare":
            a = self._expr(ch[0], scope, toplevel)
            cmp = _CMP[str(ch[1])]
            b = self._expr(ch[2], scope, toplevel)
            return lambda env: cmp(a(env), b(env))
        if d == "and_op":
            a = self._expr(ch[0], scope, toplevel)
            b = self._expr(ch[1], scope, toplevel)
            return lambda env: bool(a(env)) and bool(b(env))
        if d == "or_op":
            a = self._expr(ch[0], scope, toplevel)
            b = self._expr(ch[1], scope, toplevel)
            return lambda env: bool(a(env)) or bool(b(env))
        if d == "ternary":
            c = self._expr(ch[0], scope, toplevel)
            a = self._expr(ch[1], scope, toplevel)
            b = self._expr(ch[2], scope, toplevel)
            return lambda env: a(env) if c(env) else b(env)
        if d == "tuple_lit":
            items = [self._arg(x, scope, toplevel) for x in ch]
            return lambda env: tuple(self._flatten(items, env))
        if d == "comprehension":
            _, body, _, var, _, it = ch
            inner_scope = set(scope) | {str(var)}
            bf = self._expr(body, inner_scope, False if str(var) else toplevel)
            itf = self._expr(it, scope, toplevel)
            vname = str(var)

            def comp(env):
                seq = itf(env)
                if not isinstance(seq, tuple):
                    raise MappingError("type_mismatch", f"tuple(... for {vname} in X): X must be a tuple, got "
                                       f"{_typename(seq)}", line, col)
                out = []
                local = dict(env)
                for v in seq:
                    local[vname] = v
                    out.append(bf(local))
                return tuple(out)
            return comp
        if d == "attr":
            obj = self._expr(ch[0], scope, toplevel)
            aname = str(ch[1])
            if aname not in ATTRS:
                raise self._err("undefined_name", f"unknown attribute .{aname}; valid: {', '.join(ATTRS)}", ch[1])
            return lambda env: self._getattr(obj(env), aname)
        if d == "method":
            obj = self._expr(ch[0], scope, toplevel)
            mname = str(ch[1])
            args = [self._arg(x, scope, toplevel) for x in (ch[2].children if ch[2] is not None else [])]
            if mname not in METHOD_ARITY:
                raise self._err("undefined_name", f"unknown method .{mname}(); valid: {', '.join(METHOD_ARITY)}", ch[1])
            has_unpack = any(isinstance(x, Tree) and x.data == "unpack"
                             for x in (ch[2].children if ch[2] is not None else []))
            if not has_unpack and len(args) != METHOD_ARITY[mname]:
                raise self._err("arg_count", f"argument number mismatch! .{mname}() takes {METHOD_ARITY[mname]} "
                                f"argument(s), got {len(args)}", ch[1])
            return lambda env: self._call_method(obj(env), mname, self._flatten(args, env))
        if d == "call":
            fname = str(ch[0])
            argnodes = ch[1].children if ch[1] is not None else []
            args = [self._arg(x, scope, toplevel) for x in argnodes]
            has_unpack = any(isinstance(x, Tree) and x.data == "unpack" for x in argnodes)
            if fname in self.func_params:
                if toplevel:
                    pass
                if not has_unpack and len(args) != self.func_params[fname]:
                    raise self._err("arg_count", f"argument number mismatch! {fname} takes "
                                    f"{self.func_params[fname]} argument(s), got {len(args)}", ch[0])
                return lambda env: mapper.call(fname, self._flatten(args, env), line, col)
            if fname in ("Machine", "len", "abs") and not has_unpack and len(args) != 1:
                raise self._err("arg_count", f"argument number mismatch! {fname}() takes 1 argument, got {len(args)}", ch[0])
            if fname == "Machine":
                return lambda env: self._machine(self._flatten(args, env)[0])
            if fname in ("len", "min", "max", "abs"):
                return lambda env: self._builtin(fname, self._flatten(args, env))
            raise self._err("undefined_name", f"undefined function {fname!r}", ch[0])
        if d == "index":
            obj = self._expr(ch[0], scope, toplevel)
            subs = [self._sub(x, scope, toplevel) for x in ch[1].children]
            return lambda env: self._index(obj(env), subs, env)
        raise self._err("syntax", f"unsupported expression {d}", node)

    def _arg(self, node, scope, toplevel):
        if isinstance(node, Tree) and node.data == "unpack":
            f = self._expr(node.children[1], scope, toplevel)
            return ("unpack", f)
        return ("value", self._expr(node, scope, toplevel))

    def _sub(self, node, scope, toplevel):
        if isinstance(node, Tree) and node.data == "wildcard":
            return ("wild", None)
        if isinstance(node, Tree) and node.data == "slice":
            lo = self._expr(node.children[0], scope, toplevel) if node.children[0] is not None else None
            hi = self._expr(node.children[1], scope, toplevel) if node.children[1] is not None else None
            return ("slice", (lo, hi))
        return self._arg(node, scope, toplevel)

    @staticmethod
    def _flatten(items, env) -> list:
        out = []
        for kind, f in items:
            v = f(env)
            if kind == "unpack":
                if not isinstance(v, tuple):
                    raise DSLRuntimeError("type_mismatch", f"cannot unpack {_typename(v)} with '*'")
                out.extend(v)
            else:
                out.append(v)
        return out

    def _machine(self, kind):
        layout = self.mapper.globals.get("__layout__")
        if kind not in ALL_PROC_KINDS:
            raise DSLRuntimeError("type_mismatch", f"Machine() takes a processor kind (GPU, CPU, OMP), got {kind!r}")
        procs = layout.by_kind.get(kind, []) if layout is not None else []
        m = layout.machine if layout is not None else None
        if not procs:
            raise DSLRuntimeError("bad_processor", f"Machine({kind}): the machine has no {kind} processors")
        return MSpace(kind, (m.nodes, m.count(kind)), tuple(procs))

    @staticmethod
    def _builtin(fname, args):
        if fname == "len":
            if not isinstance(args[0], tuple):
                raise DSLRuntimeError("type_mismatch", f"len() of {_typename(args[0])}")
            return len(args[0])
        if fname == "abs":
            return abs(args[0])
        vals = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        if not vals:
            raise DSLRuntimeError("arg_count", f"{fname}() of nothing")
        return min(vals) if fname == "min" else max(vals)

    @staticmethod
    def _getattr(obj, name):
        if name == "size" and isinstance(obj, MSpace):
            return obj.shape
        if name == "size" and isinstance(obj, tuple) and not isinstance(obj, ProcSet):
            return obj  # an ISpace/IPoint is a tuple of extents; .size is the tuple itself
        if isinstance(obj, TaskView) and name in ("ipoint", "ispace", "parent", "name"):
            return getattr(obj, name)
        raise DSLRuntimeError("type_mismatch", f"{_typename(obj)} has no attribute .{name}")

    @staticmethod
    def _call_method(obj, name, args):
        if name == "processor":
            if not isinstance(obj, ParentView):
                raise DSLRuntimeError("type_mismatch", f".processor() is a method of task.parent, not of {_typename(obj)}")
            space = args[0] if args else None
            if not isinstance(space, MSpace):
                raise DSLRuntimeError("type_mismatch", f"task.parent.processor() takes a machine space, got {_typename(space)}")
            c = space.coords_of(obj.proc)
            if c is None:  # parent runs on another kind: the first processor of the space on its node
                for idx_proc in space.procs:
                    if idx_proc.node == obj.proc.node:
                        c = space.coords_of(idx_proc)
                        break
            if c is None:
                raise DSLRuntimeError("bad_processor", f"the parent's processor {obj.proc.label} is not in {space!r}")
            return c
        if not isinstance(obj, MSpace):
            raise DSLRuntimeError("type_mismatch", f".{name}() is a method of machine spaces, not of {_typename(obj)}")
        if len(args) != METHOD_ARITY[name]:
            raise DSLRuntimeError("arg_count", f"argument number mismatch! .{name}() takes {METHOD_ARITY[name]} "
                                  f"argument(s), got {len(args)}")
        if name == "decompose":
            name = "auto_split"
        return getattr(obj, name)(*args)

    @staticmethod
    def _index(obj, subs, env):
        if isinstance(obj, MSpace):
            if len(subs) == 1 and subs[0][0] == "slice":
                return _Compiler._slice(obj.shape, subs[0][1], env)
            coords: list = []
            wild = False
            for kind, f in subs:
                if kind == "wild":
                    coords.append(None)
                    wild = True
                elif kind == "slice":
                    raise DSLRuntimeError("type_mismatch", "a machine space can be sliced only as m[a:b] (its size)")
                else:
                    v = f(env)
                    vals = list(v) if kind == "unpack" else [v]
                    for x in vals:
                        if not isinstance(x, int) or isinstance(x, bool):
                            raise DSLRuntimeError("type_mismatch",
                                                  f"Must only use tuple of integers to index a machine model, got {x!r}")
                        coords.append(x)
            if wild:
                return ProcSet(obj.points(coords))
            return obj.point(tuple(coords))
        if isinstance(obj, tuple):
            if len(subs) != 1:
                raise DSLRuntimeError("dimension_mismatch", f"a tuple takes one index, got {len(subs)}")
            kind, f = subs[0]
            if kind == "slice":
                return _Compiler._slice(obj, f, env)
            if kind != "value":
                raise DSLRuntimeError("type_mismatch", "a tuple index must be an int")
            i = f(env)
            if not isinstance(i, int):
                raise DSLRuntimeError("type_mismatch", f"a tuple index must be an int, got {_typename(i)}")
            if not -len(obj) <= i < len(obj):
                raise DSLRuntimeError("index_out_of_bounds",
                                      f"Index out of bound for TupleIntNode: index {i} of a {len(obj)}-tuple {obj}")
            return obj[i]
        raise DSLRuntimeError("type_mismatch", f"cannot index {_typename(obj)}")

    @staticmethod
    def _slice(seq, bounds, env):
        lo_f, hi_f = bounds
        lo = lo_f(env) if lo_f is not None else None
        hi = hi_f(env) if hi_f is not None else None
        return tuple(seq[lo:hi])


def compile_mapper(text: str) -> Mapper:
    """Parse and statically check mapper ``text``; raises :class:`MapperCompileError` (located)."""
    if not isinstance(text, str):
        raise MapperCompileError("syntax", f"mapper text must be a string, got {type(text).__name__}")
    return _Compiler(text).compile()
