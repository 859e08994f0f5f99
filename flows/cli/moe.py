"""``syslab moe ...``: run MoE methods locally and print the measured comparison.

``syslab moe bench [--workload W]... [--method M]... [--steps N] [--compile] [--json]`` trains each
method on each workload in this process (no Ray/MLflow; ``syslab run moe`` is the flow) and prints
tokens/s, peak memory, dropped %, final loss/accuracy, recompiles and recompile time per method.
"""

from __future__ import annotations

import json
from typing import List, Optional

import typer

NAME = "moe"
app = typer.Typer(help="DynaMoE: dynamic capacity factors / assignment caching vs static capacity.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _f(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


@app.command("bench")
def bench(
    workload: Optional[List[str]] = typer.Option(None, "--workload", "-w", help="workload (repeatable; default: the smoke workloads)"),
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="method (repeatable; default: all)"),
    steps: Optional[int] = typer.Option(None, "--steps", "-n", help="training steps per run (default: the workload's)"),
    suite: str = typer.Option("smoke", "--suite", "-s", help="sizes workloads like this suite (smoke|nightly|default|full)"),
    seed: int = typer.Option(0, "--seed", help="seed"),
    compile_: bool = typer.Option(False, "--compile", help="the 'compiled' config: torch.compile(dynamic=False) with inductor, "
                                  "a recompile on every capacity change (tutel-cf0 and peer-moe stay eager)"),
    json_out: bool = typer.Option(False, "--json", help="print JSON (one object per run plus the comparison)"),
) -> None:
    """Train methods on workloads here and print throughput, memory, drops, quality and recompiles."""
    from systems.core import get_system
    from systems.core.compare import compare
    from systems.core.execute import execute
    from systems.moe.methods import DROP_LIMIT, EXPERT, ORACLE

    spec = get_system("moe")
    if steps is not None and steps < 1:
        _fail(f"--steps must be >= 1, got {steps}")
    from systems.moe.workloads import applicable

    params: dict = {} if steps is None else {"steps": steps}
    try:
        s = spec.suite(suite)
        methods = list(method) if method else list(spec.method_names)
        workloads = list(workload) if workload else s.workloads
        for w in workloads:
            spec.workload_overrides(w)  # an unknown workload fails naming the valid ones
        config = "compiled" if compile_ else None  # tutel-cf0 / peer-moe run eager (their methods say so)
        jobs = [spec.job(w, m, seed, suite=suite, config=config, params=params)  # strict: fails before training
                for w in workloads for m in methods if applicable(m, w)]
    except ValueError as exc:
        _fail(str(exc))
    results = []
    for job in jobs:
        if not json_out:
            typer.echo(f"running {job.key} ...", err=True)
        results.append(execute(job))
    rows = compare(spec, results)
    ratio = {(r.workload, r.method): r.ratio for r in rows}
    qok = {(r.workload, r.method): r.quality_ok for r in rows}
    if json_out:
        out = {"hardware": results[0].hardware if results else "",
               "runs": [{"workload": r.workload, "method": r.method, "status": r.status, "error": r.error,
                         "metrics": r.metrics, "vs_expert": ratio.get((r.workload, r.method)),
                         "quality_ok": qok.get((r.workload, r.method))} for r in results]}
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        hdr = (f"{'workload':14s} {'method':22s} {'tokens/s':>10s} {'tok/CPU-s':>10s} {'vs expert':>9s} "
               f"{'peak MB':>8s} {'dropped%':>8s} {'loss':>7s} {'acc':>6s} {'recomp':>6s} {'recomp s':>8s}")
        typer.echo(hdr)
        for r in results:
            m = r.metrics
            if not r.ok:
                typer.echo(f"{r.workload:14s} {r.method:17s} FAILED: {(r.error or '').strip().splitlines()[-1]}")
                continue
            name = r.method + (f"(a={m['oracle_alpha']:.3g})" if r.method == ORACLE else "")
            name += "" if m.get("meets_drop_limit", 1) else " !drops"
            rt = ratio.get((r.workload, r.method))
            typer.echo(f"{r.workload:14s} {name:22s} {m['tokens_per_s']:10.0f} {m['tokens_per_cpu_s']:10.0f} "
                       f"{_f(rt, '9.2f')} {m['peak_mem_mb']:8.2f} {100 * m['dropped_frac']:8.2f} "
                       f"{m['final_loss']:7.4f} {_f(m.get('accuracy'), '6.3f')} {m['recompiles']:6.0f} "
                       f"{m['recompile_s']:8.2f}")
        if results:
            typer.echo(f"measured on {results[0].hardware}; vs expert = tokens/s over {EXPERT} (a static alpha "
                       f"chosen in advance); !drops = dropped >= the {100 * DROP_LIMIT:g} % limit; tokens/s include "
                       f"compiles and recompiles")
    if results and not any(r.ok for r in results):
        raise typer.Exit(1)


@app.command("workloads")
def workloads_cmd() -> None:
    """List the named workloads and their sizes."""
    from systems.moe.workloads import SUITES, WORKLOADS

    for name, c in WORKLOADS.items():
        suites = ",".join(s for s, su in SUITES.items() if name in su.workloads) or "-"
        w, lc = c.workload, c.layer
        what = f"{w.kind}" + (f"/{w.dataset}" if w.kind == "classify" else "")
        typer.echo(f"{name:14s} {what:15s} E={lc.n_experts:<3d} k={lc.top_k} d={lc.d_model:<4d} h={lc.d_hidden:<5d} "
                   f"B={w.batch_size:<4d} steps={c.steps:<4d} suites={suites}")


@app.command("methods")
def methods_cmd() -> None:
    """List the methods."""
    from systems.moe.methods import METHODS, REFERENCE

    for name, m in METHODS.items():
        role = m.role + (", reference" if name == REFERENCE else "")
        typer.echo(f"{name:17s} ({role}) {m.description}")
