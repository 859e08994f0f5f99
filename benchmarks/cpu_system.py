"""A CPU-bound system used only by the platform benchmark (``SYSLAB_EXTRA_SYSTEMS=benchmarks.cpu_system``).

Each job burns a fixed amount of pure-Python arithmetic, so N jobs on P cores should take N/P of
the serial time if the platform adds nothing.
"""

from __future__ import annotations

import time

from dataclasses import dataclass

from systems.core import Job, JobResult, Method, Suite, SuiteEntry, SystemSpec


@dataclass
class BurnConfig:
    """How much to burn."""

    n: int = 25_000_000
    """Loop iterations of pure-Python arithmetic per job."""


def burn(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def run(job: Job, cfg: BurnConfig) -> JobResult:
    t0 = time.perf_counter()
    burn(cfg.n)
    wall = time.perf_counter() - t0
    return JobResult("cpuburn", job.workload, job.method, job.seed, metrics={"time_s": wall}, wall_s=wall)


def _workload(name: str) -> dict:
    if not name.startswith("burn"):
        raise ValueError(f"unknown cpuburn workload {name!r}; valid: burn0, burn1, ...")
    return {}


SPEC = SystemSpec(name="cpuburn", description="CPU-bound jobs for the platform benchmark", primary_metric="time_s",
                  direction="min", methods=(Method("spin", "baseline"),), configs={"default": BurnConfig},
                  suites={s: Suite(tuple(SuiteEntry(f"burn{i}", "spin") for i in range(n)))
                          for s, n in (("smoke", 4), ("default", 8))},
                  workload_overrides=_workload, runner="benchmarks.cpu_system:run")
