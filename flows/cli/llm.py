"""``syslab llm up|down|status|env`` — a local OpenAI-compatible LLM server (llama-cpp-python + SmolLM2-135M)."""

import typer

NAME = "llm"
app = typer.Typer(help="Local OpenAI-compatible LLM server on 127.0.0.1 (install it with `make llm`).",
                  no_args_is_help=True)


@app.command("up")
def up_cmd(timeout: float = typer.Option(180.0, help="seconds to wait for the server to answer")) -> None:
    """Start the server (idempotent) and print the environment that points clients at it."""
    from flows import llm

    ok = llm.up(timeout=timeout, echo=typer.echo)
    if not ok:
        raise typer.Exit(1)
    typer.echo("\nJobs started from this checkout find it by themselves; other clients use:\n" + _exports())
    typer.echo("(or: eval \"$(syslab llm env)\")")


@app.command("down")
def down_cmd() -> None:
    """Stop exactly the process group `syslab llm up` started."""
    from flows import llm

    llm.down(echo=typer.echo)


@app.command("status")
def status_cmd() -> None:
    """Whether the server is installed and running, which model it serves, and where."""
    from flows import llm

    s = llm.status()
    if s["problem"]:
        typer.echo(f"llm      not installed: {s['problem']}")
    else:
        typer.echo(f"llm      installed: {s['server']}, model {s['model']} ({s['model_file']}, {s['model_mb']} MB)")
    state = "healthy" if s["healthy"] else ("starting/unhealthy" if s["pid"] else "down")
    typer.echo(f"llm      {state:18s} pid {s['pid'] or '-'!s:8s} {s['base_url']}")


@app.command("env")
def env_cmd() -> None:
    """Print export lines for the local server (OPENAI_BASE_URL, OPENAI_MODEL, SYSLAB_LLM_GRAMMAR)."""
    typer.echo(_exports())


def _exports() -> str:
    from flows import llm

    return "\n".join(f"export {k}={v}" for k, v in llm.env_exports().items())
