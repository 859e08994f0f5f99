"""Seed an MLflow store with recorded real results, the way the flow driver records them.

Jobs are run for real with :func:`systems.core.execute.execute` (the function a Ray task calls) and
written with :class:`flows.tracking.FlowRecorder` (what :func:`flows.run.run_system` uses), minus
Prefect and Ray startup. ``PLAN`` picks a few cheap smoke jobs per system; a system without an
entry gets its first smoke workload with its first expert baseline and first optimizer. The toy
test system adds a flow with a failed job (``boom``) and a second flow run for history.

    python -m tests.dashboards.seed /tmp/store            # test-sized store
    python -m tests.dashboards.seed /tmp/store --full     # whole smoke suites (docs screenshots)

The store lands in ``<dir>/mlflow.db`` with artifacts under ``<dir>/artifacts`` (pass
``MLFLOW_TRACKING_URI=sqlite:///<dir>/mlflow.db SYSLAB_HOME=<dir>`` to the dashboard).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PLAN: dict[str, list[tuple[str, list[str] | None, dict]]] = {
    "hag": [("karate", ["gnn-graph", "hag-greedy", "hag-cap-0.5"], {})],
    "layerwise": [("micro_cnn@2", ["layerwise-dp", "data-parallel"], {}),
                  ("micro_cnn@4", ["layerwise-dp", "data-parallel"], {})],
    "moe": [("micro-tiny", ["static-cf-2.0", "dynamic-cf"], {})],
    "mapper": [("circuit", ["expert", "random-search"], {"iterations": 4})],
    "precision": [("digits-tiny", ["pi-op", "ours"], {})],
}
"""Per system: (workload, methods, job-param overrides) of the test-sized store (smoke configs)."""

EXTRA_FULL: list[tuple[str, str, list[str]]] = [("precision", "nightly", ["digits-tiny"])]
"""``--full`` also records these (system, suite, workloads) flows: an r-sweep for the precision Pareto plot."""

BUDGET_S = 15.0
"""Per-system time budget of the test-sized store: no further job starts once it is spent."""


def _env(home: Path) -> None:
    """Point the recorder at ``home`` (callers that must not leak this save/restore os.environ)."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["SYSLAB_HOME"] = str(home)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'mlflow.db'}"


def uri_for(home: Path) -> str:
    return f"sqlite:///{Path(home) / 'mlflow.db'}"


def plan_jobs(spec, full: bool = False):
    """The jobs to record for ``spec``."""
    if full:
        return spec.jobs("smoke")
    plan = PLAN.get(spec.name) or []
    if not plan:
        jobs = spec.jobs("smoke")
        if not jobs:
            return []
        w = jobs[0].workload
        base = next((j for j in jobs if j.workload == w and j.method in spec.baselines), None)
        opt = next((j for j in jobs if j.workload == w and j.method not in spec.baselines), None)
        return [j for j in (base, opt) if j is not None]
    out = []
    for w, methods, params in plan:
        for m in methods:
            out.append(spec.job(w, m, params=params if m not in spec.baselines else {}))
    return out


def record_flow(spec, suite: str, results, run_reason: str = "test-seed") -> str:
    """Record ``[(job_key, JobResult)]`` as one flow run; returns the parent run id."""
    from flows.tracking import FlowRecorder
    from systems.core import git_sha, hardware_description
    from systems.core.compare import compare

    t0 = time.perf_counter()
    rec = FlowRecorder(spec, suite, run_reason=run_reason, git_sha=git_sha(), hardware=hardware_description(),
                       params={"suite": suite, "n_jobs": len(results)})
    for key, res in results:
        res.is_baseline = res.is_baseline or res.method in spec.baselines
        rec.record(res, key)
    rs = [r for _, r in results]
    n_failed = sum(not r.ok for r in rs)
    compute = sum(r.wall_s for r in rs)
    wall = time.perf_counter() - t0 + compute
    rec.finish(results, compare(spec, rs), {"n_jobs": len(rs), "n_ok": len(rs) - n_failed, "n_failed": n_failed,
                                           "wall_s": wall, "job_compute_s": compute, "overhead_s": wall - compute})
    return rec.parent_id


def run_jobs(jobs, budget_s: float | None) -> list:
    from systems.core.execute import execute

    t0 = time.perf_counter()
    out = []
    for job in jobs:
        if budget_s is not None and out and time.perf_counter() - t0 > budget_s:
            break
        out.append((job.key, execute(job)))
    return out


def seed(home: Path, systems: list[str] | None = None, full: bool = False, toy: bool = True,
         log=print) -> dict[str, str]:
    """Fill ``home`` with recorded flows; returns ``{system: parent_run_id}`` of each system's last flow."""
    _env(Path(home))
    if toy:
        extra = [m for m in os.environ.get("SYSLAB_EXTRA_SYSTEMS", "").split(",") if m]
        if "tests.flows.toy_system" not in extra:
            os.environ["SYSLAB_EXTRA_SYSTEMS"] = ",".join([*extra, "tests.flows.toy_system"])
    from systems.core import SYSTEMS

    SYSTEMS.reload()
    ids: dict[str, str] = {}
    if toy and "toy" in SYSTEMS:
        spec = SYSTEMS["toy"]
        ids["toy"] = record_flow(spec, "smoke", run_jobs(spec.jobs("smoke"), None))
        time.sleep(1.1)  # distinct start times
        jobs = spec.jobs("faults", methods=["expert", "fast", "boom"])
        ids["toy"] = record_flow(spec, "smoke", run_jobs(jobs, None))
    for name in systems if systems is not None else [s for s in SYSTEMS if s != "toy"]:
        if name not in SYSTEMS:
            log(f"seed: {name} not registered, skipped")
            continue
        spec = SYSTEMS[name]
        t = time.perf_counter()
        results = run_jobs(plan_jobs(spec, full), None if full else BUDGET_S)
        if not results:
            continue
        ids[name] = record_flow(spec, "smoke", results)
        log(f"seed: {name}: {len(results)} jobs ({sum(not r.ok for _, r in results)} failed) "
            f"in {time.perf_counter() - t:.1f}s")
        for extra_name, suite, workloads in EXTRA_FULL if full else []:
            if extra_name == name:
                t = time.perf_counter()
                results = run_jobs(spec.jobs(suite, workloads=workloads), None)
                ids[name] = record_flow(spec, suite, results)
                log(f"seed: {name} {suite}: {len(results)} jobs in {time.perf_counter() - t:.1f}s")
    return ids


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        sys.exit("usage: python -m tests.dashboards.seed DIR [--full] [system ...]")
    print(seed(Path(args[0]).resolve(), systems=args[1:] or None, full="--full" in sys.argv))
