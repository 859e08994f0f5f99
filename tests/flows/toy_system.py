"""A tiny system for platform tests, registered through ``SYSLAB_EXTRA_SYSTEMS``.

Methods: ``expert`` (baseline, value 2.0), ``fast`` (value 1.0), ``boom`` (raises),
``crashy`` (first attempt records its pid in ``$TOY_CRASH_DIR`` and hangs until killed; the
retry returns normally and counts its attempts there), ``sleepy`` (sleeps ``$TOY_SLEEP_S``, default
1 s, while a marker ``$TOY_CRASH_DIR/running/<ray node id>-<pid>`` exists; every attempt is logged
in ``$TOY_CRASH_DIR/ran``: the multi-node cluster test uses it to find and kill a busy node).
"""

import os
import time
from pathlib import Path

from dataclasses import dataclass

from systems.core import Job, JobResult, Method, Suite, SystemSpec, grid


@dataclass
class ToyConfig:
    """The toy's config."""

    size: int = 3
    """A size that is recorded."""
    seed: int = 0
    """Set from the job."""


def workload_overrides(name: str) -> dict:
    if name not in ("w1", "w2"):
        raise ValueError(f"unknown toy workload {name!r}; valid: w1, w2")
    return {}


def _sleepy(job: Job) -> None:
    d = Path(os.environ["TOY_CRASH_DIR"])
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - not under Ray
        node = "local"
    (d / "running").mkdir(exist_ok=True)
    marker = d / "running" / f"{node}-{os.getpid()}"
    with open(d / "ran", "a") as f:
        f.write(f"{job.key} {node} {os.getpid()}\n")
    marker.touch()
    try:
        time.sleep(float(os.environ.get("TOY_SLEEP_S", "1")))
    finally:
        marker.unlink(missing_ok=True)


def run(job: Job, cfg: ToyConfig) -> JobResult:
    if job.method == "sleepy":
        _sleepy(job)
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
                     params={"size": cfg.size}, series={"loss": [3.0, 2.0, 1.0]}, artifacts={"note.txt": "hello"})


_ALL = ("expert", "fast", "boom", "crashy")
_CLUSTER = Suite(grid(("w1", "w2"), ("expert", "sleepy")), seeds=(0, 1, 2, 3),
                 description="8 sleepy jobs + the expert: spreads over the nodes of a cluster")
SPEC = SystemSpec(name="toy", description="platform test system", primary_metric="time_s", direction="min",
                  methods=(Method("expert", "baseline"), Method("fast"), Method("boom"), Method("crashy"),
                           Method("sleepy")),
                  configs={"default": ToyConfig}, workload_overrides=workload_overrides,
                  suites={**{s: Suite(grid(("w1", "w2"), ("expert", "fast"))) for s in ("smoke", "default", "nightly")},
                          "faults": Suite(grid(("w1", "w2"), _ALL), description="with the failing methods"),
                          "cluster": _CLUSTER},
                  reference_baseline="expert", runner="tests.flows.toy_system:run")
