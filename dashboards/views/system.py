"""A system's page: pick a flow run, see every method against the expert, then the field's plots.

The generic part works for any registered system (and for systems only present in the store);
the specialised part is ``dashboards/views/<system>.py``'s ``render(ctx)`` when that module exists
(found by name, nothing to register; its ``TITLE`` names the page). A specialised view that raises is
contained: the error is shown in its own box and the rest of the page stays up.
"""

from __future__ import annotations

import traceback

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import ui
from dashboards.views import flow as fv

def view_module(system: str):
    """``dashboards.views.<system>`` when it exists (and is a field view), else None."""
    import importlib.util

    if system in ("flow", "system", "overview", "runs", "nightly") or not system.isidentifier():
        return None
    if importlib.util.find_spec(f"dashboards.views.{system}") is None:
        return None
    return importlib.import_module(f"dashboards.views.{system}")


def title(system: str) -> str:
    """The page title: the view's ``TITLE``, else the system's name."""
    try:
        mod = view_module(system)
    except Exception:  # noqa: BLE001 - a broken view still gets a page (its error shows below)
        mod = None
    return getattr(mod, "TITLE", None) or system


def _registration_note(system: str) -> None:
    from systems.core import SYSTEMS
    from systems.core.registry import BROKEN

    if system in SYSTEMS:
        spec = SYSTEMS[system]
        st.caption(f"{spec.description} — primary metric `{spec.primary_metric}` "
                   f"({'lower' if spec.direction == 'min' else 'higher'} is better); expert baselines: "
                   f"{', '.join(f'`{b}`' for b in spec.baselines) or 'none'}.")
    elif system in BROKEN:
        st.warning(f"`systems.{system}` failed to import in this checkout: {BROKEN[system]}. "
                   "Stored runs are still shown below.")
    else:
        st.warning(f"`{system}` is not registered in this checkout (no `systems/{system}/__init__.py` with a "
                   "`SPEC` yet). Stored runs, if any, are still shown below.")


def history(flows: pd.DataFrame) -> None:
    """Geomean ratio of each method over the system's flow runs (one suite at a time)."""
    gcols = [c for c in flows.columns if c.startswith("geomean.")]
    if len(flows) < 2 or not gcols:
        return
    suites = list(dict.fromkeys(flows["suite"]))
    suite = st.selectbox("Suite", suites, key="history_suite") if len(suites) > 1 else suites[0]
    df = flows[flows["suite"] == suite].melt(id_vars=["start", "git_sha", "hardware"], value_vars=gcols,
                                             var_name="method", value_name="geomean vs expert").dropna()
    if df.empty:
        return
    df["method"] = df["method"].str[len("geomean."):]
    fig = px.line(df.sort_values("start"), x="start", y="geomean vs expert", color="method", markers=True,
                  hover_data=["git_sha", "hardware"], title=f"Geomean vs expert over flow runs ({suite})")
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    st.plotly_chart(fig, width="stretch")


def specialised(ctx: fv.FlowContext) -> None:
    """The field-specific plots of ``ctx.system`` (contained: a bug shows as an error box)."""
    try:
        mod = view_module(ctx.system)
        if mod is None or not hasattr(mod, "render"):
            return
        mod.render(ctx)
    except Exception as exc:  # noqa: BLE001 - keep the rest of the page
        st.error(f"The {ctx.system} plots failed on this run: {type(exc).__name__}: {str(exc)[:300]}")
        with st.expander("details"):
            st.code("".join(traceback.format_exception(exc))[-4000:], language=None)


def curves_explorer(ctx: fv.FlowContext) -> None:
    """Any recorded per-step series, per method, for one workload."""
    from dashboards import store

    names = store.curve_names(ctx.ok)
    if not names:
        return
    st.subheader("Per-step series")
    c1, c2 = st.columns(2)
    name = c1.selectbox("Series", names, key=f"curve_{ctx.system}")
    workloads = list(dict.fromkeys(ctx.ok["workload"]))
    w = c2.selectbox("Workload", workloads, key=f"curve_w_{ctx.system}")
    recs = []
    for _, r in ctx.ok[ctx.ok["workload"] == w].iterrows():
        if pd.isna(r.get(f"m.curve.{name}")):
            continue
        for i, v in ctx.curve(r["run_id"], name):
            recs.append({"step": i, name: v, "method": f"{r['method']} (s{r['seed']})"})
    if not recs:
        st.info(f"No `{name}` series for workload `{w}`.")
        return
    fig = px.line(pd.DataFrame(recs), x="step", y=name, color="method", title=f"{name} — {w}")
    st.plotly_chart(fig, width="stretch")


def render(system: str, uri: str | None = None) -> None:
    """The whole page for ``system``."""
    from dashboards.store import tracking_uri

    uri = uri or tracking_uri()
    ui.sidebar(uri)
    st.title(title(system))
    _registration_note(system)
    if ui.connect(uri) is None:
        return
    flows = ui.load_flows(uri)
    if flows is None:
        return
    mine = flows[flows["system"] == system].reset_index(drop=True)
    if mine.empty:
        ui.empty_state(uri, system)
        return
    labels = [ui.flow_label(r) for _, r in mine.iterrows()]
    idx = st.selectbox("Flow run", range(len(mine)), format_func=lambda i: labels[i], key=f"flow_{system}",
                       help="Newest first. Ratios are computed within one flow run (same machine).")
    ctx = fv.context(uri, mine.iloc[idx])
    if ctx is None:
        return
    fv.header(ctx)
    fv.geomean_cards(ctx)
    tab_cmp, tab_field, tab_jobs, tab_hist = st.tabs(["Versus expert", "Field plots", "Jobs", "History"])
    with tab_cmp:
        fv.comparison_table(ctx)
        fv.ratio_chart(ctx)
        fv.stored_comparison(ctx)
    with tab_field:
        specialised(ctx)
        curves_explorer(ctx)
    with tab_jobs:
        fv.failures(ctx)
        fv.jobs_table(ctx)
    with tab_hist:
        if len(mine) < 2:
            st.info("History needs at least two flow runs of this system.")
        history(mine)
