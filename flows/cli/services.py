"""``syslab services up|down|status|env`` — the local MLflow, Prefect and Ray services."""

import typer

NAME = "services"
app = typer.Typer(help="Local MLflow server, Prefect server and Ray head on 127.0.0.1.", no_args_is_help=True)


@app.command("up")
def up_cmd(timeout: float = typer.Option(180.0, help="seconds to wait for each service to become healthy")) -> None:
    """Start the services (idempotent) and print how to point flows at them."""
    from flows import services
    from flows.preflight import SetupError

    try:
        services.services()  # ports valid and distinct, before anything starts
    except SetupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    ok = services.up(timeout=timeout, echo=typer.echo)
    typer.echo("\nPoint flows, the dashboard and nightly at them with:\n" + services.env_exports())
    typer.echo("(or: eval \"$(syslab services env)\"). MLflow UI: " + services.services()[0].env["MLFLOW_TRACKING_URI"])
    if not ok:
        raise typer.Exit(1)


@app.command("down")
def down_cmd() -> None:
    """Stop exactly the processes `syslab services up` started."""
    from flows import services

    services.down(echo=typer.echo)


@app.command("status")
def status_cmd() -> None:
    """Show each service's pid, port and health."""
    from flows import services

    for s in services.status():
        state = "healthy" if s["healthy"] else ("starting/unhealthy" if s["pid"] else "down")
        pid = s["pid"] or "-"
        typer.echo(f"{s['name']:8s} {state:18s} pid {pid!s:8s} 127.0.0.1:{s['port']}  "
                   + " ".join(f"{k}={v}" for k, v in s["env"].items()))


@app.command("env")
def env_cmd() -> None:
    """Print export lines for the services (use with eval)."""
    from flows import services

    typer.echo(services.env_exports())
