"""MoE plots: tokens/s, memory, drops and loss over training per method, recompile events marked.

Series names come from ``systems/moe/train.py``: ``tokens_per_s``, ``loss``, ``drops`` (per step),
``mem_mb`` sampled at steps ``mem_steps``, ``recompile_steps`` (the steps at which the capacity
configuration changed); scalars ``tokens_per_s`` (compiles included), ``tokens_per_cpu_s``, ``peak_mem_mb``,
``dropped_frac``, ``meets_drop_limit``, ``final_loss``, ``recompiles``, ``graphs_compiled``, ``recompile_s``,
``recompile_cpu_s``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from dashboards import ui
from dashboards.views.flow import FlowContext

PANELS = (("tokens_per_s", "tokens/s"), ("mem_mb", "memory (MB)"), ("drops", "dropped assignments"),
          ("loss", "training loss"))


TITLE = "MoE capacity & caching (vs a static capacity factor)"
"""Page title."""


def summary(ctx: FlowContext) -> None:
    st.subheader("Per method (measured)")
    wanted = ("tokens_per_s", "tokens_per_cpu_s", "peak_mem_mb", "dropped_frac", "meets_drop_limit", "final_loss",
              "recompiles", "graphs_compiled", "recompile_s", "recompile_cpu_s")
    present = [m for m in wanted if ctx.has(m)]
    if not present:
        ctx.missing("Summary", *wanted)
        return
    df = ctx.metric_table(*present)
    ui.table(df, len(df))


def _memory(ctx: FlowContext, w: str) -> pd.DataFrame:
    vals = ctx.curves("mem_mb", w)
    steps = ctx.curves("mem_steps", w)
    if vals.empty:
        return vals
    if steps.empty:
        return vals
    # mem_mb[i] was sampled at step mem_steps[i]: join on (run, index)
    key = ["run_id", "step"]
    m = vals.merge(steps[key + ["value"]].rename(columns={"value": "at_step"}), on=key, how="left")
    m["step"] = m["at_step"].fillna(m["step"]).astype(float)
    return m.drop(columns=["at_step"])


def _at(df: pd.DataFrame, step: float) -> float | None:
    if df.empty:
        return None
    i = (df["step"] - step).abs().idxmin()
    return float(df.loc[i, "value"])


def training_curves(ctx: FlowContext) -> None:
    st.subheader("Over training: tokens/s, memory, drops, loss (× = re-compilation)")
    names = [n for n, _ in PANELS if ctx.has(f"curve.{n}")]
    if not names:
        ctx.missing("Training curves", *[f"curve.{n}" for n, _ in PANELS])
        return
    workloads = list(dict.fromkeys(ctx.ok["workload"]))
    c1, c2 = st.columns([1, 2])
    w = c1.selectbox("Workload", workloads, key="moe_workload")
    methods = list(dict.fromkeys(ctx.ok.loc[ctx.ok["workload"] == w, "method"]))
    default = [m for m in methods if m in ("static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "cache")] or methods[:4]
    chosen = c2.multiselect("Methods", methods, default=default, key="moe_methods")
    recompiles = ctx.curves("recompile_steps", w)
    colors = {m: qualitative.Plotly[i % len(qualitative.Plotly)] for i, m in enumerate(methods)}
    cols = st.columns(2)
    for i, (name, label) in enumerate(PANELS):
        df = _memory(ctx, w) if name == "mem_mb" else ctx.curves(name, w)
        df = df[df["method"].isin(chosen)] if not df.empty else df
        with cols[i % 2]:
            if df.empty:
                st.info(f"No `{name}` series for `{w}`.")
                continue
            fig = go.Figure()
            for (m, seed), g in df.groupby(["method", "seed"], sort=False):
                g = g.sort_values("step")
                fig.add_trace(go.Scatter(x=g["step"], y=g["value"], mode="lines+markers" if name == "mem_mb"
                                         else "lines", name=f"{m} s{seed}",
                                         line={"color": colors.get(m)}, legendgroup=m))
                rc = recompiles[(recompiles["method"] == m) & (recompiles["seed"] == seed)] \
                    if not recompiles.empty else recompiles
                if not rc.empty:
                    xs = [float(s) for s in rc["value"]]
                    ys = [_at(g.reset_index(drop=True), x) for x in xs]
                    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=f"{m} recompile",
                                             marker={"symbol": "x", "size": 10, "color": colors.get(m)},
                                             legendgroup=m, showlegend=False))
            fig.update_layout(title=label, xaxis_title="step", height=320, margin={"t": 40, "b": 30})
            st.plotly_chart(fig, width="stretch", key=f"moe_{name}")
    if recompiles.empty:
        st.caption("No re-compilation events recorded for the selected workload.")


def render(ctx: FlowContext) -> None:
    summary(ctx)
    training_curves(ctx)
