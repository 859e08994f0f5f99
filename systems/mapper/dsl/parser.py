"""Parse mapper text into a parse tree, in the real dialect (default) or the extended one.

The real dialect accepts exactly what DSLMapper's parser (commit c13b92e) accepts: the grammar is
``grammar.lark``, the automaton is built by :mod:`systems.mapper.dsl.lalr` with bison's rules and
the scanner follows ``scanner.l`` (:mod:`systems.mapper.dsl.lexer`). Errors are worded as the real
compiler words them -- ``Error at line N: syntax error, unexpected X, expecting Y`` -- followed by
our column, the full list of expected tokens when bison leaves it out, and the source line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from systems.mapper.dsl.errors import MapperCompileError
from systems.mapper.dsl.lalr import END, Node, ParseError, Tables, Tok, build_tables, load_grammar, parse
from systems.mapper.dsl.lexer import Lexer, LexError

HERE = Path(__file__).resolve().parent
GRAMMAR_FILE = HERE / "grammar.lark"
"""The real-dialect grammar (the one file generators read)."""
EXTENSION_FILE = HERE / "grammar_extended.lark"
"""Productions the extended dialect adds."""
DIALECTS = ("real", "extended")
"""``real``: exactly DSLMapper's language (the default); ``extended``: plus the productions of
``grammar_extended.lark`` (Mapple's ``decompose``, ``InstanceLimit <task> <Proc> <n>``)."""
BISON_MAX_EXPECTED = 4
"""bison's verbose messages list at most 4 expected tokens (YYERROR_VERBOSE_ARGS_MAXIMUM - 1)."""


@lru_cache(maxsize=None)
def tables(dialect: str = "real") -> tuple[Tables, Lexer]:
    """The parse tables and scanner of ``dialect`` (built once per process)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; valid: {', '.join(DIALECTS)}")
    files = [GRAMMAR_FILE] + ([EXTENSION_FILE] if dialect == "extended" else [])
    g = load_grammar(*files)
    return build_tables(g), Lexer(g)


def _source_line(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _located(message: str, text: str, line: int, column: int | None, extra: str = "") -> str:
    where = f" (column {column}{'; ' + extra if extra else ''})" if column else (f" ({extra})" if extra else "")
    src = _source_line(text, line)
    return message + where + (f"\n    {src}" if src else "")


def syntax_message(tables_: Tables, tok: Tok, expected: list[str]) -> tuple[str, str]:
    """bison's verbose message for an unexpected ``tok`` (and our list of every expected token)."""
    disp = tables_.grammar.display
    msg = f"Error at line {tok.line}: syntax error, unexpected {disp.get(tok.type, tok.type)}"
    names = [disp.get(t, t) for t in expected]
    if 0 < len(names) <= BISON_MAX_EXPECTED:
        msg += ", expecting " + " or ".join(names)
        extra = ""
    else:
        extra = "expected one of: " + ", ".join(names) if names else ""
    if tok.type == END:
        extra = ("end of file; " + extra) if extra else "end of file"
    return msg, extra


def parse_text(text: str, dialect: str = "real") -> Node:
    """Parse ``text``; raise a located :class:`MapperCompileError` (class ``syntax`` or, for the
    real parser's parse-time assertions, ``not_a_processor``/``not_a_memory``)."""
    tabs, lexer = tables(dialect)
    try:
        return parse(tabs, lexer.tokens(text), _assertions)
    except LexError as exc:
        msg = f"Error at line {exc.line}: {exc.message}"
        raise MapperCompileError("syntax", _located(msg, text, exc.line, exc.column), exc.line, exc.column) from None
    except ParseError as exc:
        msg, extra = syntax_message(tabs, exc.token, exc.expected)
        raise MapperCompileError("syntax", _located(msg, text, exc.token.line, exc.token.column, extra),
                                 exc.token.line, exc.token.column) from None
    except _AssertionFailure as exc:
        raise MapperCompileError(exc.kind, _located(exc.message, text, exc.tok.line, exc.tok.column),
                                 exc.tok.line, exc.tok.column) from None


class _AssertionFailure(Exception):
    def __init__(self, kind: str, message: str, tok: Tok):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.tok = tok


def _assertions(node: Node) -> None:
    """The real parser's actions assert that ``Region t r W m;`` and ``Layout t r W c;`` use ``*`` for W
    when W is not a processor/memory kind (it aborts otherwise)."""
    if node.rule == "region_custom" and node.alt == 1:
        word = node.children[3].children[0]
        if word.type != "STAR":
            raise _AssertionFailure("not_a_processor", f"Error at line {word.line}: {word.value!r} is not a processor "
                                    "kind (CPU, GPU, OMP, IO, PY, PROC) or '*' (the real parser aborts: "
                                    "assertion strcmp($4, \"*\") == 0 in RegionCustom)", word)
    elif node.rule == "layout_custom" and node.alt == 1:
        word = node.children[3].children[0]
        if word.type != "STAR":
            raise _AssertionFailure("not_a_memory", f"Error at line {word.line}: {word.value!r} is not a memory kind "
                                    "(SYSMEM, FBMEM, RDMEM, ZCMEM, SOCKMEM, VIRTUAL) or '*' (the real parser aborts: "
                                    "assertion strcmp($4, \"*\") == 0 in LayoutCustom)", word)


def check_syntax(text: str, dialect: str = "real") -> MapperCompileError | None:
    """None when ``text`` parses in ``dialect``, else the error."""
    try:
        parse_text(text, dialect)
    except MapperCompileError as exc:
        return exc
    return None


__all__ = ["DIALECTS", "EXTENSION_FILE", "GRAMMAR_FILE", "Node", "Tok", "check_syntax", "parse_text", "tables"]
