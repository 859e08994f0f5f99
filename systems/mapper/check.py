"""Check a mapper without running a benchmark: grammar, static checks, and loading it on a machine.

:func:`check_mapper` parses ``text`` in a dialect (real by default), runs the compiler's static
checks and executes the top-level statements on a machine (the real mapper does this when it
starts: assignments, ``Machine(...)`` and its transformations, map-statement lookups). With a
benchmark it also evaluates the mapper, so mapping errors (a function returning a point outside the
machine, a kind without a variant, ...) are found too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from systems.mapper.dsl import MapperCompileError, compile_mapper
from systems.mapper.machine import Machine, MachineLayout, get_machine


@dataclass
class CheckResult:
    """What ``syslab mapper check`` reports."""

    status: str
    """``ok`` or ``compile_error`` (with a benchmark also ``mapping_error`` / ``runtime_error``)."""
    error_class: str | None = None
    """``syntax``, ``undefined_name``, ``arg_count``, ``redefined_name``, ``index_out_of_bounds``,
    ``not_a_processor``, ``not_a_memory``, ``no_variant``, ``type_mismatch``, ... (None when ok)."""
    line: int | None = None
    column: int | None = None
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    """Problems that are not errors in the real system (unused functions, unknown names)."""
    dialect: str = "real"
    machine: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


def check_mapper(text: str, dialect: str = "real", app: str | None = None,
                 machine: Machine | str | None = None) -> CheckResult:
    """Check ``text``; never raises for a bad mapper (bad ``dialect``/``app``/``machine`` names raise ValueError)."""
    if app is not None:
        from systems.mapper.apps import app_machine
        from systems.mapper.evaluate import evaluate_mapper

        m = app_machine(app, machine)
        out = evaluate_mapper(text, app, m, dialect=dialect)
        warnings = list(out.profile.get("warnings", [])) if out.ok else []
        if out.ok or out.status == "compile_error":
            try:
                warnings = compile_mapper(text, dialect).warnings + warnings
            except MapperCompileError:
                pass
        return CheckResult(out.status, out.error_kind, out.line, out.column, out.message if not out.ok else "",
                           warnings, dialect, m.name)
    m = get_machine(machine)
    try:
        mapper = compile_mapper(text, dialect)
        mapper.bind(MachineLayout(m))
    except MapperCompileError as exc:
        return CheckResult("compile_error", exc.kind, exc.line, exc.column, str(exc), [], dialect, m.name)
    return CheckResult("ok", None, None, None, "", list(mapper.warnings), dialect, m.name)


__all__ = ["CheckResult", "check_mapper"]
