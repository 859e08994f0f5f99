"""``syslab mapper ...``: list benchmarks, print expert mappers, check a mapper file, evaluate it on the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Mapper system: mapping-DSL mappers scored on a Legion-like runtime simulator (simulated time).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@app.command("apps")
def apps_cmd() -> None:
    """List the nine benchmarks."""
    from systems.mapper.apps import APPS

    for name, spec in APPS.items():
        typer.echo(f"{name:10s} {spec.summary}")


@app.command("expert")
def expert_cmd(app_name: str = typer.Argument(..., metavar="APP", help="benchmark name (see `syslab mapper apps`)")) -> None:
    """Print the expert mapper of APP."""
    from systems.mapper.experts import expert_mapper

    try:
        typer.echo(expert_mapper(app_name), nl=False)
    except ValueError as exc:
        _fail(str(exc))


MACHINE_HELP = ("machine shape NnGg (N ranks x G GPUs per rank, e.g. 2n4g, 8n1g), NnGgRr (R ranks per physical "
                "node, e.g. 8n1g4r) or NxG; default: the benchmark's own (the authors' run shape)")


@app.command("describe")
def describe_cmd(app_name: str = typer.Argument(..., metavar="APP"),
                 machine: Optional[str] = typer.Option(None, "--machine", help=MACHINE_HELP),
                 ranks_per_node: Optional[int] = typer.Option(None, "--ranks-per-node", help="ranks per physical node")
                 ) -> None:
    """Describe APP's tasks and regions (what a mapper author needs to know)."""
    from systems.mapper.apps import app_machine, get_app

    try:
        m = app_machine(app_name, machine, ranks_per_node)
        typer.echo(m.describe())
        typer.echo(get_app(app_name, m).describe())
    except ValueError as exc:
        _fail(str(exc))


def _read(file: Path) -> str:
    try:
        return file.read_text()
    except OSError as exc:
        _fail(f"{file}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        _fail(f"{file}: not a text file: {exc}")
    return ""


@app.command("check")
def check_cmd(
    file: Path = typer.Argument(..., help="mapper file in the mapping DSL"),
    dialect: str = typer.Option("real", "--dialect", help="real (DSLMapper's grammar, the default) or extended "
                                "(adds Mapple's decompose and InstanceLimit <task> <kind> <n>)"),
    json_out: bool = typer.Option(False, "--json", help="print status, error_class, line, column, message as JSON"),
    app_name: Optional[str] = typer.Option(None, "--app", help="also evaluate on this benchmark (mapping errors)"),
    machine: Optional[str] = typer.Option(None, "--machine", help=MACHINE_HELP),
) -> None:
    """Check FILE: grammar, static checks and loading it on a machine (no benchmark unless --app).
    Exit 0 when ok, 2 otherwise."""
    from systems.mapper.check import check_mapper

    text = _read(file)
    try:
        res = check_mapper(text, dialect, app_name, machine)
    except ValueError as exc:
        _fail(str(exc))
    if json_out:
        d = res.to_dict()
        typer.echo(json.dumps({k: d[k] for k in ("status", "error_class", "line", "column", "message", "warnings",
                                                 "dialect", "machine")}))
    elif res.ok:
        typer.echo(f"{file}: ok ({res.dialect} dialect)")
        for w in res.warnings:
            typer.echo(f"{file}: warning: {w}")
    if not res.ok:
        if not json_out:
            where = f"{file}:{res.line}:{res.column or 1}" if res.line else str(file)
            typer.echo(f"{where}: {res.error_class}: {res.message}", err=True)
        raise typer.Exit(2)


@app.command("eval")
def eval_cmd(
    file: Path = typer.Argument(..., help="mapper file in the mapping DSL"),
    app_name: str = typer.Option(..., "--app", help="benchmark name (see `syslab mapper apps`)"),
    machine: Optional[str] = typer.Option(None, "--machine", help=MACHINE_HELP),
    ranks_per_node: Optional[int] = typer.Option(None, "--ranks-per-node", help="ranks per physical node"),
    dialect: str = typer.Option("real", "--dialect", help="real (default) or extended"),
    json_out: bool = typer.Option(False, "--json", help="print the full outcome (with profile) as JSON"),
    size: Optional[List[str]] = typer.Option(None, "--size", help="benchmark size parameter KEY=VALUE "
                                             "(repeatable), e.g. --size n=8192 --size loops=2"),
) -> None:
    """Evaluate FILE on APP with the simulator (simulated time); print one JSON object. Exit 0 when ok, 2 otherwise."""
    from systems.mapper.apps import app_machine
    from systems.mapper.evaluate import evaluate_mapper

    sizes = {}
    for item in size or []:
        key, eq, val = item.partition("=")
        if not eq or not key.strip():
            _fail(f"--size {item!r}: expected KEY=VALUE")
        try:
            sizes[key.strip()] = json.loads(val.replace("(", "[").replace(")", "]"))
        except ValueError:
            _fail(f"--size {item!r}: value must be a number or a tuple like (4,2)")
        if isinstance(sizes[key.strip()], list):
            sizes[key.strip()] = tuple(sizes[key.strip()])

    text = _read(file)
    try:
        out = evaluate_mapper(text, app_name, app_machine(app_name, machine, ranks_per_node), dialect=dialect, **sizes)
    except ValueError as exc:
        _fail(str(exc))
    d = out.to_dict()
    if not json_out:
        d = {k: d[k] for k in ("status", "message", "line", "column", "error_kind", "time_s", "lower_bound_s",
                               "bound_ratio", "app", "machine")}
    typer.echo(json.dumps(d, indent=None if not json_out else 1, sort_keys=False))
    if not out.ok:
        where = f"{file}:{out.line}: " if out.line else f"{file}: "
        typer.echo(f"{where}{out.status}: {out.message}", err=True)
        raise typer.Exit(2)


from flows.cli._mapper_search import register as _register_search  # noqa: E402

_register_search(app)
