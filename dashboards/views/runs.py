"""Run browser: filter flow runs by system, suite, date and hardware; open one to see its jobs."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboards import store, ui
from dashboards.views import flow as fv


def filter_flows(flows: pd.DataFrame, systems: list[str], suites: list[str], hardware: list[str],
                 date_from=None, date_to=None) -> pd.DataFrame:
    """Flow runs matching every non-empty filter (dates inclusive, UTC)."""
    df = flows
    if systems:
        df = df[df["system"].isin(systems)]
    if suites:
        df = df[df["suite"].isin(suites)]
    if hardware:
        df = df[df["hardware"].isin(hardware)]
    if date_from is not None:
        df = df[df["start"].map(lambda t: t is not None and t.date() >= date_from)]
    if date_to is not None:
        df = df[df["start"].map(lambda t: t is not None and t.date() <= date_to)]
    return df.reset_index(drop=True)


def render(uri: str | None = None) -> None:
    uri = uri or store.tracking_uri()
    ui.sidebar(uri)
    st.title("Run browser")
    flows = ui.flows_or_none(uri)
    if flows is None:
        return
    c1, c2, c3, c4 = st.columns([1, 1, 2, 2])
    systems = c1.multiselect("System", sorted(set(flows["system"])), key="rb_system")
    suites = c2.multiselect("Suite", sorted(set(flows["suite"])), key="rb_suite")
    hardware = c3.multiselect("Hardware", sorted(set(flows["hardware"])), key="rb_hw")
    dates = [t.date() for t in flows["start"] if t is not None]
    lo, hi = (min(dates), max(dates)) if dates else (None, None)
    rng = c4.date_input("Date range (UTC)", value=(lo, hi) if lo else (), key="rb_dates",
                        min_value=lo - timedelta(days=1) if lo else None,
                        max_value=hi + timedelta(days=1) if hi else None)
    d_from, d_to = (rng[0], rng[1]) if isinstance(rng, (tuple, list)) and len(rng) == 2 else (None, None)
    df = filter_flows(flows, systems, suites, hardware, d_from, d_to)
    st.caption(f"{len(df)} of {len(flows)} flow runs")
    if df.empty:
        st.info("No flow run matches these filters.")
        return
    show = df[["start", "system", "suite", "status", "n_jobs", "n_ok", "n_failed", "wall_s", "git_sha",
               "hardware", "run_reason", "run_id"]].copy()
    show["start"] = show["start"].map(lambda t: t.strftime("%Y-%m-%d %H:%M:%S") if t is not None else "")
    show["status"] = show.apply(lambda r: "failed" if (r["n_failed"] or 0) > 0 or r["status"] == "FAILED"
                                else r["status"].lower(), axis=1)
    ui.table(ui.styled(show, ratio_cols=(), status_col="status"), len(show), 15)

    labels = [f"{r['system']} · {ui.flow_label(r)}" for _, r in df.iterrows()]
    wanted = st.query_params.get("flow")  # deep link: /runs?flow=<parent run id>
    hits = [i for i, rid in enumerate(df["run_id"]) if wanted and rid.startswith(wanted)]
    idx = st.selectbox("Open a flow run", range(len(df)), format_func=lambda i: labels[i], key="rb_open",
                       index=hits[0] if hits else 0,
                       help="Link to a flow run with ?flow=<MLflow run id> on this page's URL.")
    ctx = fv.context(uri, df.iloc[idx])
    if ctx is None:
        return
    st.subheader(f"{ctx.system} / {ctx.flow['suite']} — {ctx.flow['run_name']}")
    fv.header(ctx)
    fv.failures(ctx)
    st.markdown("**Jobs**")
    fv.jobs_table(ctx)
    st.markdown("**Comparison against the expert**")
    fv.geomean_cards(ctx)
    fv.comparison_table(ctx)
    fv.stored_comparison(ctx)
