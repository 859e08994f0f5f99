"""Located errors of the mapping DSL, in the real DSL compiler's error classes."""

from __future__ import annotations

COMPILE_KINDS = ("syntax", "undefined_name", "arg_count", "redefined_name", "index_out_of_bounds",
                 "not_a_processor", "not_a_memory", "no_variant", "type_mismatch", "dimension_mismatch",
                 "division_by_zero", "no_return")
"""Error classes of mapper source errors (see docs/mapper-model.md, section 1)."""


class MapperError(Exception):
    """An error located in the mapper source (``line``/``column`` are 1-based, None when unlocated)."""

    def __init__(self, kind: str, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.kind = kind
        """Error class, e.g. ``syntax``, ``undefined_name``, ``index_out_of_bounds``."""
        self.message = message
        """Human-readable text (without the location prefix)."""
        self.line = line
        """1-based source line, or None."""
        self.column = column
        """1-based source column, or None."""

    def __str__(self) -> str:
        if self.message.startswith("Error at line"):  # the real compiler's text already says where
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "") if self.line else ""
        return f"{where}: {self.message}" if where else self.message


class MapperCompileError(MapperError):
    """Raised by :func:`compile_mapper` (and when binding a mapper to an app/machine)."""


class MappingError(MapperError):
    """Raised while the simulator runs a mapper's functions (a bad point, a kind without a variant)."""
