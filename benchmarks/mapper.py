"""Mapper search benchmark: the real-policy experts against the offline optimizers (simulated).

``make bench name=mapper [args=--quick]`` (``python -m benchmarks.mapper``) runs, per benchmark at its
default size on its own machine, the expert job and one job per optimizer (``random-search``,
``scalar-tuner``, ``evolve``) through ``spec.job``/``execute``; stores the results (and, per winning
mapper, what it decides differently from the expert) in ``docs/results/mapper/results.json``; and renders
``docs/results/mapper.md`` from that JSON only (``--report-only`` re-renders without running); it also runs
``benchmarks.mapper_sim`` (evaluation rate, scaling, single edits -> ``docs/results/mapper-sim.md``). Speedup =
expert time / best time found (> 1: faster than the expert). All times are **simulated**; search wall
times are measured. No LLM run is made.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from benchmarks import common

NAME = "mapper"
OPTIMIZERS = ("random-search", "scalar-tuner", "evolve")
FULL = {"apps": None, "budgets": {"random-search": 300, "scalar-tuner": 1000, "evolve": 300}, "seeds": 2,
        "wall_s": 600.0}
QUICK = {"apps": ["circuit", "stencil", "cannon"], "budgets": {"random-search": 20, "scalar-tuner": 40, "evolve": 20},
         "seeds": 1, "wall_s": 60.0}
CURVE_POINTS = (1, 3, 10, 30, 100, 300, 1000)


def jobs(plan: dict) -> list:
    from systems.core.registry import get_system
    from systems.mapper.workloads import ALL_APPS

    spec = get_system("mapper")
    out = []
    for app in plan["apps"] or ALL_APPS:
        out.append(spec.job(app, "expert", suite="default"))
        for opt in OPTIMIZERS:
            for seed in range(plan["seeds"]):
                out.append(spec.job(app, opt, seed, suite="default",
                                    params={"iterations": plan["budgets"][opt], "wall_s": plan["wall_s"]}))
    return out


def _slim(r: dict) -> dict:
    """What the report needs of a result: the mappers and the best-so-far curve (the search logs stay in MLflow)."""
    r = dict(r)
    r["artifacts"] = {k: v for k, v in r.get("artifacts", {}).items() if k in ("mapper.dsl", "best_mapper.dsl")}
    r["series"] = {k: v for k, v in r.get("series", {}).items() if k == "best_so_far"}
    return r


def collect(plan: dict) -> dict:
    from systems.mapper.diff import decision_diff

    results = [_slim(r.to_dict()) for r in common.run_jobs(jobs(plan))]
    expert = {r["workload"]: r for r in results if r["method"] == "expert"}
    diffs = {}
    for app in expert:
        runs = [r for r in results if r["workload"] == app and r["method"] != "expert" and r["status"] == "ok"]
        if not runs:
            continue
        best = min(runs, key=lambda r: r["metrics"]["time_s"])
        try:
            phrases = decision_diff(app, expert[app]["artifacts"]["mapper.dsl"], best["artifacts"]["best_mapper.dsl"])
        except Exception as exc:  # noqa: BLE001 - a diff that cannot be computed is reported, not fatal
            phrases = [f"(diff failed: {type(exc).__name__}: {exc})"]
        diffs[app] = {"method": best["method"], "seed": best["seed"], "phrases": phrases}
    return {"info": common.machine(), "plan": plan, "results": results, "diffs": diffs}


def _geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def _curves_png(data: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:  # noqa: BLE001 - the table carries the same numbers
        return False
    res = data["results"]
    apps = list(dict.fromkeys(r["workload"] for r in res))
    cols = 3
    rows = -(-len(apps) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, app in zip(axes.flat, apps):
        exp = next(r for r in res if r["workload"] == app and r["method"] == "expert")["metrics"]["time_s"]
        for opt in OPTIMIZERS:
            for r in res:
                if r["workload"] == app and r["method"] == opt and r["status"] == "ok":
                    curve = r["series"]["best_so_far"]
                    start = r["params"].get("first_ok_iteration", 0)
                    ax.plot(range(start + 1, start + len(curve) + 1), [exp / v for v in curve], lw=1,
                            label=opt if r["seed"] == 0 else None,
                            color={"random-search": "tab:gray", "scalar-tuner": "tab:blue", "evolve": "tab:red"}[opt])
        ax.axhline(1.0, color="k", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_title(app)
        ax.set_xlabel("iteration")
        ax.set_ylabel("expert / best so far")
    for ax in list(axes.flat)[len(apps):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Best-so-far speedup over the expert (simulated)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def render(data: dict, command: str, png: str | None) -> str:
    f = common.fmt
    res, plan = data["results"], data["plan"]
    apps = list(dict.fromkeys(r["workload"] for r in res))
    budget = ", ".join(f"{o} {plan['budgets'][o]}" for o in OPTIMIZERS)
    out = [common.header("Mapper search: real-policy experts vs offline optimizers", command, data["info"],
                         simulated=True, extra=f"Search wall times are measured on {data['info']['hardware']} "
                         f"({data['info']['cpus']} CPUs, shared with other jobs).")]
    out.append(f"Budgets (proposals per search): {budget}; {plan['seeds']} seed(s) per optimizer; wall cap "
               f"{plan['wall_s']:.0f} s per search. Each benchmark runs at its default size on its own machine "
               "(the shape its authors ran: 2 ranks of 4 GPUs; Johnson and COSMA 8 ranks of 1 GPU, 4 per node). "
               "The optimizers start from scratch (never from the expert). Speedup = expert time / best time found "
               "(best over seeds); > 1 means faster than the expert. No LLM run was made.\n\n")
    out.append("## Per benchmark\n\n")
    rows, per_opt = [], {o: [] for o in OPTIMIZERS}
    for app in apps:
        ex = next(r for r in res if r["workload"] == app and r["method"] == "expert")
        if ex["status"] != "ok":
            rows.append([app, "failed"] + ["-"] * (3 + len(OPTIMIZERS)))
            continue
        et, lb = ex["metrics"]["time_s"], ex["metrics"]["lower_bound_s"]
        row = [app, ex["params"]["machine"], f(et * 1e3), f(lb * 1e3), f(et / lb)]
        for opt in OPTIMIZERS:
            runs = [r for r in res if r["workload"] == app and r["method"] == opt and r["status"] == "ok"]
            if runs:
                best = min(r["metrics"]["time_s"] for r in runs)
                per_opt[opt].append(et / best)
                fails = sum(r["metrics"].get("failed_iterations", 0) for r in runs)
                its = sum(r["metrics"].get("iterations", 0) for r in runs)
                row.append(f"{et / best:.3f} ({100 * fails / max(its, 1):.0f}% failed)")
            else:
                row.append("no working mapper")
        rows.append(row)
    out.append(common.md_table(["benchmark", "machine", "expert (ms)", "lower bound (ms)", "expert / bound"]
                               + [f"{o} speedup" for o in OPTIMIZERS], rows))
    gm = [[o, _geomean(per_opt[o]), max(per_opt[o]) if per_opt[o] else None] for o in OPTIMIZERS]
    out.append("\nGeomean / maximum speedup over the expert per optimizer (benchmarks where it found a working "
               "mapper):\n\n")
    out.append(common.md_table(["optimizer", "geomean speedup", "max speedup"], gm))
    out.append("\n## Best-so-far curves\n\nSpeedup over the expert of the best mapper found after k proposals "
               "(best over seeds; `-`: nothing had run or succeeded yet).\n\n")
    rows = []
    for app in apps:
        ex = next(r for r in res if r["workload"] == app and r["method"] == "expert")
        if ex["status"] != "ok":
            continue
        et = ex["metrics"]["time_s"]
        for opt in OPTIMIZERS:
            best_at = []
            for k in CURVE_POINTS:
                vals = []
                for r in res:
                    if r["workload"] == app and r["method"] == opt and r["status"] == "ok":
                        first = r["params"].get("first_ok_iteration", 0)
                        curve = r["series"]["best_so_far"]
                        idx = k - 1 - first
                        if 0 <= idx < len(curve):
                            vals.append(curve[idx])
                        elif idx >= len(curve) and k <= plan["budgets"][opt] and curve:
                            vals.append(curve[-1])
                best_at.append(f"{et / min(vals):.3f}" if vals else "-")
            rows.append([app, opt] + best_at)
    out.append(common.md_table(["benchmark", "optimizer"] + [f"k={k}" for k in CURVE_POINTS], rows))
    if png:
        out.append(f"\n![best-so-far curves]({png})\n")
    out.append("\n## What the best mapper found changes (decision diff against the expert)\n\n")
    rows = []
    for app in apps:
        d = data["diffs"].get(app)
        if d:
            rows.append([app, f"{d['method']} (seed {d['seed']})", "; ".join(d["phrases"][:4]) or "same decisions"])
    out.append(common.md_table(["benchmark", "best run", "its main differences from the expert (timed tasks)"], rows))
    out.append("\nThe one-sentence reading of each benchmark's winning change is in docs/mapper-model.md, section 6.\n")
    out.append("\n## LLM agents (`llm-agent`, `optoprime`)\n\nReal-model runs (a local SmolLM2-135M through "
               "llama.cpp, grammar-constrained or not; the same command against any hosted OpenAI-compatible "
               "model) are made by `make bench name=mapper args=--llm` and reported in "
               "[mapper-llm.md](mapper-llm.md).\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    if "--llm" in (sys.argv[1:] if argv is None else argv):  # the real-LLM section lives in benchmarks/mapper_llm.py
        from benchmarks.mapper_llm import main as llm_main

        return llm_main(argv)
    p = common.parser(NAME, __doc__)
    p.add_argument("--apps", default=None, help="comma-separated benchmarks (default: all nine; quick: three)")
    args = p.parse_args(argv)
    d = common.results_dir(args.out)
    store = d / "mapper" / ("results-quick.json" if args.quick else "results.json")
    if not args.report_only:
        plan = dict(QUICK if args.quick else FULL)
        if args.apps:
            plan["apps"] = [a.strip() for a in args.apps.split(",") if a.strip()]
        common.save(store, {**collect(plan), "command": common.command_line(NAME, argv)})
    data = common.load(store)
    png_path = d / "mapper" / ("curves-quick.png" if args.quick else "curves.png")
    png = f"mapper/{png_path.name}" if _curves_png(data, png_path) else None
    (d / "mapper.md").write_text(render(data, data.get("command", ""), png))
    print(f"wrote {d / 'mapper.md'}")
    from benchmarks import mapper_sim

    sim_args = (["--quick"] if args.quick else []) + (["--report-only"] if args.report_only else []) + (
        ["--out", str(args.out)] if args.out else [])
    return mapper_sim.main(sim_args)


if __name__ == "__main__":
    sys.exit(main())
