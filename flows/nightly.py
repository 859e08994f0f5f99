"""The nightly sweep: every system's ``nightly`` suite, then regression detection against history.

    syslab nightly run                        # make nightly: once, by hand (run_reason=manual)
    syslab nightly serve                      # make nightly-serve: cron deployment on $PREFECT_API_URL
    syslab nightly report --since 7d          # the regression table from MLflow history

Each system runs as a **sub-flow** (:func:`flows.run.run_system`), one after the other, so one
system's failure (import error, crash, timeout) is recorded and the others still run. Every MLflow
run of the sweep carries the platform tags (git sha, hardware, suite, ``run_reason``) plus
``syslab.nightly_id`` (this sweep), ``syslab.benchmark_hash`` (a hash of the benchmark's
definition: spec version, metric, direction, and the exact job list) and the metric directions,
so history is self-describing. After the sub-flows, :mod:`flows.regression` compares the sweep
with earlier ones on the same hardware and benchmark hash; the report is published as Prefect
markdown + table artifacts and as an MLflow run in the ``syslab-nightly`` experiment.

Ray: the sweep initialises Ray **once** (embedded, or ``RAY_ADDRESS``) and every sub-flow's
``RayTaskRunner`` reuses it (prefect-ray does not own, hence does not shut down, a Ray that was
already initialised). Measured on the 2-core dev machine: see ``docs/nightly.md``.

Read-only data functions for dashboards: :func:`nightly_history` (a tidy DataFrame, one row per
sweep x benchmark x metric) and :func:`latest_report` (the :class:`flows.regression.Report` of the
newest sweeps).
"""

from __future__ import annotations

import json
import math
import os
import time
import uuid
from typing import Any

from prefect import flow, get_run_logger

from flows.regression import EXPERT_RATIO_METRIC, DetectorConfig, Point, Report, detect, latest_sweep_points, missing

NIGHTLY_SUITE = "nightly"
"""The suite the nightly runs (``<suite>_gpu`` is preferred when the Ray cluster has GPUs)."""
DEFAULT_CRON = os.environ.get("SYSLAB_NIGHTLY_CRON", "0 2 * * *")
"""Schedule of the deployment: 02:00 every day (in :func:`local_timezone`)."""
DEFAULT_SYSTEM_TIMEOUT_S = 3600.0
"""Each system's sub-flow is stopped after this long (the nightly suites take ~5 min on 2 CPUs)."""
DEPLOYMENT_NAME = "syslab-nightly"
"""Name of the deployment ``syslab nightly serve`` registers (flow ``nightly``)."""
REPORT_EXPERIMENT = "syslab-nightly"
"""MLflow experiment holding one run per sweep with the regression report."""
REPORT_KEY = "nightly-regressions"
"""Prefect artifact key (a stable key keeps the report's version history in the UI)."""


# --- benchmark identity ------------------------------------------------------------------------
def benchmark_hash(spec, suite: str, jobs) -> str:
    """A 12-hex hash of what the benchmark *is* (see :meth:`systems.core.SystemSpec.benchmark_hash`):
    metric, gate, reference, every job's resolved config and the workload-building source."""
    return spec.benchmark_hash(suite, list(jobs))


def suite_for(spec, suite: str, gpus: float) -> str:
    """``<suite>_gpu`` when the cluster has GPUs and the system defines it, else ``suite``."""
    gpu_suite = f"{suite}_gpu"
    return gpu_suite if gpus >= 1 and gpu_suite in spec.suites else suite


def sweep_tags(spec, suite: str, jobs, nightly_id: str) -> dict[str, str]:
    """The extra MLflow tags of one system's sub-flow in a sweep."""
    tags = {"syslab.nightly_id": nightly_id, "syslab.benchmark_hash": benchmark_hash(spec, suite, jobs),
            "syslab.primary_metric": spec.primary_metric, "syslab.direction": spec.direction}
    if spec.quality is not None:
        tags["syslab.quality_metric"] = spec.quality.metric
        tags["syslab.quality_direction"] = spec.quality.direction
    return tags


def local_timezone() -> str:
    """IANA name of this machine's timezone (``$SYSLAB_NIGHTLY_TZ``, ``$TZ``, /etc/localtime), else UTC."""
    for var in ("SYSLAB_NIGHTLY_TZ", "TZ"):
        if os.environ.get(var):
            return os.environ[var].lstrip(":")
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    try:
        with open("/etc/timezone") as fh:
            name = fh.read().strip()
            if name:
                return name
    except OSError:
        pass
    return "UTC"


# --- Ray, shared across the sub-flows ----------------------------------------------------------
def _start_shared_ray() -> tuple[bool, float]:
    """Initialise Ray once for the sweep; returns (whether we own it, GPUs in the cluster)."""
    import ray

    from flows.ray_runner import init_shared_ray

    owns = init_shared_ray()
    return owns, float(ray.cluster_resources().get("GPU", 0))


# --- the flow ----------------------------------------------------------------------------------
@flow(name="nightly", log_prints=True, validate_parameters=True)
def nightly_flow(systems: list[str] | None = None, suite: str = NIGHTLY_SUITE, seeds: int | None = None,
                 run_reason: str | None = None, threshold: float = 1.1, z_threshold: float = 3.0,
                 window: int = 10, min_history: int = 3, share_ray: bool = True,
                 system_timeout_s: float | None = None) -> dict[str, Any]:
    """Run every (or the named) system's ``suite`` as sub-flows, then publish the regression report.

    ``run_reason`` defaults to ``nightly`` when started by the deployment's schedule and
    ``manual`` otherwise. ``system_timeout_s`` bounds each system's sub-flow (default
    ``$SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S``, else :data:`DEFAULT_SYSTEM_TIMEOUT_S`): a system that hangs
    is stopped (its MLflow run marked FAILED, its open jobs Crashed) and the sweep goes on.
    """
    from prefect.runtime import deployment, flow_run

    from flows.run import run_system
    from systems.core import SYSTEMS, git_sha, hardware_description
    from systems.core.registry import BROKEN

    log = get_run_logger()
    if system_timeout_s is None:
        from flows.preflight import env_float

        system_timeout_s = env_float("SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S", DEFAULT_SYSTEM_TIMEOUT_S, minimum=0.0,
                                     exclusive_min=True)
    cfg = DetectorConfig(threshold=threshold, z_threshold=z_threshold, window=window, min_history=min_history)
    reason = run_reason or ("nightly" if deployment.id else "manual")
    nightly_id = str(flow_run.id or uuid.uuid4())
    names = list(systems) if systems else [n for n, s in SYSTEMS.items() if suite in s.suites] + sorted(BROKEN)
    names = list(dict.fromkeys(names))  # a system named twice runs once
    t0 = time.perf_counter()
    owns_ray, gpus = _start_shared_ray() if share_ray else (False, 0.0)
    log.info("nightly %s: %d system(s) %s, suite %s, reason %s, %g GPU(s), %s", nightly_id, len(names),
             ",".join(names), suite, reason, gpus, hardware_description())
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            results[name] = _run_one(run_system, name, suite, seeds, reason, nightly_id, gpus, system_timeout_s, log)
    finally:
        if owns_ray:
            import ray

            ray.shutdown()
    wall = time.perf_counter() - t0
    ran = [n for n, r in results.items() if r["status"] == "ok"]
    report = latest_report(systems=ran, suite=None, config=cfg, nightly_id=nightly_id) if ran else Report(config=cfg)
    failed = {n: r["error"] for n, r in results.items() if r["status"] != "ok"}
    md = render_sweep_markdown(nightly_id, reason, results, report, wall)
    report_run = publish_report(report, md, nightly_id=nightly_id, run_reason=reason, suite=suite,
                                results=results, wall_s=wall, git=git_sha(), hardware=hardware_description())
    log.info("nightly %s done in %.1fs: %s; failed systems: %s", nightly_id, wall, report.counts(),
             ", ".join(failed) or "none")
    return {"nightly_id": nightly_id, "run_reason": reason, "suite": suite, "wall_s": wall, "systems": results,
            "failed_systems": failed, "counts": report.counts(), "report": report.to_dict(), "markdown": md,
            "text": report.to_text(), "report_run_id": report_run}


def _run_one(run_system, name: str, suite: str, seeds: int | None, reason: str, nightly_id: str, gpus: float,
             timeout_s: float | None, log) -> dict[str, Any]:
    """One system's sub-flow; never raises (a failure becomes ``status: failed``)."""
    from systems.core import get_system

    t0 = time.perf_counter()
    try:
        spec = get_system(name)
        chosen = suite_for(spec, suite, gpus)
        jobs = spec.jobs(chosen, seeds=seeds)
        tags = sweep_tags(spec, chosen, jobs, nightly_id)
    except Exception as exc:  # noqa: BLE001 - unknown/broken system, missing suite: record, go on
        log.error("nightly: %s skipped: %s", name, exc)
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "suite": suite,
                "wall_s": time.perf_counter() - t0}
    sub = run_system.with_options(flow_run_name=f"nightly-{name}-{chosen}")
    state = sub(system=name, suite=chosen, seeds=seeds, run_reason=reason, extra_tags=tags, timeout_s=timeout_s,
                return_state=True)
    wall = time.perf_counter() - t0
    s = None
    try:
        s = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - the sub-flow's own exception, whatever it is
        s = exc
    if isinstance(s, dict) and "n_ok" in s:  # Completed, Partial, or Failed with every job failed
        status = "ok" if s["n_ok"] else "failed"
        return {"status": status, "error": None if s["n_ok"] else f"all {s['n_jobs']} jobs failed",
                "suite": chosen, "benchmark_hash": tags["syslab.benchmark_hash"], "wall_s": wall,
                "n_jobs": s["n_jobs"], "n_ok": s["n_ok"], "n_failed": s["n_failed"], "state": state.name,
                "mlflow_run_id": s["mlflow_run_id"], "geomeans": s["geomeans"], "markdown": s["markdown"]}
    err = f"{type(s).__name__}: {s}" if isinstance(s, BaseException) else (state.message or state.name)
    log.error("nightly: %s failed (%s): %s", name, state.name, err)
    return {"status": "failed", "error": f"{state.name}: {err}", "suite": chosen, "wall_s": wall,
            "benchmark_hash": tags["syslab.benchmark_hash"]}


def render_sweep_markdown(nightly_id: str, reason: str, results: dict[str, dict], report: Report,
                          wall_s: float) -> str:
    """The sweep summary (one line per system) followed by the regression report."""
    lines = [f"# Nightly sweep `{nightly_id}` ({reason})", "",
             "| system | suite | status | jobs ok/failed | wall s | geomean vs expert | MLflow run |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        gm = ", ".join(f"{m} {g:.3g}x" for m, g in (r.get("geomeans") or {}).items()
                       if g is not None and math.isfinite(g))
        okf = f"{r['n_ok']}/{r['n_failed']}" if "n_ok" in r else "-"
        status = r["status"] if r["status"] == "ok" else f"FAILED: {(r.get('error') or '')[:160]}"
        lines.append(f"| {name} | {r.get('suite', '-')} | {status.replace('|', '/')} | {okf} | {r['wall_s']:.1f} "
                     f"| {gm or '-'} | {r.get('mlflow_run_id', '-')} |")
    lines += ["", f"Total {wall_s:.1f} s.", "", report.to_markdown()]
    return "\n".join(lines)


def publish_report(report: Report, markdown: str, *, nightly_id: str, run_reason: str, suite: str,
                   results: dict[str, dict], wall_s: float, git: str, hardware: str) -> str | None:
    """Prefect markdown + table artifacts and an MLflow run (``syslab-nightly``); returns the run id."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    from flows.tracking import client

    create_markdown_artifact(markdown=markdown, key=f"{REPORT_KEY}-report",
                             description=f"nightly sweep {nightly_id}: systems and regression report")
    rows = report.to_rows() or [{"category": "none", "system": "", "workload": "", "method": "",
                                 "metric": "", "previous": "", "now": "", "ratio": "", "z": "",
                                 "history": "", "commits": "", "hardware": ""}]
    create_table_artifact(table=rows, key=REPORT_KEY,
                          description=f"nightly {nightly_id}: regressions, improvements, losses to the expert")
    c = client()
    exp = c.get_experiment_by_name(REPORT_EXPERIMENT)
    exp_id = exp.experiment_id if exp else _create_report_experiment(c)
    tags = {"syslab.kind": "nightly-report", "syslab.nightly_id": nightly_id, "syslab.run_reason": run_reason,
            "syslab.suite": suite, "syslab.git_sha": git, "syslab.hardware": hardware,
            "syslab.systems": ",".join(results),
            "syslab.failed_systems": ",".join(n for n, r in results.items() if r["status"] != "ok")}
    run = c.create_run(exp_id, run_name=f"nightly-{time.strftime('%Y%m%d-%H%M%S')}", tags=tags)
    rid = run.info.run_id
    for cat, n in report.counts().items():
        c.log_metric(rid, f"n_{cat}", n)
    c.log_metric(rid, "wall_s", wall_s)
    c.log_metric(rid, "n_failed_systems", sum(r["status"] != "ok" for r in results.values()))
    c.log_text(rid, markdown, "report/report.md")
    c.log_text(rid, json.dumps({"nightly_id": nightly_id, "systems": results, "report": report.to_dict()},
                               default=str, indent=1), "report/report.json")
    c.set_terminated(rid, "FINISHED")
    return rid


def _create_report_experiment(c) -> str:
    from flows.tracking import artifact_root, tracking_uri

    location = (artifact_root() / "nightly").resolve().as_uri() if tracking_uri().startswith("sqlite:") else None
    try:
        return c.create_experiment(REPORT_EXPERIMENT, artifact_location=location)
    except Exception:  # noqa: BLE001 - created concurrently
        return c.get_experiment_by_name(REPORT_EXPERIMENT).experiment_id


# --- the schedule --------------------------------------------------------------------------------
def build_deployment(cron: str = DEFAULT_CRON, timezone: str | None = None, systems: list[str] | None = None,
                     suite: str = NIGHTLY_SUITE, name: str = DEPLOYMENT_NAME):
    """The nightly ``RunnerDeployment`` with its cron schedule (``.apply()`` registers it, ``serve`` runs it)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from prefect.client.schemas.schedules import is_valid_timezone

    tz = timezone or local_timezone()
    if not is_valid_timezone(tz):
        raise ValueError(f"--timezone {tz!r} is not an IANA timezone (e.g. Europe/Berlin, UTC)")
    try:
        schedule = Cron(cron, timezone=tz, slug="nightly")
    except ValueError as exc:
        raise ValueError(f"--cron {cron!r} is not a valid cron expression: {exc}") from None
    return nightly_flow.to_deployment(
        name=name, schedules=[schedule], parameters={"systems": systems, "suite": suite},
        description="Every system's nightly suite as sub-flows, then regression detection (syslab).",
        tags=["syslab", "nightly"], entrypoint_type=EntrypointType.MODULE_PATH)


# --- read-only data for the CLI report and dashboards ------------------------------------------
HISTORY_COLUMNS = ["system", "suite", "workload", "method", "metric", "direction", "hardware", "value",
                   "n_seeds", "is_baseline", "benchmark_hash", "git_sha", "run_reason", "nightly_id",
                   "sweep_run_id", "time"]


def nightly_history(tracking_uri: str | None = None, system: str | list[str] | None = None,
                    since: float | None = None, suite: str | None = None):
    """Every nightly sweep's benchmark values from MLflow, as a tidy pandas DataFrame (read-only).

    One row per (sweep, workload, method, metric): the system's primary metric, ``vs_expert`` and
    the quality metric when there is one, each the mean over the sweep's ok seeds. Columns:
    :data:`HISTORY_COLUMNS` (``time`` is a UTC ``datetime64``; ``git_sha`` for commit-on-hover;
    ``benchmark_hash`` separates incomparable history). Only runs made by the nightly flow count
    (those with a ``syslab.nightly_id`` tag), whatever their ``run_reason``. ``tracking_uri``
    defaults to :func:`flows.tracking.tracking_uri`; ``since`` is epoch seconds.
    """
    import pandas as pd

    uri = tracking_uri or _default_uri()
    frames = []
    for name, exp_id in _system_experiments(uri, system):
        df = _search_jobs(uri, exp_id, since)
        if df is not None and len(df):
            frames.append(_tidy(df, name))
    if not frames:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    if suite:
        out = out[out["suite"] == suite]
    return out.sort_values(["time", "system", "workload", "method", "metric"]).reset_index(drop=True)[HISTORY_COLUMNS]


def history_points(df) -> list[Point]:
    """:class:`flows.regression.Point` objects from a :func:`nightly_history` frame."""
    pts = []
    for r in df.itertuples(index=False):
        pts.append(Point(system=r.system, workload=r.workload, method=r.method, metric=r.metric,
                         hardware=r.hardware, value=float(r.value), direction=r.direction,
                         time=r.time.timestamp(), version=r.benchmark_hash, sweep=r.sweep_run_id,
                         git_sha=r.git_sha, is_baseline=bool(r.is_baseline)))
    return pts


def latest_report(tracking_uri: str | None = None, systems: str | list[str] | None = None,
                  since: float | None = None, suite: str | None = None, config: DetectorConfig | None = None,
                  nightly_id: str | None = None) -> Report:
    """The regression report of the newest sweep of each (system, hardware), recomputed from MLflow.

    With ``nightly_id``, history newer than that sweep is ignored (the flow uses this to report
    on its own sweep even if another finished meanwhile). Keys missing from the newest sweep
    are left out (see :func:`flows.regression.missing`).
    """
    df = nightly_history(tracking_uri, systems, since=since, suite=suite)
    if nightly_id is not None and len(df):
        mine = df[df["nightly_id"] == nightly_id]
        if len(mine):
            df = df[df["time"] <= mine["time"].max()]
    pts = history_points(df)
    report = detect(latest_sweep_points(pts), config)
    report.missing = missing(pts)
    return report


def _default_uri() -> str:
    from flows.tracking import tracking_uri

    return tracking_uri()


def _client(uri: str):
    from flows.tracking import client

    return client(uri)


def _system_experiments(uri: str, system: str | list[str] | None) -> list[tuple[str, str]]:
    c = _client(uri)
    wanted = None if system is None else ({system} if isinstance(system, str) else set(system))
    out = []
    for exp in c.search_experiments(max_results=1000):
        if not exp.name.startswith("syslab/"):
            continue
        name = exp.name.split("/", 1)[1]
        if wanted is None or name in wanted:
            out.append((name, exp.experiment_id))
    return out


def _search_jobs(uri: str, exp_id: str, since: float | None):
    import mlflow

    mlflow.set_tracking_uri(uri)
    flt = "tags.`syslab.kind` = 'job' and tags.`syslab.status` = 'ok' and tags.`syslab.nightly_id` LIKE '%'"
    if since is not None:
        flt += f" and attributes.start_time >= {int(since * 1000)}"
    return mlflow.search_runs(experiment_ids=[exp_id], filter_string=flt, max_results=50000,
                              output_format="pandas")


def _col(df, name: str, default: Any = ""):
    return df[name] if name in df.columns else default


def _tidy(df, system: str):
    """Child runs -> mean per (sweep, workload, method) of the metrics that have a known direction.

    Vectorised (one pass per distinct metric name), so a year of nightlies stays quick to load.
    """
    import pandas as pd

    base = pd.DataFrame({
        "system": system, "suite": _col(df, "tags.syslab.suite"),
        "workload": _col(df, "tags.syslab.workload"), "method": _col(df, "tags.syslab.method"),
        "hardware": _col(df, "tags.syslab.hardware"), "is_baseline": _col(df, "tags.syslab.is_baseline") == "true",
        "benchmark_hash": _col(df, "tags.syslab.benchmark_hash"), "git_sha": _col(df, "tags.syslab.git_sha"),
        "run_reason": _col(df, "tags.syslab.run_reason"), "nightly_id": _col(df, "tags.syslab.nightly_id"),
        "sweep_run_id": _col(df, "tags.mlflow.parentRunId"), "start": pd.to_datetime(df["start_time"], utc=True),
    }, index=df.index)
    # (metric-name column, direction column) pairs; a name/direction may vary across history.
    specs = [(_col(df, "tags.syslab.primary_metric"), _col(df, "tags.syslab.direction")),
             (pd.Series(EXPERT_RATIO_METRIC, index=df.index), pd.Series("max", index=df.index)),
             (_col(df, "tags.syslab.quality_metric", None), _col(df, "tags.syslab.quality_direction", None))]
    parts = []
    for names, directions in specs:
        if not isinstance(names, pd.Series):
            continue
        for (metric, direction), idx in names.groupby([names, directions]).groups.items():
            col = f"metrics.{metric}"
            if not isinstance(metric, str) or not metric or direction not in ("min", "max") or col not in df.columns:
                continue
            part = base.loc[idx].copy()
            part["metric"], part["direction"] = metric, direction
            part["value"] = pd.to_numeric(df.loc[idx, col], errors="coerce")
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    long = pd.concat(parts)
    long = long[long["value"].notna() & (long["value"].abs() != float("inf"))]
    if not len(long):
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    keys = ["system", "suite", "workload", "method", "metric", "direction", "hardware", "is_baseline",
            "benchmark_hash", "git_sha", "run_reason", "nightly_id", "sweep_run_id"]
    agg = long.groupby(keys, dropna=False).agg(value=("value", "mean"), n_seeds=("value", "size"),
                                                time=("start", "min")).reset_index()
    # One time per sweep (its first job), so every benchmark of a sweep sorts together.
    agg["time"] = agg.groupby("sweep_run_id")["time"].transform("min")
    return agg
