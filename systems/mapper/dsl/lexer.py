"""The DSL scanner, with the semantics of DSLMapper's ``scanner.l`` (flex).

flex takes the longest match and, between equally long matches, the rule listed first. For
this language that means:

- ``\\n`` counts a line; spaces, tabs, ``\\r`` and ``\\a`` are skipped; ``//`` and ``#`` start a
  comment that runs to the end of the line;
- every keyword of the grammar (``Task``, ``size``, ``ipoint``, ``len``, ...) is a keyword wherever
  it appears, so it can never name a variable; a longer word (``Tasks``, ``size2``) is an identifier;
  ``Machine`` is an identifier;
- ``<= >= == != && ||`` are two-character tokens; ``- + * / % = , ; ! ? : < > ( ) { } . [ ]`` are
  one-character tokens; a lone ``&`` or ``|`` (or any other character) is an error;
- ``"..."`` without a newline is a string; an unterminated string is an error;
- digits form a number (``12ab`` is the number 12, then the identifier ``ab``).

Errors carry the line as the real scanner counts it (``cur_line``) and our 1-based column.
"""

from __future__ import annotations

from systems.mapper.dsl.lalr import END, Grammar, Tok

_SKIP = " \t\r\x07"
_TWO = ("<=", ">=", "==", "!=", "&&", "||")
_ONE = "-+*/%=,;!?:<>(){}.[]"
_IDENT_START = set("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_IDENT_REST = _IDENT_START | set("0123456789")
_DIGITS = set("0123456789")


class LexError(Exception):
    """A character the scanner does not accept (message as the real scanner words it)."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class Lexer:
    """Tokenizer for one grammar (its keywords and operators come from the grammar file)."""

    def __init__(self, grammar: Grammar):
        self.keywords = {}
        self.ops = {}
        for name, pat in grammar.patterns.items():
            if pat[0] in _IDENT_START:
                self.keywords[pat] = name
            else:
                self.ops[pat] = name
        self.ident = "T_IDENTIFIER"
        self.int = "T_INTCONSTANT"
        self.string = "T_STRINGCONSTANT"

    def tokens(self, text: str):
        """Yield :class:`Tok` objects, then an ``$end`` token; raise :class:`LexError` on a bad character."""
        pos, n = 0, len(text)
        line, line_start = 1, 0
        kw, ops = self.keywords, self.ops
        while pos < n:
            c = text[pos]
            if c == "\n":
                line += 1
                pos += 1
                line_start = pos
                continue
            if c in _SKIP:
                pos += 1
                continue
            col = pos - line_start + 1
            if c == "#" or (c == "/" and text.startswith("//", pos)):
                end = text.find("\n", pos)
                pos = n if end < 0 else end
                continue
            if c in _IDENT_START:
                j = pos + 1
                while j < n and text[j] in _IDENT_REST:
                    j += 1
                word = text[pos:j]
                yield Tok(kw.get(word, self.ident), word, line, col)
                pos = j
                continue
            if c in _DIGITS:
                j = pos + 1
                while j < n and text[j] in _DIGITS:
                    j += 1
                yield Tok(self.int, text[pos:j], line, col)
                pos = j
                continue
            if c == '"':
                j = pos + 1
                while j < n and text[j] not in '"\n':
                    j += 1
                if j < n and text[j] == '"':
                    yield Tok(self.string, text[pos + 1:j], line, col)
                    pos = j + 1
                    continue
                raise LexError("Unterminate string constant", line, col)
            two = text[pos:pos + 2]
            if two in _TWO and two in ops:
                yield Tok(ops[two], two, line, col)
                pos += 2
                continue
            if c in _ONE and c in ops:
                yield Tok(ops[c], c, line, col)
                pos += 1
                continue
            raise LexError(f"Unrecognized character: {c}", line, col)
        yield Tok(END, "", line, pos - line_start + 1)
