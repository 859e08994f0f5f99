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
    compile_: bool = typer.Option(False, "--compile", help="torch.compile(dynamic=False) the forward; recompiles on capacity changes"),
    json_out: bool = typer.Option(False, "--json", help="print JSON (one object per run plus the comparison)"),
) -> None:
    """Train methods on workloads here and print throughput, memory, drops, quality and recompiles."""
    from systems.core import get_system
    from systems.core.compare import compare
    from systems.core.execute import execute
    from systems.moe.methods import EXPERT, ORACLE

    spec = get_system("moe")
    if steps is not None and steps < 1:
        _fail(f"--steps must be >= 1, got {steps}")
    methods = list(method) if method else list(spec.methods)
    if compile_:
        bad = [m for m in methods if m in ("tutel-cf0", "peer-moe")]
        if method and bad:
            _fail(f"--compile needs fixed capacities between recompiles; not supported by: {', '.join(bad)}")
        methods = [m for m in methods if m not in bad]
    try:
        jobs = spec.jobs(suite, methods=methods, workloads=list(workload) if workload else None, seeds=[seed])
    except ValueError as exc:
        _fail(str(exc))
    params = {}
    if steps is not None:
        params["steps"] = steps
    if compile_:
        params["compile"] = True
    results = []
    for job in jobs:
        job.params.update(params)
        job.wants_gpu = False
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
        hdr = (f"{'workload':14s} {'method':17s} {'tokens/s':>10s} {'vs expert':>9s} {'peak MB':>8s} "
               f"{'dropped%':>8s} {'loss':>7s} {'acc':>6s} {'recomp':>6s} {'recomp s':>8s}")
        typer.echo(hdr)
        for r in results:
            m = r.metrics
            if not r.ok:
                typer.echo(f"{r.workload:14s} {r.method:17s} FAILED: {(r.error or '').strip().splitlines()[-1]}")
                continue
            name = r.method + (f"(a={m['oracle_alpha']:.3g})" if r.method == ORACLE else "")
            rt = ratio.get((r.workload, r.method))
            typer.echo(f"{r.workload:14s} {name:17s} {m['tokens_per_s']:10.0f} {_f(rt, '9.2f')} "
                       f"{m['peak_mem_mb']:8.2f} {100 * m['dropped_frac']:8.2f} {m['final_loss']:7.4f} "
                       f"{_f(m.get('accuracy'), '6.3f')} {m['recompiles']:6.0f} {m['recompile_s']:8.2f}")
        if results:
            typer.echo(f"measured on {results[0].hardware}; vs expert = tokens/s over {EXPERT}")
    if results and not any(r.ok for r in results):
        raise typer.Exit(1)


@app.command("workloads")
def workloads_cmd() -> None:
    """List the named workloads and their sizes."""
    from systems.moe.workloads import SUITE_WORKLOADS, WORKLOADS

    for name, c in WORKLOADS.items():
        suites = ",".join(s for s, ws in SUITE_WORKLOADS.items() if name in ws) or "-"
        w, lc = c.workload, c.layer
        what = f"{w.kind}" + (f"/{w.dataset}" if w.kind == "classify" else "")
        typer.echo(f"{name:14s} {what:15s} E={lc.n_experts:<3d} k={lc.top_k} d={lc.d_model:<4d} h={lc.d_hidden:<5d} "
                   f"B={w.batch_size:<4d} steps={c.steps:<4d} suites={suites}")


@app.command("methods")
def methods_cmd() -> None:
    """List the methods."""
    from systems.moe.methods import BASELINES, METHODS

    for name, m in METHODS.items():
        typer.echo(f"{name:17s} {'(expert) ' if name in BASELINES else ''}{m.description}")
