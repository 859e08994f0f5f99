"""The generic flow: run one system's suite as Ray tasks, record to MLflow, publish the comparison.

    syslab run hag --suite smoke      # or: make run-flow name=hag suite=smoke

One Prefect task per job, each submitted to Ray (see :mod:`flows.ray_runner` for where Ray runs
and why retries live in Ray). Ray tasks *return* JobResults; only this driver writes to MLflow,
incrementally as jobs finish, so a crash mid-sweep keeps what finished.
"""

from __future__ import annotations

import json
import time
import traceback
from typing import Any

from prefect import flow, get_run_logger, task

from flows.ray_runner import SyslabRayTaskRunner, remote_options_for
from systems.core import Job, JobResult, get_system, git_sha, hardware_description
from systems.core.compare import compare, geomeans, table_rows, to_markdown


# --- the unit of work ---------------------------------------------------------------------------
@task(name="job", retries=0, persist_result=False)
def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job on a Ray worker; returns the JobResult as a plain dict."""
    from systems.core.execute import execute

    return execute(Job(**job)).to_dict()


def _cluster_gpus() -> float:
    import ray

    try:
        return float(ray.cluster_resources().get("GPU", 0))
    except Exception:  # noqa: BLE001 - not initialised: treat as no GPU
        return 0.0


def _wait_any(futures: list) -> list:
    """Block until at least one future is done; return the done ones (Ray-aware, no busy loop)."""
    import ray

    refs = {f.wrapped_future: f for f in futures}
    ready, _ = ray.wait(list(refs), num_returns=1, timeout=None)
    more, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
    return [refs[r] for r in {*ready, *more}]


def _to_result(fut, job: Job, is_baseline: bool) -> JobResult:
    try:
        return JobResult.from_dict(fut.result())
    except Exception as exc:  # noqa: BLE001 - worker died past its retries, or the task crashed
        err = "".join(traceback.format_exception(exc)).strip()
        return JobResult.failed(job, f"job crashed outside the system code: {err}", is_baseline=is_baseline)


def _last_line(text: str | None, limit: int) -> str:
    """The last line of an error text (the exception message), cut to ``limit`` characters."""
    lines = (text or "").strip().splitlines()
    return lines[-1][:limit] if lines else ""


# --- the flow ------------------------------------------------------------------------------------
@flow(name="run-system", task_runner=SyslabRayTaskRunner(), log_prints=True, validate_parameters=True)
def run_system(system: str, suite: str = "smoke", methods: list[str] | None = None,
               workloads: list[str] | None = None, seeds: int | None = None,
               run_reason: str = "manual", extra_tags: dict[str, str] | None = None,
               overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``system``'s ``suite`` (optionally restricted) and return a summary with the comparison.

    ``overrides`` are config overrides added to every job (``syslab run --set key=value``), checked
    strictly against the system's config. ``extra_tags`` are added to the parent and every child MLflow
    run (the nightly passes its sweep id and the benchmark-definition hash this way).
    """
    from prefect.artifacts import create_markdown_artifact, create_table_artifact
    from prefect.runtime import flow_run
    from prefect_ray.context import remote_options

    from flows.tracking import FlowRecorder, tracking_uri

    t0 = time.perf_counter()
    log = get_run_logger()
    spec = get_system(system)
    jobs = spec.jobs(suite, methods=methods, workloads=workloads, seeds=seeds, overrides=overrides)
    sha, hw = git_sha(), hardware_description()
    recorder = FlowRecorder(spec, suite, run_reason=run_reason, git_sha=sha, hardware=hw,
                            params={"suite": suite, "methods": methods or "all", "workloads": workloads or "all",
                                    "seeds": seeds if seeds is not None else "suite default", "n_jobs": len(jobs),
                                    "overrides": overrides or {}},
                            extra_tags={"syslab.prefect_flow_run_id": str(flow_run.id or ""), **(extra_tags or {})})
    log.info("%s/%s: %d jobs on %s (MLflow run %s)", system, suite, len(jobs), hw, recorder.parent_id)
    status = spec.status_line()
    if status:
        log.info("%s: %s", system, status)
        recorder.c.set_tag(recorder.parent_id, "syslab.status_line", status)

    gpus = _cluster_gpus()
    pending: dict[Any, Job] = {}
    for job in jobs:
        with remote_options(**remote_options_for(job.wants_gpu, gpus)):
            fut = run_job.with_options(task_run_name=job.key).submit(job.to_dict())
        pending[fut] = job

    done: list[tuple[str, JobResult]] = []
    while pending:
        for fut in _wait_any(list(pending)):
            job = pending.pop(fut)
            res = _to_result(fut, job, is_baseline=job.method in spec.baselines)
            recorder.record(res, job.key)
            done.append((job.key, res))
            val = res.metrics.get(spec.primary_metric)
            what = f"{spec.primary_metric}={val:.6g}" if res.ok and val is not None else \
                (_last_line(res.error, 200) or res.status)
            log.info("[%d/%d] %-40s %-6s %s (%.1fs)", len(done), len(jobs), job.key, res.status, what, res.wall_s)

    results = [r for _, r in done]
    rows = compare(spec, results)
    wall = time.perf_counter() - t0
    compute = sum(r.wall_s for r in results)
    n_failed = sum(not r.ok for r in results)
    n_ok = len(results) - n_failed
    metrics = {"n_jobs": len(jobs), "n_ok": n_ok, "n_failed": n_failed, "wall_s": wall,
               "job_compute_s": compute, "overhead_s": wall - compute}
    recorder.finish(done, rows, metrics)

    md = to_markdown(spec, rows)
    key = f"{system}-{suite}-comparison".lower().replace("_", "-")
    create_table_artifact(table=table_rows(spec, rows), key=key,
                          description=f"{system} {suite}: each method vs the expert baseline "
                                      f"({spec.primary_metric}); MLflow run {recorder.parent_id}")
    if n_failed:
        failures = "\n".join(f"- `{r.workload}/{r.method}/s{r.seed}`: {_last_line(r.error, 300)}"
                             for r in results if not r.ok)
        create_markdown_artifact(markdown=f"## {n_failed} failed job(s)\n{failures}\n",
                                 key=f"{system}-{suite}-failures".lower().replace("_", "-"))
    log.info("%s/%s finished: %d ok, %d failed in %.1fs (job compute %.1fs)", system, suite,
             n_ok, n_failed, wall, compute)
    return {
        "system": system, "suite": suite, **metrics,
        "mlflow_run_id": recorder.parent_id, "tracking_uri": tracking_uri(), "git_sha": sha, "hardware": hw,
        "geomeans": geomeans(rows), "rows": [r.__dict__ for r in rows], "markdown": md,
        "failed": [{"job": k, "error": r.error} for k, r in done if not r.ok], "status_line": status,
    }


if __name__ == "__main__":  # python -m flows.run hag smoke
    import sys

    print(json.dumps(run_system(*sys.argv[1:3]), indent=2, default=str))
