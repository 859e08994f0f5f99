"""``syslab layerwise ...``: search a per-layer parallelization strategy for a CNN (simulated).

    syslab layerwise search --model alexnet --devices 16 [--method dp] [--json]
    syslab layerwise search --graph net.json --devices 4 --method mcmc
    syslab layerwise emulate --model tiny_alexnet --devices 4 --method dp
    syslab layerwise execute --model tiny_vgg --devices 2 --method owt [--steps 2]   (real processes)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(help="Layer-wise parallelism (OptCNN): per-layer configurations found by an exact "
                       "elimination search over a cost model (simulated).", no_args_is_help=True)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _load(model: Optional[str], graph: Optional[Path], devices: int, batch_per_device: int):
    from systems.layerwise.graph import BUILDERS, GraphError, build, load

    if (model is None) == (graph is None):
        _fail("give exactly one of --model NAME or --graph FILE.json")
    if devices < 1 or devices & (devices - 1):
        _fail(f"--devices must be a power of two >= 1, got {devices}")
    if batch_per_device < 1:
        _fail(f"--batch-per-device must be >= 1, got {batch_per_device}")
    try:
        if model is not None:
            if model not in BUILDERS:
                _fail(f"unknown --model {model!r}; known: {', '.join(BUILDERS)}")
            return build(model, batch_per_device * devices)
        return load(graph)
    except GraphError as exc:
        _fail(str(exc))


@app.command("search")
def search_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="alexnet | vgg16 | inception_v3 | tiny_* | micro_cnn"),
    graph: Optional[Path] = typer.Option(None, "--graph", help="JSON graph file (see systems/layerwise/graph.py)"),
    devices: int = typer.Option(..., "--devices", "-p", help="number of devices P (power of two)"),
    method: str = typer.Option("layerwise-dp", "--method", "-m",
                               help="layerwise-dp (alias dp) | mcmc | brute-force | data-parallel | "
                                    "model-parallel | owt"),
    cluster: str = typer.Option("p100_4x4", "--cluster",
                                help="cluster description: p100_4x4 | dgx1_p100 | k80_gce | h100_8 | cpu"),
    batch_per_device: int = typer.Option(32, "--batch-per-device",
                                         help="--model only: global batch = this x devices"),
    transfer: str = typer.Option("sum", "--transfer",
                                 help="t_x mode: sum (the paper's formula) | parallel (concurrent links, shared NICs)"),
    sync: str = typer.Option("ps", "--sync", help="parameter sync: ps (parameter server) | ring"),
    compute: str = typer.Option("calibrated", "--compute",
                                help="t_c: calibrated | roofline | profiled (torch/cuDNN, slow for big nets)"),
    iterations: int = typer.Option(20000, "--iterations", help="MCMC proposals per chain"),
    offsets: bool = typer.Option(False, "--offsets", help="also place layers on every aligned device block"),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the strategy JSON here"),
    json_out: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Find (or evaluate a baseline's) per-layer strategy and print its predicted cost."""
    from systems.layerwise.config import CostConfig, LayerwiseConfig, SearchConfig, cluster as get_cluster
    from systems.layerwise.evaluate import canonical_method, plan
    from systems.layerwise.search import SearchError

    g = _load(model, graph, devices, batch_per_device)
    try:
        meth = canonical_method(method)
        spec = get_cluster(cluster)
    except ValueError as exc:
        _fail(str(exc))
    if transfer not in ("sum", "parallel"):
        _fail(f"--transfer must be 'sum' or 'parallel', got {transfer!r}")
    if sync not in ("ps", "ring"):
        _fail(f"--sync must be 'ps' or 'ring', got {sync!r}")
    if compute not in ("calibrated", "roofline", "profiled"):
        _fail(f"--compute must be 'calibrated', 'roofline' or 'profiled', got {compute!r}")
    if devices > spec.max_devices:
        _fail(f"--devices {devices} exceeds cluster {cluster!r} ({spec.max_devices} devices)")
    cfg = LayerwiseConfig(network=g.name, devices=devices, cluster=cluster, method=meth,
                          cost=CostConfig(transfer=transfer, sync=sync, compute=compute),
                          search=SearchConfig(mcmc_iterations=iterations, offsets=offsets), seed=seed)
    try:
        p = plan(g, devices, meth, cfg)
    except (SearchError, ValueError) as exc:
        _fail(f"{g.name}: {exc}")
    data = p.to_json()
    if out is not None:
        out.write_text(json.dumps(data["strategy"], indent=1))
    if json_out:
        typer.echo(json.dumps(data, indent=1))
        return
    typer.echo(f"{g.name} on {devices} devices ({cluster}), batch {g.batch}, method {meth} [simulated]")
    typer.echo(f"  predicted step time {p.breakdown.total_s * 1e3:.3f} ms  (compute {p.breakdown.compute_s * 1e3:.3f}, "
               f"sync {p.breakdown.sync_s * 1e3:.3f}, transfer {p.breakdown.transfer_s * 1e3:.3f})")
    typer.echo(f"  throughput {p.throughput:.1f} samples/s, communication {p.breakdown.comm_bytes / 1e6:.1f} MB/step")
    typer.echo(f"  search {p.search_s:.4f} s over {p.model.n_configs()} configurations "
               f"(cost tables {p.model.build_s:.3f} s)")
    for ly in g.layers:
        typer.echo(f"  {ly.name:20s} {p.model.configs[ly.name][p.strategy[ly.name]].label()}")


@app.command("emulate")
def emulate_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="a network (tiny_* recommended)"),
    graph: Optional[Path] = typer.Option(None, "--graph", help="JSON graph file"),
    devices: int = typer.Option(4, "--devices", "-p"),
    method: str = typer.Option("layerwise-dp", "--method", "-m"),
    batch_per_device: int = typer.Option(2, "--batch-per-device"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Run a strategy with really split tensors (one process) and compare with the unsplit network."""
    from systems.layerwise.emulate import check
    from systems.layerwise.evaluate import canonical_method, plan

    g = _load(model, graph, devices, batch_per_device)
    try:
        meth = canonical_method(method)
    except ValueError as exc:
        _fail(str(exc))
    if g.n_params() > 5_000_000:
        _fail(f"{g.name} has {g.n_params()} parameters; emulation is meant for tiny networks")
    p = plan(g, devices, meth)
    r = check(g, p.model.configs, p.strategy)
    data = {"network": g.name, "devices": devices, "method": meth, "ok": r.ok(),
            "max_output_diff": r.max_out_diff, "max_param_grad_diff": r.max_grad_diff,
            "max_input_grad_diff": r.max_input_grad_diff, "emulated_fwd_bytes": r.fwd_bytes,
            "emulated_bwd_bytes": r.bwd_bytes, "model_transfer_bytes": p.breakdown.transfer_bytes}
    typer.echo(json.dumps(data, indent=1) if json_out else
               "\n".join(f"{k}: {v}" for k, v in data.items()))
    if not r.ok():
        raise typer.Exit(1)


@app.command("execute")
def execute_cmd(
    model: Optional[str] = typer.Option(None, "--model", help="a network (tiny_* recommended)"),
    graph: Optional[Path] = typer.Option(None, "--graph", help="JSON graph file"),
    devices: int = typer.Option(2, "--devices", "-p", help="processes (= devices), 2-4 on a laptop"),
    method: str = typer.Option("layerwise-dp", "--method", "-m"),
    batch_per_device: int = typer.Option(4, "--batch-per-device"),
    steps: int = typer.Option(2, "--steps", help="training steps compared with one process"),
    timing_steps: int = typer.Option(0, "--timing-steps", help="extra timed steps (0 = none)"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Train with the strategy in real processes (torch.distributed: gloo, NCCL on GPUs) and compare
    outputs, gradients and weights with single-process training (float64)."""
    from systems.layerwise import distributed as D
    from systems.layerwise.evaluate import canonical_method, plan

    g = _load(model, graph, devices, batch_per_device)
    try:
        meth = canonical_method(method)
    except ValueError as exc:
        _fail(str(exc))
    if steps < 1 or timing_steps < 0:
        _fail(f"--steps must be >= 1 and --timing-steps >= 0, got {steps} and {timing_steps}")
    if g.n_params() > 5_000_000:
        _fail(f"{g.name} has {g.n_params()} parameters; real execution on this CPU is meant for tiny networks")
    p = plan(g, devices, meth)
    strat = {n: p.model.configs[n][i] for n, i in p.strategy.items()}
    job = D.Job(g, {meth: strat}, steps=steps, timing_steps=timing_steps, dtype="float64")
    try:
        res = D.run_strategies(job, devices)
    except (D.DistributedError, ValueError) as exc:
        _fail(str(exc))
    c = D.check_against_reference(job, res)[meth]
    data = {"network": g.name, "devices": devices, "method": meth, "ok": c.ok(1e-9),
            "max_output_diff": c.max_out_diff, "max_grad_diff": c.max_grad_diff,
            "max_weight_diff": c.max_weight_diff, "bytes_sent_per_step": c.bytes_sent_train / steps,
            "model_transfer_bytes_fp64": 2 * p.breakdown.transfer_bytes}
    if timing_steps:
        data.update({f"measured_{k}": v for k, v in D.measured_step(res, meth).items()})
    typer.echo(json.dumps(data, indent=1) if json_out else "\n".join(f"{k}: {v}" for k, v in data.items()))
    if not c.ok(1e-9):
        raise typer.Exit(1)
