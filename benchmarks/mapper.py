"""Mapper search benchmark: ``python -m benchmarks.mapper [--quick]`` → ``docs/results/mapper.md``.

Per benchmark (the nine apps at their default size, default machine) it runs the offline
optimizers against the expert mapper on the simulator and reports:

1. speedup over the expert per benchmark and the geomean per optimizer (long budgets);
2. best-so-far curves: 10 feedback-guided iterations (``evolve`` at ``guide``, the budget the
   paper gives its LLM agent) against 1,000 scalar-tuner iterations (PNG);
3. the feedback ablation score / raw / guide at equal iterations (``evolve``, several seeds);
4. search wall time per optimizer;
5. the simulator's evaluation rate (part 1's ``benchmarks.mapper_sim.measure_eval_rate``) when present.

No LLM run is made unless an endpoint is configured (``OPENAI_BASE_URL``/``SYSLAB_LLM_MODEL``);
the document says which. All times are *simulated* makespans; wall times are measured on the
machine named in the header, under whatever contention it had.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class BenchConfig:
    """What the benchmark runs."""

    apps: list[str] = field(default_factory=list)
    """Benchmarks (empty = all nine)."""
    long_budgets: dict[str, int] = field(default_factory=lambda: {"random-search": 300, "scalar-tuner": 1000,
                                                                  "evolve": 300})
    """Iterations per optimizer for the speedup table."""
    long_seeds: int = 1
    """Seeds per (app, optimizer) in the speedup table."""
    short_iterations: int = 10
    """The LLM-sized budget of the curves and the ablation."""
    short_seeds: int = 5
    """Seeds averaged in the curves and the ablation (the paper averages 5 runs)."""
    ablation_iterations: tuple[int, ...] = (10, 30)
    """Equal-iteration budgets of the feedback ablation."""
    wall_s: float = 600.0
    """Wall-clock cap per search (the paper's "under ten minutes")."""
    llm_iterations: int = 10
    """Iterations of the LLM agent when an endpoint is configured."""


def bench_quick() -> BenchConfig:
    """A reduced run (minutes on 2 cores)."""
    return BenchConfig(long_budgets={"random-search": 100, "scalar-tuner": 300, "evolve": 100},
                       short_seeds=3, ablation_iterations=(10,), wall_s=120.0)


def _geomean(vals):
    vals = [v for v in vals if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def _f(v, d=3):
    return "-" if v is None else f"{v:.{d}f}"


def run(cfg: BenchConfig, out_md: Path, img_dir: Path, quick: bool) -> str:
    from systems.core import hardware_description
    from systems.mapper.agent.llm import llm_config_from_env, llm_status
    from systems.mapper.apps import APPS
    from systems.mapper.search import search

    apps = cfg.apps or list(APPS)
    t_start = time.perf_counter()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    # 1. long budgets ---------------------------------------------------------------------------
    long: dict[tuple[str, str], list] = {}
    for app in apps:
        for opt, iters in cfg.long_budgets.items():
            for seed in range(cfg.long_seeds):
                r = search(app, opt, iterations=iters, seed=seed, feedback="guide", wall_s=cfg.wall_s)
                long.setdefault((app, opt), []).append(r)
                log(f"{app:10s} {opt:14s} s{seed} {r.iterations:5d} it  speedup {_f(r.speedup)}  {r.wall_s:.1f}s")

    # 2 + 3. short budgets (curves, ablation) -----------------------------------------------------
    short: dict[tuple[str, str, int], list] = {}
    max_short = max([cfg.short_iterations, *cfg.ablation_iterations])
    for app in apps:
        for level in ("score", "raw", "guide"):
            for seed in range(cfg.short_seeds):
                r = search(app, "evolve", iterations=max_short, seed=100 + seed, feedback=level, wall_s=cfg.wall_s)
                short.setdefault((app, level, max_short), []).append(r)
        log(f"{app:10s} ablation done")

    # optional: the LLM agent --------------------------------------------------------------------
    llm_rows = []
    llm_cfg = llm_config_from_env()
    if llm_cfg.configured:
        for app in apps:
            try:
                r = search(app, "llm-agent", iterations=cfg.llm_iterations, seed=0, feedback="guide",
                           wall_s=cfg.wall_s)
                llm_rows.append(r)
            except Exception as exc:  # noqa: BLE001 - recorded, not hidden
                log(f"LLM run on {app} failed: {type(exc).__name__}: {exc}")

    # 5. evaluation rate ---------------------------------------------------------------------------
    rate_md = "_`benchmarks.mapper_sim.measure_eval_rate` not found (part 1 did not provide it)._"
    try:
        from benchmarks.mapper_sim import measure_eval_rate  # type: ignore

        rates = measure_eval_rate()
        rows = rates.items() if isinstance(rates, dict) else [(r.get("app"), r) for r in rates]
        rate_md = ("Expert mapper compile + simulate, one core (CPU time), measured now by "
                   "`benchmarks.mapper_sim.measure_eval_rate()` (part 1):\n\n"
                   "| benchmark | evaluations/s | ms/evaluation | task instances |\n|---|---|---|---|\n")
        for app, r in rows:
            if isinstance(r, dict):
                rate_md += f"| {app} | {r.get('evals_per_s')} | {r.get('ms_per_eval')} | {r.get('task_instances')} |\n"
            else:
                rate_md += f"| {app} | {r} | | |\n"
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001
        rate_md = f"_measure_eval_rate failed: {type(exc).__name__}: {exc}_"

    # ---------------------------------------------------------------------------------------------
    img_dir.mkdir(parents=True, exist_ok=True)
    curves_png = _plot_curves(apps, long, short, max_short, cfg, img_dir / "best_so_far.png")
    opts = list(cfg.long_budgets)

    lines = [
        "# Mapper search: results",
        "",
        f"Command: `.venv/bin/python -m benchmarks.mapper{' --quick' if quick else ''}`  ",
        f"Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}  ",
        f"Hardware: {hardware_description()} (shared by several concurrent jobs: wall times are under contention)  ",
        f"LLM: {llm_status()}  ",
        f"Total benchmark wall time: {time.perf_counter() - t_start:.0f} s",
        "",
        "All times are **simulated** makespans from the part-1 simulator (`systems.mapper.evaluate`), default "
        "machine, default problem sizes. Offline optimizers start from scratch (default mapper / random points), "
        "never from the expert mapper. `scalar-tuner` is an OpenTuner-style reconstruction (AUC bandit over "
        "search techniques, scalar reward only), not OpenTuner itself. `evolve` is the offline, rule-based "
        "stand-in for the paper's LLM agent: it edits DSL statements and reads AutoGuide feedback.",
        "",
        "## 1. Speedup over the expert mapper",
        "",
        "Geomeans are over the benchmarks where the optimizer found a working mapper (count in brackets); "
        "`-` = every proposal failed (compile/mapping/runtime error) within the budget.",
        "",
        "Budgets: " + ", ".join(f"`{o}` {n} iterations" for o, n in cfg.long_budgets.items())
        + f", each capped at {cfg.wall_s:.0f} s wall; {cfg.long_seeds} seed(s) (best over seeds is not taken: mean speedup).",
        "",
        "| benchmark | expert time (s) | lower bound (s) | " + " | ".join(opts) + " | best bound ratio |",
        "|---|---|---|" + "---|" * len(opts) + "---|",
    ]
    per_opt: dict[str, list[float]] = {o: [] for o in opts}
    best_over: list[float] = []
    for app in apps:
        rs0 = long[(app, opts[0])][0]
        cells, best_app = [], None
        for o in opts:
            sp = [r.speedup for r in long[(app, o)] if r.speedup]
            m = sum(sp) / len(sp) if sp else None
            per_opt[o].append(m)
            cells.append(_f(m))
            best_app = max(best_app or 0, m or 0)
        best_over.append(best_app)
        bt = min((r.best_time_s for o in opts for r in long[(app, o)] if r.best_time_s), default=None)
        br = bt / rs0.lower_bound_s if (bt and rs0.lower_bound_s) else None
        lines.append(f"| {app} | {rs0.expert_time_s:.4g} | {_f(rs0.lower_bound_s, 4) if rs0.lower_bound_s else '-'} | "
                     + " | ".join(cells) + f" | {_f(br, 2)} |")
    lines.append("| **geomean** | | | " + " | ".join(
        f"{_f(_geomean(per_opt[o]))} ({sum(1 for v in per_opt[o] if v)}/{len(apps)} found)" for o in opts) + " | |")
    lines.append("| **max** | | | " + " | ".join(_f(max([v for v in per_opt[o] if v] or [0])) for o in opts) + " | |")
    gm_best = _geomean(best_over)
    lines += ["", f"Best offline optimizer per benchmark: geomean {_f(gm_best)}x, max {_f(max(best_over))}x; "
              f"beats the expert (> 1.00x) on {sum(b > 1.0 for b in best_over)}/{len(best_over)} benchmarks.", "",
              "Paper (Wei et al., ICML 2025 abstract): up to 1.34x over expert mappers across nine benchmarks "
              "(real Legion runs on GPUs; ours are simulated). Issue targets: geomean >= 1.15x, max >= 1.34x.", ""]
    big = [a for a, b in zip(apps, best_over) if b and b > 1.35]
    flat = [a for a, b in zip(apps, best_over) if b and b <= 1.0 + 1e-9]
    tiny = [a for a, b in zip(apps, best_over) if b and 1.0 + 1e-9 < b <= 1.02]
    if big:
        lines += [f"Reading: on {', '.join(big)} the searched mappers beat the expert by more than the paper's 1.34x. "
                  "That is headroom the simulator's expert mappers leave (see `docs/mapper-model.md` for how they are "
                  "transcribed and calibrated), not an optimizer effect to compare with the paper's figure.", ""]
    if flat or tiny:
        lines += [f"No headroom found: {', '.join(flat) or '-'} (best = expert); marginal (<= 1.02x): "
                  f"{', '.join(tiny) or '-'}. On these the structured space offers nothing better than the expert's "
                  "policy under the model within the budgets.", ""]

    # curves
    lines += ["## 2. Best-so-far: 10 guided iterations vs 1,000 scalar-tuner iterations", "",
              f"![best-so-far]({img_dir.name}/{curves_png.name})", "",
              "Curves: arithmetic mean over benchmarks of the best-so-far speedup (0 while a run has found no working "
              "mapper). Table: per benchmark, and geomeans over the benchmarks where a mapper was found.", "",
              f"Speedup over the expert of the best mapper so far. `evolve` (guide): "
              f"mean of {cfg.short_seeds} seeds; `scalar-tuner` and `random-search`: the long runs above.", "",
              "| benchmark | evolve guide @10 | scalar-tuner @10 | scalar-tuner @100 | scalar-tuner @1000 | iterations scalar-tuner needs to match evolve@10 |",
              "|---|---|---|---|---|---|"]
    g10, s10, s100, s1000 = [], [], [], []
    for app in apps:
        e = [r for r in short[(app, "guide", max_short)]]
        ev = sum(_sp_at(r, cfg.short_iterations) or 0 for r in e) / len(e)
        st = long.get((app, "scalar-tuner"), [None])[0]
        a, b, c = (_sp_at(st, n) if st else None for n in (10, 100, 1000))
        need = _first_reach(st, ev) if st else None
        g10.append(ev); s10.append(a); s100.append(b); s1000.append(c)
        lines.append(f"| {app} | {_f(ev)} | {_f(a)} | {_f(b)} | {_f(c)} | {need if need is not None else 'never'} |")
    def gm(v):
        return f"{_f(_geomean(v))} ({sum(1 for x in v if x)}/{len(v)} found)"

    lines.append(f"| **geomean** | {gm(g10)} | {gm(s10)} | {gm(s100)} | {gm(s1000)} | |")
    lines += ["", "Paper claim: with 10 iterations the LLM agent beats OpenTuner after 1,000. Here the 10-iteration "
              "optimizer is the offline `evolve` with AutoGuide, not an LLM.", ""]

    # ablation
    lines += ["## 3. Feedback ablation (evolve, equal iterations)", "",
              f"Speedup over the expert of the best mapper after N iterations, mean of {cfg.short_seeds} seeds, "
              "geomean over benchmarks (a seed that found no working mapper counts as 0 in the mean over seeds); `score` = the number only, `raw` = the simulator's message and failing line, "
              "`guide` = AutoGuide explain + suggest.", "",
              "| iterations | score | raw | guide |", "|---|---|---|---|"]
    abl_detail = []
    for n in cfg.ablation_iterations:
        row = []
        for level in ("score", "raw", "guide"):
            per_app = []
            for app in apps:
                rs = short[(app, level, max_short)]
                per_app.append(sum(_sp_at(r, n) or 0 for r in rs) / len(rs))
            row.append(_geomean(per_app))
        lines.append(f"| {n} | " + " | ".join(_f(v) for v in row) + " |")
    lines += ["", "Per benchmark at 10 iterations (mean speedup; failed iterations in brackets):", "",
              "| benchmark | score | raw | guide |", "|---|---|---|---|"]
    for app in apps:
        cells = []
        for level in ("score", "raw", "guide"):
            rs = short[(app, level, max_short)]
            sp = sum(_sp_at(r, cfg.short_iterations) or 0 for r in rs) / len(rs)
            fails = sum(sum(x.status != "ok" for x in r.records[:cfg.short_iterations]) for r in rs) / len(rs)
            cells.append(f"{_f(sp)} ({fails:.1f})")
        lines.append(f"| {app} | " + " | ".join(cells) + " |")
    lines += ["", "Paper: full AutoGuide (explain + suggest) best in its ablation [unverified detail]; the issue's "
              "target is `guide` > `score` at equal iterations.", ""]

    # wall time
    lines += ["## 4. Search wall time", "", "Mean wall seconds per search (proposal + compile + simulate), "
              "and seconds per iteration. Measured under contention on the hardware above.", "",
              "| optimizer | iterations | mean wall (s) | max wall (s) | ms / iteration |", "|---|---|---|---|---|"]
    for o, n in cfg.long_budgets.items():
        ws = [r.wall_s for app in apps for r in long[(app, o)]]
        its = [r.iterations for app in apps for r in long[(app, o)]]
        lines.append(f"| {o} | {n} | {sum(ws) / len(ws):.1f} | {max(ws):.1f} | {1e3 * sum(ws) / max(sum(its), 1):.1f} |")
    ws = [r.wall_s for k, rs in short.items() if k[1] == "guide" for r in rs]
    lines.append(f"| evolve (guide) | {max_short} | {sum(ws) / len(ws):.2f} | {max(ws):.2f} | "
                 f"{1e3 * sum(ws) / (len(ws) * max_short):.1f} |")
    lines += ["", "## 5. Simulator evaluation rate (part 1)", "", rate_md, ""]

    lines += ["## 6. LLM agent", ""]
    if llm_rows:
        lines += [f"Model: `{llm_cfg.model}` at {llm_rows[0].llm.get('llm_base_url')}", "",
                  "| benchmark | iterations | speedup | failed iterations | prompt tokens | completion tokens | cost USD |",
                  "|---|---|---|---|---|---|---|"]
        for r in llm_rows:
            lines.append(f"| {r.app} | {r.iterations} | {_f(r.speedup)} | {sum(x.status != 'ok' for x in r.records)} | "
                         f"{sum(x.prompt_tokens for x in r.records):.0f} | {sum(x.completion_tokens for x in r.records):.0f} | "
                         f"{sum(x.cost_usd for x in r.records):.4f} |")
    else:
        lines.append("No LLM endpoint was reachable from this machine, so **no LLM results are reported**. "
                     "The LLM path is tested end-to-end against a local OpenAI-compatible stub server "
                     "(`tests/systems/mapper/agent/`). To run it: set `OPENAI_BASE_URL`, `OPENAI_API_KEY`, "
                     "`SYSLAB_LLM_MODEL` and re-run this command.")
    lines.append("")
    (img_dir / "feedback_examples.md").write_text(feedback_examples())
    lines += ["## 7. What the feedback levels look like", "",
              f"[{img_dir.name}/feedback_examples.md]({img_dir.name}/feedback_examples.md): `score`, `raw` and `guide` "
              "feedback on real outcomes (syntax error, undefined name, stride error, out of memory, a successful run).", ""]
    text = "\n".join(lines)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text(text)
    return text


def feedback_examples() -> str:
    """Markdown: the three feedback levels on real simulator outcomes (generated, not written by hand)."""
    from systems.mapper.agent.feedback import LEVELS, autoguide
    from systems.mapper.agent.space import MapperSpace
    from systems.mapper.apps import get_app
    from systems.mapper.evaluate import evaluate_mapper
    from systems.mapper.experts import expert_mapper

    cases = []
    st = expert_mapper("stencil")
    broken = st.replace("return mgpu[ip / mgpu.size[1], ip % mgpu.size[1]];",
                        "return mgpu[ip / mgpu.size[1], ip % mgpu.size[1]]", 1)
    cases.append(("stencil: expert mapper with one `;` removed inside a function", "stencil", broken))
    cases.append(("stencil: expert mapper calling an undefined function", "stencil",
                  st.replace("IndexTaskMap stencil,increment linearblock;", "IndexTaskMap stencil,increment blocky;")))
    cn = expert_mapper("cannon")
    cases.append(("cannon: expert mapper with `Layout * * * SOA F_order;` (cuBLAS operands)", "cannon",
                  cn.replace("Layout * * * SOA C_order;", "Layout * * * SOA F_order;")))
    sp = MapperSpace(get_app("cannon"))
    cases.append(("cannon: the structured space's default mapper (no InstanceLimit, no CollectMemory)", "cannon",
                  sp.render(sp.default()).text))
    cases.append(("johnson: the expert mapper (ok; profile-based advice)", "johnson", expert_mapper("johnson")))
    out = ["# AutoGuide feedback at the three levels", "",
           "Command: `.venv/bin/python -m benchmarks.mapper` (written beside `docs/results/mapper.md`). "
           "Each block is the text the proposer receives for a real simulator outcome.", ""]
    for title, app, text in cases:
        o = evaluate_mapper(text, app)
        out += [f"## {title}", "", f"status `{o.status}`, error kind `{o.error_kind}`", ""]
        for lvl in LEVELS:
            fb = autoguide(o, text, lvl, app=get_app(app))
            out += [f"**{lvl}**", "", "```", fb.text, "```", ""]
    return "\n".join(out)


def _sp_at(r, n: int):
    """Speedup over the expert of the best-so-far after ``n`` iterations (None = nothing ok yet)."""
    if r is None or not r.history:
        return None
    h = r.history[min(n, len(r.history)) - 1]
    return r.expert_time_s / h if h else None


def _first_reach(r, target: float):
    for i, h in enumerate(r.history):
        if h and r.expert_time_s / h >= target - 1e-12:
            return i + 1
    return None


def _plot_curves(apps, long, short, max_short, cfg, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def mean_curve(runs_per_app, n):
        ys = []
        for i in range(n):
            per_app = []
            for runs in runs_per_app:
                vals = [(_sp_at(r, i + 1) or 0.0) for r in runs]
                per_app.append(sum(vals) / len(vals))
            # arithmetic mean with 0 while no working mapper is found: monotone per run, no
            # artefacts from benchmarks entering the average late
            ys.append(sum(per_app) / len(per_app))
        return ys

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for opt, style in (("scalar-tuner", "-"), ("random-search", ":"), ("evolve", "--")):
        if all((a, opt) in long for a in apps):
            n = cfg.long_budgets[opt]
            ax.plot(range(1, n + 1), mean_curve([long[(a, opt)] for a in apps], n), style,
                    label=f"{opt} ({n} it)")
    for level, color in (("guide", "C3"), ("raw", "C4"), ("score", "C7")):
        ys = mean_curve([short[(a, level, max_short)] for a in apps], cfg.short_iterations)
        ax.plot(range(1, cfg.short_iterations + 1), ys, "o-", color=color, ms=3,
                label=f"evolve {level} ({cfg.short_iterations} it, {cfg.short_seeds} seeds)")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("speedup over expert\n(mean over benchmarks; 0 = none found yet)")
    ax.set_title("Best-so-far mapper (simulated)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    if "--llm" in (sys.argv[1:] if argv is None else argv):  # the real-LLM section lives in benchmarks/mapper_llm.py
        from benchmarks.mapper_llm import main as llm_main
        return llm_main(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced budgets (minutes)")
    p.add_argument("--apps", nargs="*", default=None, help="subset of benchmarks")
    p.add_argument("--out", default=str(REPO / "docs/results/mapper.md"))
    a = p.parse_args(argv)
    from systems.mapper.apps import APPS

    cfg = bench_quick() if a.quick else BenchConfig()
    if a.apps:
        bad = [x for x in a.apps if x not in APPS]
        if bad:
            print(f"error: unknown app(s) {', '.join(bad)}; valid: {', '.join(APPS)}", file=sys.stderr)
            return 2
        cfg.apps = a.apps
    out = Path(a.out)
    text = run(cfg, out, out.parent / "mapper", a.quick)
    print(text)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(main())
