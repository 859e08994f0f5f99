"""The comparison every flow publishes: each method against the expert baseline.

Per workload, each method's primary metric (mean over ok seeds) is divided by the reference
baseline's in the direction that makes > 1 mean "better than the expert"; per method the
geometric mean over workloads summarises it. Pure Python so the CLI, flows, nightly and
dashboard all share it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from statistics import mean

from systems.core.types import ComparisonSpec, JobResult, SystemSpec

SpecLike = SystemSpec | ComparisonSpec
"""Anything with the comparison's fields: a live spec, or the one stored with a flow run."""


def as_comparison(spec: SpecLike) -> ComparisonSpec:
    return spec.comparison if isinstance(spec, SystemSpec) else spec


@dataclass
class ComparisonRow:
    """One (workload, method) line of the comparison."""

    workload: str
    method: str
    is_baseline: bool
    value: float | None
    """Mean primary metric over ok seeds (None when every seed failed)."""
    baseline_method: str | None
    baseline_value: float | None
    ratio: float | None
    """Direction-aware improvement over the baseline (> 1 = better than the expert)."""
    n_ok: int
    n_failed: int
    quality: float | None = None
    quality_ok: bool | None = None


def _agg(results: list[JobResult], metric: str) -> float | None:
    vals = [r.metrics[metric] for r in results if r.ok and metric in r.metrics
            and r.metrics[metric] is not None and math.isfinite(r.metrics[metric])]
    return mean(vals) if vals else None


def _pv(v) -> str:
    """A param value as text, the way MLflow params store it (so labels match after a round trip)."""
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def method_labels(results: list[JobResult]) -> list[str]:
    """Per result, its method plus the job params that vary within its (workload, method) group.

    Jobs of one method that differ only in a knob (precision's ``ours`` at r = 0.2 … 1.0) must
    not be averaged into one row: they become ``ours[r=0.2]``, ``ours[r=0.6]``, ... Params that are
    the same for every job of the group (budgets) do not appear in the label.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault((r.workload, r.method), []).append(i)
    labels = [r.method for r in results]
    for idx in groups.values():
        keys = sorted({k for i in idx for k in results[i].job_params})
        varying = [k for k in keys if len({_pv(results[i].job_params.get(k)) for i in idx}) > 1]
        if varying:
            for i in idx:
                jp = results[i].job_params
                labels[i] = results[i].method + "[" + ",".join(f"{k}={_pv(jp.get(k))}" for k in varying) + "]"
    return labels


def compare(spec: SpecLike, results: list[JobResult]) -> list[ComparisonRow]:
    """Comparison rows, sorted by workload then method order in the spec (see :func:`method_labels`).

    ``spec`` may be the live :class:`SystemSpec` or the :class:`ComparisonSpec` stored with a flow run
    (the dashboard uses the stored one, so old runs keep the meaning they had when they ran).
    """
    spec = as_comparison(spec)
    labels = method_labels(results)
    by_key: dict[tuple[str, str], list[JobResult]] = {}
    method_of: dict[str, str] = {}
    for r, lab in zip(results, labels):
        by_key.setdefault((r.workload, lab), []).append(r)
        method_of[lab] = r.method
    workloads = list(dict.fromkeys(r.workload for r in results))
    order = {m: i for i, m in enumerate(spec.method_order)}
    rows: list[ComparisonRow] = []
    for w in workloads:
        values = {lab: _agg(rs, spec.primary_metric) for (ww, lab), rs in by_key.items() if ww == w}

        def best_of(cands: list[str]) -> str | None:
            cands = [c for c in cands if values.get(c) is not None]
            best = cands[0] if cands else None
            for c in cands[1:]:
                if spec.better(values[c], values[best]):
                    best = c
            return best

        base_m = None
        if spec.reference_baseline:
            base_m = best_of([lab for lab in values if method_of[lab] == spec.reference_baseline])
        if base_m is None:
            base_m = best_of([lab for lab in values if method_of[lab] in spec.baselines])
        base_v = values.get(base_m) if base_m else None
        base_q = _agg(by_key[(w, base_m)], spec.quality.metric) if (base_m and spec.quality) else None
        for lab in sorted(values, key=lambda x: (order.get(method_of[x], 999), x)):
            rs = by_key[(w, lab)]
            v = values[lab]
            ratio = spec.improvement(v, base_v) if (v is not None and base_v) else None
            row = ComparisonRow(workload=w, method=lab, is_baseline=method_of[lab] in spec.baselines, value=v,
                                baseline_method=base_m, baseline_value=base_v, ratio=ratio,
                                n_ok=sum(r.ok for r in rs), n_failed=sum(not r.ok for r in rs))
            if spec.quality:
                q = _agg(rs, spec.quality.metric)
                row.quality = q
                if q is not None and base_q is not None:
                    g = spec.quality
                    row.quality_ok = (q >= base_q - g.tolerance) if g.direction == "max" else (q <= base_q + g.tolerance)
            rows.append(row)
    return rows


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


def geomeans(rows: list[ComparisonRow]) -> dict[str, float | None]:
    """Per method: the geometric mean of its ratios over workloads."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r.method, [])
        if r.ratio is not None:
            out[r.method].append(r.ratio)
    return {m: geomean(v) for m, v in out.items()}


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.{digits}g}"


def table_rows(spec: SpecLike, rows: list[ComparisonRow]) -> list[dict[str, str]]:
    """Rows as dicts of strings (for Prefect table artifacts, CSV and printing)."""
    out = []
    for r in rows:
        d = {"workload": r.workload, "method": r.method + (" (expert)" if r.is_baseline else ""),
             spec.primary_metric: _fmt(r.value), "vs expert": _fmt(r.ratio, 3) + ("x" if r.ratio else ""),
             "expert": r.baseline_method or "-", "ok/failed": f"{r.n_ok}/{r.n_failed}"}
        if spec.quality:
            d[spec.quality.metric] = _fmt(r.quality)
            d["quality ok"] = {True: "yes", False: "NO", None: "-"}[r.quality_ok]
        out.append(d)
    for m, g in geomeans(rows).items():
        d = {k: "" for k in (out[0] if out else {})}
        d.update({"workload": "GEOMEAN", "method": m, "vs expert": _fmt(g, 3) + ("x" if g else "")})
        out.append(d)
    return out


def to_markdown(spec: SpecLike, rows: list[ComparisonRow]) -> str:
    trs = table_rows(spec, rows)
    if not trs:
        return "_no results_\n"
    cols = list(trs[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r.get(c, "") for c in cols) + " |" for r in trs]
    direction = "lower" if spec.direction == "min" else "higher"
    note = (f"\n`vs expert` > 1 means better than the expert baseline on `{spec.primary_metric}` "
            f"({direction} is better){'; figures are simulated' if spec.simulated else ''}.\n")
    return "\n".join(lines) + "\n" + note


def to_csv(spec: SpecLike, rows: list[ComparisonRow]) -> str:
    buf = io.StringIO()
    fields = ["workload", "method", "is_baseline", "value", "baseline_method", "baseline_value", "ratio",
              "n_ok", "n_failed", "quality", "quality_ok"]
    w = csv.DictWriter(buf, fieldnames=["system", "metric", "direction", *fields])
    w.writeheader()
    for r in rows:
        w.writerow({"system": spec.name, "metric": spec.primary_metric, "direction": spec.direction,
                    **{f: getattr(r, f) for f in fields}})
    return buf.getvalue()
