"""MLflow tracking for syslab: the only module that writes to MLflow, called by the flow driver only.

Layout (the dashboard and nightly read exactly this):

- experiment ``syslab/<system>`` (artifacts under ``$SYSLAB_HOME/artifacts/<system>`` by default);
- one **parent run** per flow run, tags ``syslab.kind=flow``, ``syslab.system``, ``syslab.suite``,
  ``syslab.git_sha``, ``syslab.hardware``, ``syslab.benchmark_version``, ``syslab.run_reason``,
  ``syslab.prefect_flow_run_id``, ``syslab.comparison_spec`` (JSON: primary metric and direction, baselines,
  reference baseline, quality gate, method roles — what the comparison needs, so a later change of the
  system's spec does not change how this run is graded); metrics ``n_jobs``, ``n_ok``, ``n_failed``, ``wall_s``,
  ``job_compute_s``, ``overhead_s``, ``geomean_vs_expert.<method>``; artifacts
  ``comparison/comparison.{csv,md}``, ``comparison/spec.json`` and ``comparison/results.json``;
- one **child run** per job (``mlflow.parentRunId`` set), tags ``syslab.kind=job``, ``syslab.system``,
  ``syslab.workload``, ``syslab.method``, ``syslab.seed``, ``syslab.suite``, ``syslab.is_baseline``
  (``true``/``false``), ``syslab.status`` (``ok``/``failed``), ``syslab.error`` (failed jobs),
  ``syslab.hardware``, ``syslab.git_sha``, ``syslab.benchmark_version``, ``syslab.simulated``,
  ``syslab.run_reason``, ``syslab.job_key``; params = the result's params, ``job.<k>`` for the job's own
  overrides, ``config.name`` and ``config.<key>`` for every field of the **resolved config**; metrics = the
  result's metrics plus ``wall_s``, ``cpu_s`` and ``vs_expert`` (the comparison ratio of its
  workload/method); per-step series as metric ``curve.<name>`` with ``step``; text artifacts under
  ``artifacts/``, the resolved config as ``config.json`` and the whole result as ``result.json``. Failed
  jobs end as FAILED runs.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable

from systems.core.compare import ComparisonRow, geomeans, method_labels, to_csv, to_markdown
from systems.core.config import flatten
from systems.core.env import syslab_home
from systems.core.types import JobResult, SystemSpec

_SECRET_ENV = ("OPENAI_API_KEY",)


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or the embedded ``sqlite:///$SYSLAB_HOME/mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri if uri else f"sqlite:///{syslab_home() / 'mlflow.db'}"


def artifact_root() -> Path:
    return syslab_home() / "artifacts"


def experiment_name(system: str) -> str:
    return f"syslab/{system}"


def client():
    """An MlflowClient on :func:`tracking_uri`."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(c, system: str) -> str:
    """Create ``syslab/<system>`` once (before fan-out) and return its id."""
    name = experiment_name(system)
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if not tracking_uri().startswith(("http://", "https://", "databricks")):
        # a direct database store (SQLite, PostgreSQL): keep artifacts under $SYSLAB_HOME, never ./mlruns
        location = (artifact_root() / system).resolve().as_uri()
    try:
        return c.create_experiment(name, artifact_location=location)
    except Exception:  # created concurrently
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def _redact(value: str) -> str:
    for var in _SECRET_ENV:
        secret = os.environ.get(var)
        if secret and len(secret) >= 4 and secret in value:
            value = value.replace(secret, "***")
    return value


def _param_value(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str, sort_keys=True)
    return _redact(s)[:6000]


def _metric_ok(v: Any) -> bool:
    return isinstance(v, bool) or (isinstance(v, (int, float)) and math.isfinite(v))


def _batch(c, run_id: str, metrics: dict[str, float] | None = None, params: dict[str, Any] | None = None,
           tags: dict[str, str] | None = None, series: dict[str, list[float]] | None = None) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    m = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if _metric_ok(v)]
    for name, values in (series or {}).items():
        m += [Metric(f"curve.{name}", float(v), now, i) for i, v in enumerate(values)
              if _metric_ok(v)]
    p = [Param(k, _param_value(v)) for k, v in (params or {}).items()]
    t = [RunTag(k, _redact(str(v))[:5000]) for k, v in (tags or {}).items()]
    # MLflow caps a batch at 1000 metrics / 100 params / 100 tags: batch k carries the k-th slice of each.
    n_batches = max(-(-len(m) // 1000), -(-len(p) // 100), -(-len(t) // 100), 1)
    for k in range(n_batches):
        c.log_batch(run_id, metrics=m[k * 1000:(k + 1) * 1000], params=p[k * 100:(k + 1) * 100],
                    tags=t[k * 100:(k + 1) * 100])


class FlowRecorder:
    """Writes one flow run (parent) and its jobs (children) to MLflow, incrementally."""

    def __init__(self, spec: SystemSpec, suite: str, *, run_reason: str = "manual", git_sha: str = "",
                 hardware: str = "", params: dict[str, Any] | None = None, extra_tags: dict[str, str] | None = None):
        self.spec = spec
        self.suite = suite
        self.c = client()
        self.experiment_id = ensure_experiment(self.c, spec.name)
        self.common_tags = {
            "syslab.system": spec.name, "syslab.suite": suite, "syslab.git_sha": git_sha,
            "syslab.hardware": hardware, "syslab.benchmark_version": spec.benchmark_version,
            "syslab.run_reason": run_reason, "syslab.simulated": str(spec.simulated).lower(),
            **(extra_tags or {}),
        }
        stamp = time.strftime("%Y%m%d-%H%M%S")
        comparison = spec.comparison
        run = self.c.create_run(self.experiment_id, run_name=f"{spec.name}-{suite}-{stamp}",
                                tags={"syslab.kind": "flow", **self.common_tags,
                                      "syslab.comparison_spec": json.dumps(comparison.to_dict(), sort_keys=True)})
        self.parent_id = run.info.run_id
        self.comparison = comparison
        if params:
            _batch(self.c, self.parent_id, params=params)
        self.child_ids: dict[str, str] = {}

    def record(self, result: JobResult, job_key: str) -> str:
        """Log one job as a child run; returns its run id."""
        tags = {
            "syslab.kind": "job", **self.common_tags, "mlflow.parentRunId": self.parent_id,
            "syslab.workload": result.workload, "syslab.method": result.method,
            "syslab.seed": str(result.seed), "syslab.is_baseline": str(result.is_baseline).lower(),
            "syslab.status": result.status, "syslab.hardware": result.hardware or self.common_tags["syslab.hardware"],
            "syslab.simulated": str(result.simulated).lower(), "syslab.job_key": job_key,
        }
        if result.error:
            tags["syslab.error"] = result.error[-5000:]
        run = self.c.create_run(self.experiment_id, run_name=f"{result.workload}/{result.method}/s{result.seed}",
                                tags=tags)
        rid = run.info.run_id
        params = {**result.params, **{f"job.{k}": v for k, v in result.job_params.items()},
                  "config.name": result.config_name,
                  **{f"config.{k}": v for k, v in flatten(result.config).items()}}
        _batch(self.c, rid, metrics={**result.metrics, "wall_s": result.wall_s, "cpu_s": result.cpu_s},
               params=params, series=result.series)
        for name, text in result.artifacts.items():
            self.c.log_text(rid, _redact(text), f"artifacts/{name}")
        self.c.log_text(rid, _redact(json.dumps({"name": result.config_name, "config": result.config},
                                                indent=1, sort_keys=True, default=str)), "config.json")
        self.c.log_text(rid, _redact(result.to_json()), "result.json")
        self.c.set_terminated(rid, "FINISHED" if result.ok else "FAILED")
        self.child_ids[job_key] = rid
        return rid

    def finish(self, results: Iterable[tuple[str, JobResult]], rows: list[ComparisonRow],
               metrics: dict[str, float]) -> None:
        """Comparison artifacts, per-child ``vs_expert``, parent metrics; closes the parent run."""
        results = list(results)
        ratio = {(r.workload, r.method): r.ratio for r in rows}
        labels = method_labels([res for _, res in results])
        for (key, res), label in zip(results, labels):
            v = ratio.get((res.workload, label))
            if key in self.child_ids and v is not None and res.ok:
                self.c.log_metric(self.child_ids[key], "vs_expert", float(v))
        gm = {f"geomean_vs_expert.{m}": g for m, g in geomeans(rows).items() if g is not None}
        _batch(self.c, self.parent_id, metrics={**metrics, **gm})
        self.c.log_text(self.parent_id, to_csv(self.comparison, rows), "comparison/comparison.csv")
        self.c.log_text(self.parent_id, to_markdown(self.comparison, rows), "comparison/comparison.md")
        self.c.log_text(self.parent_id, json.dumps(self.comparison.to_dict(), indent=1, sort_keys=True),
                        "comparison/spec.json")
        self.c.log_text(self.parent_id, _redact(json.dumps([r.to_dict() for _, r in results], default=str)),
                        "comparison/results.json")
        n_failed = sum(not r.ok for _, r in results)
        self.c.set_tag(self.parent_id, "syslab.n_failed", str(n_failed))
        self.c.set_terminated(self.parent_id, "FINISHED")

    def abort(self, error: str) -> None:
        self.c.set_tag(self.parent_id, "syslab.error", _redact(error)[-5000:])
        self.c.set_terminated(self.parent_id, "FAILED")
