"""Workloads (the nine benchmarks) and suites of the mapper system.

``smoke`` runs three benchmarks at small sizes; ``default``/``nightly``/``full`` run all nine at their
default sizes. Optimizer budgets come from each suite's named config (:mod:`systems.mapper.config`);
the ``llm-agent`` gets the paper's 10 iterations (3 in smoke, no wall cap: a small local model on a
loaded CPU takes minutes per proposal) and runs only when an endpoint is configured (``OPENAI_BASE_URL``
or ``syslab llm up``); ``optoprime`` (not in smoke) also needs Microsoft Trace (``make llm``).
"""

from __future__ import annotations

from systems.core import Suite, SuiteEntry

ALL_APPS = ("circuit", "stencil", "pennant", "cannon", "summa", "pumma", "johnson", "solomonik", "cosma")
"""The nine benchmarks."""
OFFLINE = ("random-search", "scalar-tuner", "evolve")
"""Offline optimizers."""


def workload_overrides(name: str) -> dict:
    """A workload is a benchmark: it sets ``app``."""
    if name not in ALL_APPS:
        raise ValueError(f"unknown mapper workload {name!r}; valid: {', '.join(ALL_APPS)}")
    return {"app": name}


def llm_unavailable() -> str | None:
    """Why ``llm-agent`` cannot run here (no endpoint in the environment and no ``syslab llm up`` server), or None."""
    from systems.mapper.agent.llm import llm_config_from_env

    try:
        if llm_config_from_env().configured:
            return None
    except ValueError as exc:
        return f"LLM endpoint misconfigured: {exc}"
    return "no LLM endpoint configured (set OPENAI_BASE_URL and OPENAI_MODEL, or run `syslab llm up`)"


def optoprime_unavailable() -> str | None:
    """Why ``optoprime`` cannot run here (no endpoint, or Microsoft Trace not installed), or None."""
    import importlib.util

    if importlib.util.find_spec("opto") is None:
        return "Microsoft Trace (trace-opt) is not installed: run `make llm`"
    return llm_unavailable()


def _suite(apps: tuple[str, ...], config: str, llm_budget: dict, seeds: tuple[int, ...] = (0,),
           optoprime: bool = True) -> Suite:
    entries = []
    for app in apps:
        entries.append(SuiteEntry(app, "expert", config))
        entries += [SuiteEntry(app, m, config) for m in OFFLINE]
        entries.append(SuiteEntry(app, "llm-agent", config, llm_budget))
        if optoprime:
            entries.append(SuiteEntry(app, "optoprime", config, llm_budget))
    return Suite(tuple(entries), seeds=seeds)


_LLM = {"iterations": 10, "wall_s": 600.0}
SUITES: dict[str, Suite] = {
    "smoke": _suite(("circuit", "stencil", "cannon"), "debug_cpu", {"iterations": 3, "wall_s": None}, optoprime=False),
    "default": _suite(ALL_APPS, "default", _LLM),
    "nightly": _suite(ALL_APPS, "nightly", _LLM),
    "full": _suite(ALL_APPS, "full", _LLM, seeds=(0, 1, 2)),
}
"""Suite name -> entries; the expert is deterministic and runs once per benchmark."""
