"""DynaMoE benchmark: a static capacity factor chosen in advance vs capacities recompiled as routing
changes, with every compile and recompile inside the measured tokens/s.

``make bench name=moe [args=--quick]`` (``python -m benchmarks.moe``) writes ``docs/results/moe.md``
and the raw results under ``docs/results/moe/``; ``--report-only`` re-renders the page from them.

Sections (jobs built with ``spec.job`` and run through ``execute``, the path a flow's Ray task takes):

1. **headline** — every method on the resized CPU workloads under the ``compiled`` config
   (``torch.compile(dynamic=False)``, inductor, caches off: each capacity change is a cold
   recompile), the adaptive policies also with capacity bucketing; methods interleaved (order
   rotated every repeat), repeated, wall and process-CPU tokens/s with their spread.
   An **eager reference** runs a few methods with ``compile=False`` (what a step costs uncompiled).
2. **compile caches** — the same recompiling run twice with inductor's caches on: what a recompile
   costs when its graph was compiled before (a bucketed configuration seen in an earlier run).
3. **assignment caching** — the ``cache`` policy on a fixed-order stream, with and without shuffling.
4. **memory** — peak memory per method, and the largest model (expert width) each method fits in a
   stated budget, measured at its peak configuration.
5. **kernel** — the grouped GEMM implementations and the Adam implementations, interleaved.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

from benchmarks import common

NAME = "moe"
HEADLINE_WORKLOADS = ("settle-cpu", "fastmoe-cpu")
ADAPTIVE = ("dynamic-cf", "local-cf", "cache")
DYNAMOE = ADAPTIVE
BUCKET = 0.25
APRIORI = ("static-cf-0.625", "static-cf-1.0", "static-cf-1.25", "static-cf-2.0")
MEMORY_BUDGET_MB = 256.0
TARGET = 1.5


def _spec():
    from systems.core import get_system

    return get_system(NAME)


def _label(r: dict) -> str:
    p = r.get("job_params") or {}
    b = p.get("controller.bucket_alpha")
    return r["method"] + (f" (bucket {b:g})" if b else "") + (" [eager run]" if p.get("compile") is False else "")


# -- 1. headline ----------------------------------------------------------------------------------
def headline_jobs(quick: bool, repeats: int) -> list[tuple[int, object]]:
    """(repeat, job) in run order: per repeat, per workload, every variant, order rotated by repeat."""
    from systems.moe.workloads import applicable

    spec = _spec()
    config = "compiled-quick" if quick else "compiled"
    workloads = HEADLINE_WORKLOADS[:1] if quick else HEADLINE_WORKLOADS
    methods = (["static-cf-1.25", "static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "cache",
                "tutel-cf0", "dropless"] if quick else list(spec.method_names))
    out = []
    for r in range(repeats):
        for w in workloads:
            variants = [(m, {}) for m in methods if applicable(m, w)]
            if w == "settle-cpu":
                variants += [(m, {"controller.bucket_alpha": BUCKET}) for m in (("local-cf",) if quick else ADAPTIVE)]
            k = r % len(variants)
            for m, params in variants[k:] + variants[:k]:
                out.append((r, spec.job(w, m, 0, suite="default", config=config, params=params)))
    return out


def run_headline(quick: bool, repeats: int, path: Path) -> list[dict]:
    from systems.core.execute import execute

    done: list[dict] = []
    jobs = headline_jobs(quick, repeats)
    # Warm-up (not recorded): the first compile in a process also loads the compiler stack and probes the
    # C++ toolchain, a one-time cost that would otherwise land on whichever job happens to run first.
    t0 = time.process_time()
    execute(_spec().job("micro-tiny", "static-cf-2.0", 0, suite="smoke", config=jobs[0][1].config,
                        params={"steps": 2, "mem_samples": 0}))
    print(f"[headline] compiler warm-up: {time.process_time() - t0:.0f}s CPU (not recorded)", flush=True)
    for i, (r, job) in enumerate(jobs, 1):
        t0, c0 = time.perf_counter(), time.process_time()
        res = execute(job)
        print(f"[headline {i}/{len(jobs)}] repeat {r} {job.key}: "
              + (f"{res.metrics['tokens_per_s']:.0f} tok/s, {res.metrics['tokens_per_cpu_s']:.0f} tok/CPU-s, "
                 f"{res.metrics.get('graphs_compiled', 0):.0f} graphs, drop {100 * res.metrics['dropped_frac']:.2f}%"
                 if res.ok else "FAILED " + (res.error or "").strip().splitlines()[-1][:200])
              + f" ({time.perf_counter() - t0:.0f}s wall, {time.process_time() - c0:.0f}s CPU)", flush=True)
        d = res.to_dict()
        d["repeat"] = r
        d["series"] = trim_series(d["series"]) if r == 0 else {}  # repeat 0 feeds the plots
        done.append(d)
        common.save(path, done)  # saved after every job: an interrupted run keeps what it measured
    path.unlink(missing_ok=True)  # complete: the caller stores the results with the other sections
    return done


PLOT_SERIES = ("capacity_factor", "alpha_needed", "step_cpu_s", "recompile_steps")


def trim_series(series: dict) -> dict:
    """The per-step series the report plots (the rest stay in the flow's MLflow records)."""
    return {k: v for k, v in series.items() if k in PLOT_SERIES}


# -- 1b. eager reference ---------------------------------------------------------------------------
EAGER_METHODS = ("static-cf-1.25", "static-cf-2.0", "dynamic-cf", "local-cf", "dropless")


def run_eager(quick: bool) -> list[dict]:
    """The same workloads with ``compile=False``: what each step costs without compiling, and the DynaMoE
    policies as they would look if a recompile were only a layout rebuild."""
    from systems.core.execute import execute

    spec = _spec()
    out = []
    for w in (HEADLINE_WORKLOADS[:1] if quick else HEADLINE_WORKLOADS):
        for m in EAGER_METHODS:
            params = {"compile": False, **({"steps": 80} if quick else {})}
            res = execute(spec.job(w, m, 0, suite="default", config="default", params=params))
            d = res.to_dict()
            d["series"], d["repeat"] = {}, 0
            out.append(d)
            print(f"[eager] {w} {m}: {res.metrics.get('tokens_per_cpu_s', float('nan')):.0f} tok/CPU-s", flush=True)
    return out


# -- 2. compile caches ----------------------------------------------------------------------------
def run_compile_caches(quick: bool) -> list[dict]:
    import tempfile

    from systems.core.execute import execute
    from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir

    spec = _spec()
    config = "compiled-quick" if quick else "compiled"
    out = []
    with tempfile.TemporaryDirectory(prefix="moe-inductor-") as tmp, temporary_cache_dir(tmp):
        for m, params in (("static-cf-2.0", {}), ("local-cf", {"controller.bucket_alpha": BUCKET})):
            for attempt in ("empty cache", "warm cache"):
                job = spec.job("settle-cpu", m, 0, suite="default", config=config,
                               params={**params, "compile_caches": True})
                res = execute(job)
                print(f"[caches] {m} {attempt}: compile {res.metrics.get('compile_cpu_s', 0):.1f}s CPU, "
                      f"recompiles {res.metrics.get('recompile_cpu_s', 0):.1f}s CPU", flush=True)
                d = res.to_dict()
                d["attempt"], d["series"] = attempt, {}
                out.append(d)
    return out


# -- 3. assignment caching ------------------------------------------------------------------------
def run_assignment_cache(quick: bool) -> list[dict]:
    from systems.core.execute import execute

    spec = _spec()
    out = []
    for m in (("cache",) if quick else ("dynamic-cf", "cache")):
        for shuffle in (False, True):
            params = {"workload.shuffle": shuffle}
            if quick:
                params["steps"] = 60
            res = execute(spec.job("drift-static", m, 0, suite="default", params=params))
            d = res.to_dict()
            d["series"] = {k: v for k, v in d["series"].items() if k in ("cache_match",)}
            out.append(d)
            print(f"[cache] {m} shuffle={shuffle}: cache steps {res.metrics.get('cache_steps_frac', 0):.2f}, "
                  f"match {res.metrics.get('cache_match_mean', float('nan')):.3f}", flush=True)
    return out


# -- 4. memory ------------------------------------------------------------------------------------
def run_memory(headline: list[dict], quick: bool) -> dict:
    from dataclasses import replace

    from systems.moe.budget import largest_model
    from systems.moe.methods import get_method, static_method
    from systems.moe.workloads import workload_config

    w = "settle-cpu"
    cfg = workload_config(w)
    lc, B = cfg.layer, cfg.workload.batch_size
    unit = lc.top_k * B / lc.n_experts
    first = {_label(r): r for r in headline if r["workload"] == w and r["status"] == "ok" and r["repeat"] == 0}
    names = ["static-cf-1.25", "static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "dropless",
             "tutel-cf0", "peer-moe"] if not quick else ["static-cf-2.0", "local-cf", "dropless"]
    rows = []
    for m in names:
        r = first.get(m)
        if r is None:
            continue
        p = r["params"]
        configs = []
        if m == "dropless":
            configs.append(("all steps", get_method(m), None))
        elif m == "tutel-cf0":
            c = round(max(r["series"]["capacity_factor"]) * unit)  # its largest per-step capacity
            configs.append(("largest step", get_method(m), (c,) * lc.n_experts))
        elif m == "peer-moe":
            configs.append(("all steps", get_method(m), None))
        elif m == "static-cf-oracle":
            configs.append(("all steps", static_method(r["metrics"]["oracle_alpha"], m), tuple(p["final_caps"])))
        else:
            configs.append(("peak (whole run)", get_method(m), tuple(p["peak_caps"])))
            if m in ADAPTIVE:
                configs.append(("settled (final)", get_method(m), tuple(p["final_caps"])))
        for what, method, caps in configs:
            t0 = time.process_time()
            fit = largest_model(replace(cfg, method=m), method, caps, MEMORY_BUDGET_MB, quantum=32)
            rows.append({"method": m, "capacities": what, "rows": sum(caps) if caps else None,
                         "peak_mem_mb": r["metrics"]["peak_mem_mb"], **fit})
            print(f"[memory] {m} {what}: d_hidden {fit['d_hidden']} ({time.process_time() - t0:.0f}s CPU)", flush=True)
    return {"workload": w, "budget_mb": MEMORY_BUDGET_MB, "d_hidden": lc.d_hidden, "rows": rows}


# -- 5. kernel and Adam ---------------------------------------------------------------------------
def run_kernels(quick: bool) -> dict:
    import torch

    from systems.moe.kernels import grouped_linear, grouped_mm_supported, segments_from_sizes
    from systems.moe.train import make_optimizer
    from systems.moe.workloads import workload_config

    cfg = workload_config("settle-cpu")
    lc, B = cfg.layer, cfg.workload.batch_size
    n, d, h = lc.n_experts, lc.d_model, lc.d_hidden
    unit = lc.top_k * B // n
    layouts = {"uniform alpha 2.0": (2 * unit,) * n, "uniform alpha 1.0": (unit,) * n,
               "per-expert (local)": tuple(int(unit * f) for f in (1.9, 1.6, 1.4, 1.2, 1.1, 0.9, 0.8, 0.6))}
    impls = ["loop", "padded_bmm"] + (["grouped_mm"] if grouped_mm_supported("cpu", torch.float32) else [])
    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(n, d, h, generator=g, requires_grad=True)
    b1 = torch.zeros(n, 1, h, requires_grad=True)
    reps = 3 if quick else 7
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for rep in range(reps):
            for lname, sizes in layouts.items():
                seg = segments_from_sizes(sizes, "cpu")
                x = torch.randn(sum(sizes), d, generator=g, requires_grad=True)
                gy = torch.randn(sum(sizes), h, generator=g)
                order = impls[rep % len(impls):] + impls[:rep % len(impls)]
                for impl in order:
                    t0, c0 = time.perf_counter(), time.process_time()
                    y = grouped_linear(x, w1, b1, seg, impl)
                    torch.autograd.grad(y, (x, w1, b1), gy)
                    times.setdefault((lname, impl), []).append((time.perf_counter() - t0, time.process_time() - c0))
        kern = [{"layout": ln, "rows": sum(layouts[ln]), "impl": im,
                 "wall_ms": [1e3 * t for t, _ in v], "cpu_ms": [1e3 * c for _, c in v]}
                for (ln, im), v in times.items()]
        from systems.moe.layer import MoEModel

        adam = []
        model = MoEModel(d, d, lc)
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        opts = {k: make_optimizer(model.parameters(), 1e-3, k, torch.device("cpu"))[0] for k in ("fused", "foreach", "loop")}
        at: dict[str, list[tuple[float, float]]] = {}
        for rep in range(reps + 1):
            for k in list(opts)[rep % 3:] + list(opts)[:rep % 3]:
                t0, c0 = time.perf_counter(), time.process_time()
                opts[k].step()
                if rep:  # the first step creates the state
                    at.setdefault(k, []).append((time.perf_counter() - t0, time.process_time() - c0))
        adam = [{"adam": k, "wall_ms": [1e3 * t for t, _ in v], "cpu_ms": [1e3 * c for _, c in v]} for k, v in at.items()]
    finally:
        torch.set_num_threads(before)
    params = sum(p.numel() for p in model.parameters())
    return {"shape": {"n": n, "d": d, "h": h, "unit_rows": unit}, "kernel": kern, "adam": adam, "params": params}


# -- report ---------------------------------------------------------------------------------------
def _med(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(v) if v else float("nan")


def _spread(v, digits=0) -> str:
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if not v:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.median(v):.{digits}f} [{min(v):.{digits}f}–{max(v):.{digits}f}]"


def summarize(headline: list[dict], tol: float) -> dict:
    """Per workload and row: medians over repeats, eligibility and the ratios of the headline."""
    out = {}
    for w in dict.fromkeys(r["workload"] for r in headline):
        rows: dict[str, dict] = {}
        for r in headline:
            if r["workload"] != w or r["status"] != "ok":
                continue
            rows.setdefault(_label(r), []).append(r)
        agg = {}
        for lab, rs in rows.items():
            m0 = rs[0]["metrics"]
            agg[lab] = {
                "method": rs[0]["method"], "n": len(rs),
                "tps": [x["metrics"]["tokens_per_s"] for x in rs],
                "tpc": [x["metrics"]["tokens_per_cpu_s"] for x in rs],
                "tpc_steady": [x["metrics"]["tokens_per_cpu_s_steady"] for x in rs],
                "compile_cpu": [x["metrics"]["compile_cpu_s"] for x in rs],
                "recompile_cpu": [x["metrics"]["recompile_cpu_s"] for x in rs],
                "train_cpu": [x["metrics"]["train_cpu_s"] for x in rs],
                "step_cpu_ms": [x["metrics"]["step_cpu_ms_median"] for x in rs],
                "graphs": m0.get("graphs_compiled"), "recompiles": m0["recompiles"],
                "hits": m0.get("graph_cache_hits"), "dropped": m0["dropped_frac"], "loss": m0["final_loss"],
                "acc": m0.get("accuracy"), "peak_mb": m0["peak_mem_mb"], "mean_alpha": m0["mean_alpha"],
                "final_alpha": m0["final_alpha"], "meets": bool(m0.get("meets_drop_limit", 0)),
                "compiled": bool(rs[0]["params"].get("compile")), "oracle_alpha": m0.get("oracle_alpha"),
                "needed_max": m0.get("alpha_needed_max"), "needed_mean": m0.get("alpha_needed_mean"),
            }
        ref_loss = agg.get("static-cf-2.0", {}).get("loss", float("nan"))
        apriori = {k: v for k, v in agg.items() if k in APRIORI}
        eligible = {k: v for k, v in apriori.items() if v["meets"] and v["loss"] <= ref_loss + tol}
        best_ap = max(eligible, key=lambda k: _med(eligible[k]["tpc"])) if eligible else None
        base = agg[best_ap] if best_ap else None
        oracle = agg.get("static-cf-oracle")
        for v in agg.values():
            v["quality_ok"] = base is not None and v["loss"] <= base["loss"] + tol
            v["break_even"] = _break_even(v, base) if base else float("nan")
            for key, b in (("vs_apriori", base), ("vs_oracle", oracle)):
                v[key + "_cpu"] = _med(v["tpc"]) / _med(b["tpc"]) if b else float("nan")
                v[key + "_wall"] = _med(v["tps"]) / _med(b["tps"]) if b else float("nan")
                v[key + "_steady"] = _med(v["tpc_steady"]) / _med(b["tpc_steady"]) if b else float("nan")
        dyn = {k: v for k, v in agg.items() if v["method"] in DYNAMOE and v["meets"] and v["quality_ok"]}
        best_dyn = max(dyn, key=lambda k: _med(dyn[k]["tpc"])) if dyn else None
        be = agg[best_dyn]["break_even"] if best_dyn and base else None
        out[w] = {"rows": agg, "best_apriori": best_ap, "best_dynamoe": best_dyn, "break_even_steps": be,
                  "steps": headline[0]["params"].get("steps") if headline else None}
    return out


def _break_even(v: dict, base: dict) -> float:
    """Steps after which a row's extra recompile CPU time is paid back by its per-step CPU saving over ``base``
    (computed from the measured medians; inf when it saves nothing per step, 0 when it recompiles no more)."""
    saving = _med(base["step_cpu_ms"]) - _med(v["step_cpu_ms"])  # ms per step
    extra = _med(v["recompile_cpu"]) - _med(base["recompile_cpu"])  # the first compile is common to compiled rows
    if extra <= 0:
        return 0.0 if saving >= 0 else float("inf")
    return 1e3 * extra / saving if saving > 0 else float("inf")


def report(data: dict, cmd: str) -> str:
    from systems.moe import QUALITY_TOLERANCE
    from systems.moe.methods import DROP_LIMIT

    info = data.get("machine", {})
    quick = data.get("quick", False)
    head = data.get("headline") or []
    summ = summarize(head, QUALITY_TOLERANCE)
    backend = "aot_eager" if quick else "inductor"
    L = [common.header("MoE (DynaMoE): static capacity chosen in advance vs recompiled capacities", cmd, info,
                       extra=f"Every figure is measured (nothing simulated); no GPU was used (the GPU section is "
                             f"`benchmarks/gpu_sections/moe.py`, run by `make bench-gpu`). torch intra-op threads = 1 "
                             f"per run; {data.get('repeats', 1)} repeat(s), methods interleaved (order rotated each "
                             f"repeat); cells give the median and [min–max] over repeats. Process CPU time (this "
                             f"process and its finished children, which includes the C++ compiler) is the steadier "
                             f"figure on a shared machine; wall time carries the load.")]
    end = data.get("machine_end") or {}
    if isinstance(end.get("loadavg_1m"), (int, float)):
        L += [f"1-minute load average {end['loadavg_1m']:.1f} when the run ended ({end.get('date', '?')}): the "
              "machine is shared, so wall times of different repeats saw different loads.", ""]
    for later in data.get("later", []):
        L += [f"Sections {', '.join(later['sections'])} were (re-)run with `{later['command']}` on {later['date']} "
              f"(1-minute load average {later.get('loadavg_1m') or float('nan'):.1f}).", ""]
    L += ["## What is compared", "",
          f"* **A static capacity factor chosen in advance** — `static-cf-0.625` (what the `mixture-of-experts` package's "
          f"default `capacity_factor_train = 1.25` per choice means for top-2), `-1.0`, `-1.25`, `-2.0`. The "
          f"**best a-priori** row of a workload is the fastest of these that keeps drops below the limit and its "
          f"loss within {QUALITY_TOLERANCE} of `static-cf-2.0`'s (a choice among the customary values made after the "
          f"fact — generous to the baseline). `static-cf-2.0` is the platform's reference (the dashboard's ratio).",
          "* **Oracle static** `static-cf-oracle` — the smallest capacity whose drops stay under the limit on this "
          "run's own routing (recorded by a dropless run of the same seed; picked with hindsight, selection not charged).",
          "* **DynaMoE policies** — `dynamic-cf` (global alpha from 4.0: shrink when the needed-alpha EMA < 0.5 alpha to "
          "1.3x it, raise along 1.8/2.0/2.2/2.5/2.75), `local-cf` (per-expert capacities from each expert's load EMA "
          "and spread: fitted once, then only experts that drop or near capacity grow; refitted when it saves 15 %), "
          "`cache` (dynamic-cf + assignment caching). Statistics read 2 steps late. `(bucket 0.25)` rows round every "
          "capacity up to a multiple of 0.25 alpha (fewer distinct graphs).",
          "* **Peers** — `tutel-cf0` (Tutel's cf = 0: this step's max load, padded; eager, as Tutel never recompiles), "
          "`dropless` (sort-and-segment, exact segments, no drops; compiled: its shapes never change), `peer-moe` "
          "(the pure-torch `mixture-of-experts` 0.2.3 package at alpha 2, einsum dispatch; eager).",
          "",
          f"One **drop limit** for every method: dropped assignments < {100 * DROP_LIMIT:g} % of k B steps; one **quality "
          f"gate**: held-out loss within {QUALITY_TOLERANCE} of the best a-priori row's. All methods run the same "
          "grouped expert GEMM (`torch._grouped_mm` on CPU here) and fused Adam.", "",
          f"**Compilation is in the headline.** The `{'compiled-quick' if quick else 'compiled'}` config runs forward + "
          f"loss through `torch.compile(dynamic=False)` with the `{backend}` backend"
          + (", inductor's caches off: every graph is compiled cold (C++ code generation and `g++`)" if not quick else
             " (graphs traced and re-specialised, no code generation — the quick run)")
          + "; a capacity change is a new graph unless that configuration was compiled before in the run (a graph "
          "cache hit). **tokens/s count every step, the first compile and all recompiles included**; *steady* = the "
          "median step without a compile. Compile CPU s = extra CPU of the steps that compiled.", ""]
    for w, s in summ.items():
        rows = s["rows"]
        ba, bd = s["best_apriori"], s["best_dynamoe"]
        r0 = next(r for r in head if r["workload"] == w)
        p = r0["params"]
        L += [f"## {w}", "",
              f"{p['steps']} steps of B = {p['batch_tokens']} tokens, {p['n_experts']} experts top-{p['top_k']} "
              f"({p['top_k'] * p['batch_tokens'] // p['n_experts']} assignments per expert per step), d = {p['d_model']}, "
              f"h = {p['d_hidden']}, kernel `{p['kernel']}`, Adam `{p['adam']}`. Data: {p['data']}.", ""]
        cols = ["method", "tokens/s (wall)", "tokens/CPU-s", "vs best a-priori (CPU)", "vs oracle (CPU)",
                "steady tokens/CPU-s", "compile CPU s", "recompiles", "graphs", "recompile CPU s", "dropped %",
                "drop limit", "loss", "quality", "peak MB", "mean alpha", "break-even steps"]
        tab = []
        for lab, v in rows.items():
            name = f"**{lab}**" if lab in (ba, bd) else lab
            tab.append([name + ("" if v["compiled"] else " (eager)"), _spread(v["tps"]), _spread(v["tpc"]),
                        v["vs_apriori_cpu"], v["vs_oracle_cpu"], _spread(v["tpc_steady"]),
                        _spread(v["compile_cpu"], 1), int(v["recompiles"]),
                        "-" if v["graphs"] is None else int(v["graphs"]), _spread(v["recompile_cpu"], 1),
                        100 * v["dropped"], "ok" if v["meets"] else "**over**", v["loss"],
                        "ok" if v["quality_ok"] else "worse", v["peak_mb"], v["mean_alpha"],
                        "never" if v["break_even"] == float("inf") else
                        (round(v["break_even"]) if math.isfinite(v["break_even"]) else "-")])
        L += [common.md_table(cols, tab)]
        ora = rows.get("static-cf-oracle", {})
        L += [f"Needed alpha (zero drops) on the `static-cf-2.0` run: max {rows['static-cf-2.0']['needed_max']:.2f}, "
              f"mean {rows['static-cf-2.0']['needed_mean']:.2f}. Oracle alpha: "
              f"{common.fmt(ora.get('oracle_alpha'))}. Best a-priori: **{ba or 'none meets the limit'}**; best DynaMoE "
              f"policy meeting the limit and the gate: **{bd or 'none'}**.", ""]
        if ba and bd:
            d = rows[bd]
            ok = d["vs_apriori_cpu"] >= TARGET
            L += [f"**Target (>= {TARGET}x for the best DynaMoE policy over the best a-priori static alpha at "
                  f"equal-or-better loss): {'met' if ok else 'not met'}** — {bd} vs {ba}: "
                  f"{d['vs_apriori_cpu']:.2f}x in tokens per CPU second and {d['vs_apriori_wall']:.2f}x in wall "
                  f"tokens/s, compiles included; {d['vs_apriori_steady']:.2f}x in steady steps (compiles excluded). "
                  + (f"Its extra compile CPU time is paid back after about {s['break_even_steps']:,.0f} steps at the "
                     f"measured per-step saving (computed from the measured figures, not run)."
                     if s["break_even_steps"] not in (None, float("inf")) else
                     "It saves nothing per step, so its compiles are never paid back."), ""]
    eager = data.get("eager") or []
    if eager:
        L += ["## Without compiling (eager reference)", "",
              "The same workloads and seed with `compile=False`: a configuration change is only a layout rebuild. "
              "This is what the DynaMoE policies would gain if recompiling were free, and, against the compiled "
              "*steady* column above, what compiling buys per step. One run each.", ""]
        tab = [[r["workload"], r["method"], round(r["metrics"]["tokens_per_s"]), round(r["metrics"]["tokens_per_cpu_s"]),
                round(r["metrics"]["tokens_per_cpu_s_steady"]), int(r["metrics"]["recompiles"]),
                100 * r["metrics"]["dropped_frac"], r["metrics"]["final_loss"], r["metrics"]["mean_alpha"]]
               for r in eager if r["status"] == "ok"]
        by = {(r["workload"], r["method"]): r["metrics"]["tokens_per_cpu_s"] for r in eager if r["status"] == "ok"}
        for row in tab:
            ref = by.get((row[0], "static-cf-2.0"))
            row.append(row[3] / ref if ref else None)
        L += [common.md_table(["workload", "method", "tokens/s", "tokens/CPU-s", "steady tokens/CPU-s", "recompiles",
                               "dropped %", "loss", "mean alpha", "vs static-cf-2.0 (CPU)"], tab)]
    # plots
    L += _plots_md(head, data.get("_dir"))
    # caches
    caches = data.get("compile_caches") or []
    if caches:
        L += ["## Compile caches: what a recompile costs when the graph was compiled before", "",
              "The same `settle-cpu` runs with inductor's caches **on**, in a fresh cache directory: the first run "
              "compiles (and fills the cache), the second finds every graph in it. With capacity bucketing the set of "
              "configurations is small, so a long job (or the next job) keeps hitting the cache.", ""]
        tab = [[_label(r), r["attempt"], r["metrics"]["compile_cpu_s"], r["metrics"]["recompile_cpu_s"],
                int(r["metrics"]["recompiles"]), int(r["metrics"].get("graphs_compiled", 0)),
                round(r["metrics"]["tokens_per_cpu_s"]), round(r["metrics"]["tokens_per_s"])]
               for r in caches if r["status"] == "ok"]
        L += [common.md_table(["method", "inductor cache", "first compile CPU s", "recompile CPU s", "recompiles",
                               "graphs", "tokens/CPU-s", "tokens/s"], tab)]
    ac = data.get("assignment_cache") or []
    if ac:
        L += ["## Assignment caching needs a fixed data order", "",
              "`drift-static` (identical epochs in a fixed order), eager: `cache` switches GroupBy/Aggregate to the "
              "assignments cached for the same batch position one epoch earlier once their match score passes 0.95 "
              "(off below 0.85). On one CPU core it cannot overlap anything, so the only effect here is whether it "
              "switches on and what it does to drops and loss; shuffling breaks it.", ""]
        tab = [[r["method"], str(r["job_params"].get("workload.shuffle")), r["metrics"].get("cache_match_mean"),
                r["metrics"]["cache_steps_frac"], int(r["metrics"]["recompiles"]), 100 * r["metrics"]["dropped_frac"],
                r["metrics"]["final_loss"], round(r["metrics"]["tokens_per_cpu_s"])] for r in ac if r["status"] == "ok"]
        L += [common.md_table(["method", "shuffle", "mean match", "steps on cache", "recompiles", "dropped %",
                               "loss", "tokens/CPU-s"], tab)]
    mem = data.get("memory")
    if mem:
        rows = mem["rows"]
        base = next((r["d_hidden"] for r in rows if r["method"] == "static-cf-2.0"), None)
        L += [f"## Memory: the largest model each method fits in {mem['budget_mb']:g} MiB", "",
              f"`{mem['workload']}` with the expert width `d_hidden` grown (workload: {mem['d_hidden']}). Peak = "
              "parameters + gradients + Adam state + the peak of live tensors of one forward + backward + Adam step, "
              "measured by the tensor tracker (tensor storage, no allocator slack), at the method's **peak** "
              "configuration over its run (adaptive policies start at alpha 4) and, for them, also the settled one; the "
              "width is bisected to 32 and both neighbours measured. *peak MB (run)* is the run's own peak at the "
              "workload's width.", ""]
        tab = [[r["method"], r["capacities"], "-" if r["rows"] is None else r["rows"], r["peak_mem_mb"], r["d_hidden"],
                r["expert_params_m"], r["peak_mb"], r["next_peak_mb"], (r["d_hidden"] / base) if base else None]
               for r in rows]
        L += [common.md_table(["method", "capacities", "buffer rows", "peak MB (run)", "largest d_hidden",
                               "expert params (M)", "peak MB there", "peak MB at +32", "vs static-cf-2.0"], tab)]
    kern = data.get("kernels")
    if kern:
        sh = kern["shape"]
        L += ["## Kernel and optimizer", "",
              f"One expert layer (n = {sh['n']}, d = {sh['d']} -> h = {sh['h']}) forward + backward over three "
              f"layouts, the implementations interleaved; and one optimizer step over the `settle-cpu` model's "
              f"{kern['params']:,} parameters. Median [min–max] ms.", ""]
        tab = [[k["layout"], k["rows"], k["impl"], _spread(k["wall_ms"], 1), _spread(k["cpu_ms"], 1),
                1e3 * _med(k["cpu_ms"]) / k["rows"]] for k in kern["kernel"]]
        L += [common.md_table(["layout", "rows", "implementation", "wall ms", "CPU ms", "CPU µs per row"], tab)]
        tab = [[a["adam"], _spread(a["wall_ms"], 2), _spread(a["cpu_ms"], 2)] for a in kern["adam"]]
        L += [common.md_table(["Adam", "wall ms", "CPU ms"], tab)]
    L += ["## How to run", "",
          "`make bench name=moe` (this page; `args=--quick` for the minutes-long version: one workload, the "
          "`aot_eager` backend), `make bench name=moe args=--report-only` (re-render), `syslab moe bench -s default "
          "-w settle-cpu --compile` (the same jobs, printed), `make bench-gpu` (the GPU section).", ""]
    return "\n".join(L)


def _plots_md(head: list[dict], outdir) -> list[str]:
    if not outdir:
        return []
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    L = []
    for w in dict.fromkeys(r["workload"] for r in head):
        runs = {_label(r): r for r in head if r["workload"] == w and r["repeat"] == 0 and r["status"] == "ok"}
        if not runs:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 4))
        ref = runs.get("static-cf-2.0") or next(iter(runs.values()))
        for lab, r in runs.items():
            s = r["series"]
            if r["method"] in ("peer-moe",) or "capacity_factor" not in s:
                continue
            ls = "--" if r["method"].startswith("static") else "-"
            axes[0].plot(s["capacity_factor"], ls, lw=1.2, label=lab)
            cum = []
            tot = 0.0
            for c in s.get("step_cpu_s", []):
                tot += c
                cum.append(tot)
            axes[1].plot(cum, ls, lw=1.2, label=lab)
        axes[0].plot(ref["series"]["alpha_needed"], ":", color="k", lw=1, label="alpha needed (static-cf-2.0 run)")
        axes[0].set_title("capacity factor (expert rows / kB)", fontsize=10)
        axes[1].set_title("cumulative step CPU seconds (compiles included)", fontsize=10)
        for a in axes:
            a.set_xlabel("step")
        axes[0].legend(fontsize=6, ncol=2)
        fig.suptitle(f"{w}: repeat 0")
        fig.tight_layout()
        name = f"{w}_headline.png"
        fig.savefig(Path(outdir) / name, dpi=90)
        plt.close(fig)
        L += [f"![{w}](moe/{name})", ""]
    return L


def main(argv=None) -> int:
    ap = common.parser(NAME, __doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=None, help="headline repeats (default 2; --quick 1)")
    ap.add_argument("--sections", default=None,
                    help="comma list of headline,eager,caches,cache,memory,kernels (default: all; --quick: all but "
                         "caches, which needs inductor)")
    args = ap.parse_args(argv)
    sections = [s for s in (args.sections or ("headline,eager,cache,memory,kernels" if args.quick else
                                               "headline,eager,caches,cache,memory,kernels")).split(",") if s]
    bad = [s for s in sections if s not in ("headline", "eager", "caches", "cache", "memory", "kernels")]
    if bad:
        print(f"error: unknown section(s) {bad}; valid: headline, eager, caches, cache, memory, kernels",
              file=sys.stderr)
        return 2
    repeats = args.repeats or (1 if args.quick else 2)
    if repeats < 1:
        print(f"error: --repeats must be >= 1, got {repeats}", file=sys.stderr)
        return 2
    root = common.results_dir(args.out)
    outdir = root / NAME
    outdir.mkdir(parents=True, exist_ok=True)
    store = outdir / ("results-quick.json" if args.quick else "results.json")
    cmd = common.command_line(NAME, argv)
    if args.report_only:
        data = common.load(store)
    else:
        partial = args.sections is not None  # a re-run of some sections keeps the others' stored results
        data = common.load(store) if store.exists() and partial else {}
        if data:
            data.setdefault("later", []).append({"command": cmd, "sections": sections, **common.machine()})
        else:
            data.update({"machine": common.machine(), "quick": args.quick, "repeats": repeats, "command": cmd})
        if "headline" in sections:
            data["headline"] = run_headline(args.quick, repeats, outdir / "headline-partial.json")
            common.save(store, data)
        if "eager" in sections:
            data["eager"] = run_eager(args.quick)
            common.save(store, data)
        if "caches" in sections:
            data["compile_caches"] = run_compile_caches(args.quick)
            common.save(store, data)
        if "cache" in sections:
            data["assignment_cache"] = run_assignment_cache(args.quick)
            common.save(store, data)
        if "memory" in sections and data.get("headline"):
            data["memory"] = run_memory(data["headline"], args.quick)
            common.save(store, data)
        if "kernels" in sections:
            data["kernels"] = run_kernels(args.quick)
            common.save(store, data)
        data["machine_end"] = common.machine()
        common.save(store, data)
    md = report({**data, "_dir": outdir}, data.get("command", cmd))
    (root / f"{NAME}.md").write_text(md)
    print(f"wrote {root / (NAME + '.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
