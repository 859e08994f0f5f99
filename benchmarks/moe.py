"""DynaMoE benchmark: static capacity vs re-compiled dynamic/local capacity, caching, Tutel, dropless.

``python -m benchmarks.moe [--quick] [--sections train,compile,cache] [--report-only]`` writes
``docs/results/moe.md``, plots under ``docs/results/moe/`` and the raw measurements as JSON beside
them (each section is saved on its own, so ``--report-only`` rebuilds the page from them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_MD = REPO / "docs" / "results" / "moe.md"
OUT_DIR = REPO / "docs" / "results" / "moe"

TRAIN_WORKLOADS = ("fastmoe-cpu", "mnist-moe", "drift-skew", "drift-static", "digits-moe")
QUICK_WORKLOADS = ("fastmoe-cpu", "mnist-moe", "drift-skew")
EXPERT = "static-cf-expert"
TOL = None  # filled from SPEC


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _save(name: str, obj) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"{name}.json").write_text(json.dumps(obj, indent=1, default=float))


def _load(name: str):
    p = OUT_DIR / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


# -- section 1: training comparison -------------------------------------------------------------
def section_train(workloads, steps_scale: float, rounds: int, per_round: int, seed: int) -> dict:
    from systems.moe.methods import METHODS
    from systems.moe.train import steady_step_times, train
    from systems.moe.workloads import applicable, workload_config

    out = {}
    for w in workloads:
        base = workload_config(w)
        base = replace(base, steps=max(10, round(base.steps * steps_scale)), seed=seed)
        runs, states = {}, {}
        for m in METHODS:
            if not applicable(m, w):
                continue
            t0 = time.perf_counter()
            res = train(replace(base, method=m), keep_state=True)
            print(f"[train] {w:13s} {m:17s} {time.perf_counter() - t0:6.1f}s  "
                  f"tok/s {res.metrics['tokens_per_s']:8.0f}  drop {100 * res.metrics['dropped_frac']:.2f}%  "
                  f"loss {res.metrics['final_loss']:.4f}", flush=True)
            runs[m] = {"metrics": res.metrics, "series": res.series, "params": res.params,
                       "artifacts": res.artifacts}
            states[m] = res.state
        # interleaved steady-state timing of every method's final configuration (same background load)
        names = list(states)
        times = {m: [] for m in names}
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for m in order:
                times[m] += steady_step_times(states[m], per_round, start=base.steps + r * per_round)
        for m in names:
            B = base.workload.batch_size
            runs[m]["metrics"]["tokens_per_s_interleaved"] = B / statistics.median(times[m])
        out[w] = {"steps": base.steps, "batch": base.workload.batch_size, "layer": vars(base.layer),
                  "workload": {k: v for k, v in vars(base.workload).items()}, "runs": runs,
                  "interleaved": {"rounds": rounds, "steps_per_round": per_round}}
        del states
    return out


# -- section 2: torch.compile and recompile overhead ----------------------------------------------
def section_compile(steps: int, methods=("static-cf-2.0", "dynamic-cf", "local-cf")) -> dict:
    from systems.moe.config import ControllerConfig
    from systems.moe.train import train
    from systems.moe.workloads import workload_config

    base = workload_config("micro-tiny")
    base = replace(base, steps=steps, mem_samples=1,
                   controller=ControllerConfig(cooldown=8, min_observations=3, cache_min_steps=10))
    out = {}
    for m in methods:
        for comp in (False, True):
            t0 = time.perf_counter()
            res = train(replace(base, method=m, compile=comp, compile_backend="inductor"))
            wall = time.perf_counter() - t0
            print(f"[compile] {m:14s} compile={comp!s:5s} {wall:6.1f}s {res.metrics}", flush=True)
            out[f"{m}|{'inductor' if comp else 'eager'}"] = {"metrics": res.metrics, "wall_s": wall,
                                                             "log": res.artifacts["recompile_log.txt"]}
    return {"workload": "micro-tiny", "steps": steps, "batch": base.workload.batch_size, "runs": out}


# -- section 3: assignment caching needs a fixed data order ---------------------------------------
def section_cache(steps_scale: float) -> dict:
    from systems.moe.train import train
    from systems.moe.workloads import workload_config

    out = {}
    for w, shuffle in (("drift-static", False), ("drift-static", True), ("drift-skew", False)):
        base = workload_config(w)
        base = replace(base, steps=max(10, round(base.steps * steps_scale)), mem_samples=1,
                       workload=replace(base.workload, shuffle=shuffle))
        res = train(replace(base, method="cache"))
        key = f"{w}|shuffle={shuffle}"
        print(f"[cache] {key}: {res.metrics.get('cache_match_mean')} {res.metrics['cache_steps_frac']}", flush=True)
        out[key] = {"metrics": res.metrics, "log": res.artifacts["recompile_log.txt"],
                    "match": res.series.get("cache_match", [])}
    return out


# -- report ---------------------------------------------------------------------------------------
def _f(v, fmt=".3g"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, fmt)


def _plots(w: str, data: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = data["runs"]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    panels = [("loss", "training task loss (rolling mean 10)", 10), ("capacity_factor", "capacity factor (rows / kB)", 1),
              ("drops", "dropped assignments per step (rolling mean 10)", 10),
              ("tokens_per_s", "tokens/s per step (rolling median 9)", -9)]
    for ax, (key, title, win) in zip(axes.flat, panels):
        for m, r in runs.items():
            ys = r["series"].get(key, [])
            if not ys or (key == "capacity_factor" and m == "peer-moe"):
                continue
            ys = _smooth(ys, abs(win), median=win < 0)
            ls = "--" if m.startswith("static") else "-"
            ax.plot(ys, ls, label=m, lw=1.2)
            if key == "capacity_factor":
                for s in r["series"].get("recompile_steps", []):
                    ax.axvline(s, color="grey", alpha=0.15, lw=0.8)
        if key == "capacity_factor":
            ref = runs.get(EXPERT) or next(iter(runs.values()))
            ax.plot(_smooth(ref["series"]["alpha_needed"], 10), ":", color="k", label="alpha needed (mean 10)")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
    axes.flat[0].legend(fontsize=7, ncol=2)
    axes.flat[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{w}: {data['steps']} steps, B={data['batch']} (grey lines: recompile steps)")
    fig.tight_layout()
    name = f"{w}_training.png"
    fig.savefig(OUT_DIR / name, dpi=90)
    plt.close(fig)
    # memory / throughput bars
    fig, ax = plt.subplots(1, 2, figsize=(12, 3.8))
    ms = list(runs)
    ax[0].bar(ms, [runs[m]["metrics"]["tokens_per_s_interleaved"] for m in ms])
    ax[0].set_title("steady tokens/s at final configuration (interleaved)", fontsize=10)
    ax[1].bar(ms, [runs[m]["metrics"]["peak_mem_mb"] for m in ms])
    ax[1].set_title("peak tensor memory (MB)", fontsize=10)
    for a in ax:
        a.tick_params(axis="x", rotation=60, labelsize=7)
    fig.tight_layout()
    name2 = f"{w}_bars.png"
    fig.savefig(OUT_DIR / name2, dpi=90)
    plt.close(fig)
    return [name, name2]


def _smooth(ys, win, median=False):
    ys = [float(y) for y in ys]
    if win <= 1:
        return ys
    out = []
    for i in range(len(ys)):
        seg = [v for v in ys[max(0, i - win + 1):i + 1] if math.isfinite(v)]
        out.append((statistics.median(seg) if median else sum(seg) / len(seg)) if seg else float("nan"))
    return out


def report(cmd: str, quick: bool) -> str:
    from systems.core import hardware_description
    from systems.moe import QUALITY_TOLERANCE

    train_res = _load("train") or {}
    comp = _load("compile")
    cache = _load("cache")
    meta = _load("meta") or {}
    L = ["# MoE (DynaMoE): dynamic capacity and assignment caching vs static capacity", "",
         f"Command: `{cmd}`", "",
         f"Date: {meta.get('date', _now())}. Hardware: **{meta.get('hardware', hardware_description())}** "
         "(measured on CPU; torch intra-op threads = 1 per run). "
         + (f"1-minute load average {meta['loadavg_start']:.1f} on {__import__('os').cpu_count()} cores when the "
            "run started. " if "loadavg_start" in meta else "Load during the run was not recorded. ")
         + "Wall-clock timings on a shared CPU carry noise; the *interleaved* column times every method's "
         "final configuration in round-robin rounds so they share the same background load "
         "(`static-cf-2.0` runs the expert's own configuration here, so its ratio shows the noise floor). "
         "No GPU was available.", "",
         "## What is compared", "",
         "* **expert** `static-cf-expert`: the smallest static alpha in {1, 1.25, 2} whose run drops < 1 % of "
         "the token->expert assignments (candidates run inside the job; a candidate stops once its drops "
         "already exceed 1 % of the run). When even alpha = 2 drops >= 1 % it keeps alpha = 2 (marked).",
         "* `dynamic-cf`: DynaMoE's global alpha (start 4.0, shrink when score < 0.5 alpha to 1.3 score, raise "
         "schedule 1.8/2.0/2.2/2.5/2.75); `local-cf`: per-expert capacities max(1.3 x EMA, EMA + 2 std) of each "
         "expert's load (rounded up to 4 rows), starting from the uniform-load prior (alpha 1.3), growing as soon as "
         "the lagged statistics show an expert near its capacity and shrinking after a 10-step cooldown; `cache`: dynamic-cf + assignment caching (on at match > 0.95 and >= 40 steps "
         "since the last change, off below 0.85). Statistics are read 2 steps late (launch_ahead). Every change "
         "is a re-compilation (eager mode here: buffers/plans rebuilt; see the compile section for "
         "torch.compile).",
         "* `tutel-cf0`: Tutel's cf = 0 (capacity = this step's max load, padded, dropless); `dropless`: "
         "sort-and-segment grouped GEMM; `peer-moe`: the pure-torch `mixture-of-experts` 0.2.3 package "
         "(GShard top-2 einsum dispatch, capacity equivalent to alpha = 2) in the same model frame.",
         "",
         "Metrics: **tokens/s** = tokens over wall time of all steps after 2 warm-up steps (forward, backward, "
         "Adam, statistics, controller, recompiles); **interleaved** = tokens / median step time of the final "
         "configuration timed round-robin across methods after training; **peak MB** = parameters + Adam state "
         "+ peak live tensor storage of an eager forward+backward (TorchDispatchMode tracker, tensor bytes only), "
         "max over probes during training; **dropped** = dropped assignments / (k B steps); **loss** = held-out "
         "task loss (unit-variance MSE or cross-entropy) with the final capacities; quality ok = loss <= "
         f"expert + {QUALITY_TOLERANCE}.", ""]
    L += ["How to run: `syslab moe bench -w fastmoe-cpu -m static-cf-expert -m local-cf --steps 60` (one process, "
          "prints the same metrics), `make run-flow name=moe` (Prefect + Ray + MLflow; nightly suite: "
          "`syslab run moe --suite nightly`), `make bench name=moe` (this page).", ""]
    head = L
    L = []
    summary = {}
    for w, data in train_res.items():
        runs = data["runs"]
        exp = runs.get(EXPERT)
        lc = data["layer"]
        L += [f"## {w}", "",
              f"{data['steps']} steps, B = {data['batch']} tokens/step, {lc['n_experts']} experts, top-{lc['top_k']}, "
              f"d = {lc['d_model']}, h = {lc['d_hidden']}. Data: {next(iter(runs.values()))['params']['data']}.", ""]
        if exp:
            ea = exp["metrics"]["expert_alpha"]
            meets = exp["metrics"]["expert_meets_1pct"]
            L += [f"Expert's choice: alpha = {ea:g}" + ("" if meets else " (**no candidate drops < 1 %**; alpha = 2 kept)")
                  + ".", ""]
        L += ["| method | tokens/s | vs expert | interleaved tokens/s | vs expert | peak MB | final MB | dropped % | "
              "loss | acc | quality ok | mean alpha | recompiles | recompile s |", "|" + "---|" * 14]
        for m, r in runs.items():
            mt = r["metrics"]
            v1 = mt["tokens_per_s"] / exp["metrics"]["tokens_per_s"] if exp else None
            v2 = mt["tokens_per_s_interleaved"] / exp["metrics"]["tokens_per_s_interleaved"] if exp else None
            qok = (mt["final_loss"] <= exp["metrics"]["final_loss"] + QUALITY_TOLERANCE) if exp else None
            name = f"**{m}**" if m == EXPERT else m
            mean_alpha = f"{mt['mean_alpha']:.2f}"
            if m == "peer-moe":  # the package sizes its own buffers; the trainer's series does not apply
                from systems.moe.config import RunConfig

                mean_alpha = f"{RunConfig().peer_alpha:.2f}*"
            L.append(f"| {name} | {mt['tokens_per_s']:.0f} | {_f(v1)}x | {mt['tokens_per_s_interleaved']:.0f} | {_f(v2)}x | "
                     f"{mt['peak_mem_mb']:.1f} | {mt['final_mem_mb']:.1f} | {100 * mt['dropped_frac']:.2f} | "
                     f"{mt['final_loss']:.4f} | {_f(mt.get('accuracy'), '.3f')} | {'yes' if qok else 'NO'} | "
                     f"{mean_alpha} | {mt['recompiles']:.0f} | {mt['recompile_s']:.3f} |")
            summary.setdefault(m, []).append((w, v1, v2, qok, mt["peak_mem_mb"] < exp["metrics"]["peak_mem_mb"] if exp else None))
        if "peer-moe" in runs:
            L += ["", "\\* `peer-moe` sizes its buffers inside the package: int(cf B / n) rows with cf = 2 k, i.e. alpha = 2."]
        logs = [(m, r["artifacts"]["recompile_log.txt"].strip()) for m, r in runs.items()
                if m in ("dynamic-cf", "local-cf", "cache")]
        L += ["", "<details><summary>recompile logs</summary>", ""]
        for m, lg in logs:
            L += [f"`{m}`:", "```", *lg.splitlines()[:12], *(["..."] if len(lg.splitlines()) > 12 else []), "```"]
        L += ["</details>", ""]
        for img in _plots(w, data):
            L += [f"![{w}](moe/{img})", ""]
    body = L
    L = head
    noise = []
    for w, data in train_res.items():
        r2, re = data["runs"].get("static-cf-2.0"), data["runs"].get(EXPERT)
        if r2 and re and re["metrics"].get("expert_alpha") == 2.0:
            noise.append((w, r2["metrics"]["tokens_per_s"] / re["metrics"]["tokens_per_s"],
                          r2["metrics"]["tokens_per_s_interleaved"] / re["metrics"]["tokens_per_s_interleaved"]))
    if noise:
        L += ["**Noise check.** Where the expert picked alpha = 2, `static-cf-2.0` and `static-cf-expert` are the *same* "
              "configuration, so their ratio shows the measurement noise: end-to-end "
              + ", ".join(f"{w} {a:.2f}x" for w, a, _ in noise) + "; interleaved "
              + ", ".join(f"{w} {b:.2f}x" for w, _, b in noise)
              + ". Likewise `cache` and `dynamic-cf` end in the same configuration whenever caching never switched on. "
              "Differences smaller than these are not resolved by this run; the *mean alpha* column (padded expert "
              "rows per routed assignment, proportional to expert FFN FLOPs) is the noise-free measure of the work "
              "each method does.", ""]
    if summary:
        L += ["## Summary over workloads", "",
              "Geometric mean of tokens/s relative to the expert (end-to-end / interleaved), and on how many "
              "workloads the method had equal-or-better quality and lower peak memory. Target from the issue: "
              ">= 1.5x at equal-or-better loss with lower peak memory.", "",
              "| method | geomean vs expert (end-to-end) | geomean vs expert (interleaved) | quality ok | lower peak mem | meets target (interleaved >= 1.5x, quality ok, lower mem) |",
              "|---|---|---|---|---|---|"]
        for m, rows in summary.items():
            g1 = _geo([r[1] for r in rows])
            g2 = _geo([r[2] for r in rows])
            meets = sum(1 for r in rows if r[2] and r[2] >= 1.5 and r[3] and r[4])
            L.append(f"| {m} | {_f(g1)}x | {_f(g2)}x | {sum(1 for r in rows if r[3])}/{len(rows)} | "
                     f"{sum(1 for r in rows if r[4])}/{len(rows)} | {meets}/{len(rows)} |")
        L.append("")
    L += body
    if comp:
        L += ["## torch.compile and re-compilation overhead", "",
              f"Workload `{comp['workload']}` ({comp['steps']} steps, controller cooldown 8 steps). "
              "`torch.compile(dynamic=False, backend='inductor')` on the forward+loss; capacities are Python ints, "
              "so a change misses the guards and compiles a new specialised graph. `graphs` counts backend "
              "compilations. *tokens/s incl. all compiles* divides all tokens by the time of every step; "
              "*tokens/s after warm-up* leaves out the first 2 steps (the initial compile) but keeps recompiles.", "",
              "| method | mode | tokens/s incl. all compiles | tokens/s after warm-up | steady tokens/s | initial compile s | recompiles | recompile s | graphs | wall s |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for key, r in comp["runs"].items():
            m, mode = key.split("|")
            mt = r["metrics"]
            incl = comp["steps"] * comp.get("batch", 128) / mt["train_s"]
            L.append(f"| {m} | {mode} | {incl:.0f} | {mt['tokens_per_s']:.0f} | {mt['tokens_per_s_steady']:.0f} | "
                     f"{mt['initial_compile_s']:.1f} | {mt['recompiles']:.0f} | {mt['recompile_s']:.2f} | "
                     f"{_f(mt.get('graphs_compiled'), '.0f')} | {r['wall_s']:.1f} |")
        L += ["", "Inductor keeps an on-disk FX-graph cache (`/tmp/torchinductor_$USER`) across processes: a graph "
              "already compiled by an earlier run (the same capacities) loads in seconds, so a small *initial "
              "compile s* means a cache hit (a cold compile of the static graph took 133 s in an earlier run of "
              "this section on this machine); the *recompile s* of `local-cf` is a cold compile of new capacities.",
              "", "On this CPU an inductor (re)compile costs tens of seconds while a step costs milliseconds: "
              "a re-compilation pays off only after (recompile s) / (step time saved) steps. Eager mode "
              "re-specialises for free, which is why the training tables above run eager.", ""]
    if cache:
        L += ["## Assignment caching needs a fixed data order", "",
              "The cache keeps each batch position's expert sets from the previous epoch; the match score "
              "compares this step's top-k sets with them. With shuffling the positions hold different "
              "tokens each epoch and the cache never switches on.", "",
              "| workload | shuffle | mean match | steps on cached assignments | recompiles | dropped % | loss |",
              "|---|---|---|---|---|---|---|"]
        for key, r in cache.items():
            w, sh = key.split("|")
            mt = r["metrics"]
            L.append(f"| {w} | {sh.split('=')[1]} | {_f(mt.get('cache_match_mean'))} | "
                     f"{100 * mt['cache_steps_frac']:.0f} % | {mt['recompiles']:.0f} | "
                     f"{100 * mt['dropped_frac']:.2f} | {mt['final_loss']:.4f} |")
        on = [k for k, r in cache.items() if r["metrics"]["cache_steps_frac"] > 0]
        best = max((r["metrics"].get("cache_match_mean") or 0.0) for r in cache.values())
        if not on:
            L += ["", f"No run reached the 0.95 switch-on score (best mean match {best:.2f}): in runs this short the "
                  "gate is still learning, so a position's expert sets keep changing from epoch to epoch and "
                  "`cache` behaves like `dynamic-cf`. DynaMoE switches caching on after >= 2000 iterations, "
                  "once routing has settled. The mechanism itself (frozen assignments replayed by GroupBy and "
                  "Aggregate, switching on/off at the thresholds) is covered by "
                  "`tests/systems/moe/test_train.py::test_caching_reproduces_the_cached_assignment` and the "
                  "controller tests."]
        L.append("")
    L += ["## Reading", "",
          "* The issue's target (>= 1.5x tokens/s over the expert static alpha at equal-or-better loss *and* lower "
          "peak memory) is **not met** by DynaMoE's policies on CPU in this run; see *meets target* in the summary.",
          "* `local-cf` does the least padded expert work of the drop-avoiding methods (mean alpha about 1.35-1.5 vs "
          "the expert's 2.0) at matched loss and slightly lower peak memory, but the saving is diluted on CPU: "
          "Adam over the expert weights, the gate, projections and per-expert GEMM dispatch do not shrink with "
          "capacity, and it recompiles often (every few steps while loads move; free in eager mode, tens of "
          "seconds each under inductor).",
          "* `dynamic-cf` follows the paper's shrink rule, which can only fire from alpha > 2 (the needed alpha is "
          ">= 1): it starts at 4 and pays for that until the lagged score falls below alpha / 2, so its mean "
          "alpha is close to or above the expert's and its peak memory is higher.",
          "* The per-step dispatch baselines without recompilation (`tutel-cf0`, `dropless`) are as fast or "
          "faster on CPU: with no graph to specialise, sizing buffers every step costs nothing extra here.",
          "* Caching never switched on (routing keeps changing while the gate trains; see above).", ""]
    L += ["## Paper numbers beside ours", "",
          "| claim (Kossmann et al. 2022, abstract) | paper | here |", "|---|---|---|",
          "| MoE as dataflow ops vs existing MoE systems, no recompilation | 1.8x speedup, 2.3x larger models (GPU, FlexFlow) | "
          "not reproduced: our peer is the pure-torch `mixture-of-experts` package; see its row (vs expert) per workload |",
          "| recompilation-enabled optimisations (dynamic/local capacity, caching) | further 1.7x speedup, less memory, better quality | "
          "see the summary table: `dynamic-cf` / `local-cf` / `cache` vs the expert static alpha on CPU |", "",
          "## Approximations and caveats", "",
          "* CPU only, scaled-down shapes (FastMoE micro-benchmark 1024->4096->1024 with 16 experts becomes "
          "256->1024->256, 512 tokens/step). Weights + Adam state dominate peak memory at these sizes, so "
          "capacity changes move peak memory by a few percent only.",
          "* Paper constants kept: shrink 0.5/1.3, raise schedule, cache 0.95/0.85 and gamma 0.99. Changed for short "
          "CPU runs: EMA weight 0.05 instead of 0.01 (bias-corrected), caching may switch on 40 steps (not 2000) "
          "after the last change, per-expert headroom 1.3.",
          "* Caching on CPU saves only the routing/index computation: the gate still runs (its probabilities "
          "weight the cached experts and it is still trained), and there is no second stream to overlap with.",
          "* Timings are noisy (shared machine); every figure comes from one seed.", ""]
    return "\n".join(L)


def _geo(vals):
    v = [x for x in vals if x]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer workloads and steps")
    ap.add_argument("--sections", default="train,compile,cache", help="comma list of train,compile,cache")
    ap.add_argument("--report-only", action="store_true", help="rebuild the page from the saved JSON")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workloads", default="", help="comma list: re-run only these training workloads "
                    "and merge them into the saved results")
    args = ap.parse_args(argv)
    from systems.core import hardware_description

    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in sections if s not in ("train", "compile", "cache")]
    if bad:
        print(f"error: unknown section(s) {bad}; valid: train, compile, cache", file=sys.stderr)
        return 2
    cmd = "python -m benchmarks.moe" + (" --quick" if args.quick else "")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        if not (args.workloads and _load("meta")):
            _save("meta", {"date": _now(), "hardware": hardware_description(), "quick": args.quick,
                           "loadavg_start": __import__("os").getloadavg()[0]})
        scale = 0.5 if args.quick else 1.0
        if "train" in sections:
            ws = [w for w in args.workloads.split(",") if w] or list(QUICK_WORKLOADS if args.quick else TRAIN_WORKLOADS)
            merged = (_load("train") or {}) if args.workloads else {}
            for w in ws:  # saved after every workload so a partial run keeps what it measured
                merged.update(section_train([w], scale, rounds=3 if args.quick else 5, per_round=3, seed=args.seed))
                _save("train", merged)
        if "compile" in sections:
            _save("compile", section_compile(steps=30 if args.quick else 40,
                                             methods=("static-cf-2.0", "local-cf") if args.quick
                                             else ("static-cf-2.0", "dynamic-cf", "local-cf")))
        if "cache" in sections:
            _save("cache", section_cache(scale))
    OUT_MD.write_text(report(cmd, args.quick))
    print(f"wrote {OUT_MD}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
