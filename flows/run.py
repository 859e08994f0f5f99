"""The generic flow: run one system's suite as Ray tasks, record to MLflow, publish the comparison.

    syslab run hag --suite smoke      # or: make run-flow name=hag suite=smoke

One Prefect task per job, each submitted to Ray (see :mod:`flows.ray_runner` for where Ray runs
and why retries live in Ray). Ray tasks *return* JobResults; only this driver writes to MLflow,
incrementally as jobs finish, so a crash mid-sweep keeps what finished.

States tell the truth: a job that failed is a **Failed** task run (its JobResult still comes back
and is recorded), a job whose worker died past Ray's retries is **Crashed**, and the flow ends
**Completed** only when every job is ok, **Completed** named ``Partial`` when some failed and
**Failed** when all did. On an exception, Ctrl-C or SIGTERM (:mod:`flows.lifecycle`) the driver
marks its MLflow parent KILLED (FAILED for an exception), sets its open task runs Crashed and
cancels its Ray tasks before it stops. ``resume=<parent run id>`` re-runs only the jobs of that
run with no finished child run and records them into it.

Timing: a job's ``wall_s`` excludes the worker's import warm-up (the system's modules, numpy and
torch, imported before the clock starts and logged as ``import_s``); each Ray attempt is recorded
(``ray_attempts``, ``ray_retry_lost_s``: time lost to attempts whose worker or node died).
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
class TimeLimit(TimeoutError):
    """The run's own deadline (``timeout_s``) passed with jobs still running."""


class JobFailed(Exception):
    """Raised by the task for a failed job so Prefect records a Failed task run; carries the payload."""

    def __init__(self, payload: dict[str, Any]):
        super().__init__(payload)
        self.payload = payload

    def __str__(self) -> str:
        res = self.payload.get("result", {})
        return _last_line(res.get("error"), 500) or "job failed"


def warm_up(job: Job) -> float:
    """Import what the job will import (its system's modules, numpy, torch); seconds it took.

    On a worker's first job this is the cold import (seconds; ~12 s for HAG's GNN stack on the dev
    machine); afterwards ~0. Kept out of the job's ``wall_s`` and reported separately.
    """
    from systems.core.env import seed_everything

    t0 = time.perf_counter()
    try:
        spec = get_system(job.system)
        spec.run_fn()
        seed_everything(job.seed)  # imports numpy/torch; execute() seeds again
    except Exception:  # noqa: BLE001 - execute() reports the same problem as the job's error
        pass
    return time.perf_counter() - t0


@task(name="job", retries=0, persist_result=False)
def run_job(job: dict[str, Any], token: str = "") -> dict[str, Any]:
    """Run one job on a Ray worker; returns ``{"result": JobResult dict, "worker": {...}}``.

    A failed job raises :class:`JobFailed` (the same payload inside) so its task run is Failed.
    """
    import os

    from systems.core.execute import execute

    j = Job(**job)
    worker: dict[str, Any] = {"pid": os.getpid()}
    try:
        import ray

        ctx = ray.get_runtime_context()
        worker.update(node_id=ctx.get_node_id(), node_ip=ray.util.get_node_ip_address())
        if token:
            from flows.lifecycle import AttemptLog

            AttemptLog.start(token, j.key, worker)
    except Exception:  # noqa: BLE001 - not under Ray (task.fn() in tests): no node facts
        pass
    worker["import_s"] = warm_up(j)
    payload = {"result": execute(j).to_dict(), "worker": worker}
    if payload["result"].get("status") != "ok":
        raise JobFailed(payload)
    return payload


def _cluster_gpus() -> float:
    import ray

    try:
        return float(ray.cluster_resources().get("GPU", 0))
    except Exception:  # noqa: BLE001 - not initialised: treat as no GPU
        return 0.0


def _wait_any(futures: list, deadline: float | None = None) -> list:
    """Block until at least one future is done; return the done ones (Ray-aware, no busy loop).

    Waits in 1 s slices so Ctrl-C and SIGTERM reach the driver promptly, and raises ``TimeoutError``
    (:class:`TimeLimit`) once ``deadline`` (``time.monotonic()``) has passed. (Prefect's own ``timeout_seconds`` interrupts
    the driver inside ``ray.wait`` and surfaces as a ``SystemError``, so the flow keeps its own clock.)
    """
    import ray

    refs = {f.wrapped_future: f for f in futures}
    ready: list = []
    while not ready:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeLimit(f"{len(refs)} job(s) still running at the time limit")
        ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
    more, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
    return [refs[r] for r in {*ready, *more}]


def _to_result(fut, job: Job, is_baseline: bool) -> tuple[JobResult, dict[str, Any], bool]:
    """(result, worker facts, crashed): unpacks a finished future; a dead worker becomes a failed result."""
    try:
        payload = fut.result()
    except JobFailed as exc:
        payload = exc.payload
    except Exception as exc:  # noqa: BLE001 - worker died past its retries, or the task crashed
        err = "".join(traceback.format_exception(exc)).strip()
        return (JobResult.failed(job, f"job crashed outside the system code: {err}", is_baseline=is_baseline),
                {}, True)
    return JobResult.from_dict(payload["result"]), payload.get("worker", {}), False


def _last_line(text: str | None, limit: int) -> str:
    """The last line of an error text (the exception message), cut to ``limit`` characters."""
    lines = (text or "").strip().splitlines()
    return lines[-1][:limit] if lines else ""


def final_state(summary: dict[str, Any]):
    """Completed (all ok), Completed named Partial (some failed), Failed (all failed); data = the summary."""
    from prefect.states import Completed, Failed

    n, bad = summary["n_jobs"], summary["n_failed"]
    if not bad:
        return Completed(message=f"{n} job(s) ok", data=summary)
    if bad < n:
        return Completed(name="Partial", message=f"{bad} of {n} job(s) failed", data=summary)
    return Failed(message=f"all {n} job(s) failed", data=summary)


# --- the flow ------------------------------------------------------------------------------------
@flow(name="run-system", task_runner=SyslabRayTaskRunner(), log_prints=True, validate_parameters=True)
def run_system(system: str, suite: str = "smoke", methods: list[str] | None = None,
               workloads: list[str] | None = None, seeds: int | None = None,
               run_reason: str = "manual", extra_tags: dict[str, str] | None = None,
               overrides: dict[str, Any] | None = None, resume: str | None = None,
               timeout_s: float | None = None):
    """Run ``system``'s ``suite`` (optionally restricted); the final state's data is a summary dict.

    ``overrides`` are config overrides added to every job (``syslab run --set key=value``), checked
    strictly against the system's config. ``extra_tags`` are added to the parent and every child MLflow
    run (the nightly passes its sweep id and the benchmark-definition hash this way). ``resume`` is the
    MLflow parent run id of an earlier run of the same jobs: only jobs without a finished child run
    there are run, and recorded into it. ``timeout_s`` stops the run (``TimeoutError``: MLflow run FAILED,
    open jobs cancelled and Crashed) when its jobs are not done in time (the nightly's per-system limit).
    """
    from prefect.runtime import flow_run
    from prefect_ray.context import remote_options

    from flows.lifecycle import AttemptLog, attempt_cost, crash_task_runs
    from flows.tracking import FlowRecorder

    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout_s if timeout_s else None
    log = get_run_logger()
    spec = get_system(system)
    jobs = spec.jobs(suite, methods=methods, workloads=workloads, seeds=seeds, overrides=overrides)
    sha, hw = git_sha(), hardware_description()
    prefect_id = str(flow_run.id or "")
    tags = {"syslab.prefect_flow_run_id": prefect_id, **(extra_tags or {})}
    params = {"suite": suite, "methods": methods or "all", "workloads": workloads or "all",
              "seeds": seeds if seeds is not None else "suite default", "n_jobs": len(jobs),
              "overrides": overrides or {}}
    if resume:
        recorder = FlowRecorder.reopen(spec, suite, resume, jobs, run_reason=run_reason, git_sha=sha,
                                       hardware=hw, extra_tags=tags)
    else:
        recorder = FlowRecorder(spec, suite, run_reason=run_reason, git_sha=sha, hardware=hw, params=params,
                                extra_tags=tags)
    done: list[tuple[str, JobResult]] = [(k, r) for k, r in recorder.previous.items()]
    todo = [j for j in jobs if j.key not in recorder.previous]
    log.info("%s/%s: %d jobs on %s (MLflow run %s)%s", system, suite, len(todo), hw, recorder.parent_id,
             f"; resuming: {len(done)} already finished" if resume else "")
    status = spec.status_line()
    if status:
        log.info("%s: %s", system, status)
        recorder.c.set_tag(recorder.parent_id, "syslab.status_line", status)

    attempts = AttemptLog(f"{recorder.parent_id}-{prefect_id}")
    pending: dict[Any, Job] = {}
    import_s = 0.0
    try:
        gpus = _cluster_gpus()
        for job in todo:
            with remote_options(**remote_options_for(job.wants_gpu, gpus)):
                fut = run_job.with_options(task_run_name=job.key).submit(job.to_dict(), attempts.token)
            pending[fut] = job
        while pending:
            for fut in _wait_any(list(pending), deadline):
                job = pending.pop(fut)
                res, worker, crashed = _to_result(fut, job, is_baseline=job.method in spec.baselines)
                if crashed:
                    crash_task_runs([fut.task_run_id], _last_line(res.error, 500))
                extra = {**attempt_cost(attempts.attempts(job.key)),
                         **({"import_s": worker["import_s"]} if "import_s" in worker else {})}
                import_s += extra.get("import_s", 0.0)
                recorder.record(res, job.key, extra_metrics=extra,
                                extra_tags={"syslab.ray_node_id": worker.get("node_id", ""),
                                            "syslab.ray_node_ip": worker.get("node_ip", ""),
                                            "syslab.prefect_task_run_id": str(fut.task_run_id)})
                done.append((job.key, res))
                val = res.metrics.get(spec.primary_metric)
                what = f"{spec.primary_metric}={val:.6g}" if res.ok and val is not None else \
                    (_last_line(res.error, 200) or res.status)
                tries = f", {int(extra['ray_attempts'])} attempts" if extra.get("ray_attempts", 1) > 1 else ""
                log.info("[%d/%d] %-40s %-6s %s (%.1fs%s)", len(done), len(jobs), job.key, res.status, what,
                         res.wall_s, tries)
    except TimeLimit as exc:
        exc = TimeLimit(f"{system}/{suite}: time limit of {timeout_s:g}s reached; {exc}")
        _stop(recorder, pending, exc, log)
        raise exc from None
    except BaseException as exc:
        _stop(recorder, pending, exc, log)
        raise

    by_key = dict(done)
    done = [(j.key, by_key[j.key]) for j in jobs if j.key in by_key]  # the suite's order
    results = [r for _, r in done]
    rows = compare(spec, results)
    wall = time.perf_counter() - t0
    compute = sum(r.wall_s for r in results)
    compute_now = sum(r.wall_s for k, r in done if k not in recorder.previous)  # this driver's jobs
    n_failed = sum(not r.ok for r in results)
    n_ok = len(results) - n_failed
    metrics = {"n_jobs": len(jobs), "n_ok": n_ok, "n_failed": n_failed, "wall_s": wall,
               "job_compute_s": compute, "worker_import_s": import_s, "overhead_s": wall - compute_now - import_s,
               "n_resumed": float(len(jobs) - len(todo)) if resume else 0.0}
    recorder.finish(done, rows, metrics)
    summary = _publish(spec, system, suite, rows, results, recorder, metrics, sha, hw, status, done, log)
    return final_state(summary)


def _stop(recorder, pending: dict, exc: BaseException, log) -> None:
    """Interrupted (exception, Ctrl-C, SIGTERM, timeout): close what this driver opened, then re-raise."""
    import ray

    from flows.lifecycle import crash_task_runs

    why = f"driver stopped: {type(exc).__name__}: {exc}".strip().rstrip(":")
    log.error("%s; %d job(s) still open", why, len(pending))
    for fut in pending:
        try:
            ray.cancel(fut.wrapped_future, force=True)
        except Exception:  # noqa: BLE001 - best effort
            pass
    try:
        crash_task_runs([f.task_run_id for f in pending], why)
    except Exception:  # noqa: BLE001 - the API may be what failed
        pass
    try:
        recorder.abort(why, status="FAILED" if isinstance(exc, Exception) else "KILLED")
    except Exception:  # noqa: BLE001 - MLflow may be what failed; `syslab runs reconcile` closes it later
        log.error("could not close MLflow run %s; run `syslab runs reconcile`", recorder.parent_id)


def _publish(spec, system, suite, rows, results, recorder, metrics, sha, hw, status, done, log) -> dict[str, Any]:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from flows.tracking import tracking_uri

    n_failed = metrics["n_failed"]
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
    log.info("%s/%s finished: %d ok, %d failed in %.1fs (job compute %.1fs, worker imports %.1fs)", system, suite,
             metrics["n_ok"], n_failed, metrics["wall_s"], metrics["job_compute_s"], metrics["worker_import_s"])
    return {
        "system": system, "suite": suite, **metrics,
        "mlflow_run_id": recorder.parent_id, "tracking_uri": tracking_uri(), "git_sha": sha, "hardware": hw,
        "geomeans": geomeans(rows), "rows": [r.__dict__ for r in rows], "markdown": md,
        "failed": [{"job": k, "error": r.error} for k, r in done if not r.ok], "status_line": status,
    }


if __name__ == "__main__":  # python -m flows.run hag smoke
    import sys

    print(json.dumps(run_system(*sys.argv[1:3]), indent=2, default=str))
