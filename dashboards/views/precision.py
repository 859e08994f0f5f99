"""Precision plots: the memory–accuracy Pareto per model, π_ours(r) as a curve over r, π_op and the
other baselines as points, diverged runs marked.

Memory is the system's primary metric (lower is better); accuracy is the quality-gate metric of
the spec (``accuracy`` when the spec has none). The share ``r`` of π_ours comes from the job's
param ``r`` (``p.r`` / ``p.job.r``) or a method name ending in ``r<value>``; a run is diverged
when its metric ``diverged`` is > 0.5. Any of these missing degrades to a note.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import ui
from dashboards.views.flow import FlowContext

_R_IN_NAME = re.compile(r"r[=_-]?([01](?:\.\d+)?)$")


TITLE = "Mixed precision (FP8/FP16 assignment vs HFP8 / FP32)"
"""Page title."""


def _r(row: pd.Series) -> float | None:
    for col in ("m.r", "p.r", "p.job.r", "p.share", "p.job.share"):
        v = row.get(col)
        if v is not None and not pd.isna(v):
            try:
                return float(v)
            except (TypeError, ValueError):
                pass
    m = _R_IN_NAME.search(str(row["method"]))
    return float(m.group(1)) if m else None


OURS = ("ours", "pi-ours", "pi_ours")
"""Method names of π_ours(r) itself (ablations such as ``ours-random`` are plotted as their own family)."""


def _is_ours(ctx: FlowContext, method: str) -> bool:
    return method not in ctx.spec.baselines and method in OURS


def _family(ctx: FlowContext, method: str) -> str:
    if _is_ours(ctx, method):
        return "π_ours(r)"
    if method == ctx.spec.reference_baseline:
        return f"{method} (expert)"
    return method


def accuracy_metric(ctx: FlowContext) -> str:
    return ctx.spec.quality.metric if ctx.spec.quality else "accuracy"


def pareto(ctx: FlowContext) -> None:
    mem, acc = ctx.spec.primary_metric, accuracy_metric(ctx)
    st.subheader(f"Memory–accuracy trade-off per model ({mem} vs {acc})")
    if ctx.missing("Pareto plot", mem, acc):
        return
    ok = ctx.ok
    recs = []
    for _, r in ok.iterrows():
        m, a = r.get(f"m.{mem}"), r.get(f"m.{acc}")
        if m is None or pd.isna(m):
            continue
        diverged = bool(r.get("m.diverged", 0) and r.get("m.diverged", 0) > 0.5) or a is None or pd.isna(a)
        recs.append({"model": r["workload"], "method": r["method"], mem: float(m),
                     acc: float(a) if a is not None and not pd.isna(a) else None,
                     "r": _r(r), "family": _family(ctx, r["method"]),
                     "diverged": "diverged" if diverged else "trained", "seed": r["seed"]})
    df = pd.DataFrame(recs)
    if df.empty:
        st.info("No run recorded both memory and accuracy.")
        return
    models = list(dict.fromkeys(df["model"]))
    model = st.selectbox("Model", models, key="precision_model") if len(models) > 1 else models[0]
    d = df[df["model"] == model].copy()
    d[acc] = d[acc].fillna(d[acc].min() if d[acc].notna().any() else 0.0)
    fig = px.scatter(d, x=mem, y=acc, color="family", symbol="diverged",
                     symbol_map={"trained": "circle", "diverged": "x"},
                     hover_data=["method", "r", "seed"], title=f"{model}: lower-left memory, higher accuracy is better")
    ours = d[d["family"] == "π_ours(r)"].dropna(subset=["r"]).sort_values("r")
    if len(ours) > 1:
        line = px.line(ours, x=mem, y=acc, text=ours["r"].map(lambda v: f"r={v:g}"))
        for tr in line.data:
            tr.update(line={"color": "grey", "dash": "dot"}, textposition="top center", name="π_ours(r) over r",
                      showlegend=True, mode="lines+text")
            fig.add_trace(tr)
    fig.update_traces(marker={"size": 11})
    st.plotly_chart(fig, width="stretch")
    n_div = int((d["diverged"] == "diverged").sum())
    st.caption(("× marks runs that diverged (plotted at the lowest accuracy). " if n_div else "No run diverged. ")
               + f"{len(d)} runs on {model}.")
    front = _front(d, mem, acc)
    if not front.empty:
        with st.expander("Pareto-optimal runs"):
            ui.table(front[["method", "r", mem, acc]], len(front))


def _front(d: pd.DataFrame, mem: str, acc: str) -> pd.DataFrame:
    """Non-dominated runs (less memory and at least the accuracy), diverged ones excluded."""
    good = d[d["diverged"] == "trained"].sort_values([mem, acc], ascending=[True, False])
    best, keep = float("-inf"), []
    for i, r in good.iterrows():
        if r[acc] > best:
            keep.append(i)
            best = r[acc]
    return good.loc[keep]


def render(ctx: FlowContext) -> None:
    pareto(ctx)
