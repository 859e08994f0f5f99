"""Nightly: history per benchmark (commit on hover) and the latest regression flags.

Reads the nightly sweeps through :func:`flows.nightly.nightly_history` and
:func:`flows.nightly.latest_report` (both read-only). History lines never join points across
hardware or benchmark versions (``benchmark_hash``): those are not comparable.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import store, ui


@st.cache_data(ttl=30, show_spinner=False, max_entries=8)
def _history(uri: str) -> pd.DataFrame:
    from flows.nightly import nightly_history

    return nightly_history(uri)


@st.cache_data(ttl=30, show_spinner=False, max_entries=8)
def _report(uri: str) -> tuple[dict, list[dict], str]:
    from flows.nightly import latest_report

    rep = latest_report(uri)
    return rep.counts(), rep.to_rows(), rep.to_markdown()


def history_figure(df: pd.DataFrame, metric: str):
    """One line per (method, hardware, benchmark version); hover shows the commit and run reason."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for (method, hw, ver), g in df[df["metric"] == metric].groupby(["method", "hardware", "benchmark_hash"]):
        g = g.sort_values("time")
        label = f"{method}" + (" (expert)" if bool(g["is_baseline"].iloc[0]) else "")
        if df["hardware"].nunique() > 1 or df["benchmark_hash"].nunique() > 1:
            label += f" · {str(hw)[:24]} · v{str(ver)[:8]}"
        fig.add_trace(go.Scatter(
            x=g["time"], y=g["value"], mode="lines+markers", name=label,
            customdata=g[["git_sha", "run_reason", "n_seeds"]].astype(str).values,
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>value %{y:.4g}<br>commit %{customdata[0]}"
                          "<br>%{customdata[1]}, %{customdata[2]} seed(s)<extra>%{fullData.name}</extra>"))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), yaxis_title=metric,
                      legend=dict(orientation="h", y=-0.25))
    return fig


def render(uri: str | None = None) -> None:
    uri = uri or store.tracking_uri()
    ui.sidebar(uri)
    st.title("Nightly sweeps")
    st.caption("Every system's `nightly` suite, run on a schedule (`make nightly-serve`) or by hand "
               "(`make nightly`). Each benchmark is compared with the previous nightly on the same hardware and "
               "benchmark version (ratio ≥ 1.1×, plus a z-score over the lookback window once there is history).")
    if ui.connect(uri) is None:
        return
    try:
        hist = _history(uri)
    except Exception as exc:  # noqa: BLE001 - show, don't crash
        st.error(f"**Could not read the nightly history from `{uri}`:** {type(exc).__name__}: {str(exc)[:300]}")
        return
    if hist.empty:
        st.info("No nightly sweeps in this store yet. Run one by hand:")
        st.code("make nightly            # or: make services && make nightly-serve (02:00 daily)", language="bash")
        return

    try:
        counts, rows, _ = _report(uri)
    except Exception as exc:  # noqa: BLE001
        st.error(f"**Could not compute the regression report:** {type(exc).__name__}: {str(exc)[:300]}")
        counts, rows = {}, []
    if counts:
        cols = st.columns(4)
        for col, (key, label) in zip(cols, [("regression", "Regressions"), ("improvement", "Improvements"),
                                             ("lost_to_expert", "Optimizer lost to expert"),
                                             ("unchanged", "Unchanged")]):
            col.metric(label, counts.get(key, 0))
    st.subheader("Latest flags")
    if rows:
        ui.table(pd.DataFrame(rows), n_rows=len(rows))
    else:
        st.success("No regressions, improvements or losses to the expert in the latest sweep.")

    st.subheader("History")
    systems = sorted(hist["system"].unique())
    c1, c2, c3 = st.columns(3)
    system = c1.selectbox("System", systems, key="nightly_system")
    h = hist[hist["system"] == system]
    workload = c2.selectbox("Workload", sorted(h["workload"].unique()), key="nightly_workload")
    h = h[h["workload"] == workload]
    metric = c3.selectbox("Metric", sorted(h["metric"].unique()), key="nightly_metric")
    st.plotly_chart(history_figure(h, metric), width="stretch")
    with st.expander("Raw history"):
        ui.table(h[h["metric"] == metric].sort_values("time", ascending=False), max_rows=15)
