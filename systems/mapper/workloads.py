"""Workloads (the nine benchmarks) and suites of the mapper system.

``smoke`` runs three benchmarks at small sizes; ``default``/``nightly``/``full`` run all nine at their
default sizes. Optimizer budgets come from each suite's named config (:mod:`systems.mapper.config`);
the ``llm-agent`` gets the paper's 10 iterations (3 in smoke) and runs only when an endpoint is configured.
"""

from __future__ import annotations

import os

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
    """Why ``llm-agent`` cannot run here (no endpoint configured), or None."""
    if os.environ.get("OPENAI_BASE_URL") and (os.environ.get("OPENAI_MODEL") or os.environ.get("SYSLAB_LLM_MODEL")):
        return None
    return "no LLM endpoint configured (set OPENAI_BASE_URL and OPENAI_MODEL)"


def _suite(apps: tuple[str, ...], config: str, llm_budget: dict, seeds: tuple[int, ...] = (0,)) -> Suite:
    entries = []
    for app in apps:
        entries.append(SuiteEntry(app, "expert", config))
        entries += [SuiteEntry(app, m, config) for m in OFFLINE]
        entries.append(SuiteEntry(app, "llm-agent", config, llm_budget))
    return Suite(tuple(entries), seeds=seeds)


_LLM = {"iterations": 10, "wall_s": 600.0}
SUITES: dict[str, Suite] = {
    "smoke": _suite(("circuit", "stencil", "cannon"), "debug_cpu", {"iterations": 3, "wall_s": 120.0}),
    "default": _suite(ALL_APPS, "default", _LLM),
    "nightly": _suite(ALL_APPS, "nightly", _LLM),
    "full": _suite(ALL_APPS, "full", _LLM, seeds=(0, 1, 2)),
}
"""Suite name -> entries; the expert is deterministic and runs once per benchmark."""
