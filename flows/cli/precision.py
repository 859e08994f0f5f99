"""``syslab precision plan`` / ``syslab precision sweep``: the planner table and a local r-sweep."""

from __future__ import annotations

from typing import List, Optional

import typer

app = typer.Typer(help="precision: mixed-precision assignment planning with emulated 8-bit floats.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@app.command("plan")
def plan_cmd(
    model: str = typer.Option("resnet18", "--model", help="tiny | resnet18 | mobilenetv2 | shufflenetv2 | squeezenet"),
    r: float = typer.Option(0.7, "--r", help="share of tensor elements to put in low precision (ours*)"),
    method: str = typer.Option("ours", "--method", "-m", help="ours | pi-op | amp | unif-lo | fp32 | "
                                                             "ours-smallest-first | ours-random | ours-no-promotion"),
    dataset: str = typer.Option("digits", "--dataset", help="digits (8x8) | mnist (28x28): sets the input shape"),
    image_size: Optional[int] = typer.Option(None, "--image-size", help="override the input side"),
    width: Optional[float] = typer.Option(None, "--width", help="width multiplier (default: the model's)"),
    batch_size: int = typer.Option(128, "--batch-size", help="batch size activation memory is scaled to"),
    order_seed: int = typer.Option(123, "--order-seed", help="seed of the random group order (ours-random)"),
    json_out: bool = typer.Option(False, "--json", help="print the assignment as JSON"),
) -> None:
    """Print the groups, sizes and chosen precisions of an assignment and its memory vs FP32 and pi_op."""
    from systems.precision.planner import plan

    if not (0.0 <= r <= 1.0):
        _fail(f"--r must be in [0, 1], got {r}")
    if batch_size < 1:
        _fail(f"--batch-size must be >= 1, got {batch_size}")
    try:
        p = plan(model=model, method=method, r=r, dataset=dataset, batch_size=batch_size, width=width,
                 image_size=image_size, order_seed=order_seed)
    except ValueError as exc:
        _fail(str(exc))
        return
    if json_out:
        typer.echo(p.to_json())
        return
    typer.echo(p.summary())
    typer.echo("")
    typer.echo(p.table())


@app.command("sweep")
def sweep_cmd(
    workload: str = typer.Option("digits-tiny", "--workload", "-w", help="workload (see systems/precision/workloads.py)"),
    rs: str = typer.Option("0.2,0.4,0.6,0.8,1.0", "--rs", help="comma-separated r values of pi_ours"),
    baselines: bool = typer.Option(True, "--baselines/--no-baselines", help="also run fp32, pi-op, amp, unif-lo"),
    epochs: int = typer.Option(4, "--epochs", help="training epochs per run"),
    seeds: int = typer.Option(1, "--seeds", "-n", help="seeds per run"),
    extra: Optional[List[str]] = typer.Option(None, "--method", "-m", help="extra ablation methods at every r "
                                              "(ours-smallest-first, ours-random, ours-no-promotion)"),
    json_out: bool = typer.Option(False, "--json", help="print the aggregated rows as JSON"),
) -> None:
    """Run the r-sweep of pi_ours (and the baselines) locally, in this process; print memory vs accuracy."""
    from systems.core import Job
    from systems.core.execute import execute
    from systems.precision.analysis import MATCH_TOL, headline, rows_by_variant
    from systems.precision.workloads import RANDOM_SEEDS, WORKLOADS

    if workload not in WORKLOADS:
        _fail(f"unknown workload {workload!r}; valid: {', '.join(WORKLOADS)}")
    try:
        r_list = [float(x) for x in rs.split(",") if x.strip()]
    except ValueError:
        _fail(f"--rs: expected comma-separated numbers, got {rs!r}")
        return
    if not r_list or any(not 0 <= x <= 1 for x in r_list):
        _fail(f"--rs: every r must be in [0, 1], got {rs!r}")
    if epochs < 1 or seeds < 1:
        _fail("--epochs and --seeds must be >= 1")
    ok_extra = ("ours-smallest-first", "ours-random", "ours-no-promotion")
    for m in extra or []:
        if m not in ok_extra:
            _fail(f"--method: unknown ablation {m!r}; valid: {', '.join(ok_extra)}")
    specs: list[tuple[str, dict]] = [("ours", {"r": x}) for x in r_list]
    for m in extra or []:
        for x in r_list:
            if m == "ours-random":
                specs += [(m, {"r": x, "order_seed": s}) for s in RANDOM_SEEDS]
            else:
                specs.append((m, {"r": x}))
    if baselines:
        specs = [(m, {}) for m in ("fp32", "pi-op", "amp", "unif-lo")] + specs
    results = []
    for m, p in specs:
        for s in range(seeds):
            job = Job(system="precision", workload=workload, method=m, seed=s, suite="default",
                      params={**p, "epochs": epochs})
            res = execute(job)
            m = res.metrics
            if not res.ok:
                typer.echo(f"{job.key}: FAILED\n{res.error}", err=True)
            elif m.get("skipped"):
                typer.echo(f"{job.key}: skipped by the r-window (element share {m['achieved_share']:.3f})", err=True)
            else:
                typer.echo(f"{job.key}: acc {m['accuracy']:.4f} low share {m['low_share']:.3f} mem "
                           f"{m['memory_mb']:.3f} MB ({m['memory_ratio_op']:.3f} x pi_op) promotions "
                           f"{int(m['promotions'])} diverged {int(m['diverged'])}", err=True)
            results.append(res)
    rows = rows_by_variant(results)
    if json_out:
        import json

        typer.echo(json.dumps([{"method": r.method, "r": r.r, "order_seed": r.order_seed, "accuracy": r.accuracy,
                                "low_share": r.low_share, "memory_mb": r.memory_mb, "diverged": r.diverged,
                                "skipped": r.skipped} for r in rows], indent=1))
        return
    typer.echo("| method | r | low share | memory MB | accuracy (mean ± 95% CI) | seeds | skipped | diverged |")
    typer.echo("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        typer.echo(f"| {r.method}{'' if r.order_seed is None else f' (order seed {r.order_seed})'} | "
                   f"{'' if r.r is None else f'{r.r:g}'} | {r.low_share:.3f} | {r.memory_mb:.3f} | "
                   f"{r.acc.fmt() if r.accuracy else '-'} | {len(r.accuracy)} | {r.skipped} | {r.diverged} |")
    h = headline(rows, workload)
    if h is not None:
        if h.best is None:
            typer.echo(f"\nno pi_ours run matched pi_op ({h.op.acc.fmt()}): the lower end of the 95% CI of the "
                       f"paired difference must be >= -{MATCH_TOL * 100:g} point (needs >= 2 seeds)")
        else:
            typer.echo(f"\nmatched accuracy: pi_ours(r={h.best.r:g}) {h.best.acc.fmt()} vs pi_op {h.op.acc.fmt()} "
                       f"(paired diff {h.diff.fmt()} points): low-share ratio vs pi_op {h.share_ratio:.2f}x; total "
                       f"memory {h.memory_ratio:.2f}x (cap {h.memory_cap:.2f}x)" if h.memory_cap else "")
    if results and all(not r.ok for r in results):
        raise typer.Exit(1)


def _seed(row: dict) -> str:
    return "" if row.get("order_seed") is None else f" (order seed {row['order_seed']})"
