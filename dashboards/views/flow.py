"""One flow run: its comparison against the expert, its jobs, its failures (shared by pages)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards import data, store, ui
from systems.core.compare import ComparisonRow, geomeans
from systems.core.types import ComparisonSpec


@dataclass
class FlowContext:
    """Everything a page needs about one flow run (what specialised system views receive)."""

    uri: str
    """Tracking URI."""
    system: str
    """System name."""
    spec: ComparisonSpec
    """What grades this run: the comparison spec stored with it (older runs: the registered one)."""
    flow: pd.Series
    """The flow run's row from :func:`dashboards.store.flows`."""
    jobs: pd.DataFrame
    """Its job runs (:func:`dashboards.store.jobs`)."""
    rows: list[ComparisonRow] = field(default_factory=list)
    """The comparison against the expert."""

    @property
    def ok(self) -> pd.DataFrame:
        """Jobs that finished ok."""
        return self.jobs[self.jobs["status"] == "ok"] if not self.jobs.empty else self.jobs

    def has(self, *metrics: str) -> bool:
        """True when every metric was recorded by at least one ok job."""
        return all(f"m.{m}" in self.ok.columns and self.ok[f"m.{m}"].notna().any() for m in metrics)

    def missing(self, what: str, *metrics: str) -> bool:
        """Render a note and return True when a metric the plot ``what`` needs is absent."""
        absent = [m for m in metrics if not self.has(m)]
        if absent:
            st.info(f"{what}: not available for this run — it recorded no "
                    f"{', '.join(f'`{m}`' for m in absent)}.")
            return True
        return False

    def metric_table(self, *metrics: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
        """Ok jobs averaged over seeds per (workload, method): columns = the metrics asked for."""
        cols = [f"m.{m}" for m in metrics if f"m.{m}" in self.ok.columns]
        ex = [c for c in extra if c in self.ok.columns]
        if self.ok.empty or not cols:
            return pd.DataFrame(columns=["workload", "method", *metrics])
        df = self.ok[["workload", "method", "is_baseline", *ex, *cols]].copy()
        agg = {c: "mean" for c in cols}
        agg.update({c: "first" for c in ["is_baseline", *ex]})
        out = df.groupby(["workload", "method"], sort=False).agg(agg).reset_index()
        return out.rename(columns={c: c[2:] for c in cols})

    def curve(self, run_id: str, name: str) -> list[tuple[int, float]]:
        """A per-step series of one job run as ``[(step, value)]``."""
        return data.curve(self.uri, run_id, name)

    def curves(self, name: str, workload: str | None = None) -> pd.DataFrame:
        """Long frame (workload, method, seed, step, value) of one series over the ok jobs that recorded it."""
        col = f"m.curve.{name}"
        recs = []
        if col in self.ok.columns:
            sel = self.ok if workload is None else self.ok[self.ok["workload"] == workload]
            for _, r in sel[sel[col].notna()].iterrows():
                recs += [{"workload": r["workload"], "method": r["method"], "seed": r["seed"],
                          "run_id": r["run_id"], "step": s, "value": v} for s, v in self.curve(r["run_id"], name)]
        return pd.DataFrame(recs, columns=["workload", "method", "seed", "run_id", "step", "value"])

    def artifact(self, run_id: str, path: str) -> str | None:
        """A text artifact of one run (``artifacts/<name>`` for a job's own texts)."""
        return data.artifact_text(self.uri, run_id, path)


def context(uri: str, flow: pd.Series) -> FlowContext | None:
    """Load a flow run's jobs and comparison; render an error and return None on failure."""
    system = flow["system"]
    try:
        jobs = data.jobs(uri, flow["run_id"], flow["experiment_id"])
        csv = None
        stored = flow.get("comparison_spec") or None
        from systems.core import SYSTEMS

        if not stored and system not in SYSTEMS:
            csv = data.artifact_text(uri, flow["run_id"], "comparison/comparison.csv")
        spec = store.spec_for(system, jobs, csv, stored)
        rows = store.comparison(spec, jobs)
    except Exception as exc:  # noqa: BLE001 - a broken run must not take the page down
        st.error(f"Could not load flow run `{flow['run_id']}` of `{system}`: {type(exc).__name__}: "
                 f"{str(exc)[:300]}")
        return None
    return FlowContext(uri=uri, system=system, spec=spec, flow=flow, jobs=jobs, rows=rows)


def header(ctx: FlowContext) -> None:
    """Run facts: when, where, which code; simulated or measured."""
    f = ctx.flow
    start = f["start"].strftime("%Y-%m-%d %H:%M UTC") if f.get("start") is not None else "?"
    kind = "simulated" if ctx.spec.simulated else "measured"
    st.caption(f"Flow run `{f['run_id']}` · suite **{f['suite']}** · {start} · git `{str(f['git_sha'])[:10]}` · "
               f"{f['hardware'] or 'hardware not recorded'} · {kind} `{ctx.spec.primary_metric}` "
               f"({'lower' if ctx.spec.direction == 'min' else 'higher'} is better)")
    if f.get("status") != "FINISHED":
        st.warning(f"This flow run ended as **{f.get('status')}**" +
                   (f": {ui.short_error(f.get('error'), 400)}" if f.get("error") else "") +
                   " — results may be partial.")


def geomean_cards(ctx: FlowContext) -> None:
    """One ``st.metric`` per non-baseline method: its geomean ratio over workloads."""
    gm = geomeans(ctx.rows)
    base = set(ctx.spec.baselines)
    items = [(m, g) for m, g in gm.items() if m not in base]
    if not items:
        return
    cols = st.columns(min(len(items), 5))
    for i, (m, g) in enumerate(items):
        delta = None if g is None else f"{(g - 1) * 100:+.1f}% vs expert"
        cols[i % len(cols)].metric(f"{m} · geomean", ui.fmt_ratio(g), delta=delta,
                                   delta_color="normal" if g is None or abs(g - 1) > ui.PAR_TOL else "off")


def comparison_table(ctx: FlowContext) -> None:
    """Every (workload, method) against the expert, coloured."""
    if not ctx.rows:
        st.info("No comparison: this flow run has no job results.")
        return
    df = store.comparison_frame(ctx.spec, ctx.rows)
    ui.table(ui.styled(df), len(df))
    note = f"`vs expert` > 1 = better than the expert baseline on `{ctx.spec.primary_metric}`"
    if ctx.spec.quality:
        note += f"; `quality ok` checks `{ctx.spec.quality.metric}` within {ctx.spec.quality.tolerance} of the expert"
    st.caption(note + ("; figures are simulated." if ctx.spec.simulated else "."))


def ratio_chart(ctx: FlowContext) -> None:
    """Bars: each non-baseline method's ratio to the expert per workload (1 = parity)."""
    df = pd.DataFrame([{"workload": r.workload, "method": r.method, "vs expert": r.ratio}
                       for r in ctx.rows if not r.is_baseline and r.ratio is not None])
    if df.empty:
        st.info("No ratios to plot (no method has both its own and the expert's result).")
        return
    fig = px.bar(df, x="workload", y="vs expert", color="method", barmode="group",
                 title=f"Improvement over the expert on {ctx.spec.primary_metric} (>1 is better)")
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    st.plotly_chart(fig, width="stretch")


def jobs_table(ctx: FlowContext) -> None:
    """All jobs with status (failed ones red) and the primary metric."""
    if ctx.jobs.empty:
        st.info("This flow run recorded no jobs.")
        return
    pm = f"m.{ctx.spec.primary_metric}"
    cols = ["workload", "method", "seed", "is_baseline", "status", "vs_expert", "wall_s"]
    df = ctx.jobs[cols].copy()
    df.insert(5, ctx.spec.primary_metric, ctx.jobs[pm] if pm in ctx.jobs.columns else None)
    df["error"] = ctx.jobs["error"].map(ui.short_error)
    df = df.rename(columns={"vs_expert": "vs expert", "is_baseline": "expert"})
    ui.table(ui.styled(df, status_col="status"), len(df))


def failures(ctx: FlowContext) -> None:
    """Failed jobs with their full error text."""
    if ctx.jobs.empty:
        return
    bad = ctx.jobs[ctx.jobs["status"] != "ok"]
    if bad.empty:
        st.success(f"All {len(ctx.jobs)} jobs finished ok.")
        return
    st.error(f"{len(bad)} of {len(ctx.jobs)} jobs failed.")
    for _, r in bad.iterrows():
        with st.expander(f"FAILED {r['workload']} / {r['method']} / seed {r['seed']}: {ui.short_error(r['error'], 120)}"):
            st.code(r["error"] or "(no error text recorded)", language=None)


def stored_comparison(ctx: FlowContext) -> None:
    """The comparison the flow itself published (``comparison/comparison.md`` on the parent run)."""
    md = data.artifact_text(ctx.uri, ctx.flow["run_id"], "comparison/comparison.md")
    if md:
        with st.expander("Comparison as published by the flow (MLflow artifact comparison/comparison.md)"):
            st.markdown(md)
