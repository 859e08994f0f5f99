"""A CPU-bound system used only by the platform benchmark (``SYSLAB_EXTRA_SYSTEMS=benchmarks.cpu_system``).

Each job burns a fixed amount of pure-Python arithmetic, so N jobs on P cores should take N/P of
the serial time if the platform adds nothing.
"""

from __future__ import annotations

import time

from systems.core import Job, JobResult, SystemSpec


def burn(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def run(job: Job) -> JobResult:
    t0 = time.perf_counter()
    burn(int(job.params.get("n", 10_000_000)))
    wall = time.perf_counter() - t0
    return JobResult("cpuburn", job.workload, job.method, job.seed, metrics={"time_s": wall}, wall_s=wall)


def make_jobs(suite, methods=None, workloads=None, seeds=None):
    n_jobs = {"smoke": 4, "default": 8}.get(suite, 8)
    return [Job("cpuburn", f"burn{i}", "spin", 0, suite, params={"n": 25_000_000}) for i in range(n_jobs)]


SPEC = SystemSpec(name="cpuburn", description="CPU-bound jobs for the platform benchmark", primary_metric="time_s",
                  direction="min", methods=("spin",), baselines=("spin",), make_jobs=make_jobs,
                  runner="benchmarks.cpu_system:run")
