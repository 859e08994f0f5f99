"""Canonical text of a mapper: one statement per line, normalised spacing, comments dropped.

``format_mapper(format_mapper(t)) == format_mapper(t)`` and the formatted text compiles to the same
mapper (the parser round-trip the tests check).
"""

from __future__ import annotations

from systems.mapper.dsl.compiler import compile_mapper
from systems.mapper.dsl.parser import tables

_NO_SPACE_BEFORE = {",", ";", ")", "]", "."}
_NO_SPACE_AFTER = {"(", "[", ".", "!"}


def format_mapper(text: str, dialect: str = "real") -> str:
    """Re-serialise ``text`` from its tokens (raises MapperCompileError on a syntax error)."""
    compile_mapper(text, dialect)  # validates first, with located errors
    _, lexer = tables(dialect)
    toks = [t for t in lexer.tokens(text) if t.type != "$end"]
    out: list[str] = []
    line: list[str] = []
    depth = 0
    prev = None
    for i, tok in enumerate(toks):
        v = f'"{tok.value}"' if tok.type == "T_STRINGCONSTANT" else tok.value
        if line and _space_between(prev, v, line):
            line.append(" ")
        if v == "}":
            depth -= 1
            if line and "".join(line).strip():
                out.append("    " * (depth + 1) + "".join(line).strip())
            line = []
            out.append("    " * depth + "}")
            prev = v
            continue
        line.append(v)
        if v == "{":
            out.append("    " * depth + "".join(line).strip())
            line = []
            depth += 1
        elif v == ";":
            out.append("    " * depth + "".join(line).strip())
            line = []
        prev = v
    if line:
        out.append("".join(line).strip())
    return "\n".join(out) + "\n"


def _space_between(prev: str | None, v: str, line: list[str]) -> bool:
    if prev is None or v in _NO_SPACE_BEFORE or prev in _NO_SPACE_AFTER:
        return False
    if v in ("(", "[") and prev not in ("in", "return") and (prev[0].isalnum() or prev[0] == "_" or prev in (")", "]")):
        return False  # a call or an index
    if prev == "*" and line_unary_star(line):
        return False
    if prev == "-" and line_unary_minus(line):
        return False
    return True


def line_unary_star(line: list[str]) -> bool:
    """True when the last ``*`` in ``line`` is an unpack/wildcard (follows ``(``, ``[`` or ``,``)."""
    toks = [t for t in line if t != " "]
    return len(toks) >= 2 and toks[-1] == "*" and toks[-2] in ("(", "[", ",")


def line_unary_minus(line: list[str]) -> bool:
    """True when the last ``-`` in ``line`` is a negation."""
    toks = [t for t in line if t != " "]
    return len(toks) >= 2 and toks[-1] == "-" and toks[-2] in ("(", "[", ",", ":", "=", "?", "return")
