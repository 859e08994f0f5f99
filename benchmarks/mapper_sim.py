"""Simulator speed and expert-mapper table of the mapper system -> docs/results/mapper-sim.md.

Run: ``.venv/bin/python -m benchmarks.mapper_sim [--quick]``. Measures evaluations per second per
CPU core (compile + simulate one mapper, single process) for every benchmark at its default size,
and tabulates the expert mappers' simulated times beside the lower bound.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "results" / "mapper-sim.md"


def measure_eval_rate(apps: list[str] | None = None, min_evals: int = 10, min_s: float = 1.0,
                      machine: str | None = None) -> list[dict]:
    """Evaluations per second (one core) of the expert mapper on each benchmark at default size.

    Each evaluation compiles the mapper text and simulates the app (the app graph and lower bound are
    built once and cached, as an optimizer loop sees them). Returns one dict per app with ``app``,
    ``evals``, ``seconds``, ``evals_per_s``, ``ms_per_eval``, ``task_instances``.
    """
    from systems.mapper.apps import get_app
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper
    from systems.mapper.workloads import ALL_APPS

    rows = []
    for app in apps or list(ALL_APPS):
        text = expert_mapper(app)
        out = evaluate_mapper(text, app, machine)  # warm-up: builds and caches the app graph and bound
        n, t0 = 0, time.process_time()
        while n < min_evals or time.process_time() - t0 < min_s:
            evaluate_mapper(text, app, machine)
            n += 1
        dt = time.process_time() - t0
        rows.append({"app": app, "evals": n, "seconds": round(dt, 3), "evals_per_s": round(n / dt, 1),
                     "ms_per_eval": round(1000 * dt / n, 2), "task_instances": len(get_app(app, machine).instances),
                     "status": out.status})
    return rows


def _expert_table(machine: str | None = None) -> list[dict]:
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper
    from systems.mapper.workloads import ALL_APPS

    rows = []
    for app in ALL_APPS:
        o = evaluate_mapper(expert_mapper(app), app, machine)
        rows.append({"app": app, "status": o.status, "time_s": o.time_s, "lower_bound_s": o.lower_bound_s,
                     "bound_ratio": o.bound_ratio, "busy": o.profile.get("busy_fraction", {}),
                     "copy_gb": sum(o.profile.get("copy_bytes", {}).values()) / 1e9 if o.ok else None,
                     "message": o.message})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions per benchmark")
    ap.add_argument("--out", type=Path, default=OUT, help="where to write the markdown")
    args = ap.parse_args(argv)
    from systems.core import hardware_description
    from systems.mapper.machine import default_machine

    cmd = "python -m benchmarks.mapper_sim" + (" --quick" if args.quick else "")
    rate = measure_eval_rate(min_evals=3 if args.quick else 10, min_s=0.3 if args.quick else 2.0)
    experts = _expert_table()
    lines = [f"# Mapper simulator: evaluation rate and expert mappers", "",
             f"Command: `{cmd}`  ", f"Date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}  ",
             f"Hardware (for the evaluation rate): {hardware_description()}  ",
             f"Simulated machine: {default_machine().describe()}", "",
             "All times of mappers are **simulated** makespans of the model in docs/mapper-model.md, not measurements. "
             "Evaluation rates are measured CPU time of one process (one core) on the hardware above, on a machine "
             "shared with other jobs (contended), so they are conservative.", "",
             "## Evaluation rate (compile + simulate, expert mapper, default size)", "",
             "| benchmark | task instances | evals | CPU s | evals/s per core | ms/eval |", "|---|---:|---:|---:|---:|---:|"]
    for r in rate:
        lines.append(f"| {r['app']} | {r['task_instances']} | {r['evals']} | {r['seconds']} | {r['evals_per_s']} | {r['ms_per_eval']} |")
    worst = min(r["evals_per_s"] for r in rate)
    lines += ["", f"Slowest benchmark: {worst} evaluations/s per core (target >= 20).", "",
              "## Expert mappers on the default machine (simulated)", "",
              "| benchmark | status | time (ms) | lower bound (ms) | time / bound | GPU busy | copies (GB) |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in experts:
        if r["status"] == "ok":
            lines.append(f"| {r['app']} | ok | {r['time_s'] * 1e3:.3f} | {r['lower_bound_s'] * 1e3:.3f} | "
                         f"{r['bound_ratio']:.2f} | {r['busy'].get('GPU', 0):.2f} | {r['copy_gb']:.3f} |")
        else:
            lines.append(f"| {r['app']} | {r['status']} | - | {r['lower_bound_s'] * 1e3:.3f} | - | - | - |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
