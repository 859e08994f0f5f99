"""Generation grammars for the LLM, derived from the project's own DSL grammar file (never hand-copied).

- :func:`gbnf` — a GBNF grammar (llama.cpp's ``grammar`` request field) generated from the lark
  grammar the DSL compiler parses with (``systems/mapper/dsl/grammar.lark``);
- :func:`lark_tool_grammar` — the same grammar, self-contained, for an OpenAI custom tool whose input
  format is a Lark grammar (hosted models with grammar-constrained tools).

How the GBNF is made from lark's compiled rules:

1. terminals: each terminal's regex (Python ``re`` syntax) is translated to a GBNF expression
   through ``re``'s own parser (literals, classes, repeats, alternation, groups; anchors and
   look-arounds are refused with an error naming the terminal);
2. rules: lark's compiled BNF (EBNF already expanded); direct left recursion ``A -> A a | b`` becomes
   ``A -> b A-tail, A-tail -> a A-tail | ()`` (llama.cpp's grammar engine cannot run left recursion;
   indirect left recursion is refused);
3. whitespace: lark ignores whitespace between tokens; GBNF must spell it out. Whitespace follows
   each terminal: optional (at most :data:`MAX_WS` characters) after punctuation, mandatory after a
   terminal ending in a word character when the next token may start with one (``Task *`` vs
   ``Taskfoo``). To know the next token, every rule is specialised by its right context (may the
   next character be a word character?), so no space is forced before ``;``, ``]`` or ``.``;
4. comments are not generated (the ignore-list's other terminals are dropped) and the program must
   hold at least one statement (an empty reply is not a proposal).

Known gap: GBNF has no "identifier except keyword", so a name that spells a keyword (``in``,
``def``) passes the GBNF and is rejected by the parser; the compile-rate measurement counts it.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

try:  # Python 3.11+
    import re._constants as _sc
    import re._parser as _sp
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants as _sc  # type: ignore[no-redef]
    import sre_parse as _sp  # type: ignore[no-redef]

GRAMMAR_FILE = Path(__file__).resolve().parents[1] / "dsl" / "grammar.lark"
"""The DSL grammar the compiler parses with (the single source of both generation grammars)."""
MAX_WS = 6
"""Most whitespace characters the GBNF allows between two tokens (keeps a tiny model from looping on blanks)."""
ACTION_ASSERTS_STAR = {"region_custom": 3, "layout_custom": 3}
"""Positions where the real parser's *action code* (not its grammar) asserts a ``*``: ``Region t r W m;``
and ``Layout t r W c;`` with W not a processor / memory kind (see ``systems.mapper.dsl.parser``).
The GBNF emits only ``*`` there, so that it does not admit what the parser aborts on."""
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_ASCII = [chr(i) for i in range(128)]


class GrammarConversionError(ValueError):
    """The lark grammar uses a construct that has no GBNF translation here."""


# ---------------------------------------------------------------------------------------------
# regex -> GBNF expression, plus which characters can start / end a match

def _esc_lit(ch: str, js: bool = False) -> str:
    if js:  # the character as it appears inside a JSON string, then escaped for a GBNF literal
        enc = json.dumps(ch)[1:-1]
        return "".join(_esc_lit(c) for c in enc)
    if ch in '"\\':
        return "\\" + ch
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if ch == "\r":
        return "\\r"
    if ord(ch) < 32:
        return f"\\x{ord(ch):02x}"
    return ch


def _esc_cls(ch: str) -> str:
    if ch in "]\\^-[":
        return "\\" + ch
    return _esc_lit(ch) if ch in '\n\t\r' or ord(ch) < 32 else ch


_CATS = {
    _sc.CATEGORY_DIGIT: (frozenset("0123456789"), "0-9"),
    _sc.CATEGORY_WORD: (_WORD, "a-zA-Z0-9_"),
    _sc.CATEGORY_SPACE: (frozenset(" \t\n\r\f\v"), " \\t\\n\\r\\f\\v"),
}


def _class(items, js: bool = False) -> tuple[str, frozenset]:
    """A GBNF character class and its ASCII members for an ``IN`` item list (``js``: inside a JSON string)."""
    neg = False
    parts: list[str] = []
    members: set[str] = set()
    for op, av in items:
        if op is _sc.NEGATE:
            neg = True
        elif op is _sc.LITERAL:
            parts.append(_esc_cls(chr(av)))
            members.add(chr(av))
        elif op is _sc.RANGE:
            lo, hi = av
            parts.append(f"{_esc_cls(chr(lo))}-{_esc_cls(chr(hi))}")
            members.update(chr(c) for c in range(lo, min(hi, 127) + 1))
        elif op is _sc.CATEGORY and av in _CATS:
            s, txt = _CATS[av]
            parts.append(txt)
            members.update(s)
        else:
            raise GrammarConversionError(f"character class item {op} {av} has no GBNF translation")
    if js:
        special = {c for c in members if c in '"\\' or ord(c) < 32}
        if neg:
            parts.append('"\\\\\\x00-\\x1f')
        elif special:
            raise GrammarConversionError("a character class with quotes, backslashes or control characters "
                                         "cannot be embedded in a JSON string")
    if neg:
        return "[^" + "".join(parts) + "]", frozenset(c for c in _ASCII if c not in members)
    return "[" + "".join(parts) + "]", frozenset(members)


class _Re:
    """GBNF text, first/last character sets and nullability of a parsed regex (sub)pattern."""

    def __init__(self, text: str, first: frozenset, last: frozenset, nullable: bool):
        self.text, self.first, self.last, self.nullable = text, first, last, nullable


def _seq(items, name: str, js: bool = False) -> _Re:
    parts = [_item(op, av, name, js) for op, av in items]
    text = " ".join(p.text for p in parts if p.text) or '""'
    first: set[str] = set()
    for p in parts:
        first |= p.first
        if not p.nullable:
            break
    last: set[str] = set()
    for p in reversed(parts):
        last |= p.last
        if not p.nullable:
            break
    return _Re(text, frozenset(first), frozenset(last), all(p.nullable for p in parts))


def _item(op, av, name: str, js: bool = False) -> _Re:
    if op is _sc.LITERAL:
        c = chr(av)
        return _Re(f'"{_esc_lit(c, js)}"', frozenset(c), frozenset(c), False)
    if op is _sc.NOT_LITERAL:
        txt, mem = _class([(_sc.NEGATE, None), (_sc.LITERAL, av)], js)
        return _Re(txt, mem, mem, False)
    if op is _sc.IN:
        txt, mem = _class(av, js)
        return _Re(txt, mem, mem, False)
    if op is _sc.ANY:
        mem = frozenset(c for c in _ASCII if c != "\n")
        return _Re('[^\\n"\\\\\\x00-\\x1f]' if js else "[^\\n]", mem, mem, False)
    if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT):
        lo, hi, sub = av
        inner = _seq(sub, name, js)
        body = inner.text if len(sub) == 1 and not inner.text.startswith("(") and " " not in inner.text \
            else f"({inner.text})"
        if hi is _sc.MAXREPEAT:
            rep = "*" if lo == 0 else "+" if lo == 1 else f"{{{lo},}}"
        elif (lo, hi) == (0, 1):
            rep = "?"
        else:
            rep = f"{{{lo},{hi}}}" if lo != hi else f"{{{lo}}}"
        return _Re(body + rep, inner.first, inner.last, lo == 0 or inner.nullable)
    if op is _sc.BRANCH:
        alts = [_seq(a, name, js) for a in av[1]]
        return _Re("(" + " | ".join(a.text for a in alts) + ")", frozenset().union(*(a.first for a in alts)),
                   frozenset().union(*(a.last for a in alts)), any(a.nullable for a in alts))
    if op is _sc.SUBPATTERN:
        _group, add_flags, del_flags, sub = av
        if add_flags or del_flags:
            raise GrammarConversionError(f"terminal {name}: inline regex flags have no GBNF translation")
        inner = _seq(sub, name, js)
        return _Re(f"({inner.text})", inner.first, inner.last, inner.nullable)
    raise GrammarConversionError(f"terminal {name}: regex construct {op} has no GBNF translation")


def regex_to_gbnf(pattern: str, name: str = "?", js: bool = False) -> _Re:
    """``pattern`` (Python ``re`` syntax) as a GBNF expression with its first/last characters
    (``js``: as the text appears inside a JSON string)."""
    return _seq(_sp.parse(pattern), name, js)


def _ident_shape(pattern: str):
    """(first-char set, rest-char set) when ``pattern`` is ``[A][B]*`` (an identifier shape), else None."""
    items = _sp.parse(pattern)
    if len(items) != 2 or items[0][0] is not _sc.IN or items[1][0] is not _sc.MAX_REPEAT:
        return None
    lo, hi, sub = items[1][1]
    if lo != 0 or hi is not _sc.MAXREPEAT or len(sub) != 1 or sub[0][0] is not _sc.IN:
        return None
    return _class(items[0][1])[1], _class(sub[0][1])[1]


def _cls_of(chars) -> str:
    """A GBNF class for a set of ASCII word characters (ranges compressed)."""
    cs = sorted(chars, key=ord)
    parts, i = [], 0
    while i < len(cs):
        j = i
        while j + 1 < len(cs) and ord(cs[j + 1]) == ord(cs[j]) + 1:
            j += 1
        parts.append(_esc_cls(cs[i]) if j == i else f"{_esc_cls(cs[i])}-{_esc_cls(cs[j])}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _ident_except(name: str, first: frozenset, rest: frozenset, keywords: set[str]) -> dict[str, str]:
    """GBNF rules for identifiers (``first rest*``) other than ``keywords``: a trie over the keywords,
    where leaving the trie (a character no keyword continues with) frees the rest of the name."""
    rules: dict[str, str] = {}
    tails = f"{_cls_of(rest)}*"

    def node(prefix: str, rule: str) -> None:
        at = {k[len(prefix)] for k in keywords if k.startswith(prefix) and len(k) > len(prefix)}
        allowed = first if not prefix else rest
        alts = []
        others = sorted(c for c in allowed if c not in at)
        if others:
            alts.append(f"{_cls_of(others)} {tails}")
        for i, c in enumerate(sorted(at)):
            child = f"{rule}-{i}"
            alts.append(f'"{_esc_lit(c)}" {child}')
            node(prefix + c, child)
        body = " | ".join(alts)
        if prefix and prefix not in keywords:  # the name may end here
            body = f"({body})?" if body else '""'
        rules[rule] = body

    node("", name)
    return rules


# ---------------------------------------------------------------------------------------------
# rules

def _start_rule(text: str) -> str:
    """The grammar's start rule: ``program`` (the real DSL grammar) or ``start``, else the first rule."""
    names = re.findall(r"^[?!]?([a-z_][a-z0-9_]*)\s*:", text, re.M)
    for cand in ("program", "start"):
        if cand in names:
            return cand
    if not names:
        raise GrammarConversionError("no rule found in the grammar file")
    return names[0]


def _lark_grammar(path: Path):
    """The grammar file loaded by lark (Earley: the file is an ambiguous grammar that the project's own
    LALR builder disambiguates with bison's precedence rules; only its productions are needed here)."""
    from lark import Lark

    text = path.read_text()
    start = _start_rule(text)
    return Lark(text, start=start, parser="earley", lexer="dynamic"), start


def _gname(name: str) -> str:
    """A GBNF rule name (letters, digits and '-')."""
    n = re.sub(r"[^A-Za-z0-9]+", "-", name.lower()).strip("-")
    return n or "r"


@lru_cache(maxsize=8)
def _gbnf_cached(path_str: str, mtime: float, json_string: bool, prefix: str) -> str:
    return _build_gbnf(Path(path_str), json_string, prefix)


def gbnf(path: Path | str | None = None, json_string: bool = False, prefix: str = "") -> str:
    """The GBNF generation grammar for the DSL grammar file ``path`` (default: the compiler's).

    ``json_string``: the program as it appears inside a JSON string (quotes, newlines escaped), for
    embedding in a JSON answer; ``prefix``: prepended to every rule name (``<prefix>root`` is the start).
    """
    p = Path(path or GRAMMAR_FILE)
    return _gbnf_cached(str(p), p.stat().st_mtime, json_string, prefix)


def _build_gbnf(path: Path, js: bool = False, prefix: str = "") -> str:
    lk, start = _lark_grammar(path)
    terms, rules, ignore = lk.grammar.compile([start], set())
    tdefs = {t.name: t for t in terms}
    bnf: dict[str, list[list[str]]] = {}
    for r in rules:
        bnf.setdefault(r.origin.name, []).append([s.name for s in r.expansion])
    for name in ignore:
        if any(name in alt for alts in bnf.values() for alt in alts):
            raise GrammarConversionError(f"terminal {name} is both ignored and used in a rule")
    # at least one statement
    bnf[start] = [alt for alt in bnf[start] if alt] or bnf[start]
    # the action-code assertions: only '*' where an identifier would make the real parser abort
    star = next((n for n, td in tdefs.items() if type(td.pattern).__name__ == "PatternStr"
                 and td.pattern.value == "*"), None)
    for rule, pos in ACTION_ASSERTS_STAR.items():
        for alt in bnf.get(rule, []):
            if star and len(alt) > pos and alt[pos] in bnf and any(a == [star] for a in bnf[alt[pos]]) \
                    and all(len(a) == 1 for a in bnf[alt[pos]]):
                alt[pos] = star
    # terminals
    tinfo: dict[str, _Re] = {}
    for name, td in tdefs.items():
        if name in ignore:
            continue
        pat = td.pattern
        if getattr(pat, "flags", None):
            raise GrammarConversionError(f"terminal {name}: flags {sorted(pat.flags)} have no GBNF translation")
        if type(pat).__name__ == "PatternStr":
            s = pat.value
            tinfo[name] = _Re('"' + "".join(_esc_lit(c, js) for c in s) + '"', frozenset(s[:1]),
                              frozenset(s[-1:]), not s)
        else:
            tinfo[name] = regex_to_gbnf(pat.value, name, js)
        if tinfo[name].nullable:
            raise GrammarConversionError(f"terminal {name} can match the empty string")
    # identifiers must not spell a keyword (a scanner returns the keyword's token for it)
    literals = {td.pattern.value for n, td in tdefs.items()
                if n not in ignore and type(td.pattern).__name__ == "PatternStr"}
    extra_rules: dict[str, str] = {}
    for name, td in tdefs.items():
        if name in ignore or type(td.pattern).__name__ == "PatternStr":
            continue
        shape = _ident_shape(td.pattern.value)
        if not shape:
            continue
        kws = {w for w in literals if re.fullmatch(td.pattern.value, w)}
        if kws:
            rname = "id-" + _gname(name)
            extra_rules.update(_ident_except(rname, shape[0], shape[1], kws))
            tinfo[name] = _Re(rname, tinfo[name].first, tinfo[name].last, False)
    # direct left recursion -> right recursion, without the ambiguity of A -> A op A: with H the
    # non-left-recursive alternatives ("head"), A -> H T, T -> op H T | (); a trailing A in a head or an
    # operator alternative becomes H. Same language, one parse per operator chain (an ambiguous GBNF
    # makes llama.cpp's grammar stacks grow exponentially with the length of an expression).
    for a in list(bnf):
        alts = bnf[a]
        rec = [alt[1:] for alt in alts if alt and alt[0] == a]
        if not rec:
            continue
        base = [alt for alt in alts if not alt or alt[0] != a]
        if not base:
            raise GrammarConversionError(f"rule {a} only derives itself")
        head, tail = f"{a}__head", f"{a}__tail"
        trail = any(len(x) > 1 and x[-1] == a for x in base + rec)

        def _h(x, a=a, head=head):
            return x[:-1] + [head] if len(x) > 1 and x[-1] == a else x

        if trail:
            bnf[head] = [_h(b) for b in base]
            bnf[a] = [[head, tail]]
        else:
            bnf[a] = [b + [tail] for b in base]
        bnf[tail] = [_h(r) + [tail] for r in rec] + [[]]
    nts = set(bnf)
    # nullable / can start with a word char / can end with a word char (fixed points)
    nullable = {n: False for n in nts}
    sw = {n: False for n in nts}
    ew = {n: False for n in nts}

    def t_null(s):
        return nullable[s] if s in nts else False

    def t_sw(s):
        return sw[s] if s in nts else bool(tinfo[s].first & _WORD)

    def t_ew(s):
        return ew[s] if s in nts else bool(tinfo[s].last & _WORD)

    changed = True
    while changed:
        changed = False
        for n, alts in bnf.items():
            for alt in alts:
                nl = all(t_null(s) for s in alt)
                s_w = False
                for s in alt:
                    s_w = s_w or t_sw(s)
                    if not t_null(s):
                        break
                e_w = False
                for s in reversed(alt):
                    e_w = e_w or t_ew(s)
                    if not t_null(s):
                        break
                if nl and not nullable[n]:
                    nullable[n] = changed = True
                if s_w and not sw[n]:
                    sw[n] = changed = True
                if e_w and not ew[n]:
                    ew[n] = changed = True
    # indirect left recursion check: leftmost-derivable graph (through nullable prefixes)
    left: dict[str, set[str]] = {n: set() for n in nts}
    for n, alts in bnf.items():
        for alt in alts:
            for s in alt:
                if s in nts:
                    left[n].add(s)
                if not t_null(s):
                    break
    for n in nts:
        seen, stack = set(), list(left[n])
        while stack:
            m = stack.pop()
            if m == n:
                raise GrammarConversionError(f"rule {n} is left-recursive through other rules")
            if m not in seen:
                seen.add(m)
                stack.extend(left[m])
    # specialise rules by right context (W: the next character may be a word character)
    out_rules: dict[str, str] = {}
    names: dict[tuple[str, bool], str] = {}
    used_names: set[str] = {"root", "ws", "sp"}
    P = prefix
    todo: list[tuple[str, bool]] = []

    def ref(n: str, w: bool) -> str:
        key = (n, w)
        if key not in names:
            base = _gname(n) + ("-w" if w else "")
            cand, i = base, 2
            while cand in used_names:
                cand, i = f"{base}-{i}", i + 1
            used_names.add(cand)
            names[key] = cand
            todo.append(key)
        return names[key]

    def tref(t: str, w: bool) -> str:
        key = ("$" + t, False)
        if key not in names:
            base = "t-" + _gname(t)
            cand, i = base, 2
            while cand in used_names:
                cand, i = f"{base}-{i}", i + 1
            used_names.add(cand)
            names[key] = cand
            out_rules[cand] = (P + tinfo[t].text) if tinfo[t].text.startswith("id-") else tinfo[t].text
        sep = "sp" if (w and t_ew(t)) else "ws"
        return f"{P}{names[key]} {P}{sep}"

    root = ref(start, False)
    while todo:
        n, w = todo.pop(0)
        alts_txt = []
        for alt in bnf[n]:
            parts = []
            for i, s in enumerate(alt):  # noqa: B007
                ctx = w
                for nxt in alt[i + 1:]:
                    if t_sw(nxt):
                        ctx = True
                        break
                    if not t_null(nxt):
                        ctx = False
                        break
                parts.append(P + ref(s, ctx) if s in nts else tref(s, ctx))
            alts_txt.append(" ".join(parts) if parts else None)
        nonempty = [a for a in alts_txt if a]
        body = " | ".join(nonempty)
        if len(nonempty) < len(alts_txt):
            body = f"({body})?" if nonempty else '""'
        out_rules[names[(n, w)]] = body
    blank = '(" " | "\\\\n" | "\\\\t")' if js else "[ \\t\\n]"
    lines = [f"# GBNF for the mapping DSL, generated from {path.name} by systems/mapper/agent/grammar.py "
             f"(sha256 {file_hash(path)[:12]}{', JSON-string form' if js else ''}); do not edit.",
             f"{P}root ::= {P}ws {P}{root}",
             f"{P}ws ::= {blank}{{0,{MAX_WS}}}",
             f"{P}sp ::= {blank}{{1,{MAX_WS}}}"]
    lines += [f"{P}{k} ::= {v}" for k, v in out_rules.items()]
    lines += [f"{P}{k} ::= " + re.sub(r"\b(id-[a-z0-9-]+)", P + r"\1", v) for k, v in extra_rules.items()]
    return "\n".join(lines) + "\n"


def file_hash(path: Path | str | None = None) -> str:
    """sha256 of the DSL grammar file."""
    return hashlib.sha256(Path(path or GRAMMAR_FILE).read_bytes()).hexdigest()


def lark_tool_grammar(path: Path | str | None = None) -> str:
    """The DSL grammar as a self-contained Lark grammar for a grammar-constrained tool.

    The compiler's grammar with comments dropped (not generated), ``%import common.WS`` replaced by
    an explicit terminal, and tree-shaping syntax removed (``?rule`` and ``-> alias`` do not change
    the language).
    """
    text = Path(path or GRAMMAR_FILE).read_text()
    out = []
    for ln in text.splitlines():
        s = ln.strip()
        if s.startswith("//") or not s:
            continue
        if s.startswith("%import common.WS"):
            out.append("WS: /[ \\t\\n]+/")
            continue
        if s.startswith("%ignore") and "WS" not in s:
            continue
        if re.match(r"^COMMENT\s*:", s):
            continue
        ln = re.sub(r"\s+->\s*\w+\s*$", "", ln)
        ln = re.sub(r"^(\s*)\?(\w)", r"\1\2", ln)
        out.append(ln.rstrip())
    return "\n".join(out) + "\n"


def sample_programs(n: int, seed: int = 0, max_depth: int = 9, path: Path | str | None = None,
                    minimal_ws: bool = False) -> list[str]:
    """``n`` random programs derived from the GBNF's own rules, used to check that everything the GBNF
    admits, the parser accepts. ``minimal_ws``: the least whitespace the GBNF allows at every junction
    (none after punctuation, one blank where a word follows a word); else random amounts."""
    import random

    rules = {}
    for ln in gbnf(path).splitlines():
        if "::=" in ln and not ln.startswith("#"):
            k, v = ln.split("::=", 1)
            rules[k.strip()] = v.strip()
    rng = random.Random(seed)
    if minimal_ws:
        rules = {**rules, "ws": '""', "sp": '" "'}
    return [_derive(rules, "root", rng, max_depth) for _ in range(n)]


_TOK = re.compile(r'\s*(\(|\)|\||\?|\*|\+|\{\d+(?:,\d*)?\}|"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|[A-Za-z0-9-]+)')


def _parse_expr(text: str):
    """A tiny parser for the GBNF subset :func:`gbnf` emits -> nested ('alt'|'seq'|'rep'|'lit'|'cls'|'ref')."""
    toks = []
    pos = 0
    while pos < len(text):
        m = _TOK.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise GrammarConversionError(f"cannot read GBNF at {text[pos:pos + 20]!r}")
        toks.append(m.group(1))
        pos = m.end()
    i = 0

    def alt():
        nonlocal i
        seqs = [seq()]
        while i < len(toks) and toks[i] == "|":
            i += 1
            seqs.append(seq())
        return ("alt", seqs)

    def seq():
        nonlocal i
        items = []
        while i < len(toks) and toks[i] not in ("|", ")"):
            items.append(post(atom()))
        return ("seq", items)

    def atom():
        nonlocal i
        t = toks[i]
        i += 1
        if t == "(":
            e = alt()
            i += 1
            return e
        if t.startswith('"'):
            return ("lit", t[1:-1].encode().decode("unicode_escape"))
        if t.startswith("["):
            return ("cls", t)
        return ("ref", t)

    def post(e):
        nonlocal i
        while i < len(toks) and (toks[i] in ("?", "*", "+") or toks[i].startswith("{")):
            t = toks[i]
            i += 1
            if t == "?":
                e = ("rep", e, 0, 1)
            elif t == "*":
                e = ("rep", e, 0, 3)
            elif t == "+":
                e = ("rep", e, 1, 3)
            else:
                lo, _, hi = t[1:-1].partition(",")
                e = ("rep", e, int(lo), int(hi) if hi else int(lo) + 3)
        return e

    return alt()


def _derive(rules: dict[str, str], start: str, rng, max_depth: int) -> str:
    parsed: dict[str, object] = {}

    def get(name):
        if name not in parsed:
            parsed[name] = _parse_expr(rules[name])
        return parsed[name]

    def cls_char(c: str) -> str:
        body = c[1:-1]
        neg = body.startswith("^")
        members = []
        j = 1 if neg else 0
        raw = body.encode().decode("unicode_escape")
        j = 1 if neg else 0
        while j < len(raw):
            if j + 2 < len(raw) and raw[j + 1] == "-":
                members += [chr(x) for x in range(ord(raw[j]), ord(raw[j + 2]) + 1)]
                j += 3
            else:
                members.append(raw[j])
                j += 1
        if neg:
            members = [ch for ch in map(chr, range(32, 127)) if ch not in members and ch not in '"\\']
        return rng.choice(members)

    def gen(e, depth) -> str:
        k = e[0]
        if k == "alt":
            opts = e[1]
            if depth > max_depth:  # prefer the shortest-looking option to terminate
                opts = sorted(opts, key=lambda s: len(str(s)))[:1]
            return gen(rng.choice(opts), depth)
        if k == "seq":
            return "".join(gen(x, depth) for x in e[1])
        if k == "rep":
            _, sub, lo, hi = e
            if depth > max_depth:
                hi = lo
            return "".join(gen(sub, depth) for _ in range(rng.randint(lo, hi)))
        if k == "lit":
            return e[1]
        if k == "cls":
            return cls_char(e[1])
        return gen(get(e[1]), depth + 1)

    return gen(get(start), 0)
