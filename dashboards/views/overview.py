"""Overview: one row per system × workload — the best method and its ratio to the expert."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import store, ui
from dashboards.views import flow as fv


def overview_rows(ctx: fv.FlowContext) -> list[dict]:
    """Rows of the overview table for one system's flow run (best method per workload + geomean)."""
    f = ctx.flow
    common = {"run date": f["start"].strftime("%Y-%m-%d %H:%M") if f.get("start") is not None else "",
              "suite": f["suite"], "git sha": str(f["git_sha"])[:10], "hardware": f["hardware"]}
    out = []
    pm = ctx.spec.primary_metric
    for r in store.best_rows(ctx.spec, ctx.rows):
        out.append({"system": ctx.system, "workload": r.workload, "best method": r.method,
                    "metric": pm, "value": r.value, "expert": r.baseline_method, "expert value": r.baseline_value,
                    "vs expert": r.ratio, "failed jobs": r.n_failed, **common})
    m, g = store.best_geomean(ctx.rows, ctx.spec)
    out.append({"system": ctx.system, "workload": "GEOMEAN", "best method": m or "–", "metric": pm,
                "value": None, "expert": None, "expert value": None, "vs expert": g,
                "failed jobs": int(f["n_failed"]) if pd.notna(f.get("n_failed")) else None, **common})
    return out


def render(uri: str | None = None) -> None:
    from systems.core import SYSTEMS

    uri = uri or store.tracking_uri()
    ui.sidebar(uri)
    st.title("syslab — optimizers vs expert baselines")
    st.caption("Each system's latest flow run: per workload the best optimizer and its ratio to the expert on "
               "the primary metric, direction-aware (> 1 = faster / less memory / fewer aggregations than the "
               "expert). Green beats the expert, red loses to it.")
    flows = ui.flows_or_none(uri)
    if flows is None:
        return
    suites = ["latest of any suite", *sorted(set(flows["suite"]))]
    suite = st.selectbox("Suite", suites, key="overview_suite",
                         help="Which flow run represents each system: its newest one, or its newest of a suite.")
    pick = flows if suite == suites[0] else flows[flows["suite"] == suite]
    pick = pick[pick["status"] == "FINISHED"] if (pick["status"] == "FINISHED").any() else pick
    latest = pick.drop_duplicates("system", keep="first")
    order = {s: i for i, s in enumerate(SYSTEMS)}
    latest = latest.sort_values("system", key=lambda s: s.map(lambda x: order.get(x, 99)), kind="stable")

    rows: list[dict] = []
    cards = []
    for _, f in latest.iterrows():
        ctx = fv.context(uri, f)
        if ctx is None:
            continue
        rows.extend(overview_rows(ctx))
        cards.append((ctx.system, *store.best_geomean(ctx.rows, ctx.spec)))
    if cards:
        cols = st.columns(min(len(cards), 5))
        for i, (system, m, g) in enumerate(cards):
            cols[i % len(cols)].metric(f"{system} · geomean", ui.fmt_ratio(g),
                                       delta=None if g is None else f"{(g - 1) * 100:+.1f}% · {m}",
                                       help=f"Geometric mean over workloads of the best optimizer's ratio to the "
                                            f"expert ({m or 'no optimizer with a result'})")
    if not rows:
        st.info("The latest flow runs have no job results yet.")
        return
    df = pd.DataFrame(rows)
    ui.table(ui.styled(df), len(df), 40)
    missing = [s for s in SYSTEMS if s not in set(latest["system"])]
    if missing:
        st.caption("No runs yet for: " + ", ".join(f"`{s}` (`make run-flow name={s}`)" for s in missing))
    failed = latest[latest["n_failed"].fillna(0) > 0]
    if not failed.empty:
        st.warning("Failed jobs in the latest runs of: " +
                   ", ".join(f"`{r['system']}` ({int(r['n_failed'])})" for _, r in failed.iterrows()) +
                   " — open the Run browser for their error text.")
