"""One prepared, self-checking GPU run of every system: ``make bench-gpu`` (``python -m benchmarks.gpu``).

Each system's section lives in ``benchmarks/gpu_sections/<system>.py`` and imports only the standard
library, numpy, torch (triton lazily) and ``systems.*`` — the GPU machine has no Ray, Prefect or MLflow.
Every section runs in its own subprocess with its own time budget (``BUDGET_S``, at most 90 s), so a
section that fails, hangs or runs out of memory is recorded and the run goes on. The whole run writes
``docs/results/gpu.md`` (device, driver, torch, date, command, every table) and ``docs/results/gpu.json``.

    python -m benchmarks.gpu                      # all sections on the GPU (cuda)
    python -m benchmarks.gpu --only hag           # one section (rerun what failed)
    python -m benchmarks.gpu --device cpu --tiny  # the same code paths at toy sizes on CPU (CI dry run)

A section module defines ``TITLE``, ``BUDGET_S`` and ``run(ctx)``; ``ctx`` is a :class:`Context`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ORDER = ("hag", "moe", "precision", "layerwise", "mapper")
"""Section order (others found in ``benchmarks/gpu_sections`` run after these)."""
MAX_SECTION_S = 90.0
"""No section may ask for more than this."""
TOTAL_BUDGET_S = 480.0
"""The whole run on one H100: eight minutes."""


class Context:
    """What a section gets: the device, the size mode, its budget, and where to put tables and checks."""

    def __init__(self, device: str, tiny: bool, budget_s: float):
        self.device = device
        """``cuda`` or ``cpu``."""
        self.tiny = tiny
        """Toy sizes (the CPU dry run): the section must finish in seconds."""
        self.budget_s = budget_s
        """This section's wall-clock budget in seconds."""
        self.t0 = time.perf_counter()
        self.tables: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.checks: list[dict[str, Any]] = []

    def time_left(self) -> float:
        """Seconds left of this section's budget (stop adding rows when low)."""
        return self.budget_s - (time.perf_counter() - self.t0)

    def table(self, title: str, columns: list[str], rows: list[list], note: str | None = None) -> None:
        """Add a table (cells: numbers or strings)."""
        bad = [r for r in rows if len(r) != len(columns)]
        if bad:
            raise ValueError(f"table {title!r}: {len(bad)} row(s) do not have {len(columns)} cells")
        self.tables.append({"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "note": note})

    def note(self, text: str) -> None:
        """A sentence for the doc."""
        self.notes.append(text)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        """A self-check (e.g. outputs equal to the plain kernel); a failed check is reported, not raised."""
        self.checks.append({"name": name, "ok": bool(ok), "detail": detail})

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak_mb(self) -> float | None:
        """Peak device memory since :meth:`reset_peak` in MB (None on CPU: use the section's own accounting)."""
        if self.device.startswith("cuda"):
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "notes": self.notes, "checks": self.checks}


def sections() -> list[str]:
    """Section names, in :data:`ORDER` first."""
    import benchmarks.gpu_sections as pkg

    found = [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    return [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)


def device_info(device: str) -> dict[str, Any]:
    """Device name, driver, CUDA and torch versions, Python, host."""
    import torch

    info = {"device": device, "torch": torch.__version__, "python": platform.python_version(),
            "host_cpu": platform.processor() or platform.machine(), "cpus": os.cpu_count()}
    if device.startswith("cuda") and torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update({"name": torch.cuda.get_device_name(0), "memory_gb": round(p.total_memory / 2**30, 1),
                     "cuda": torch.version.cuda, "capability": f"{p.major}.{p.minor}"})
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
            info["driver"] = out.splitlines()[0] if out else "?"
        except (OSError, subprocess.SubprocessError):
            info["driver"] = "?"
        try:
            import triton

            info["triton"] = triton.__version__
        except ImportError:
            info["triton"] = None
    else:
        from systems.core.env import cpu_model

        info["name"] = cpu_model()
    return info


def run_section(name: str, device: str, tiny: bool) -> dict[str, Any]:
    """Run one section in this process (the child side of :func:`run_isolated`)."""
    mod = importlib.import_module(f"benchmarks.gpu_sections.{name}")
    budget = min(float(getattr(mod, "BUDGET_S", MAX_SECTION_S)), MAX_SECTION_S)
    ctx = Context(device, tiny, budget)
    t0, c0 = time.perf_counter(), time.process_time()
    status, error = "ok", None
    try:
        mod.run(ctx)
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        status, error = "failed", "".join(traceback.format_exception(exc))[-4000:]
    return {"name": name, "title": getattr(mod, "TITLE", name), "budget_s": budget, "status": status,
            "error": error, "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, **ctx.to_dict()}


def run_isolated(name: str, device: str, tiny: bool, timeout_s: float) -> dict[str, Any]:
    """Run one section in a subprocess with a hard timeout; whatever happens, return a record."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "benchmarks.gpu", "--child", name, "--device", device] + (["--tiny"] if tiny else [])
    try:
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {"name": name, "title": name, "status": "timeout", "wall_s": time.perf_counter() - t0,
                "error": f"killed after {timeout_s:.0f} s (budget + grace)\n{tail}", "tables": [], "notes": [],
                "checks": []}
    marker = "SYSLAB_GPU_SECTION_JSON="
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith(marker)), None)
    if line is None:
        return {"name": name, "title": name, "status": "crashed", "wall_s": time.perf_counter() - t0,
                "error": f"exit code {p.returncode}\n{p.stderr[-3000:]}", "tables": [], "notes": [], "checks": []}
    rec = json.loads(line[len(marker):])
    rec["log"] = p.stderr[-2000:]
    return rec


# --- the document ------------------------------------------------------------------------------------
def render(run: dict[str, Any]) -> str:
    from benchmarks.common import md_table

    info = run["device"]
    lines = ["# GPU results", ""]
    if run["device"]["device"] != "cuda":
        lines += ["**This is a dry run on the CPU (`--device cpu`" + (" --tiny" if run["tiny"] else "") + "): "
                  "no figure on this page is a GPU measurement.**", ""]
    lines += [f"Produced by `{run['command']}` on {run['date']} in {run['wall_s']:.0f} s "
              f"(budget {TOTAL_BUDGET_S:.0f} s).", "",
              md_table(["device", "driver", "CUDA", "torch", "triton", "Python", "host CPUs"],
                       [[info.get("name", "?"), info.get("driver", "-"), info.get("cuda") or "-", info["torch"],
                         info.get("triton") or "-", info["python"], info.get("cpus")]]),
              "How to run it on a lent GPU machine (Python 3.12, torch + CUDA, no Ray/Prefect/MLflow, no network):",
              "", "```bash", "python -m benchmarks.gpu                 # every section, <= 8 minutes on one H100",
              "python -m benchmarks.gpu --only hag      # rerun one section", "```", "",
              "Each section runs in its own process with its own budget; a failed section is recorded below "
              "and the others still run.", "",
              md_table(["section", "status", "wall s", "budget s", "checks passed"],
                       [[s["name"], s["status"], round(s.get("wall_s", 0.0), 1), s.get("budget_s", "-"),
                         f"{sum(c['ok'] for c in s['checks'])}/{len(s['checks'])}"] for s in run["sections"]])]
    for s in run["sections"]:
        lines += [f"## {s.get('title') or s['name']}", ""]
        if s["status"] != "ok":
            err = (s.get("error") or "").strip().splitlines()
            lines += [f"**{s['status']}**: `{err[-1] if err else '?'}`", ""]
        for t in s["tables"]:
            lines += [f"### {t['title']}", "", md_table(t["columns"], t["rows"])]
            if t.get("note"):
                lines += [t["note"], ""]
        for n in s["notes"]:
            lines += [n, ""]
        if s["checks"]:
            lines += ["Self-checks: " + "; ".join(f"{c['name']}: {'ok' if c['ok'] else 'FAILED'}"
                                                 + (f" ({c['detail']})" if c.get("detail") else "")
                                                 for c in s["checks"]) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    ap.add_argument("--tiny", action="store_true", help="toy sizes (CPU dry run in seconds)")
    ap.add_argument("--only", action="append", default=None, help="run only this section (repeatable)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "results",
                    help="where gpu.md and gpu.json go (default: docs/results)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    import torch

    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but torch sees no GPU (use --device cpu --tiny for the dry run)", file=sys.stderr)
        return 2
    if a.child:
        rec = run_section(a.child, device, a.tiny)
        print("SYSLAB_GPU_SECTION_JSON=" + json.dumps(rec, default=str))
        return 0
    names = sections()
    if a.only:
        bad = [n for n in a.only if n not in names]
        if bad:
            print(f"error: unknown section(s) {', '.join(bad)}; valid: {', '.join(names)}", file=sys.stderr)
            return 2
        names = [n for n in names if n in a.only]
    t0 = time.perf_counter()
    recs = []
    for n in names:
        budget = min(float(getattr(importlib.import_module(f"benchmarks.gpu_sections.{n}"), "BUDGET_S",
                                   MAX_SECTION_S)), MAX_SECTION_S)
        print(f"[gpu] {n} (budget {budget:.0f}s) ...", file=sys.stderr, flush=True)
        rec = run_isolated(n, device, a.tiny, timeout_s=budget + 60.0)  # + start-up (imports) and grace
        print(f"[gpu] {n}: {rec['status']} in {rec.get('wall_s', 0.0):.1f}s", file=sys.stderr, flush=True)
        recs.append(rec)
    run = {"device": device_info(device), "tiny": a.tiny, "date": dt.datetime.now(dt.timezone.utc)
           .strftime("%Y-%m-%d %H:%M UTC"), "wall_s": time.perf_counter() - t0, "sections": recs,
           "command": "python -m benchmarks.gpu " + " ".join((argv if argv is not None else sys.argv[1:]))}
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "gpu.json").write_text(json.dumps(run, indent=1, default=str))
    (a.out / "gpu.md").write_text(render(run))
    print(f"wrote {a.out / 'gpu.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
