"""HAG plots: aggregation/transfer reductions, the capacity sweep, epoch time plain vs HAG vs PyG.

Metric names come from ``systems/hag/evaluate.py``: ``aggregations``, ``transfers``,
``aggregation_reduction``, ``transfer_reduction``, ``epoch_s``, ``epoch_s_plain``, ``pyg_epoch_s``;
capacity-sweep methods are ``hag-cap-<fraction of |V|>`` (param ``capacity_frac``).
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards.views.flow import FlowContext


TITLE = "HAG (hierarchically aggregated GNN graphs vs the plain graph)"
"""Page title."""


def reductions(ctx: FlowContext) -> None:
    st.subheader("Aggregation and transfer reductions (plain graph ÷ HAG)")
    if ctx.missing("Reductions", "aggregation_reduction", "transfer_reduction"):
        return
    df = ctx.metric_table("aggregation_reduction", "transfer_reduction")
    df = df[~df["is_baseline"]]
    if df.empty:
        st.info("Only the plain-graph baseline ran in this flow: no HAG to compare.")
        return
    long = df.melt(id_vars=["workload", "method"], value_vars=["aggregation_reduction", "transfer_reduction"],
                   var_name="reduction", value_name="× fewer")
    fig = px.bar(long, x="workload", y="× fewer", color="method", barmode="group", facet_col="reduction",
                 title="How many times fewer binary aggregations / data transfers than the plain GNN graph")
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1].replace("_", " ")))
    st.plotly_chart(fig, width="stretch")


def _capacity(method: str, param) -> float | None:
    try:
        if param is not None and not pd.isna(param):
            return float(param)
    except (TypeError, ValueError):
        pass
    if method.startswith("hag-cap-"):
        try:
            return float(method[len("hag-cap-"):])
        except ValueError:
            return None
    return None


def capacity_sweep(ctx: FlowContext) -> None:
    st.subheader("Capacity sweep")
    if ctx.missing("Capacity sweep", "aggregations"):
        return
    ok = ctx.ok
    sweep = ok[ok["method"].str.startswith("hag-cap-") | ok["is_baseline"] | (ok["method"] == "hag-greedy")]
    recs = []
    for _, r in sweep.iterrows():
        cap = 0.0 if r["is_baseline"] else _capacity(r["method"], r.get("p.capacity_frac"))
        if cap is None:
            continue
        recs.append({"workload": r["workload"], "capacity (× |V|)": cap, "aggregations": r["m.aggregations"],
                     "method": r["method"]})
    df = pd.DataFrame(recs)
    swept = set(ok.loc[ok["method"].str.startswith("hag-cap-"), "workload"])
    df = df[df["workload"].isin(swept)] if not df.empty else df
    if df.empty:
        st.info("This flow run has no capacity-sweep jobs (`hag-cap-<f>` methods; the default/full/nightly "
                "suites run them on selected workloads).")
        return
    df = df.groupby(["workload", "capacity (× |V|)"], as_index=False)["aggregations"].mean()
    fig = px.line(df.sort_values("capacity (× |V|)"), x="capacity (× |V|)", y="aggregations", color="workload",
                  markers=True, title="Binary aggregations vs HAG capacity (0 = plain graph)")
    st.plotly_chart(fig, width="stretch")


def epoch_times(ctx: FlowContext) -> None:
    st.subheader("Epoch time: plain graph vs HAG vs PyG (measured)")
    if ctx.missing("Epoch time", "epoch_s", "epoch_s_plain"):
        return
    df = ctx.metric_table("epoch_s", "epoch_s_plain", "pyg_epoch_s")
    hags = df[~df["is_baseline"]]
    if hags.empty:
        st.info("No HAG method ran in this flow run.")
        return
    methods = list(dict.fromkeys(hags["method"]))
    method = st.selectbox("HAG method", methods, index=methods.index("hag-greedy") if "hag-greedy" in methods
                          else 0, key="hag_epoch_method")
    sel = hags[hags["method"] == method]
    recs = []
    for _, r in sel.iterrows():
        recs.append({"workload": r["workload"], "implementation": "plain GNN graph", "epoch s": r["epoch_s_plain"]})
        recs.append({"workload": r["workload"], "implementation": f"HAG ({method})", "epoch s": r["epoch_s"]})
        if "pyg_epoch_s" in r and pd.notna(r["pyg_epoch_s"]):
            recs.append({"workload": r["workload"], "implementation": "PyG GCNConv", "epoch s": r["pyg_epoch_s"]})
    fig = px.bar(pd.DataFrame(recs), x="workload", y="epoch s", color="implementation", barmode="group",
                 title=f"Median training epoch time on {ctx.flow['hardware'] or 'the recorded hardware'}")
    st.plotly_chart(fig, width="stretch")
    if "pyg_epoch_s" not in sel.columns or sel["pyg_epoch_s"].isna().all():
        st.caption("No PyG timing in this run (PyG's GCNConv peer is measured for GCN workloads only).")


def render(ctx: FlowContext) -> None:
    reductions(ctx)
    capacity_sweep(ctx)
    epoch_times(ctx)
