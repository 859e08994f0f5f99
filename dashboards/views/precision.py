"""Precision: the paper's headline per model, then the share–accuracy Pareto (π_ours(r) as a curve over
r, π_op and the other baselines as points, diverged runs marked).

The headline is the paper's measure: the low-precision share (``low_share``, from bits as the
authors' code logs it; the spec's primary metric, higher is better) of the largest-share π_ours(r)
whose mean accuracy is within the quality gate's tolerance of π_op's, divided by π_op's share; total
memory (``memory_mb``) and its cap M(π_op)/M(π_unif(lo)) (``memory_cap_op``) stand beside it. Older
runs whose primary metric is ``memory_mb`` plot memory instead. Accuracy is the quality-gate metric
of the spec (``accuracy`` when the spec has none). Runs skipped by the r-window (``skipped`` = 1)
are left out. The share ``r`` of π_ours comes from the job's
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


def headline(ctx: FlowContext) -> None:
    """Per model: π_op's share, the best matched π_ours(r), the share ratio, total memory and its cap."""
    acc = accuracy_metric(ctx)
    if ctx.spec.primary_metric != "low_share" or ctx.missing("Headline", "low_share", acc):
        return
    ok = ctx.ok
    if "m.skipped" in ok.columns:
        ok = ok[ok["m.skipped"].fillna(0) < 0.5]
    tol = ctx.spec.quality.tolerance if ctx.spec.quality else 0.01
    recs = []
    for w, d in ok.groupby("workload"):
        op = d[d["method"] == ctx.spec.reference_baseline]
        if op.empty:
            continue
        op_acc, op_share = op[f"m.{acc}"].mean(), op["m.low_share"].mean()
        op_mem = op["m.memory_mb"].mean() if "m.memory_mb" in op else float("nan")
        ours = d[d["method"].isin(OURS)].copy()
        ours["r"] = [_r(r) for _, r in ours.iterrows()]
        g = ours.groupby("r").agg(acc=(f"m.{acc}", "mean"), share=("m.low_share", "mean"), seeds=("seed", "nunique"),
                                  mem=("m.memory_mb", "mean")) if not ours.empty else pd.DataFrame()
        matched = g[g["acc"] >= op_acc - tol] if not g.empty else g
        best = matched.sort_values("share").iloc[-1] if not matched.empty else None
        cap = d["m.memory_cap_op"].dropna().mean() if "m.memory_cap_op" in d else float("nan")
        recs.append({"model": w, "π_op accuracy": op_acc, "π_op low share": op_share,
                     "best matched r": None if best is None else best.name,
                     "its accuracy": None if best is None else best["acc"],
                     "its low share": None if best is None else best["share"],
                     "low-share ratio vs π_op": None if best is None or not op_share else best["share"] / op_share,
                     "total memory reduction": None if best is None else op_mem / best["mem"],
                     "cap M(π_op)/M(π_unif(lo))": cap, "seeds": None if best is None else int(best["seeds"])})
    if not recs:
        return
    st.subheader("Headline: low-precision share vs π_op at matched accuracy (paper: > 2×)")
    ui.table(pd.DataFrame(recs), len(recs))
    st.caption(f"Matched here = mean accuracy within {tol:g} of π_op's (the quality gate). The benchmark "
               "(docs/results/precision.md) uses the 95% CI of the paired difference over seeds instead. "
               "Total memory can never fall below π_op by more than the cap.")


def pareto(ctx: FlowContext) -> None:
    mem, acc = ctx.spec.primary_metric, accuracy_metric(ctx)
    share = mem == "low_share"
    st.subheader(f"{'Share' if share else 'Memory'}–accuracy trade-off per model ({mem} vs {acc})")
    if ctx.missing("Pareto plot", mem, acc):
        return
    ok = ctx.ok
    if "m.skipped" in ok.columns:
        ok = ok[ok["m.skipped"].fillna(0) < 0.5]
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
                     hover_data=["method", "r", "seed"],
                     title=f"{model}: " + ("right = more in low precision" if share else "left = less memory")
                     + ", higher accuracy is better")
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
    front = _front(d, mem, acc, larger_is_better=share)
    if not front.empty:
        with st.expander("Pareto-optimal runs"):
            ui.table(front[["method", "r", mem, acc]], len(front))


def _front(d: pd.DataFrame, mem: str, acc: str, larger_is_better: bool = False) -> pd.DataFrame:
    """Non-dominated runs (a better ``mem`` and at least the accuracy), diverged ones excluded."""
    good = d[d["diverged"] == "trained"].sort_values([mem, acc], ascending=[not larger_is_better, False])
    best, keep = float("-inf"), []
    for i, r in good.iterrows():
        if r[acc] > best:
            keep.append(i)
            best = r[acc]
    return good.loc[keep]


def render(ctx: FlowContext) -> None:
    headline(ctx)
    pareto(ctx)
