"""Workloads (the nine benchmarks) and suites of the mapper system.

``smoke`` runs three benchmarks at small sizes; ``default``/``nightly``/``full`` run all nine at their
default sizes. Optimizer budgets per suite are in ``BUDGETS`` (part 2 may tune them).
"""

from __future__ import annotations

import os

from systems.core import Job

ALL_APPS = ("circuit", "stencil", "pennant", "cannon", "summa", "pumma", "johnson", "solomonik", "cosma")
"""The nine benchmarks."""
SUITE_APPS = {
    "smoke": ("circuit", "stencil", "cannon"),
    "default": ALL_APPS,
    "nightly": ALL_APPS,
    "full": ALL_APPS,
}
"""Benchmarks per suite."""
BUDGETS = {
    "smoke": {"iterations": 10, "wall_s": 20},
    "default": {"iterations": 100, "wall_s": 300},
    "nightly": {"iterations": 30, "wall_s": 60},
    "full": {"iterations": 1000, "wall_s": 600},
}
"""Optimizer budget per suite (job params ``iterations`` and ``wall_s``)."""
LLM_BUDGETS = {
    "smoke": {"iterations": 3, "wall_s": 120},
    "default": {"iterations": 10, "wall_s": 600},
    "nightly": {"iterations": 10, "wall_s": 600},
    "full": {"iterations": 10, "wall_s": 600},
}
"""Budget of the ``llm-agent`` per suite: the paper's 10 iterations (each one an LLM call), within 10 minutes."""
SEEDS = {"smoke": [0], "default": [0], "nightly": [0], "full": [0, 1, 2]}
"""Seeds per suite (the expert is deterministic and always runs once)."""


def default_methods() -> list[str]:
    """Methods a suite runs by default: the expert and the offline optimizers, plus the LLM agent when configured."""
    methods = ["expert", "random-search", "scalar-tuner", "evolve"]
    if os.environ.get("OPENAI_BASE_URL") and os.environ.get("SYSLAB_LLM_MODEL"):
        methods.append("llm-agent")
    return methods


def workloads(suite: str = "default") -> list[str]:
    """Benchmark names of ``suite``."""
    return list(SUITE_APPS.get(suite, ALL_APPS))


def make_jobs(suite: str = "smoke", methods: list[str] | None = None, workloads: list[str] | None = None,
              seeds: list[int] | None = None) -> list[Job]:
    """One job per (benchmark, method, seed); the expert runs once per benchmark (it is deterministic)."""
    apps = list(workloads) if workloads else list(SUITE_APPS.get(suite, ALL_APPS))
    methods = list(methods) if methods else default_methods()
    seed_list = list(seeds) if seeds else SEEDS.get(suite, [0])
    budget = BUDGETS.get(suite, BUDGETS["default"])
    jobs = []
    for app in apps:
        for method in methods:
            for seed in ([seed_list[0]] if method == "expert" else seed_list):
                params = {} if method == "expert" else dict(
                    LLM_BUDGETS.get(suite, LLM_BUDGETS["default"]) if method == "llm-agent" else budget)
                jobs.append(Job(system="mapper", workload=app, method=method, seed=seed, suite=suite, params=params))
    return jobs
