"""Evaluate mapper text on a benchmark: compile -> bind -> simulate -> :class:`Outcome`.

Jobs are run by :mod:`systems.mapper.runner` (expert baseline in :mod:`systems.mapper.baselines`, optimizers
in :mod:`systems.mapper.search`); this module imports neither, so nothing imports upward.

:func:`evaluate_mapper` never raises for a bad mapper: every failure becomes an Outcome with a
status (``compile_error``, ``mapping_error``, ``runtime_error``), the error class and its source line.
The same text on the same app, sizes and machine always gives exactly the same ``time_s``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from systems.mapper.apps import app_machine, get_app
from systems.mapper.dsl import MapperCompileError, MapperError, MappingError, compile_mapper
from systems.mapper.machine import Machine
from systems.mapper.sim import SimRuntimeError, lower_bound, simulate

STATUSES = ("ok", "compile_error", "mapping_error", "runtime_error")
"""Outcome statuses."""


@dataclass
class Outcome:
    """What evaluating one mapper on one benchmark gives (the raw material for feedback)."""

    status: str
    """``ok``, ``compile_error``, ``mapping_error`` or ``runtime_error``."""
    message: str = ""
    """The system's own message (with ``line N:`` when located); empty when ok."""
    line: int | None = None
    """1-based line of the offending statement or expression, None when not a source error."""
    column: int | None = None
    """1-based column, when known."""
    error_kind: str | None = None
    """Error class: syntax, undefined_name, arg_count, index_out_of_bounds, not_a_processor, no_variant,
    stride, oom, bad_processor, bad_memory, dimension_mismatch, type_mismatch, ..."""
    time_s: float | None = None
    """Simulated makespan of the timed phase in seconds (None on failure)."""
    lower_bound_s: float | None = None
    """Physical lower bound of the benchmark under the model (whatever the mapping)."""
    app: str = ""
    """Benchmark name."""
    machine: str = ""
    """Machine name."""
    profile: dict = field(default_factory=dict)
    """On success: per-task time, per-channel copy bytes, peak bytes per memory, busy fraction per kind,
    top copy-heavy regions, and the parts of the lower bound (critical path, work bound)."""
    eval_s: float = 0.0
    """Wall time of this evaluation (real seconds)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def bound_ratio(self) -> float | None:
        if self.time_s is None or not self.lower_bound_s:
            return None
        return self.time_s / self.lower_bound_s

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["bound_ratio"] = self.bound_ratio
        return d


def evaluate_mapper(text: str, app: str, machine: Machine | str | None = None, dialect: str = "real",
                    **size) -> Outcome:
    """Compile ``text`` (``dialect``: real, the default, or extended), simulate benchmark ``app`` (sizes
    ``**size``) on ``machine`` (default: the benchmark's own); never raises for bad mappers."""
    t0 = time.perf_counter()
    m = app_machine(app, machine)
    the_app = get_app(app, m, **size)
    bound = lower_bound(the_app, m)
    lb = bound["lower_bound_s"]
    base = dict(app=app, machine=m.name, lower_bound_s=lb)
    try:
        mapper = compile_mapper(text, dialect)
        result = simulate(the_app, mapper, m)
    except MapperCompileError as exc:
        return Outcome("compile_error", str(exc), exc.line, exc.column, exc.kind, eval_s=time.perf_counter() - t0, **base)
    except MappingError as exc:
        return Outcome("mapping_error", str(exc), exc.line, exc.column, exc.kind, eval_s=time.perf_counter() - t0, **base)
    except SimRuntimeError as exc:
        return Outcome("runtime_error", str(exc), exc.line, exc.column, exc.kind, eval_s=time.perf_counter() - t0, **base)
    except MapperError as exc:  # any other located mapper error
        return Outcome("mapping_error", str(exc), exc.line, exc.column, exc.kind, eval_s=time.perf_counter() - t0, **base)
    except RecursionError:
        return Outcome("mapping_error", "mapping function recursion too deep", None, None, "recursion",
                       eval_s=time.perf_counter() - t0, **base)
    profile = dict(result.profile)
    profile["lower_bound"] = dict(bound)
    return Outcome("ok", "", None, None, None, time_s=result.time_s, profile=profile,
                   eval_s=time.perf_counter() - t0, **base)


def outcome_metrics(out: Outcome) -> dict[str, float]:
    """Numeric metrics of a successful outcome for a JobResult."""
    metrics = {"time_s": float(out.time_s), "lower_bound_s": float(out.lower_bound_s or 0.0),
               "bound_ratio": float(out.bound_ratio or 0.0)}
    for k, v in out.profile.get("busy_fraction", {}).items():
        metrics[f"busy_{k.lower()}"] = float(v)
    metrics["copy_gb"] = sum(out.profile.get("copy_bytes", {}).values()) / 1e9
    return metrics


def to_json(obj) -> str:
    """Indented, sorted JSON of a profile (artifacts)."""
    import json

    return json.dumps(obj, indent=1, sort_keys=True, default=str)
