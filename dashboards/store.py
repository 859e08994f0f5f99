"""Read-only access to the MLflow store the flows write (layout: :mod:`flows.tracking`).

Pure Python + MLflow, no Streamlit: every function takes an ``MlflowClient`` (or a tracking URI)
and returns plain data or pandas DataFrames, so it is testable on its own and the Streamlit layer
(:mod:`dashboards.data`) only adds caching. Nothing here writes to MLflow: no run, experiment,
tag or metric is ever created, and an embedded SQLite store that does not exist yet is reported
as empty instead of being created.

The comparison against the expert is recomputed from the child runs with
:func:`systems.core.compare.compare` (the same function the flow used), so the dashboard and the
flow's own ``comparison.md`` agree by construction.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from systems.core.compare import ComparisonRow, as_comparison, compare, geomeans
from systems.core.types import ComparisonSpec, JobResult

EXPERIMENT_PREFIX = "syslab/"
"""Experiments are named ``syslab/<system>`` (see :func:`flows.tracking.experiment_name`)."""

FLOW_COLUMNS = ["run_id", "run_name", "system", "suite", "start", "status", "git_sha", "hardware",
                "run_reason", "benchmark_version", "n_jobs", "n_ok", "n_failed", "wall_s",
                "experiment_id", "error", "comparison_spec"]
JOB_COLUMNS = ["run_id", "run_name", "workload", "method", "seed", "is_baseline", "status", "error",
               "hardware", "simulated", "start", "vs_expert", "wall_s"]


class StoreError(RuntimeError):
    """The tracking store cannot be read (unreachable server, broken database)."""


@dataclass
class StoreInfo:
    """What :func:`open_store` found."""

    uri: str
    """The tracking URI that was opened."""
    exists: bool
    """False when an embedded SQLite store has not been created yet (nothing ran)."""


def tracking_uri() -> str:
    """The store the flows write: ``$MLFLOW_TRACKING_URI`` or the embedded SQLite default."""
    from flows.tracking import tracking_uri as _uri

    return _uri()


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:"):
        return None
    # SQLAlchemy: sqlite:///relative.db, sqlite:////absolute.db
    path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _check_http(uri: str, timeout: float) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user's own server
            resp.read(64)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise StoreError(f"MLflow tracking server at {uri} answered HTTP {exc.code} on /health") from None
        # A proxy without /health still proves the server is up; the real query will tell.
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StoreError(f"cannot reach the MLflow tracking server at {uri}: {reason}. "
                         "Start it (see infra/) or point MLFLOW_TRACKING_URI at a running one.") from None


def open_store(uri: str, timeout: float = 5.0):
    """Return ``(client, StoreInfo)`` for ``uri``; raise :class:`StoreError` with a clear message.

    ``client`` is None when the embedded store does not exist yet (nothing has run).
    """
    from mlflow.tracking import MlflowClient

    # Fail fast instead of MLflow's default minutes of retries against a dead server.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(max(timeout, 1) * 2)))
    scheme = urllib.parse.urlparse(uri).scheme
    if scheme in ("http", "https"):
        _check_http(uri, timeout)
    db = _sqlite_path(uri)
    if db is not None and not db.exists():
        return None, StoreInfo(uri, exists=False)
    if scheme == "file" or (scheme == "" and uri.startswith(("/", "."))):  # a local file store
        root = Path(urllib.parse.urlparse(uri).path if scheme == "file" else uri)
        if not root.exists():
            return None, StoreInfo(uri, exists=False)
    try:
        c = MlflowClient(tracking_uri=uri)
        c.search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any backend error becomes one clear message
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"cannot read the MLflow store at {uri}: {type(exc).__name__}: {first}") from None
    return c, StoreInfo(uri, exists=True)


# --- queries ----------------------------------------------------------------------------------
def experiments(c) -> dict[str, str]:
    """``{system: experiment_id}`` for every ``syslab/<system>`` experiment."""
    out: dict[str, str] = {}
    token = None
    while True:
        page = c.search_experiments(max_results=1000, page_token=token)
        for e in page:
            if e.name.startswith(EXPERIMENT_PREFIX):
                out[e.name[len(EXPERIMENT_PREFIX):]] = e.experiment_id
        token = page.token
        if not token:
            break
    return out


def _search(c, experiment_ids: list[str], filter_string: str, order_by: list[str] | None = None,
            limit: int = 50_000) -> list:
    runs: list = []
    token = None
    while len(runs) < limit:
        page = c.search_runs(experiment_ids, filter_string=filter_string, max_results=min(1000, limit),
                             order_by=order_by or ["attributes.start_time DESC"], page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs


def _ts(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def flows(c, systems: list[str] | None = None, limit: int = 5000) -> pd.DataFrame:
    """One row per flow run (parent run), newest first; ``geomean.<method>`` columns per method."""
    exps = experiments(c)
    if systems is not None:
        exps = {s: e for s, e in exps.items() if s in systems}
    rows: list[dict[str, Any]] = []
    if exps:
        for r in _search(c, list(exps.values()), "tags.`syslab.kind` = 'flow'", limit=limit):
            t, m = r.data.tags, r.data.metrics
            row = {
                "run_id": r.info.run_id, "run_name": r.info.run_name or "", "system": t.get("syslab.system", ""),
                "suite": t.get("syslab.suite", ""), "start": _ts(r.info.start_time), "status": r.info.status,
                "git_sha": t.get("syslab.git_sha", ""), "hardware": t.get("syslab.hardware", ""),
                "run_reason": t.get("syslab.run_reason", ""),
                "benchmark_version": t.get("syslab.benchmark_version", ""),
                "n_jobs": _num(m.get("n_jobs")), "n_ok": _num(m.get("n_ok")), "n_failed": _num(m.get("n_failed")),
                "wall_s": _num(m.get("wall_s")), "experiment_id": r.info.experiment_id,
                "error": t.get("syslab.error", ""), "comparison_spec": t.get("syslab.comparison_spec", ""),
            }
            for k, v in m.items():
                if k.startswith("geomean_vs_expert."):
                    row["geomean." + k[len("geomean_vs_expert."):]] = _num(v)
            rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=FLOW_COLUMNS)
    return df.sort_values("start", ascending=False, kind="stable").reset_index(drop=True)


def jobs(c, parent_id: str, experiment_id: str) -> pd.DataFrame:
    """One row per job (child run) of a flow run; metrics as ``m.<name>``, params as ``p.<name>``."""
    rows: list[dict[str, Any]] = []
    flt = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    for r in _search(c, [experiment_id], flt, order_by=["attributes.start_time ASC"]):
        t, m = r.data.tags, r.data.metrics
        if t.get("syslab.kind", "job") != "job":
            continue
        row = {
            "run_id": r.info.run_id, "run_name": r.info.run_name or "", "workload": t.get("syslab.workload", ""),
            "method": t.get("syslab.method", ""), "seed": int(t.get("syslab.seed", "0") or 0),
            "is_baseline": t.get("syslab.is_baseline", "false") == "true",
            "status": t.get("syslab.status", "failed" if r.info.status == "FAILED" else "ok"),
            "error": t.get("syslab.error", ""), "hardware": t.get("syslab.hardware", ""),
            "simulated": t.get("syslab.simulated", "false") == "true", "start": _ts(r.info.start_time),
            "vs_expert": _num(m.get("vs_expert")), "wall_s": _num(m.get("wall_s")),
        }
        row.update({f"m.{k}": _num(v) for k, v in m.items()})
        row.update({f"p.{k}": v for k, v in r.data.params.items()})
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=JOB_COLUMNS)
    return pd.DataFrame(rows)


def metric_names(jobs_df: pd.DataFrame) -> list[str]:
    """Scalar metric names present in a jobs frame (curves excluded)."""
    return sorted(c[2:] for c in jobs_df.columns if c.startswith("m.") and not c.startswith("m.curve."))


def curve_names(jobs_df: pd.DataFrame) -> list[str]:
    """Per-step curve names (``curve.<name>`` metrics) present in a jobs frame."""
    return sorted(c[len("m.curve."):] for c in jobs_df.columns if c.startswith("m.curve."))


def results(jobs_df: pd.DataFrame) -> list[JobResult]:
    """JobResults rebuilt from child runs (enough for :func:`systems.core.compare.compare`)."""
    out: list[JobResult] = []
    system = ""
    for _, r in jobs_df.iterrows():
        metrics = {c[2:]: float(v) for c, v in r.items()
                   if isinstance(c, str) and c.startswith("m.") and not c.startswith("m.curve.")
                   and v is not None and not (isinstance(v, float) and math.isnan(v))}
        job_params = {c[6:]: v for c, v in r.items() if isinstance(c, str) and c.startswith("p.job.")
                      and isinstance(v, str)}  # the knobs the job ran with (labels like ours[r=0.7])
        out.append(JobResult(system=system, workload=r["workload"], method=r["method"], seed=int(r["seed"]),
                             is_baseline=bool(r["is_baseline"]), metrics=metrics, status=r["status"],
                             error=r["error"] or None, hardware=r["hardware"], simulated=bool(r["simulated"]),
                             job_params=job_params))
    return out


def spec_for(system: str, jobs_df: pd.DataFrame, comparison_csv: str | None = None,
             stored: str | None = None) -> ComparisonSpec:
    """What grades a flow run: the comparison spec **stored with the run**, else a fallback.

    Runs record their comparison spec (tag ``syslab.comparison_spec``), so changing a system's reference
    baseline or quality gate later does not change how old runs are graded. Runs made before that tag
    existed fall back to the system's current spec, or, when the system is not registered in this
    checkout, to one rebuilt from the run's ``comparison/comparison.csv``.
    """
    from systems.core import SYSTEMS

    if stored:
        try:
            return ComparisonSpec.from_dict(json.loads(stored))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"flow run of {system!r} has an unreadable syslab.comparison_spec tag: {exc}") from None
    if system in SYSTEMS:
        return SYSTEMS[system].comparison
    metric, direction = None, "min"
    if comparison_csv:
        import csv
        import io

        for row in csv.DictReader(io.StringIO(comparison_csv)):
            metric, direction = row.get("metric") or None, row.get("direction") or "min"
            break
    if metric is None:
        raise StoreError(f"system {system!r} is not registered in this checkout and its flow run has no "
                         "comparison/comparison.csv naming the primary metric")
    methods = tuple(dict.fromkeys(jobs_df["method"])) if not jobs_df.empty else ()
    baselines = tuple(dict.fromkeys(jobs_df.loc[jobs_df["is_baseline"], "method"])) if not jobs_df.empty else ()
    return ComparisonSpec(system=system, primary_metric=metric, direction="max" if direction == "max" else "min",
                          baselines=baselines, method_order=methods)


def comparison(spec: ComparisonSpec, jobs_df: pd.DataFrame) -> list[ComparisonRow]:
    """The flow's comparison (each method vs the expert), recomputed with ``systems.core.compare``."""
    return compare(spec, results(jobs_df)) if not jobs_df.empty else []


def comparison_frame(spec: ComparisonSpec, rows: list[ComparisonRow]) -> pd.DataFrame:
    """Comparison rows as a DataFrame (numbers kept numeric for styling and plotting)."""
    recs = []
    for r in rows:
        d = {"workload": r.workload, "method": r.method, "expert": r.is_baseline,
             spec.primary_metric: r.value, "expert method": r.baseline_method,
             "expert value": r.baseline_value, "vs expert": r.ratio, "ok": r.n_ok, "failed": r.n_failed}
        if spec.quality:
            d[spec.quality.metric] = r.quality
            d["quality ok"] = r.quality_ok
        recs.append(d)
    return pd.DataFrame(recs)


def _is_optimizer(spec: ComparisonSpec, row: ComparisonRow) -> bool:
    """An optimizer row: not a baseline, and not an ablation, peer or verification method where roles are known."""
    if row.is_baseline:
        return False
    role = spec.roles.get(row.method.split("[", 1)[0]) if spec.roles else None
    return role in (None, "optimizer")


def best_rows(spec: ComparisonSpec, rows: list[ComparisonRow]) -> list[ComparisonRow]:
    """Per workload, the optimizer with the best ratio (quality gate respected first)."""
    spec = as_comparison(spec)
    out = []
    for w in dict.fromkeys(r.workload for r in rows):
        cands = [r for r in rows if r.workload == w and _is_optimizer(spec, r) and r.ratio is not None]
        if not cands:
            cands = [r for r in rows if r.workload == w and _is_optimizer(spec, r)]
            out.extend(cands[:1])
            continue
        gated = [r for r in cands if r.quality_ok is not False]
        out.append(max(gated or cands, key=lambda r: r.ratio))
    return out


def best_geomean(rows: list[ComparisonRow], spec: ComparisonSpec | None = None) -> tuple[str | None, float | None]:
    """The optimizer with the highest geomean ratio over workloads (see :func:`_is_optimizer`)."""
    opt = {r.method for r in rows if (_is_optimizer(as_comparison(spec), r) if spec else not r.is_baseline)}
    gm = {m: g for m, g in geomeans(rows).items() if m in opt and g is not None}
    if not gm:
        return None, None
    m = max(gm, key=gm.get)
    return m, gm[m]


def metric_history(c, run_id: str, name: str) -> list[tuple[int, float]]:
    """``[(step, value)]`` of one metric of a run, by step."""
    return sorted((h.step, h.value) for h in c.get_metric_history(run_id, name))


def curve(c, run_id: str, name: str) -> list[tuple[int, float]]:
    """A per-step series recorded as ``curve.<name>``: ``[(step, value)]`` (non-finite points were not logged)."""
    return metric_history(c, run_id, f"curve.{name}")


def artifact_paths(c, run_id: str, path: str = "artifacts") -> list[str]:
    """Paths of the files under ``path`` of a run (not recursive beyond one level of folders)."""
    out = []
    for f in c.list_artifacts(run_id, path):
        if f.is_dir:
            out.extend(g.path for g in c.list_artifacts(run_id, f.path) if not g.is_dir)
        else:
            out.append(f.path)
    return out


def artifact_text(c, run_id: str, path: str, max_chars: int = 200_000) -> str | None:
    """A run's text artifact, or None when it does not exist."""
    with tempfile.TemporaryDirectory(prefix="syslab-dash-") as tmp:
        try:
            local = c.download_artifacts(run_id, path, tmp)
        except Exception:  # noqa: BLE001 - missing artifact
            return None
        p = Path(local)
        if not p.is_file():
            return None
        return p.read_text(errors="replace")[:max_chars]


def result_json(c, run_id: str) -> dict[str, Any] | None:
    """The full stored JobResult of a job run (``result.json``), or None."""
    text = artifact_text(c, run_id, "result.json", max_chars=50_000_000)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
