"""Mapper search with real LLMs: ``make bench name=mapper args=--llm`` → ``docs/results/mapper-llm.md``.

Runs, against the real-policy experts of the nine benchmarks (simulated times):

1. ``llm-agent`` and ``optoprime`` on the configured endpoint (the local ``syslab llm`` server by
   default), grammar on (``gbnf``: llama.cpp's grammar field; ``lark-tool`` for hosted models) and
   off, ``--iterations`` x ``--seeds``; per run: compile rate, best speedup over the expert, tokens,
   LLM wall time and the local server's CPU time;
2. beside them ``random-search`` and ``scalar-tuner`` at 10 / 100 / 1000 iterations (same seeds);
3. the feedback ablation ``score`` / ``raw`` / ``explain`` / ``guide`` for ``llm-agent``.

Every run is appended to ``docs/results/mapper-llm/runs.jsonl`` as soon as it ends (a re-run with the
same arguments skips what is there, so a long run can be resumed), and the document is rendered from
that file alone. ``--max-runs`` / ``--apps`` / ``--methods`` / ``--grammar`` / ``--levels`` select a
subset; the document says exactly which rows ran.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_MD = REPO / "docs/results/mapper-llm.md"
STORE = REPO / "docs/results/mapper-llm/runs.jsonl"
LLM_METHODS = ("llm-agent", "optoprime")
BASELINES = ("random-search", "scalar-tuner")
BASELINE_BUDGETS = (10, 100, 1000)
LEVELS = ("score", "raw", "explain", "guide")


def _server_cpu_s() -> float | None:
    """CPU seconds (user+sys) of the local ``syslab llm`` server process so far, when it runs here."""
    from systems.mapper.agent.llm import local_endpoint

    loc = local_endpoint()
    if not loc or not loc.get("pid"):
        return None
    try:
        fields = Path(f"/proc/{int(loc['pid'])}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _key(d: dict) -> str:
    return "|".join(str(d.get(k)) for k in ("kind", "app", "method", "grammar", "feedback", "seed", "iterations",
                                            "model"))


def _load(store: Path) -> list[dict]:
    if not store.exists():
        return []
    return [json.loads(ln) for ln in store.read_text().splitlines() if ln.strip()]


def _append(store: Path, row: dict) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    with store.open("a") as f:
        f.write(json.dumps(row, default=str) + "\n")


def run_llm(app: str, method: str, grammar: str, feedback: str, seed: int, iterations: int, cfg) -> dict:
    """One LLM search; the row recorded for it."""
    from dataclasses import replace

    from systems.mapper.search import search

    c = replace(cfg, grammar=grammar)
    cpu0, t0, pc0 = _server_cpu_s(), time.perf_counter(), time.process_time()
    res = search(app, method, iterations=iterations, seed=seed, feedback=feedback, llm=c)
    cpu1 = _server_cpu_s()
    recs = res.records
    compiled = [r.status not in ("compile_error", "malformed") for r in recs]
    return {"kind": "llm", "app": app, "method": method, "grammar": grammar, "feedback": feedback, "seed": seed,
            "iterations": iterations, "model": c.model, "server": c.server or "unknown",
            "answered_by": res.llm.get("llm_answered_by"), "grammar_sent": res.llm.get("llm_grammar_sent"),
            "dsl_reference": res.llm.get("dsl_reference"), "dsl_grammar_sha": res.llm.get("dsl_grammar_sha"),
            "iterations_run": res.iterations, "compiled": sum(compiled), "ok": sum(r.status == "ok" for r in recs),
            "statuses": [r.status + (f":{r.error_kind}" if r.error_kind else "") for r in recs],
            "cut_at_max_tokens": sum(r.finish_reason == "length" for r in recs),
            "best_time_s": res.best_time_s, "expert_time_s": res.expert_time_s, "speedup": res.speedup,
            "prompt_tokens": sum(r.prompt_tokens for r in recs),
            "completion_tokens": sum(r.completion_tokens for r in recs),
            "cost_usd": sum(r.cost_usd for r in recs), "llm_wall_s": sum(r.llm_latency_s for r in recs),
            "wall_s": time.perf_counter() - t0, "client_cpu_s": time.process_time() - pc0,
            "server_cpu_s": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
            "best_mapper": res.best_mapper, "proposals": [r.proposal[:600] for r in recs],
            "messages": [r.message for r in recs], "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "loadavg": os.getloadavg()[0]}


def run_baseline(app: str, method: str, seed: int, iterations: int) -> dict:
    from systems.mapper.search import search

    t0 = time.perf_counter()
    res = search(app, method, iterations=iterations, seed=seed, wall_s=None)
    return {"kind": "baseline", "app": app, "method": method, "grammar": "-", "feedback": "score", "seed": seed,
            "iterations": iterations, "model": "-", "best_time_s": res.best_time_s, "expert_time_s": res.expert_time_s,
            "speedup": res.speedup, "ok": sum(r.status == "ok" for r in res.records),
            "wall_s": time.perf_counter() - t0}


def _gm(vals):
    vals = [v for v in vals if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def _f(v, d=3):
    return "-" if v is None else f"{v:.{d}f}"


def _llm_statuses(r: dict) -> list[str]:
    """The statuses of the LLM's own proposals (optoprime's iteration 0 is the starting mapper)."""
    return r["statuses"][1:] if r["method"] == "optoprime" else r["statuses"]


def render(rows: list[dict], command: str, planned: dict) -> str:
    from systems.core import hardware_description

    llm = [r for r in rows if r["kind"] == "llm"]
    base = [r for r in rows if r["kind"] == "baseline"]
    models = sorted({r["model"] for r in llm})
    servers = sorted({r.get("server", "?") for r in llm})
    lines = ["# Mapper search with real LLMs (results simulated, LLM measured)", "",
             f"Command(s): {command}" if command.startswith("`") else f"Command: `{command}`", "",
             f"Machine: {hardware_description()}; {platform.python_version()}. Load average during the runs: "
             + (f"{min(r['loadavg'] for r in llm):.1f}-{max(r['loadavg'] for r in llm):.1f}" if llm else "-")
             + " (a 2-core machine shared with other jobs: wall times are inflated; the server's CPU time is "
               "given beside them).", "",
             f"Model: {', '.join(models) or '-'}; server: {', '.join(servers) or '-'}; DSL reference "
             f"{', '.join(sorted({str(r.get('dsl_reference')) for r in llm})) or '-'}; DSL grammar sha "
             f"{', '.join(sorted({str(r.get('dsl_grammar_sha')) for r in llm})) or '-'}. "
             "All times are *simulated* makespans of the benchmark; speedup = expert time / best time found "
             "(> 1: faster than the real-policy expert).", ""]
    # 1. compile rate with / without grammar
    lines += ["## 1. Do the proposals compile? (grammar on vs off)", "",
              "| method | grammar | runs | proposals | compiled | compile rate | ran ok | cut at max_tokens |",
              "|---|---|---|---|---|---|---|---|"]
    for m in LLM_METHODS:
        for g in sorted({r["grammar"] for r in llm if r["method"] == m}):
            rs = [r for r in llm if r["method"] == m and r["grammar"] == g]
            sts = [x for r in rs for x in _llm_statuses(r)]
            n = len(sts)
            c = sum(not x.startswith(("compile_error", "malformed")) for x in sts)
            ok = sum(x == "ok" for x in sts)
            cut = sum(r.get("cut_at_max_tokens", 0) for r in rs)
            lines.append(f"| {m} | {g} | {len(rs)} | {n} | {c} | {c / n:.0%} | {ok} | {cut} |" if n else
                         f"| {m} | {g} | {len(rs)} | 0 | - | - | - | - |")
    lines += ["", "Counted: the LLM's own proposals. A proposal *compiles* when the DSL compiler accepts it (it may "
              "still fail when mapped or run). optoprime's first iteration evaluates its starting (default) "
              "mapper and is not counted; a `malformed` optoprime step is a reply with no parseable JSON "
              "suggestion.", ""]
    # 2. speedups
    apps = sorted({r["app"] for r in rows}, key=lambda a: a)
    lines += ["## 2. Best speedup over the expert (mean over seeds; `-` = nothing ran ok)", ""]
    cols = [(m, g) for m in LLM_METHODS for g in sorted({r["grammar"] for r in llm if r["method"] == m})]
    bcols = [(m, n) for m in BASELINES for n in sorted({r["iterations"] for r in base if r["method"] == m})]
    hdr = ["benchmark"] + [f"{m} ({g}, {sorted({r['iterations'] for r in llm if r['method'] == m})} it)"
                           for m, g in cols] + [f"{m} @{n}" for m, n in bcols]
    lines += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
    for a in apps:
        cells = [a]
        for m, g in cols:
            rs = [r for r in llm if r["app"] == a and r["method"] == m and r["grammar"] == g and r["feedback"] == "guide"]
            sp = [r["speedup"] for r in rs if r["speedup"] and "ok" in _llm_statuses(r)]
            start = [r["speedup"] for r in rs if r["speedup"] and "ok" not in _llm_statuses(r)]
            cell = f"{sum(sp) / len(sp):.3f} ({len(sp)}/{len(rs)})" if sp else ("-" if not rs else f"- (0/{len(rs)})")
            if start and not sp:
                cell += f"; start mapper {sum(start) / len(start):.3f}"
            cells.append(cell)
        for m, n in bcols:
            rs = [r for r in base if r["app"] == a and r["method"] == m and r["iterations"] == n]
            sp = [r["speedup"] for r in rs if r["speedup"]]
            cells.append(_f(sum(sp) / len(sp)) if sp else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "LLM cells: mean speedup over the seeds in which an LLM proposal ran ok (k/n = such seeds / seeds "
              "run), feedback `guide`; `start mapper` = optoprime's starting (default) mapper, the only one that ran.",
              ""]
    # 3. ablation
    abl = [r for r in llm if r["method"] == "llm-agent"]
    levels = [lv for lv in LEVELS if any(r["feedback"] == lv for r in abl)]
    lines += ["## 3. Feedback ablation (llm-agent)", "",
              "| feedback | grammar | runs | compile rate | runs with a working mapper | geomean speedup (those) |",
              "|---|---|---|---|---|---|"]
    for lv in levels:
        for g in sorted({r["grammar"] for r in abl if r["feedback"] == lv}):
            rs = [r for r in abl if r["feedback"] == lv and r["grammar"] == g]
            n = sum(r["iterations_run"] for r in rs)
            lines.append(f"| {lv} | {g} | {len(rs)} | {sum(r['compiled'] for r in rs) / max(1, n):.0%} | "
                         f"{sum(1 for r in rs if r['speedup'])}/{len(rs)} | {_f(_gm([r['speedup'] for r in rs]))} |")
    # 4. cost
    lines += ["", "## 4. Tokens and time", "",
              "| method | grammar | feedback | runs | iterations | prompt tokens | completion tokens | cost (USD) | "
              "LLM wall s / iteration | server CPU s / iteration | search wall s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    groups = sorted({(r["method"], r["grammar"], r["feedback"]) for r in llm})
    for m, g, fb in groups:
        rs = [r for r in llm if (r["method"], r["grammar"], r["feedback"]) == (m, g, fb)]
        it = sum(r["iterations_run"] for r in rs) or 1
        scpu = [r["server_cpu_s"] for r in rs if r.get("server_cpu_s") is not None]
        lines.append(f"| {m} | {g} | {fb} | {len(rs)} | {it} | {sum(r['prompt_tokens'] for r in rs):.0f} | "
                     f"{sum(r['completion_tokens'] for r in rs):.0f} | {sum(r['cost_usd'] for r in rs):.4f} | "
                     f"{sum(r['llm_wall_s'] for r in rs) / it:.1f} | "
                     f"{(sum(scpu) / it if scpu else float('nan')):.1f} | {sum(r['wall_s'] for r in rs):.0f} |")
    # 5. what ran
    lines += ["", "## 5. What ran and what did not", "",
              f"Planned by the command: {json.dumps(planned)}.", "",
              f"Ran: {len(llm)} LLM searches ({sum(r['iterations_run'] for r in llm)} LLM iterations) and "
              f"{len(base)} baseline searches. Per LLM run (status of each iteration):", ""]
    for r in llm:
        lines.append(f"- {r['app']} / {r['method']} / grammar {r['grammar']} / {r['feedback']} / seed {r['seed']}: "
                     f"{', '.join(r['statuses'])}; best speedup {_f(r['speedup'])}")
    shown = [r for r in llm if r.get("proposals")]
    if shown:
        lines += ["", "## 6. What the model wrote (first LLM proposal of each condition, cut at 600 characters)", ""]
        seen = set()
        for r in shown:
            key = (r["method"], r["grammar"])
            if key in seen:
                continue
            seen.add(key)
            i = 1 if r["method"] == "optoprime" and len(r["proposals"]) > 1 else 0
            lines += [f"{r['method']}, grammar {r['grammar']}, {r['app']}, iteration {i}: "
                      f"{r['statuses'][i]} — {r['messages'][i][:200]}", "", "```",
                      (r["proposals"][i] or "(empty)").rstrip(), "```", ""]
    lines += ["", "## Re-run against a hosted model", "",
              "The same table against any OpenAI-compatible hosted model (grammar-constrained through its Lark "
              "tool format where the model supports it, else `off`):", "",
              "```", "export OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_MODEL=<model> OPENAI_API_KEY=<key>",
              "export SYSLAB_LLM_PRICE_IN=<USD per Mtok> SYSLAB_LLM_PRICE_OUT=<USD per Mtok>",
              "make bench name=mapper args=\"--llm --grammar off lark-tool\"", "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--llm", action="store_true", help="(the flag benchmarks.mapper dispatches on)")
    p.add_argument("--apps", nargs="*", default=None, help="benchmarks (default: all nine)")
    p.add_argument("--methods", nargs="*", default=list(LLM_METHODS), choices=LLM_METHODS)
    p.add_argument("--grammar", nargs="*", default=None, help="grammar modes (default: gbnf off for the local "
                   "server, lark-tool off otherwise)")
    p.add_argument("--levels", nargs="*", default=list(LEVELS), choices=LEVELS, help="feedback ablation levels")
    p.add_argument("--ablation-apps", nargs="*", default=None, help="benchmarks of the ablation (default: --apps)")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--baseline-budgets", nargs="*", type=int, default=list(BASELINE_BUDGETS))
    p.add_argument("--max-tokens", type=int, default=None, help="completion-token cap per request")
    p.add_argument("--max-runs", type=int, default=None, help="stop after this many new LLM searches")
    p.add_argument("--render-only", action="store_true", help="re-render the document from the stored runs")
    p.add_argument("--commands", default=None, help="with --render-only: the exact command(s) that produced the "
                   "stored runs, for the document's header")
    p.add_argument("--store", default=str(STORE))
    p.add_argument("--out", default=str(OUT_MD))
    a = p.parse_args(argv)
    from systems.mapper.agent.llm import llm_config_from_env
    from systems.mapper.apps import APPS

    apps = a.apps or list(APPS)
    bad = [x for x in apps + (a.ablation_apps or []) if x not in APPS]
    if bad:
        print(f"error: unknown app(s) {', '.join(bad)}; valid: {', '.join(APPS)}", file=sys.stderr)
        return 2
    store = Path(a.store)
    command = "make bench name=mapper args=\"" + " ".join(sys.argv[1:] if argv is None else argv) + "\""
    cfg = llm_config_from_env()
    if a.max_tokens:
        cfg.max_tokens = a.max_tokens
    grammars = a.grammar or (["gbnf", "off"] if cfg.source == "local-server" or cfg.grammar == "gbnf"
                             else ["lark-tool", "off"])
    abl_apps = a.ablation_apps or apps
    planned = {"apps": apps, "methods": a.methods, "grammar": grammars, "iterations": a.iterations,
               "seeds": a.seeds, "ablation_levels": a.levels, "ablation_apps": abl_apps,
               "baselines": {m: a.baseline_budgets for m in BASELINES}, "max_tokens": cfg.max_tokens}
    if not a.render_only:
        if not cfg.configured:
            print("error: no LLM endpoint: run `make llm && syslab llm up`, or set OPENAI_BASE_URL and OPENAI_MODEL",
                  file=sys.stderr)
            return 2
        done = {_key(r) for r in _load(store)}
        for app in apps:  # baselines first: seconds each
            for m in BASELINES:
                for n in a.baseline_budgets:
                    for s in range(a.seeds):
                        probe = {"kind": "baseline", "app": app, "method": m, "grammar": "-", "feedback": "score",
                                 "seed": s, "iterations": n, "model": "-"}
                        if _key(probe) not in done:
                            _append(store, run_baseline(app, m, s, n))
        plan = []
        for s in range(a.seeds):  # seed-major: a cut-short run still covers every cell once
            for app in apps:
                for m in a.methods:
                    for g in grammars:
                        plan.append((app, m, g, "guide", s))
            for app in abl_apps:
                for lv in a.levels:
                    if lv != "guide":
                        plan.append((app, "llm-agent", grammars[0], lv, s))
        new = 0
        for app, m, g, fb, s in plan:
            probe = {"kind": "llm", "app": app, "method": m, "grammar": g, "feedback": fb, "seed": s,
                     "iterations": a.iterations, "model": cfg.model}
            if _key(probe) in done:
                continue
            if a.max_runs is not None and new >= a.max_runs:
                break
            print(f"[{datetime.now():%H:%M:%S}] {app} {m} grammar={g} feedback={fb} seed={s}", file=sys.stderr,
                  flush=True)
            row = run_llm(app, m, g, fb, s, a.iterations, cfg)
            _append(store, row)
            new += 1
            print(f"    -> {row['statuses']} speedup {row['speedup']} ({row['wall_s']:.0f}s)", file=sys.stderr, flush=True)
    rows = _load(store)
    text = render(rows, a.commands or command, planned)
    Path(a.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
