"""What every benchmark shares: jobs on the job path, results stored as JSON, one markdown formatter.

A benchmark (``python -m benchmarks.<name> [--quick] [--report-only]``) builds its jobs with
``spec.jobs`` / ``spec.job`` (the same named configs the flows use), runs them with
:func:`systems.core.execute.execute` (the function a Ray task runs) through :func:`run_jobs`, saves the
raw results with :func:`save` and renders ``docs/results/<name>.md`` from the stored JSON only, so
``--report-only`` rebuilds the page without re-running anything. Tables go through :func:`md_table`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has (``--quick``, ``--report-only``)."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}", description=description)
    p.add_argument("--quick", action="store_true",
                   help="a small, minutes-long version of the benchmark (make test-slow runs it)")
    p.add_argument("--report-only", action="store_true",
                   help="re-render the markdown from the stored JSON without running anything")
    p.add_argument("--out", type=Path, default=None,
                   help=f"results directory (default: docs/results; the doc is <out>/{name}.md)")
    return p


def command_line(name: str, argv: Sequence[str] | None = None) -> str:
    """The command that produced a result, as a user would type it (``make bench name=<name> args=...``)."""
    args = " ".join(map(shlex.quote, sys.argv[1:] if argv is None else argv))
    return f"make bench name={name}" + (f" args='{args}'" if args else "")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> dict[str, Any]:
    """Where a figure was measured: hardware, CPU count and the 1-minute load average."""
    from systems.core import hardware_description

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"hardware": hardware_description(), "cpus": os.cpu_count(), "loadavg_1m": load, "date": now()}


def run_jobs(jobs: Iterable, *, log=print) -> list:
    """Run ``jobs`` one by one through ``execute`` (no Ray/Prefect), printing one line per job with wall and CPU."""
    from systems.core.execute import execute

    jobs = list(jobs)
    out = []
    for i, job in enumerate(jobs, 1):
        t0, c0 = time.perf_counter(), time.process_time()
        r = execute(job)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        what = "ok" if r.ok else "FAILED: " + ((r.error or "").strip().splitlines() or [""])[-1][:160]
        log(f"[{i}/{len(jobs)}] {job.key}  {what}  ({wall:.1f}s wall, {cpu:.1f}s CPU)", flush=True)
        out.append(r)
    return out


def results_dir(out: Path | None) -> Path:
    d = Path(out) if out else RESULTS
    d.mkdir(parents=True, exist_ok=True)
    return d


def save(path: Path, obj: Any) -> Path:
    """Write ``obj`` as JSON (JobResults via ``to_dict``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, default=_plain))
    return path


def load(path: Path) -> Any:
    """The JSON at ``path``; a clear error when a benchmark was never run."""
    if not Path(path).exists():
        raise SystemExit(f"error: {path} does not exist: run the benchmark without --report-only first")
    return json.loads(Path(path).read_text())


def _plain(o: Any) -> Any:
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def fmt(v: Any, digits: int = 3) -> str:
    """A number for a table: ``-`` for missing, engineering notation for very large/small values."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.{digits}e}"
        return f"{v:.{digits}g}"
    return str(v)


def md_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 3) -> str:
    """A markdown table; cells formatted by :func:`fmt` (strings are kept as they are)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [c if isinstance(c, str) else fmt(c, digits) for c in row]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def header(title: str, command: str, info: dict[str, Any], simulated: bool = False, extra: str = "") -> str:
    """The top of a results doc: what, how it was produced, where, and whether figures are simulated."""
    load = info.get("loadavg_1m")
    load_s = f", 1-minute load average {load:.1f} at the start" if isinstance(load, (int, float)) else ""
    kind = ("**Simulated figures** (a model, not a measurement)" if simulated
            else f"Measured on {info.get('hardware', '?')}{load_s}")
    return (f"# {title}\n\nProduced by `{command}` on {info.get('date', '?')}. {kind}."
            + (f" {extra}" if extra else "") + "\n\n")
