"""An LALR(1) parser generator with bison's conflict rules, driven by ``grammar.lark``.

The real DSL compiler is a bison grammar whose operator conflicts are settled by ``%left``
declarations. To accept and reject exactly what it does, this module builds the same automaton:

- the LR(0) collection of the grammar augmented with ``$accept: program $end``;
- LALR(1) lookaheads by spontaneous generation and propagation (Aho, Sethi, Ullman, alg. 4.63);
- bison's resolution: a shift/reduce conflict between token ``t`` and rule ``r`` (whose precedence
  is its ``%prec`` token, else the precedence of the *last* token of its right-hand side) is settled
  by comparing precedences (equal and ``%left``: reduce); without precedence, shift wins; a
  reduce/reduce conflict goes to the rule that comes first in the grammar;
- bison's default reductions (``lr.default-reduction=most``): the most common reduction of a state
  becomes its default, so errors are found in the same state and the expected tokens listed in an
  error message are bison's.

An LR parser detects an error at the first token that cannot continue a valid prefix, so this
parser reports the same unexpected token (and line) as the real one.

The grammar file format is plain lark (see the header of ``grammar.lark``); the builder reads one
production per line plus the ``//@left`` and ``//@prec`` annotations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

END = "$end"
"""The end-of-input terminal."""
ACCEPT = "$accept"
"""The augmented start symbol."""


@dataclass(frozen=True)
class Production:
    """One grammar rule ``lhs: rhs``."""

    index: int
    """Position in the grammar (0 is ``$accept: program $end``); earlier wins a reduce/reduce conflict."""
    lhs: str
    rhs: tuple[str, ...]
    prec: str | None
    """Terminal whose precedence the rule has (``%prec``, else the last terminal of ``rhs``)."""
    alt: int
    """Alternative number within its left-hand side (0-based, in file order)."""


@dataclass
class Grammar:
    """Terminals, productions and precedences read from lark files."""

    terminals: list[str] = field(default_factory=list)
    """Terminal names in file order (bison's token order)."""
    patterns: dict[str, str] = field(default_factory=dict)
    """Terminal name -> literal string (keywords, operators)."""
    regexes: dict[str, str] = field(default_factory=dict)
    """Terminal name -> regular expression (identifiers, numbers, strings)."""
    display: dict[str, str] = field(default_factory=dict)
    """Terminal name -> the name bison prints (``T_GPU``, ``';'``)."""
    productions: list[Production] = field(default_factory=list)
    precedence: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Terminal -> (level, associativity); higher level binds tighter."""
    start: str = "program"

    def by_literal(self, text: str) -> str | None:
        for name, pat in self.patterns.items():
            if pat == text:
                return name
        return None


_TOKEN = re.compile(r'\s*(?:(//@prec\s+("[^"]*"|[A-Z_][A-Z0-9_]*))|(//[^\n]*)|("(?:[^"\\]|\\.)*")|'
                    r'([A-Za-z_][A-Za-z0-9_]*)|(\|)|(:))')


def _unquote(s: str) -> str:
    return s[1:-1].encode().decode("unicode_escape")


def load_grammar(*paths: Path | str) -> Grammar:
    """Read lark grammar files (later files may ``%extend`` rules of earlier ones)."""
    g = Grammar()
    alts: dict[str, list[tuple[list[str], str | None]]] = {}
    order: list[str] = []
    levels: list[tuple[str, list[str]]] = []
    term_lines: list[str] = []
    for path in paths:
        text = Path(path).read_text()
        current: str | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("//@left"):
                levels.append(("left", stripped.split()[1:]))
                continue
            if stripped.startswith("//") or stripped.startswith("%ignore") or stripped.startswith("%import"):
                continue
            m = re.match(r"(%extend\s+)?([a-z_][a-z0-9_]*)\s*:(.*)$", stripped)
            if m:
                current = m.group(2)
                if current not in alts:
                    alts[current] = []
                    order.append(current)
                body = m.group(3)
                if body.strip() and not body.strip().startswith("//"):
                    alts[current].append(_parse_alt(body))
                elif not m.group(1):
                    nxt = None  # "name:" alone: an empty first alternative (kept only if "|" lines follow)
                    alts[current].append(([], nxt))
                continue
            m = re.match(r"([A-Z_][A-Z0-9_]*)\s*:(.*)$", stripped)
            if m:
                current = None
                term_lines.append(stripped)
                continue
            if stripped.startswith("|") and current is not None:
                alts[current].append(_parse_alt(stripped[1:]))
                continue
            raise ValueError(f"{path}: cannot read grammar line {raw!r}")
    for tl in term_lines:
        name, rest = tl.split(":", 1)
        name = name.strip()
        disp = None
        if "// bison:" in rest:
            rest, disp = rest.split("// bison:", 1)
            disp = disp.strip()
        rest = rest.strip()
        if name in ("COMMENT", "WS"):
            continue
        if rest.startswith('"'):
            g.patterns[name] = _unquote(rest)
        elif rest.startswith("/"):
            g.regexes[name] = rest[1:rest.rindex("/")]
        else:
            raise ValueError(f"cannot read terminal {tl!r}")
        g.terminals.append(name)
        g.display[name] = disp or name
    g.display[END] = "$end"
    for level, (assoc, syms) in enumerate(levels, start=1):
        for s in syms:
            t = g.by_literal(_unquote(s)) if s.startswith('"') else s
            if t is None:
                raise ValueError(f"precedence names an unknown terminal {s}")
            g.precedence[t] = (level, assoc)
    g.productions.append(Production(0, ACCEPT, (g.start, END), None, 0))
    for lhs in order:
        for k, (syms, prec) in enumerate(alts[lhs]):
            rhs = []
            for s in syms:
                if s.startswith('"'):
                    t = g.by_literal(_unquote(s))
                    if t is None:
                        raise ValueError(f"rule {lhs}: no terminal is defined for {s}")
                    rhs.append(t)
                else:
                    rhs.append(s)
            if prec is not None:
                prec = g.by_literal(_unquote(prec)) if prec.startswith('"') else prec
            else:
                last = [s for s in rhs if s in g.display]
                prec = last[-1] if last else None
            g.productions.append(Production(len(g.productions), lhs, tuple(rhs), prec, k))
    nts = {p.lhs for p in g.productions}
    for p in g.productions:
        for s in p.rhs:
            if s not in nts and s not in g.display:
                raise ValueError(f"rule {p.lhs}: unknown symbol {s}")
    return g


def _parse_alt(body: str) -> tuple[list[str], str | None]:
    syms: list[str] = []
    prec = None
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if not m or m.end() == pos:
            if body[pos:].strip():
                raise ValueError(f"cannot read alternative {body!r}")
            break
        pos = m.end()
        if m.group(1):
            prec = m.group(2)
        elif m.group(3):
            break
        elif m.group(4):
            syms.append(m.group(4))
        elif m.group(5):
            syms.append(m.group(5))
        else:
            raise ValueError(f"unexpected {m.group(0)!r} in alternative {body!r}")
    return syms, prec


@dataclass
class Tables:
    """The parse tables: per state, explicit actions and the default reduction."""

    grammar: Grammar
    action: list[dict[str, int]]
    """state -> terminal -> action: ``>= 0`` shift to that state, ``< 0`` reduce by production ``-a``;
    the accept action is a reduce by production 0."""
    goto: list[dict[str, int]]
    default: list[int | None]
    """state -> production reduced when the lookahead has no explicit action (None: error)."""
    needs_lookahead: list[bool]


def build_tables(g: Grammar) -> Tables:
    """The LALR(1) automaton of ``g`` with bison's conflict resolution and default reductions."""
    prods = g.productions
    terms = set(g.display)
    by_lhs: dict[str, list[Production]] = {}
    for p in prods:
        by_lhs.setdefault(p.lhs, []).append(p)
    nts = set(by_lhs)
    # nullable and FIRST
    nullable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for p in prods:
            if p.lhs not in nullable and all(s in nullable for s in p.rhs):
                nullable.add(p.lhs)
                changed = True
    first: dict[str, set[str]] = {n: set() for n in nts}
    changed = True
    while changed:
        changed = False
        for p in prods:
            f = first[p.lhs]
            before = len(f)
            for s in p.rhs:
                if s in terms:
                    f.add(s)
                    break
                f |= first[s]
                if s not in nullable:
                    break
            if len(f) != before:
                changed = True

    def first_seq(seq: tuple[str, ...]) -> tuple[set[str], bool]:
        out: set[str] = set()
        for s in seq:
            if s in terms:
                out.add(s)
                return out, False
            out |= first[s]
            if s not in nullable:
                return out, False
        return out, True

    # LR(0) collection over kernels
    def closure0(kernel: frozenset) -> set:
        items = set(kernel)
        work = list(kernel)
        while work:
            pi, dot = work.pop()
            rhs = prods[pi].rhs
            if dot < len(rhs) and rhs[dot] in nts:
                for q in by_lhs[rhs[dot]]:
                    it = (q.index, 0)
                    if it not in items:
                        items.add(it)
                        work.append(it)
        return items

    start = frozenset({(0, 0)})
    states: list[frozenset] = [start]
    index = {start: 0}
    trans: list[dict[str, int]] = []
    i = 0
    while i < len(states):
        items = closure0(states[i])
        moves: dict[str, set] = {}
        for pi, dot in items:
            rhs = prods[pi].rhs
            if dot < len(rhs) and rhs[dot] != END:
                moves.setdefault(rhs[dot], set()).add((pi, dot + 1))
        t = {}
        for sym in sorted(moves):
            k = frozenset(moves[sym])
            if k not in index:
                index[k] = len(states)
                states.append(k)
            t[sym] = index[k]
        trans.append(t)
        i += 1

    # LALR(1) lookaheads of kernel items: spontaneous generation + propagation
    HASH = "#"
    la: list[dict[tuple, set[str]]] = [{it: set() for it in k} for k in states]
    la[0][(0, 0)] = set()  # $accept: . program $end  (the $end is in the rule itself)
    prop: dict[tuple, list[tuple]] = {}

    def closure1(items: dict[tuple, set[str]]) -> dict[tuple, set[str]]:
        out = {it: set(v) for it, v in items.items()}
        work = list(out)
        while work:
            it = work.pop()
            pi, dot = it
            rhs = prods[pi].rhs
            if dot < len(rhs) and rhs[dot] in nts:
                f, nul = first_seq(rhs[dot + 1:])
                add = set(f)
                if nul:
                    add |= out[it]
                for q in by_lhs[rhs[dot]]:
                    nit = (q.index, 0)
                    cur = out.get(nit)
                    if cur is None:
                        out[nit] = set(add)
                        work.append(nit)
                    elif not add <= cur:
                        cur |= add
                        work.append(nit)
        return out

    for si, kernel in enumerate(states):
        for kit in kernel:
            cl = closure1({kit: {HASH}})
            for (pi, dot), las in cl.items():
                rhs = prods[pi].rhs
                if dot < len(rhs) and rhs[dot] != END:
                    tgt = trans[si][rhs[dot]]
                    nit = (pi, dot + 1)
                    for a in las:
                        if a == HASH:
                            prop.setdefault((si, kit), []).append((tgt, nit))
                        else:
                            la[tgt][nit].add(a)
    changed = True
    while changed:
        changed = False
        for (si, kit), targets in prop.items():
            src = la[si][kit]
            for tgt, nit in targets:
                dst = la[tgt][nit]
                if not src <= dst:
                    dst |= src
                    changed = True

    # actions
    action: list[dict[str, int]] = []
    goto: list[dict[str, int]] = []
    default: list[int | None] = []
    needs: list[bool] = []
    prec = g.precedence
    for si, kernel in enumerate(states):
        full = closure1(la[si])
        shifts = {s: t for s, t in trans[si].items() if s in terms}
        goto.append({s: t for s, t in trans[si].items() if s in nts})
        reds: list[tuple[int, set[str]]] = []
        accept = False
        for (pi, dot), las in full.items():
            rhs = prods[pi].rhs
            if pi == 0 and dot == 1:
                accept = True
            elif dot == len(rhs):
                reds.append((pi, set(las)))
        reds.sort()
        # bison set_conflicts: precedence resolution, rules in grammar order
        shift_set = set(shifts)
        for pi, las in reds:
            rp = prods[pi].prec
            if rp is None or rp not in prec:
                continue
            rlev = prec[rp][0]
            for t in sorted(las & shift_set):
                if t not in prec:
                    continue
                tlev, assoc = prec[t]
                if tlev < rlev or (tlev == rlev and assoc == "left"):
                    shift_set.discard(t)  # reduce wins: drop the shift
                    shifts.pop(t, None)
                elif tlev > rlev or (tlev == rlev and assoc == "right"):
                    las.discard(t)        # shift wins: drop the reduction on t
                else:                     # nonassoc: both removed (an explicit error)
                    shift_set.discard(t)
                    shifts.pop(t, None)
                    las.discard(t)
        row: dict[str, int] = {}
        for pi, las in reversed(reds):  # the first rule wins reduce/reduce conflicts
            for t in las:
                row[t] = -pi
        for t, st in shifts.items():     # shift wins unresolved shift/reduce conflicts
            row[t] = st
        consistent = len(reds) == 1 and not shifts and not accept
        dflt = None
        if reds and not accept:
            if consistent:
                dflt = reds[0][0]
            else:
                best, best_n = None, 0
                for pi, _ in reds:
                    n = sum(1 for a in row.values() if a == -pi)
                    if n > best_n:
                        best, best_n = pi, n
                dflt = best
            if dflt is not None:
                row = {t: a for t, a in row.items() if a != -dflt}
        if accept:
            row[END] = ACCEPT_ACTION
        action.append(row)
        default.append(dflt)
        needs.append(bool(row))
    return Tables(g, action, goto, default, needs)


ACCEPT_ACTION = -(10 ** 9)
"""Action code of accepting the input."""


@dataclass
class Tok:
    """A token: terminal name, text, 1-based line and column."""

    type: str
    value: str
    line: int
    column: int


@dataclass
class Node:
    """A parse-tree node: the production it was reduced by and its children (Nodes and Toks)."""

    rule: str
    alt: int
    children: list
    line: int
    column: int


class ParseError(Exception):
    """The parser met ``token`` in ``state``; ``expected`` lists the terminals with an action there."""

    def __init__(self, token: Tok, expected: list[str]):
        super().__init__(token.type)
        self.token = token
        self.expected = expected


def parse(tables: Tables, tokens, reduce_hook=None) -> Node:
    """Parse a token iterator (ending with an ``$end`` token); raise :class:`ParseError` at the first bad token.

    ``reduce_hook(node)`` is called after each reduction (the real parser runs its actions there).
    """
    prods = tables.grammar.productions
    action, goto_, default = tables.action, tables.goto, tables.default
    stack = [0]
    values: list = []
    it = iter(tokens)
    tok = next(it)
    while True:
        s = stack[-1]
        a = action[s].get(tok.type)
        if a is None:
            d = default[s]
            if d is None:
                raise ParseError(tok, _expected(tables, s))
            a = -d
        if a == ACCEPT_ACTION:
            return values[-1]
        if a >= 0:
            stack.append(a)
            values.append(tok)
            tok = next(it)
            continue
        p = prods[-a]
        n = len(p.rhs)
        kids = values[-n:] if n else []
        if n:
            del values[-n:]
            del stack[-n:]
        if kids:
            line, col = kids[0].line, kids[0].column
        else:
            line, col = tok.line, tok.column
        node = Node(p.lhs, p.alt, kids, line, col)
        if reduce_hook is not None:
            reduce_hook(node)
        values.append(node)
        stack.append(goto_[stack[-1]][p.lhs])


def _expected(tables: Tables, state: int) -> list[str]:
    order = {t: i for i, t in enumerate([END] + tables.grammar.terminals)}
    return sorted(tables.action[state], key=lambda t: order.get(t, 1 << 30))
