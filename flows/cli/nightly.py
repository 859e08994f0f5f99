"""``syslab nightly run|serve|report``: the nightly benchmark sweep and its regression report."""

from __future__ import annotations

import json
import sys
import time
from typing import Optional

import typer

NAME = "nightly"
app = typer.Typer(help="Nightly sweeps of every system's nightly suite, with regression detection.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _split(systems: Optional[str]) -> list[str] | None:
    if not systems:
        return None
    names = [s.strip() for s in systems.split(",") if s.strip()]
    return names or None


def _config(threshold: float, z_threshold: float, window: int, min_history: int):
    from flows.regression import DetectorConfig

    try:
        return DetectorConfig(threshold=threshold, z_threshold=z_threshold, window=window, min_history=min_history)
    except ValueError as exc:
        _fail(str(exc))


def _validate(systems: list[str] | None, suite: str, seeds: Optional[int]) -> list[str]:
    """Fail fast (exit 2) on unknown systems/suites before any service starts."""
    from systems.core import SYSTEMS, UnknownSystemError, get_system

    if seeds is not None and seeds < 1:
        _fail(f"--seeds must be >= 1, got {seeds}")
    names = systems or [n for n, s in SYSTEMS.items() if suite in s.suites]
    if not names:
        _fail(f"no registered system provides suite {suite!r} (registered: {', '.join(SYSTEMS) or 'none'})")
    for name in names:
        try:
            spec = get_system(name)
        except UnknownSystemError as exc:
            _fail(str(exc))
        if suite not in spec.suites:
            _fail(f"system {name!r} has no suite {suite!r}; valid: {', '.join(spec.suites)}")
    return names


def _preflight(**kwargs) -> None:
    """Settings, Ray, MLflow and Prefect reachable before the sweep starts (exit 2 with one line)."""
    from flows.preflight import SetupError, preflight

    try:
        preflight(**kwargs)
    except SetupError as exc:
        _fail(str(exc))


_THRESHOLD = typer.Option(1.1, "--threshold", help="ratio vs the previous nightly that counts as a change")
_Z = typer.Option(3.0, "--z-threshold", help="|z| over the lookback window that counts as a change")
_WINDOW = typer.Option(10, "--window", help="earlier nightlies in the lookback window")
_MIN_HIST = typer.Option(3, "--min-history", help="earlier nightlies needed before the z-score is used")


@app.command("run")
def run_cmd(
    systems: Optional[str] = typer.Option(None, "--systems", help="comma-separated systems (default: all)"),
    suite: str = typer.Option("nightly", "--suite", "-s", help="suite to run (nightly; smoke for a quick check)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", "-n", help="number of seeds (default: the suite's)"),
    run_reason: str = typer.Option("manual", "--run-reason", help="tag for the runs: manual | nightly | ..."),
    threshold: float = _THRESHOLD, z_threshold: float = _Z, window: int = _WINDOW, min_history: int = _MIN_HIST,
    system_timeout: Optional[float] = typer.Option(None, "--system-timeout", help="seconds per system sub-flow (default $SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S or 3600)"),
    json_out: bool = typer.Option(False, "--json", help="print the whole summary as JSON"),
    fail_on_regression: bool = typer.Option(False, "--fail-on-regression", help="exit 3 when regressions are found"),
) -> None:
    """Run the nightly sweep once, now, and print the regression report (what `make nightly` runs)."""
    cfg = _config(threshold, z_threshold, window, min_history)
    names = _validate(_split(systems), suite, seeds)
    if system_timeout is not None and system_timeout <= 0:
        _fail(f"--system-timeout must be > 0, got {system_timeout}")
    _preflight()
    from flows.nightly import nightly_flow

    from flows.lifecycle import Terminated, exit_code, signals_raise
    from flows.stores import start_temporary_prefect, stop_temporary_prefect

    try:
        with signals_raise():
            start_temporary_prefect()
            out = nightly_flow(systems=names, suite=suite, seeds=seeds, run_reason=run_reason,
                               threshold=cfg.threshold, z_threshold=cfg.z_threshold, window=cfg.window,
                               min_history=cfg.min_history, system_timeout_s=system_timeout)
    except (KeyboardInterrupt, Terminated) as exc:
        typer.echo(f"interrupted ({str(exc) or 'SIGINT'}): open runs marked KILLED/Crashed", err=True)
        raise typer.Exit(exit_code(exc))
    finally:
        stop_temporary_prefect()
    if json_out:
        typer.echo(json.dumps(out, indent=2, default=str))
    else:
        typer.echo("")
        typer.echo(out["markdown"])
    if out["failed_systems"] and len(out["failed_systems"]) == len(out["systems"]):
        raise typer.Exit(1)
    if fail_on_regression and out["counts"]["regression"]:
        raise typer.Exit(3)


@app.command("serve")
def serve_cmd(
    cron: str = typer.Option(None, "--cron", help="cron schedule (default $SYSLAB_NIGHTLY_CRON or '0 2 * * *')"),
    timezone: str = typer.Option(None, "--timezone", help="IANA timezone of the cron (default: this machine's)"),
    systems: Optional[str] = typer.Option(None, "--systems", help="comma-separated systems (default: all)"),
    suite: str = typer.Option("nightly", "--suite", "-s", help="suite the scheduled runs use"),
    name: str = typer.Option(None, "--name", help="deployment name (default syslab-nightly)"),
    register_only: bool = typer.Option(False, "--register-only",
                                       help="register/update the deployment and exit instead of serving it"),
) -> None:
    """Register the nightly deployment (cron) on $PREFECT_API_URL and serve it (what `make nightly-serve` runs)."""
    from prefect.settings import PREFECT_API_URL

    _preflight(require_prefect_server=True)
    from flows import nightly as nl

    cron = cron or nl.DEFAULT_CRON
    timezone = timezone or nl.local_timezone()
    try:
        dep = nl.build_deployment(cron=cron, timezone=timezone, systems=_split(systems), suite=suite,
                                  name=name or nl.DEPLOYMENT_NAME)
    except ValueError as exc:
        _fail(str(exc))
    if register_only:
        try:
            dep_id = dep.apply()
        except Exception as exc:  # noqa: BLE001 - server unreachable: say where, no traceback
            _fail(f"could not register the deployment on {PREFECT_API_URL.value()}: {type(exc).__name__}: {exc}", 1)
        typer.echo(f"registered deployment nightly/{dep.name} ({dep_id}) cron '{cron}' {timezone} "
                   f"on {PREFECT_API_URL.value()}")
        return
    from prefect import serve

    typer.echo(f"serving nightly/{dep.name}: cron '{cron}' ({timezone}) on {PREFECT_API_URL.value()}; "
               f"Ctrl-C stops serving (the schedule stays active)")
    serve(dep, pause_on_shutdown=False)


@app.command("report")
def report_cmd(
    since: Optional[str] = typer.Option(None, "--since", help="history start: 7d, 12h, 2w or an ISO date"),
    systems: Optional[str] = typer.Option(None, "--systems", help="comma-separated systems (default: all)"),
    suite: Optional[str] = typer.Option(None, "--suite", "-s", help="only sweeps of this suite"),
    threshold: float = _THRESHOLD, z_threshold: float = _Z, window: int = _WINDOW, min_history: int = _MIN_HIST,
    fmt: str = typer.Option("text", "--format", help="text | markdown | json"),
    tracking_uri: Optional[str] = typer.Option(None, "--tracking-uri", help="MLflow URI (default: the platform's)"),
) -> None:
    """Print the regression table of the newest nightly sweep against its history in MLflow."""
    from flows.regression import parse_since

    cfg = _config(threshold, z_threshold, window, min_history)
    if fmt not in ("text", "markdown", "json"):
        _fail(f"--format {fmt!r}: expected text, markdown or json")
    start = None
    if since:
        try:
            start = parse_since(since, time.time())
        except ValueError as exc:
            _fail(str(exc))
    from flows.nightly import latest_report

    try:
        report = latest_report(tracking_uri, systems=_split(systems), since=start, suite=suite, config=cfg)
    except Exception as exc:  # noqa: BLE001 - unreachable/invalid store: one line, no traceback
        _fail(f"could not read MLflow history: {type(exc).__name__}: {exc}", 1)
    if not report.findings:
        typer.echo("no nightly sweeps found" + (f" since {since}" if since else "")
                   + " (run `syslab nightly run` first)", err=True)
    if fmt == "json":
        typer.echo(json.dumps(report.to_dict(), indent=2, default=str))
    elif fmt == "markdown":
        typer.echo(report.to_markdown())
    else:
        typer.echo(report.to_text())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
