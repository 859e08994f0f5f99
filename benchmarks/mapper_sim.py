"""Mapper simulator: evaluation rate, its growth with nodes, weak scaling, expert mappers, single edits.

``make bench name=mapper_sim [args=--quick]`` (``python -m benchmarks.mapper_sim``) writes
``docs/results/mapper-sim.md`` and ``docs/results/mapper/sim.json``. Expert rows come from expert jobs run
through ``execute`` (the job path); the evaluation rate times ``evaluate_mapper`` itself (compile + load
+ simulate one mapper, one process), in process CPU time beside wall time, repeated (the spread is shown).
All mapper times are **simulated**.
"""

from __future__ import annotations

import statistics
import sys
import time

from benchmarks import common

NAME = "mapper_sim"
NODES = (2, 4, 8, 16)
"""Node counts of the scaling table (ranks of 4 GPUs; Johnson/COSMA: 4 single-GPU ranks per node)."""


def shape(app: str, nodes: int) -> str:
    """The machine name for ``nodes`` physical nodes in the benchmark's own rank layout."""
    return f"{4 * nodes}n1g4r" if app in ("johnson", "cosma") else f"{nodes}n4g"


def measure_eval_rate(apps: list[str], machine_of=None, repeats: int = 3, min_s: float = 1.0) -> list[dict]:
    """Evaluations per second of the expert mapper: ``repeats`` timed batches, CPU and wall seconds each."""
    from systems.mapper.apps import get_app
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper

    rows = []
    for app in apps:
        mach = machine_of(app) if machine_of else None
        text = expert_mapper(app)
        out = evaluate_mapper(text, app, mach)  # warm-up: builds and caches the app graph and bound
        batches = []
        for _ in range(repeats):
            n, c0, t0 = 0, time.process_time(), time.perf_counter()
            while n < 3 or time.process_time() - c0 < min_s:
                evaluate_mapper(text, app, mach)
                n += 1
            batches.append((n, time.process_time() - c0, time.perf_counter() - t0))
        cpu_rates = [n / c for n, c, _ in batches]
        wall_rates = [n / w for n, _, w in batches]
        rows.append({"app": app, "machine": out.machine, "status": out.status,
                     "task_instances": len(get_app(app, mach).instances),
                     "evals_per_cpu_s": statistics.median(cpu_rates), "evals_per_cpu_s_min": min(cpu_rates),
                     "evals_per_cpu_s_max": max(cpu_rates), "evals_per_wall_s": statistics.median(wall_rates),
                     "time_s": out.time_s})
    return rows


def expert_rows(apps: list[str]) -> list[dict]:
    """Expert jobs through ``execute``: simulated time, bound, GPU busy, copies."""
    from systems.core.registry import get_system

    spec = get_system("mapper")
    res = common.run_jobs([spec.job(a, "expert", suite="default") for a in apps])
    return [r.to_dict() for r in res]


def _drop(text: str, word: str) -> str:
    return "\n".join(line for line in text.splitlines() if word not in line) + "\n"


def alternatives(app: str, expert: str) -> dict[str, str]:
    """Named single edits of the expert mapper that probe the model's trade-offs (no search)."""
    alts: dict[str, str] = {}
    if "InstanceLimit" in expert:
        alts["no InstanceLimit"] = _drop(expert, "InstanceLimit")
        alts["InstanceLimit 2"] = expert.replace(" 1;\nInstanceLimit", " 2;\nInstanceLimit").replace(
            "InstanceLimit task_4 1;", "InstanceLimit task_4 2;")
    if "CollectMemory" in expert:
        alts["no CollectMemory"] = _drop(expert, "CollectMemory")
    if "ZCMEM;" in expert and app in ("circuit", "pennant"):
        alts["shared/ghost in FBMEM"] = "\n".join(line for line in expert.splitlines()
                                                  if not line.endswith("GPU ZCMEM;")) + "\n"
    if app == "pennant":
        alts["strips blocked over GPUs"] = expert.replace("gpus[p % gpus.size[0], p / gpus.size[0]]",
                                                          "gpus[p / gpus.size[1], p % gpus.size[1]]")
    if app == "circuit":
        alts["superpieces cyclic over nodes"] = expert.replace("gpus[p / gpus.size[1], p % gpus.size[1]]",
                                                               "gpus[p % gpus.size[0], p / gpus.size[0]]")
    alts["AOS layout"] = expert.replace("SOA", "AOS")
    alts["C_order layout" if "F_order" in expert else "F_order layout"] = (
        expert.replace("F_order", "C_order") if "F_order" in expert else expert.replace("C_order", "F_order"))
    if app in ("circuit", "stencil", "pennant"):
        alts["everything on CPUs"] = "Task * CPU;\nRegion * * CPU SYSMEM;\n"
    return alts


def probe_alternatives(apps: list[str]) -> list[dict]:
    """Evaluate each expert and its named single edits; speedup > 1: the edit is faster (simulated)."""
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper

    rows = []
    for app in apps:
        text = expert_mapper(app)
        base = evaluate_mapper(text, app)
        for name, alt in alternatives(app, text).items():
            if alt == text:
                continue
            o = evaluate_mapper(alt, app)
            rows.append({"app": app, "alternative": name, "status": o.status, "error_kind": o.error_kind,
                         "time_s": o.time_s, "expert_s": base.time_s,
                         "speedup": (base.time_s / o.time_s) if o.ok else None, "lower_bound_s": o.lower_bound_s})
    return rows


def scaling(apps: list[str], nodes=NODES, min_s: float = 0.5) -> list[dict]:
    """Per benchmark and node count: the expert's simulated time, task instances and evaluation rate."""
    from systems.mapper.apps import get_app
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper

    rows = []
    for app in apps:
        text = expert_mapper(app)
        for n in nodes:
            mach = shape(app, n)
            out = evaluate_mapper(text, app, mach)
            k, c0 = 0, time.process_time()
            while k < 2 or time.process_time() - c0 < min_s:
                evaluate_mapper(text, app, mach)
                k += 1
            cpu = (time.process_time() - c0) / k
            rows.append({"app": app, "nodes": n, "machine": mach, "status": out.status, "error_kind": out.error_kind,
                         "time_s": out.time_s, "task_instances": len(get_app(app, mach).instances),
                         "ms_per_eval_cpu": 1000 * cpu, "gpu_busy": out.profile.get("busy_fraction", {}).get("GPU")})
    return rows


def collect(quick: bool) -> dict:
    from systems.mapper.workloads import ALL_APPS

    apps = list(ALL_APPS)
    return {"info": common.machine(), "quick": quick,
            "rates": measure_eval_rate(apps, repeats=2 if quick else 3, min_s=0.3 if quick else 1.0),
            "scaling": scaling(apps if not quick else ["circuit", "stencil", "pennant"], min_s=0.1 if quick else 0.5),
            "experts": expert_rows(apps), "probes": probe_alternatives(apps)}


def render(data: dict, command: str) -> str:
    f = common.fmt
    info = data["info"]
    out = [common.header("Mapper simulator: evaluation rate, scaling and the expert mappers", command, info,
                         simulated=True, extra=f"Evaluation rates are **measured** CPU time of one process on "
                         f"{info['hardware']} ({info['cpus']} CPUs, shared with other jobs; wall time beside it).")]
    out.append("## Evaluation rate (compile + load + simulate the expert mapper, default size, own machine)\n\n")
    out.append(common.md_table(
        ["benchmark", "machine", "task instances", "evals / CPU s (median)", "min-max over batches", "evals / wall s"],
        [[r["app"], r["machine"], r["task_instances"], r["evals_per_cpu_s"],
          f"{r['evals_per_cpu_s_min']:.0f}-{r['evals_per_cpu_s_max']:.0f}", r["evals_per_wall_s"]]
         for r in data["rates"]], digits=3))
    worst = min(data["rates"], key=lambda r: r["evals_per_cpu_s"])
    out.append(f"\nSlowest: {worst['app']}, {worst['evals_per_cpu_s']:.0f} evaluations per CPU-second (target >= 50).\n")
    out.append("\n## Growth with the machine (expert mapper, weak-scaled sizes)\n")
    out.append("Node counts are physical nodes of 4 GPUs (2n4g ... 16n4g; Johnson/COSMA: 8n1g4r ... 64n1g4r). "
               "Weak scaling: circuit, stencil and pennant keep the work per GPU fixed, so their time should stay "
               "flat; DISTAL's n = 20000 sqrt(nodes) grows the work per GPU as sqrt(nodes).\n\n")
    rows = []
    for r in data["scaling"]:
        rows.append([r["app"], r["nodes"], r["machine"], r["task_instances"],
                     f(r["time_s"] * 1e3) if r["time_s"] else f"{r['status']} ({r['error_kind']})",
                     f(r["gpu_busy"]) if r["gpu_busy"] is not None else "-", r["ms_per_eval_cpu"]])
    out.append(common.md_table(["benchmark", "nodes", "machine", "task instances", "simulated time (ms)", "GPU busy",
                                "CPU ms / eval"], rows))
    out.append("\n## Expert mappers (simulated; expert jobs through `execute`)\n\n")
    rows = []
    for r in data["experts"]:
        m = r["metrics"]
        rows.append([r["workload"], r["params"].get("machine", "-"), f(m.get("time_s", float("nan")) * 1e3),
                     f(m.get("lower_bound_s", float("nan")) * 1e3), m.get("bound_ratio"), m.get("busy_gpu"),
                     m.get("copy_gb")])
    out.append(common.md_table(["benchmark", "machine", "time (ms)", "lower bound (ms)", "time / bound", "GPU busy",
                                "copies (GB)"], rows))
    out.append("\n## Single edits of each expert (probes of the model, no search)\n")
    out.append("Speedup = expert time / edited time (> 1: the edit is faster).\n\n")
    rows = [[r["app"], r["alternative"], "ok" if r["status"] == "ok" else f"{r['status']} ({r['error_kind']})",
             r["speedup"], (r["time_s"] / r["lower_bound_s"]) if r["time_s"] else None] for r in data["probes"]]
    out.append(common.md_table(["benchmark", "edit of the expert", "outcome", "speedup", "time / lower bound"], rows))
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    args = common.parser(NAME, __doc__).parse_args(argv)
    d = common.results_dir(args.out)
    store = d / "mapper" / ("sim-quick.json" if args.quick else "sim.json")
    if not args.report_only:
        common.save(store, {**collect(args.quick), "command": common.command_line(NAME, argv)})
    data = common.load(store)
    (d / "mapper-sim.md").write_text(render(data, data.get("command", "")))
    print(f"wrote {d / 'mapper-sim.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
