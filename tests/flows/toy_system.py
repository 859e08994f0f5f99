"""A tiny system for platform tests, registered through ``SYSLAB_EXTRA_SYSTEMS``.

Methods: ``expert`` (baseline, value 2.0), ``fast`` (value 1.0), ``boom`` (raises),
``crashy`` (first attempt records its pid in ``$TOY_CRASH_DIR`` and hangs until killed; the
retry returns normally and counts its attempts there).
"""

import os
import time
from pathlib import Path

from systems.core import Job, JobResult, SystemSpec


def make_jobs(suite, methods=None, workloads=None, seeds=None):
    methods = methods or ["expert", "fast"]
    workloads = workloads or ["w1", "w2"]
    return [Job("toy", w, m, s, suite) for w in workloads for m in methods for s in (seeds or [0])]


def run(job: Job) -> JobResult:
    if job.method == "boom":
        raise ValueError("toy job exploded on purpose")
    if job.method == "crashy":
        d = Path(os.environ["TOY_CRASH_DIR"])
        with open(d / "attempts", "a") as f:
            f.write(f"{os.getpid()}\n")
        attempts = (d / "attempts").read_text().split()
        if len(attempts) == 1:
            (d / "pid").write_text(str(os.getpid()))
            time.sleep(120)  # killed by the test while here
    value = {"expert": 2.0, "fast": 1.0}.get(job.method, 1.5) * (1.0 if job.workload == "w1" else 3.0)
    return JobResult("toy", job.workload, job.method, job.seed, metrics={"time_s": value, "other": 7.0},
                     params={"size": 3}, series={"loss": [3.0, 2.0, 1.0]}, artifacts={"note.txt": "hello"})


SPEC = SystemSpec(name="toy", description="platform test system", primary_metric="time_s", direction="min",
                  methods=("expert", "fast", "boom", "crashy"), baselines=("expert",),
                  reference_baseline="expert", make_jobs=make_jobs, runner="tests.flows.toy_system:run",
                  workloads=lambda suite: ["w1", "w2"])
