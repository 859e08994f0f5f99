"""MLflow tracking for syslab: the only module that writes to MLflow, called by the flow driver only.

Layout (the dashboard and nightly read exactly this):

- experiment ``syslab/<system>`` (artifacts under ``$SYSLAB_HOME/artifacts/<system>`` by default);
- one **parent run** per flow run, tags ``syslab.kind=flow``, ``syslab.system``, ``syslab.suite``,
  ``syslab.git_sha``, ``syslab.hardware``, ``syslab.benchmark_version``, ``syslab.run_reason``,
  ``syslab.prefect_flow_run_id``, ``syslab.driver.{host,pid,started}`` (for ``syslab runs reconcile``),
  MLflow's standard ``mlflow.user``, ``mlflow.source.{name,type}``, ``mlflow.source.git.{commit,branch,repoURL}``,
  ``syslab.comparison_spec`` (JSON: primary metric and direction, baselines,
  reference baseline, quality gate, method roles — what the comparison needs, so a later change of the
  system's spec does not change how this run is graded); metrics ``n_jobs``, ``n_ok``, ``n_failed``, ``wall_s``,
  ``job_compute_s``, ``worker_import_s``, ``overhead_s``, ``n_resumed``, ``geomean_vs_expert.<method>``; artifacts
  ``comparison/comparison.{csv,md}``, ``comparison/spec.json`` and ``comparison/results.json``;
- one **child run** per job (``mlflow.parentRunId`` set), tags ``syslab.kind=job``, ``syslab.system``,
  ``syslab.workload``, ``syslab.method``, ``syslab.seed``, ``syslab.suite``, ``syslab.is_baseline``
  (``true``/``false``), ``syslab.status`` (``ok``/``failed``), ``syslab.error`` (failed jobs),
  ``syslab.hardware``, ``syslab.git_sha``, ``syslab.benchmark_version``, ``syslab.simulated``,
  ``syslab.run_reason``, ``syslab.job_key``, ``syslab.ray_node_{id,ip}``, ``syslab.prefect_task_run_id`` and
  the standard ``mlflow.*`` tags; params = the result's params, ``job.<k>`` for the job's own
  overrides, ``config.name`` and ``config.<key>`` for every field of the **resolved config**; metrics = the
  result's metrics plus ``wall_s`` (without the worker's import warm-up), ``cpu_s``, ``import_s`` (that
  warm-up), ``ray_attempts`` and ``ray_retry_lost_s`` (time lost to attempts whose worker or node died) and
  ``vs_expert`` (the comparison ratio of its workload/method); per-step series as metric ``curve.<name>`` with ``step``; text artifacts under
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


def system_tags() -> dict[str, str]:
    """MLflow's standard system tags (user, source, git), which ``MlflowClient.create_run`` does not add."""
    import getpass
    import shlex
    import subprocess
    import sys

    from systems.core.env import REPO_ROOT, git_sha

    argv = [os.path.basename(sys.argv[0]) if sys.argv else "python", *sys.argv[1:]]
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (some containers)
        user = str(os.getuid())
    tags = {"mlflow.user": user, "mlflow.source.type": "LOCAL", "mlflow.source.name": shlex.join(argv)[:500]}

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5,
                                  check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "HEAD") or os.environ.get("SYSLAB_GIT_SHA", "")
    if commit and commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        tags["mlflow.source.git.branch"] = branch
    url = git("config", "--get", "remote.origin.url")
    if url:
        tags["mlflow.source.git.repoURL"] = _redact_url(url)
    tags["syslab.git_dirty"] = str(git_sha().endswith("+dirty")).lower()
    return tags


def _redact_url(url: str) -> str:
    import re

    return re.sub(r"//[^/@]+@", "//", url)  # no credentials embedded in a remote URL


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or the embedded ``sqlite:///$SYSLAB_HOME/mlflow.db``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    return uri if uri else f"sqlite:///{syslab_home() / 'mlflow.db'}"


def artifact_root() -> Path:
    return syslab_home() / "artifacts"


def experiment_name(system: str) -> str:
    return f"syslab/{system}"


def client(uri: str | None = None):
    """An MlflowClient on ``uri`` (default :func:`tracking_uri`); a fresh SQLite store is created under a lock."""
    from flows.stores import mlflow_client

    return mlflow_client(uri or tracking_uri())


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
                 hardware: str = "", params: dict[str, Any] | None = None, extra_tags: dict[str, str] | None = None,
                 reopen: tuple[str, list] | None = None):
        self.spec = spec
        self.suite = suite
        self.c = client()
        self.experiment_id = ensure_experiment(self.c, spec.name)
        self.common_tags = {
            "syslab.system": spec.name, "syslab.suite": suite, "syslab.git_sha": git_sha,
            "syslab.hardware": hardware, "syslab.benchmark_version": spec.benchmark_version,
            "syslab.run_reason": run_reason, "syslab.simulated": str(spec.simulated).lower(),
            **system_tags(), **(extra_tags or {}),
        }
        self.previous: dict[str, JobResult] = {}
        """Results of an earlier driver (``reopen``), by job key: recorded already, not re-run."""
        self.child_ids: dict[str, str] = {}
        if reopen is not None:
            self._reopen(reopen)
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        from flows.reconcile import driver_tags

        comparison = spec.comparison
        run = self.c.create_run(self.experiment_id, run_name=f"{spec.name}-{suite}-{stamp}",
                                tags={"syslab.kind": "flow", **self.common_tags, **driver_tags(),
                                      "syslab.comparison_spec": json.dumps(comparison.to_dict(), sort_keys=True)})
        self.parent_id = run.info.run_id
        self.comparison = comparison
        if params:
            _batch(self.c, self.parent_id, params=params)

    @classmethod
    def reopen(cls, spec: SystemSpec, suite: str, run_id: str, jobs: list, **kwargs) -> "FlowRecorder":
        """Continue parent run ``run_id`` (``syslab run --resume``): its finished children are kept."""
        return cls(spec, suite, reopen=(run_id, jobs), **kwargs)

    def _reopen(self, spec_run: tuple[str, list]) -> None:
        from flows.reconcile import driver_tags

        run_id, jobs = spec_run
        run = self.c.get_run(run_id)
        tags = run.data.tags
        if tags.get("syslab.kind") != "flow" or tags.get("syslab.system") != self.spec.name:
            raise ValueError(f"--resume {run_id}: not a {self.spec.name} flow run (kind "
                             f"{tags.get('syslab.kind')!r}, system {tags.get('syslab.system')!r})")
        if tags.get("syslab.suite") != self.suite:
            raise ValueError(f"--resume {run_id}: that run is suite {tags.get('syslab.suite')!r}, not {self.suite!r}")
        wanted = {j.key for j in jobs}
        children = self.c.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}'",
                                      max_results=10000)
        for child in children:
            key = child.data.tags.get("syslab.job_key", "")
            if child.info.status not in ("FINISHED", "FAILED") or key not in wanted or key in self.previous:
                if child.info.status not in ("FINISHED", "FAILED"):
                    self.c.delete_run(child.info.run_id)  # an unfinished attempt: the job runs again
                continue
            path = self.c.download_artifacts(child.info.run_id, "result.json")
            self.previous[key] = JobResult.from_dict(json.loads(Path(path).read_text()))
            self.child_ids[key] = child.info.run_id
        self.parent_id = run_id
        self.comparison = self.spec.comparison
        n_resumes = int(tags.get("syslab.resumes", "0")) + 1
        self.c.update_run(run_id, status="RUNNING")
        _batch(self.c, run_id, tags={**self.common_tags, **driver_tags(), "syslab.resumes": str(n_resumes),
                                     f"syslab.prefect_flow_run_id.{n_resumes - 1}":
                                         tags.get("syslab.prefect_flow_run_id", "")})
        for t in ("syslab.error", "syslab.reconciled_at"):
            if t in tags:
                self.c.delete_tag(run_id, t)

    def record(self, result: JobResult, job_key: str, extra_metrics: dict[str, float] | None = None,
               extra_tags: dict[str, str] | None = None) -> str:
        """Log one job as a child run; returns its run id."""
        tags = {
            "syslab.kind": "job", **self.common_tags, "mlflow.parentRunId": self.parent_id,
            "syslab.workload": result.workload, "syslab.method": result.method,
            "syslab.seed": str(result.seed), "syslab.is_baseline": str(result.is_baseline).lower(),
            "syslab.status": result.status, "syslab.hardware": result.hardware or self.common_tags["syslab.hardware"],
            "syslab.simulated": str(result.simulated).lower(), "syslab.job_key": job_key,
            **{k: v for k, v in (extra_tags or {}).items() if v},
        }
        if result.error:
            tags["syslab.error"] = result.error[-5000:]
        run = self.c.create_run(self.experiment_id, run_name=f"{result.workload}/{result.method}/s{result.seed}",
                                tags=tags)
        rid = run.info.run_id
        params = {**result.params, **{f"job.{k}": v for k, v in result.job_params.items()},
                  "config.name": result.config_name,
                  **{f"config.{k}": v for k, v in flatten(result.config).items()}}
        _batch(self.c, rid, metrics={**result.metrics, "wall_s": result.wall_s, "cpu_s": result.cpu_s,
                                     **(extra_metrics or {})},
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

    def abort(self, error: str, status: str = "FAILED") -> None:
        """Close the parent (and any child still open) as ``status`` (FAILED / KILLED) with ``error``."""
        open_children = self.c.search_runs([self.experiment_id], f"tags.`mlflow.parentRunId` = '{self.parent_id}' "
                                           "and attributes.status = 'RUNNING'", max_results=10000)
        for child in open_children:
            self.c.set_terminated(child.info.run_id, status)
        self.c.set_tag(self.parent_id, "syslab.error", _redact(error)[-5000:])
        self.c.set_terminated(self.parent_id, status)
