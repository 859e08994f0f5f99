"""``syslab mapper search`` / ``syslab mapper optimizers``.

:func:`register` is called by :mod:`flows.cli.mapper` to add the search commands to its sub-app.
"""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``search`` and ``optimizers`` to the mapper sub-app."""

    @app.command("optimizers")
    def optimizers_cmd() -> None:
        """List the mapper optimizers and whether an LLM endpoint is configured."""
        from systems.mapper.agent.llm import llm_config_from_env, llm_status
        from systems.mapper.search import OPTIMIZERS

        import importlib.util

        configured = llm_config_from_env().configured
        has_trace = importlib.util.find_spec("opto") is not None
        for info in OPTIMIZERS.values():
            avail = "available" if (not info.needs_llm or configured) else "needs an LLM endpoint"
            if info.name == "optoprime" and not has_trace:
                avail = "needs `make llm` (Trace)"
            typer.echo(f"{info.name:14s} {avail:22s} feedback={info.default_feedback:5s} {info.description}")
        typer.echo(llm_status())

    @app.command("search")
    def search_cmd(
        app_name: str = typer.Option(..., "--app", help="benchmark (see `syslab mapper apps`)"),
        optimizer: str = typer.Option(..., "--optimizer", help="see `syslab mapper optimizers`"),
        iterations: int = typer.Option(10, "--iterations", help="proposals to evaluate"),
        seed: int = typer.Option(0, "--seed", help="seed of every random choice"),
        feedback: str = typer.Option("guide", "--feedback", help="score | raw | explain | guide | oracle"),
        wall_s: Optional[float] = typer.Option(None, "--wall-s", help="wall-clock budget in seconds"),
        json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="print every iteration to stderr"),
    ) -> None:
        """Search a mapper for one benchmark; prints the best mapper and its speedup over the expert."""
        from systems.mapper.agent.llm import LLMRequestError, LLMUnavailableError, llm_config_from_env
        from systems.mapper.apps import APPS
        from systems.mapper.search import OPTIMIZERS, SearchError, search, validate

        if app_name not in APPS:
            _fail(f"unknown app {app_name!r}; valid: {', '.join(APPS)}")
        try:
            validate(optimizer, iterations, feedback, wall_s)
        except SearchError as exc:
            _fail(str(exc))
        if OPTIMIZERS[optimizer].needs_llm and not llm_config_from_env().configured:
            _fail(f"optimizer {optimizer!r} needs an LLM endpoint: set OPENAI_BASE_URL and OPENAI_MODEL "
                  f"(and OPENAI_API_KEY), or run `syslab llm up` (after `make llm`); offline optimizers: "
                  + ", ".join(n for n, i in OPTIMIZERS.items() if not i.needs_llm))

        def progress(rec) -> None:
            if verbose:
                t = f"{rec.time_s:.6g}" if rec.time_s is not None else "-"
                typer.echo(f"[{rec.iteration}] {rec.status} time={t} best={rec.best_time_s} {rec.note}", err=True)

        try:
            res = search(app_name, optimizer, iterations=iterations, seed=seed, feedback=feedback,
                         wall_s=wall_s, progress=progress)
        except (LLMUnavailableError, LLMRequestError) as exc:
            _fail(str(exc), code=1)
        except RuntimeError as exc:
            if type(exc).__name__ != "TraceUnavailableError":
                raise
            _fail(str(exc), code=1)
        summary = {"app": res.app, "optimizer": res.optimizer, "seed": res.seed, "feedback": res.feedback,
                   "best_time_s": res.best_time_s, "expert_time_s": res.expert_time_s, "speedup": res.speedup,
                   "lower_bound_s": res.lower_bound_s, "iterations": res.iterations, "wall_s": res.wall_s,
                   "stopped_by": res.stopped_by, "simulated": True,
                   "failed_iterations": sum(r.status != "ok" for r in res.records),
                   "best_so_far": res.history, "best_mapper": res.best_mapper, **res.llm}
        if json_out:
            typer.echo(json.dumps(summary, indent=2))
        else:
            if res.best_mapper:
                typer.echo(res.best_mapper.rstrip())
                typer.echo("")
            sp = f"{res.speedup:.3f}x" if res.speedup else "-"
            best = f"{res.best_time_s:.6g} s" if res.best_time_s is not None else "none found"
            typer.echo(f"# {res.app} / {res.optimizer} (feedback {res.feedback}, seed {res.seed}): best {best}, "
                       f"expert {res.expert_time_s:.6g} s, speedup {sp} (simulated); {res.iterations} iterations "
                       f"in {res.wall_s:.2f}s wall")
        if res.best_mapper is None:
            sys.exit(1)
