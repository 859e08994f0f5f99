"""Run one Job safely: the function a Ray task calls.

Whatever the system's runner does, :func:`execute` returns a JobResult: an exception becomes a
``failed`` result with the traceback, so one bad job never sinks a sweep. The job's config is resolved
here, on the one strict path (:mod:`systems.core.config`), and recorded on the result.
"""

from __future__ import annotations

import time
import traceback

from systems.core.config import ConfigError, to_dict
from systems.core.env import hardware_description, seed_everything
from systems.core.registry import get_system
from systems.core.types import Job, JobResult


def execute(job: Job) -> JobResult:
    """Run ``job`` with its system's runner; never raises for errors inside the job."""
    t0, c0 = time.perf_counter(), time.process_time()
    hardware = hardware_description()
    try:
        spec = get_system(job.system)
    except Exception as exc:  # unknown system on this worker
        return JobResult.failed(job, f"{type(exc).__name__}: {exc}", hardware=hardware)
    is_baseline = job.method in spec.baselines
    try:
        cfg = spec.resolve(job)
    except (ConfigError, ValueError) as exc:
        return JobResult.failed(job, f"ConfigError: {exc}", is_baseline=is_baseline, hardware=hardware)
    resolved = to_dict(cfg)
    try:
        seed_everything(job.seed)
        result = spec.run_fn()(job, cfg)
        if not isinstance(result, JobResult):
            raise TypeError(f"{spec.runner} returned {type(result).__name__}, expected JobResult")
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt/SystemExit inside a job are failures too
        if isinstance(exc, KeyboardInterrupt):
            raise
        err = "".join(traceback.format_exception(exc)).strip()
        return JobResult.failed(job, err, is_baseline=is_baseline, hardware=hardware,
                                wall_s=time.perf_counter() - t0, config=resolved)
    result.is_baseline = is_baseline
    result.suite = job.suite
    result.job_params = dict(job.params)
    result.config_name = job.config
    result.config = resolved
    result.simulated = result.simulated or spec.simulated
    if not result.hardware:
        result.hardware = hardware
    if not result.wall_s:
        result.wall_s = time.perf_counter() - t0
    if not result.cpu_s:
        result.cpu_s = time.process_time() - c0
    if result.ok and spec.primary_metric not in result.metrics:
        result.status = "failed"
        result.error = (f"{spec.runner} returned no primary metric {spec.primary_metric!r} "
                        f"(metrics: {sorted(result.metrics)})")
    return result
