"""Layer-wise parallelization plots: throughput vs device count, and the chosen strategy per layer.

Metric names come from ``systems/layerwise/evaluate.py``: ``throughput`` (simulated samples/s),
``devices``; params ``network`` and ``devices``; workloads are named ``<network>@<devices>``; each
job's per-layer configuration is the text artifact ``strategy.json``
(``{layer: {"degrees": {dim: n}, "devices": [ids]}}``).
"""

from __future__ import annotations

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import ui
from dashboards.views.flow import FlowContext


TITLE = "Layer-wise parallelization (vs data / model parallel / one weird trick)"
"""Page title."""


def _network_devices(row: pd.Series) -> tuple[str, float | None]:
    net = row.get("p.network")
    dev = row.get("m.devices")
    name = str(row["workload"])
    if (net is None or pd.isna(net)) and "@" in name:
        net = name.split("@", 1)[0]
    if (dev is None or pd.isna(dev)) and "@" in name:
        try:
            dev = float(name.split("@", 1)[1])
        except ValueError:
            dev = None
    return (str(net) if net is not None and not pd.isna(net) else name), dev


def scaling(ctx: FlowContext) -> None:
    st.subheader("Throughput vs device count (simulated)")
    if ctx.missing("Scaling", "throughput"):
        return
    recs = []
    for _, r in ctx.ok.iterrows():
        net, dev = _network_devices(r)
        if dev is not None:
            recs.append({"network": net, "devices": dev, "method": r["method"], "throughput": r["m.throughput"]})
    if not recs:
        st.info("No device count recorded (metric `devices` / workload `<network>@<devices>`).")
        return
    df = pd.DataFrame(recs).groupby(["network", "devices", "method"], as_index=False)["throughput"].mean()
    fig = px.line(df.sort_values("devices"), x="devices", y="throughput", color="method", markers=True,
                  facet_col="network", facet_col_wrap=3,
                  title="Predicted training throughput (samples/s) per method and network — simulated")
    fig.update_yaxes(matches=None)
    st.plotly_chart(fig, width="stretch")
    if df.groupby("network")["devices"].nunique().max() < 2:
        st.caption("Each network ran at a single device count in this flow run (the default/full suites sweep "
                   "device counts).")


def _fmt_config(cfg: dict) -> str:
    deg = cfg.get("degrees", {})
    parts = " ".join(f"{k}{v}" for k, v in deg.items() if v != 1) or "replicated ×1"
    devs = cfg.get("devices")
    return f"{parts} on {len(devs)} dev" if isinstance(devs, list) else parts


def strategies(ctx: FlowContext) -> None:
    st.subheader("Chosen parallelization per layer")
    ok = ctx.ok
    if ok.empty:
        st.info("No ok jobs in this flow run.")
        return
    workloads = list(dict.fromkeys(ok["workload"]))
    w = st.selectbox("Workload (network@devices)", workloads, key="lw_strategy_workload")
    cols: dict[str, dict[str, str]] = {}
    order: list[str] = []
    for _, r in ok[ok["workload"] == w].drop_duplicates("method").iterrows():
        text = ctx.artifact(r["run_id"], "artifacts/strategy.json")
        if not text:
            continue
        try:
            strat = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(strat, dict) and "strategy" in strat and isinstance(strat["strategy"], dict):
            strat = strat["strategy"]
        cols[r["method"]] = {layer: _fmt_config(c) if isinstance(c, dict) else str(c) for layer, c in strat.items()}
        order += [layer for layer in strat if layer not in order]
    if not cols:
        st.info("This flow run stored no `strategy.json` artifacts.")
        return
    table = pd.DataFrame({m: [cols[m].get(layer, "") for layer in order] for m in cols}, index=order)
    table.index.name = "layer"
    ui.table(table, len(table), hide_index=False)
    st.caption("Per layer: the split degree of each dimension (n = sample, c = channel, h/w = spatial; "
               "unsplit dims omitted) and how many devices the layer runs on.")


def ceiling(ctx: FlowContext) -> None:
    """Layer-wise speedup next to the room any strategy has (best baseline step / minimum compute step)."""
    st.subheader("Speedup and ceiling (simulated)")
    ok = ctx.ok
    if ok.empty or "m.min_compute_s" not in ok.columns or "m.cost_s" not in ok.columns:
        st.info("No `min_compute_s` / `cost_s` metrics in this flow run (recorded since the calibrated model).")
        return
    base = {"data-parallel", "model-parallel", "owt"}
    recs = []
    for w, grp in ok.groupby("workload", sort=False):
        bs = grp[grp["method"].isin(base)]
        lw = grp[grp["method"] == "layerwise-dp"]
        if bs.empty or lw.empty:
            continue
        best = bs.loc[bs["m.cost_s"].idxmin()]
        lw = lw.iloc[0]
        recs.append({"workload": w, "best baseline": best["method"],
                     "speedup": round(float(best["m.cost_s"] / lw["m.cost_s"]), 3),
                     "ceiling": round(float(best["m.cost_s"] / lw["m.min_compute_s"]), 3)})
    if not recs:
        st.info("Needs layerwise-dp and at least one baseline per workload.")
        return
    ui.table(pd.DataFrame(recs), len(recs))
    st.caption("speedup = layer-wise over the best of DP / MP / OWT; ceiling = the best baseline's step divided by "
               "the minimum compute step (every layer at its fastest configuration, no communication): no strategy "
               "can exceed it, so a speedup of 1.0x next to a ceiling of 1.0x means there was no room.")


def render(ctx: FlowContext) -> None:
    scaling(ctx)
    ceiling(ctx)
    strategies(ctx)
