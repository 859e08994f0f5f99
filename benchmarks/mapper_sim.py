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


def _drop(text: str, word: str) -> str:
    return "\n".join(line for line in text.splitlines() if word not in line) + "\n"


BLOCK_1D = ("def blk(Task task) {\n    g = task.ipoint[0] * mb.size[0] * mb.size[1] / task.ispace[0];\n"
            "    return mb[g / mb.size[1], g % mb.size[1]];\n}\n")
SPREAD_3D = ("    return m_4d[*upper, (task.ipoint[1] * task.ispace[2] + task.ipoint[2]) % m_4d.size[3]];")
SPREAD_2D_TILES = "    return m_3d[*upper, task.ipoint[1] % m_3d.size[2]];"


def alternatives(app: str, expert: str) -> dict[str, str]:
    """Named single edits of the expert mapper that probe the model's trade-offs (no search)."""
    alts: dict[str, str] = {}
    if "InstanceLimit" in expert:
        alts["no InstanceLimit"] = _drop(expert, "InstanceLimit")
        alts["InstanceLimit 2"] = expert.replace("GPU 1;", "GPU 2;")
    if "CollectMemory" in expert:
        alts["no CollectMemory"] = _drop(expert, "CollectMemory")
    if "ZCMEM;" in expert and app in ("circuit",):
        alts["shared/ghost in FBMEM"] = _drop(expert, "ZCMEM;")
    if app == "pennant":
        alts["shared/ghost in ZCMEM"] = expert.replace("Region * * CPU SYSMEM;", "Region * * CPU SYSMEM;\n"
                                                       "Region * rp_shared GPU ZCMEM;\nRegion * rp_ghost GPU ZCMEM;")
    if app in ("circuit", "pennant"):
        fname = "cyclic1d" if app == "circuit" else "cyclic"
        alts["1-D block over GPUs"] = (expert.replace(f"IndexTaskMap", f"mb = Machine(GPU);\n{BLOCK_1D}IndexTaskMap", 1)
                                       .replace(f" {fname};", " blk;"))
    alts["AOS layout"] = expert.replace("SOA", "AOS")
    alts["F_order layout"] = expert.replace("C_order", "F_order")
    if app == "cannon":
        alts["task_5 mapped with auto2d"] = expert.replace("task_3,taco_fill", "task_3,task_5,taco_fill")
    if app in ("johnson", "cosma"):
        alts["3-D points over all GPUs"] = expert.replace("    return m_4d[*upper, 0];", SPREAD_3D).replace(
            "    return m_3d[*upper, 0];", SPREAD_2D_TILES)
    if app in ("circuit", "stencil", "pennant"):
        alts["everything on CPUs"] = expert.replace("Machine(GPU)", "Machine(CPU)").replace("Task * GPU,CPU;", "Task * CPU;")
    else:
        alts["everything on OpenMP"] = expert.replace("Machine(GPU)", "Machine(OMP)").replace(
            "Task * GPU,OMP,CPU;", "Task * OMP,CPU;")
    return alts


def probe_alternatives(apps: list[str] | None = None, machine: str | None = None) -> list[dict]:
    """Evaluate each expert and its named alternatives; speedup > 1 means the alternative is faster (simulated)."""
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper
    from systems.mapper.workloads import ALL_APPS

    rows = []
    for app in apps or list(ALL_APPS):
        text = expert_mapper(app)
        base = evaluate_mapper(text, app, machine)
        for name, alt in alternatives(app, text).items():
            if alt == text:
                continue
            o = evaluate_mapper(alt, app, machine)
            rows.append({"app": app, "alternative": name, "status": o.status, "error_kind": o.error_kind,
                         "time_s": o.time_s, "expert_s": base.time_s,
                         "speedup": (base.time_s / o.time_s) if o.ok else None, "lower_bound_s": o.lower_bound_s})
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
    probe = probe_alternatives()
    lines += ["", "## What moves the simulated time: single edits of each expert (no search)", "",
              "Speedup = expert time / alternative time (> 1: the edit is faster). Failures show the error class the "
              "simulator reports. These are probes of the model's trade-offs, not optimizer results.", "",
              "| benchmark | edit of the expert | outcome | speedup | time / lower bound |", "|---|---|---|---:|---:|"]
    best: dict[str, float] = {}
    for r in probe:
        if r["status"] == "ok":
            best[r["app"]] = max(best.get(r["app"], 1.0), r["speedup"])
            lines.append(f"| {r['app']} | {r['alternative']} | ok | {r['speedup']:.3f} | "
                         f"{r['time_s'] / r['lower_bound_s']:.2f} |")
        else:
            lines.append(f"| {r['app']} | {r['alternative']} | {r['status']} ({r['error_kind']}) | - | - |")
    lines += ["", "Best single edit per benchmark (headroom the probes expose; an optimizer may find more):", "",
              "| benchmark | best single-edit speedup over expert |", "|---|---:|"]
    for app in [r["app"] for r in experts]:
        lines.append(f"| {app} | {best.get(app, 1.0):.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
