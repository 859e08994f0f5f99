"""``syslab`` platform commands: ``systems``, ``run``, plus one sub-app per system."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import List, Optional

import typer

app = typer.Typer(help="syslab: ML-systems optimizers against expert strategies.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


@app.command("systems")
def systems_cmd() -> None:
    """List the registered systems, their primary metric and methods."""
    from systems.core import SYSTEMS

    for spec in SYSTEMS.values():
        arrow = "lower" if spec.direction == "min" else "higher"
        sim = ", simulated" if spec.simulated else ""
        typer.echo(f"{spec.name:10s} {spec.description}")
        typer.echo(f"{'':10s} primary metric: {spec.primary_metric} ({arrow} is better{sim})")
        typer.echo(f"{'':10s} methods: {', '.join(spec.method_names)}  (expert: {', '.join(spec.baselines)})")
        typer.echo(f"{'':10s} suites: {', '.join(spec.suites)}; configs: {', '.join(spec.configs)}")


def _parse_sets(items: list[str] | None) -> dict:
    """``["iterations=5", "feedback=raw"]`` -> ``{"iterations": 5, "feedback": "raw"}`` (JSON values, else text)."""
    import json

    out: dict = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@app.command("config")
def config_cmd(
    system: str = typer.Argument(..., help="system name (see `syslab systems`)"),
    name: str = typer.Option("default", "--name", help="named config (see `syslab systems`)"),
    workload: Optional[str] = typer.Option(None, "--workload", "-w", help="apply this workload's overrides"),
    method: Optional[str] = typer.Option(None, "--method", "-m", help="apply this method's overrides"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="KEY=VALUE override (repeatable)"),
    json_out: bool = typer.Option(False, "--json", help="print the resolved config as JSON"),
) -> None:
    """Show a system's config: every key with its value, type and meaning (resolved for a workload/method)."""
    from systems.core import ConfigError, UnknownSystemError, get_system
    from systems.core.config import apply_overrides, describe, to_dict

    try:
        spec = get_system(system)
        cfg = spec.config(name)
        if workload:
            cfg = apply_overrides(cfg, spec.workload_overrides(workload), where=f"workload {workload!r}")
        if method:
            cfg = apply_overrides(cfg, spec.method(method).overrides, where=f"method {method!r}")
        cfg = apply_overrides(cfg, _parse_sets(set_), where="--set")
    except (UnknownSystemError, ConfigError, ValueError) as exc:
        _fail(str(exc))
    if json_out:
        import json

        typer.echo(json.dumps(to_dict(cfg), indent=2, sort_keys=True, default=str))
        return
    for key, value, tp, doc in describe(cfg):
        typer.echo(f"{key:28s} = {value!r:24s} {tp}")
        if doc:
            typer.echo(f"{'':31s}{doc}")


@app.command("run")
def run_cmd(
    system: str = typer.Argument(..., help="system name (see `syslab systems`)"),
    suite: str = typer.Option("smoke", "--suite", "-s", help="smoke | default | full | nightly"),
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="restrict to these methods (repeatable)"),
    workload: Optional[List[str]] = typer.Option(None, "--workload", "-w", help="restrict to these workloads (repeatable)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", "-n", help="number of seeds, >= 1 (default: the suite's)"),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="config override KEY=VALUE for every job "
                                             "(repeatable; `syslab config SYSTEM` lists the keys)"),
    json_out: bool = typer.Option(False, "--json", help="print the comparison as JSON instead of a table"),
    resume: Optional[str] = typer.Option(None, "--resume", help="MLflow parent run id of an interrupted run of "
                                         "this system: re-run only its jobs without a finished child run"),
    strict: bool = typer.Option(False, "--strict", help="exit 1 when any job fails (default: only when all do)"),
) -> None:
    """Run a system's suite as a Prefect flow on Ray, log to MLflow, print the comparison."""
    from systems.core import UnknownSystemError, get_system

    overrides = _parse_sets(set_)
    if resume and (method or workload or seeds is not None or overrides or suite != "smoke"):
        _fail("--resume re-runs the job list of the run it resumes: give no --suite/--method/--workload/"
              "--seeds/--set with it")
    try:
        spec = get_system(system)
        if not resume:  # validate before any service: names, seeds, every job's config (strict overrides)
            spec.jobs(suite, methods=method, workloads=workload, seeds=seeds, overrides=overrides)
    except (UnknownSystemError, ValueError) as exc:
        _fail(str(exc))
    _preflight()
    if resume:
        from flows.reconcile import resume_arguments

        try:
            args = resume_arguments(system, resume, echo=typer.echo)
        except ValueError as exc:
            _fail(str(exc))
        suite, method, workload, seeds, overrides = (args["suite"], args["methods"], args["workloads"],
                                                     args["seeds"], args["overrides"])
        try:
            spec.jobs(suite, methods=method, workloads=workload, seeds=seeds, overrides=overrides)
        except ValueError as exc:
            _fail(f"--resume {resume}: its job list no longer resolves: {exc}")
    from flows.lifecycle import Terminated, exit_code, signals_raise
    from flows.run import run_system
    from flows.stores import start_temporary_prefect, stop_temporary_prefect

    try:
        with signals_raise():
            start_temporary_prefect()
            state = run_system(system=system, suite=suite, methods=method, workloads=workload, seeds=seeds,
                               overrides=overrides or None, resume=resume, return_state=True)
    except (KeyboardInterrupt, Terminated) as exc:
        typer.echo(f"interrupted ({str(exc) or 'SIGINT'}): open runs marked KILLED/Crashed; continue with "
                   f"`syslab run {system} --resume <MLflow run id>`", err=True)
        raise typer.Exit(exit_code(exc))
    finally:
        stop_temporary_prefect()
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        raise summary
    if json_out:
        import json

        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        typer.echo("")
        if summary.get("status_line"):
            typer.echo(f"{system}: {summary['status_line']}")
        typer.echo(summary["markdown"])
        typer.echo(f"{summary['n_ok']} ok, {summary['n_failed']} failed, {summary['wall_s']:.1f}s "
                   f"(jobs {summary['job_compute_s']:.1f}s, worker imports {summary['worker_import_s']:.1f}s); "
                   f"Prefect state {state.name}; MLflow run {summary['mlflow_run_id']} in {summary['tracking_uri']}")
    if summary["n_failed"] and (strict or summary["n_ok"] == 0):
        raise typer.Exit(1)


def _preflight(**kwargs) -> None:
    """Check Ray, MLflow, Prefect and the settings before a flow starts (exit 2 with one line)."""
    from flows.preflight import SetupError, preflight

    try:
        preflight(**kwargs)
    except SetupError as exc:
        _fail(str(exc))


@app.command("check")
def check_cmd(
    only: Optional[List[str]] = typer.Option(None, "--only", help="settings | ray | mlflow | prefect | topology "
                                                                  "(repeatable; default: all)"),
    prefect_server: bool = typer.Option(False, "--prefect-server", help="require a real Prefect server (schedules)"),
) -> None:
    """Check the environment a flow would run in (what `syslab run` checks first); exit 2 on a problem."""
    import time

    from flows.preflight import CHECKS, SetupError

    names = only or list(CHECKS)
    bad = [n for n in names if n not in CHECKS]
    if bad:
        _fail(f"unknown check(s) {', '.join(bad)}; valid: {', '.join(CHECKS)}")
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        try:
            outcome = CHECKS[name](require_prefect_server=prefect_server)
        except SetupError as exc:
            failed += 1
            typer.echo(f"FAIL {name:9s} {time.perf_counter() - t0:5.1f}s  error: {exc}")
            continue
        typer.echo(f"ok   {name:9s} {time.perf_counter() - t0:5.1f}s  {outcome}")
    if failed:
        raise typer.Exit(2)


def _register_system_apps() -> None:
    import flows.cli as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name in ("main",) or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"flows.cli.{mod.name}")
        sub = getattr(module, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=getattr(module, "NAME", mod.name))


_register_system_apps()


def main() -> None:
    from flows.preflight import SetupError

    try:
        app()
    except SetupError as exc:  # found after the start (e.g. once connected to the Ray cluster)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
