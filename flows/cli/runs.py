"""``syslab runs reconcile``: close MLflow/Prefect runs left RUNNING by a driver that died."""

from __future__ import annotations

from typing import List, Optional

import typer

NAME = "runs"
app = typer.Typer(help="Housekeeping of recorded runs (MLflow + Prefect).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


@app.command("reconcile")
def reconcile_cmd(
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be closed, change nothing"),
    older_than: Optional[str] = typer.Option(None, "--older-than", help="also close RUNNING runs of other machines "
                                             "(or without driver tags) started before this: 12h, 2d, 90m"),
    run: Optional[List[str]] = typer.Option(None, "--run", help="close this parent run id whatever its driver "
                                            "(repeatable; make sure its driver is really gone)"),
) -> None:
    """Close runs whose driver died: MLflow parent + open children KILLED, Prefect flow/task runs Crashed."""
    from flows.preflight import SetupError, check_mlflow

    seconds = None
    if older_than:
        seconds = _duration(older_than)
    try:
        check_mlflow()
    except SetupError as exc:
        _fail(str(exc))
    from flows.reconcile import reconcile

    reconcile(dry_run=dry_run, older_than_s=seconds, run_ids=run, echo=typer.echo)


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            value = float(t[:-1]) * units[t[-1]]
        else:
            value = float(t)
    except ValueError:
        value = -1
    if value <= 0:
        _fail(f"--older-than {text!r}: expected a positive duration like 90m, 12h, 2d")
    return value
