"""Mapper plots: best-so-far per iteration per optimizer, speedup over the expert per benchmark,
the winning mapper beside the expert's, and the distance to the physical lower bound.

Names come from ``systems/mapper/search.py`` / ``evaluate.py``: series ``best_so_far`` (simulated
makespan, starting at the first iteration that produced a working mapper, param
``first_ok_iteration``); metrics ``time_s``, ``lower_bound_s``, ``bound_ratio`` (time / bound);
artifacts ``best_mapper.dsl`` and ``expert_mapper.dsl`` (search jobs), ``mapper.dsl`` (expert job).
All makespans are simulated.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboards.views.flow import FlowContext


TITLE = "Mapper search (LLM / offline / tuner vs expert mappers)"
"""Page title."""


def _wide(values: pd.Series) -> bool:
    """Log scale when the values span more than 20x (random search starts far above the rest)."""
    v = values[values > 0]
    return bool(len(v) and v.max() / v.min() > 20)


def best_so_far(ctx: FlowContext) -> None:
    st.subheader("Best-so-far makespan per iteration (simulated)")
    if ctx.missing("Search progress", "curve.best_so_far"):
        return
    workloads = list(dict.fromkeys(ctx.ok["workload"]))
    w = st.selectbox("Benchmark", workloads, key="mapper_progress_workload")
    df = ctx.curves("best_so_far", w)
    if df.empty:
        st.info(f"No optimizer recorded a search curve on `{w}`.")
        return
    first_ok = {r["run_id"]: r.get("p.first_ok_iteration") for _, r in ctx.ok.iterrows()}

    def offset(rid):
        try:
            return int(float(first_ok.get(rid) or 0))
        except (TypeError, ValueError):
            return 0
    df["iteration"] = df["step"] + df["run_id"].map(offset)
    df["optimizer"] = df["method"] + df["seed"].map(lambda s: f" s{s}")
    fig = px.line(df, x="iteration", y="value", color="optimizer", markers=True,
                  labels={"value": "best simulated makespan (s)"}, title=f"{w}: best mapper found so far",
                  log_y=_wide(df["value"]))
    expert = ctx.ok[(ctx.ok["workload"] == w) & (ctx.ok["method"].isin(ctx.spec.baselines))]
    if not expert.empty and "m.time_s" in expert.columns:
        fig.add_hline(y=float(expert["m.time_s"].mean()), line_dash="dash", line_color="black",
                      annotation_text="expert mapper", annotation_position="top left")
    lb = ctx.ok.loc[ctx.ok["workload"] == w, "m.lower_bound_s"] if "m.lower_bound_s" in ctx.ok.columns else None
    if lb is not None and lb.notna().any() and float(lb.max()) > 0:
        fig.add_hline(y=float(lb.max()), line_dash="dot", line_color="grey", annotation_text="lower bound",
                      annotation_position="bottom left")
    st.plotly_chart(fig, width="stretch")


def speedups(ctx: FlowContext) -> None:
    st.subheader("Speedup over the expert mapper per benchmark (simulated)")
    df = pd.DataFrame([{"benchmark": r.workload, "optimizer": r.method, "speedup": r.ratio}
                       for r in ctx.rows if not r.is_baseline and r.ratio is not None])
    if df.empty:
        st.info("No optimizer has a result beside the expert's in this flow run.")
        return
    fig = px.bar(df, x="benchmark", y="speedup", color="optimizer", barmode="group",
                 title="Expert makespan ÷ optimizer makespan (> 1: faster than the expert)")
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    st.plotly_chart(fig, width="stretch")


def mappers(ctx: FlowContext) -> None:
    st.subheader("Winning mapper vs the expert's")
    cands = [r for r in ctx.rows if not r.is_baseline and r.ratio is not None]
    if not cands:
        st.info("No optimizer produced a working mapper in this flow run.")
        return
    workloads = list(dict.fromkeys(r.workload for r in cands))
    w = st.selectbox("Benchmark", workloads, key="mapper_dsl_workload")
    win = max((r for r in cands if r.workload == w), key=lambda r: r.ratio)
    runs = ctx.ok[(ctx.ok["workload"] == w) & (ctx.ok["method"] == win.method)]
    if "m.time_s" in runs.columns:
        runs = runs.sort_values("m.time_s")
    rid = runs.iloc[0]["run_id"]
    best = ctx.artifact(rid, "artifacts/best_mapper.dsl")
    expert = ctx.artifact(rid, "artifacts/expert_mapper.dsl")
    if expert is None:
        ex = ctx.ok[(ctx.ok["workload"] == w) & (ctx.ok["is_baseline"])]
        expert = ctx.artifact(ex.iloc[0]["run_id"], "artifacts/mapper.dsl") if not ex.empty else None
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{win.method}** — {win.ratio:.3f}× the expert")
        st.code(best or "(no best_mapper.dsl artifact recorded)", language=None)
    with c2:
        st.markdown(f"**expert** ({win.baseline_method})")
        st.code(expert or "(no expert mapper artifact recorded)", language=None)


def lower_bound(ctx: FlowContext) -> None:
    st.subheader("Distance to the lower bound (makespan ÷ physical lower bound; 1 = optimal)")
    if ctx.missing("Lower bound", "bound_ratio"):
        return
    df = ctx.metric_table("bound_ratio")
    df = df[df["bound_ratio"] > 0]
    if df.empty:
        st.info("No lower bound recorded for these benchmarks.")
        return
    fig = px.bar(df, x="workload", y="bound_ratio", color="method", barmode="group", log_y=_wide(df["bound_ratio"]),
                 labels={"bound_ratio": "makespan / lower bound", "workload": "benchmark"})
    fig.add_hline(y=1.0, line_dash="dash", line_color="grey")
    st.plotly_chart(fig, width="stretch")


def llm_proposals(ctx: FlowContext) -> None:
    """Per-iteration proposals of the LLM optimizers (artifact ``proposals.jsonl``): compiled or not and
    why, tokens, cost, latency, grammar, and which model answered."""
    import json

    runs = ctx.ok[ctx.ok["method"].isin(["llm-agent", "optoprime"])] if "method" in ctx.ok.columns else ctx.ok.iloc[:0]
    if runs.empty:
        return
    st.subheader("LLM proposals per iteration")
    labels = {f"{r['workload']} / {r['method']} / seed {r['seed']}": r["run_id"] for _, r in runs.iterrows()}
    pick = st.selectbox("LLM run", list(labels), key="mapper_llm_run")
    rid = labels[pick]
    raw = ctx.artifact(rid, "artifacts/proposals.jsonl")
    if not raw:
        st.info("This run recorded no proposals.jsonl artifact.")
        return
    rows = [json.loads(x) for x in raw.splitlines() if x.strip()]
    row = runs[runs["run_id"] == rid].iloc[0]
    model = row.get("p.llm_answered_by") or row.get("p.llm_model") or "?"
    compiled = sum(r["status"] not in ("compile_error", "malformed") for r in rows)
    st.markdown(f"Model that answered: **{model}**; grammar sent: {row.get('p.llm_grammar_sent', '-')}; "
                f"{compiled}/{len(rows)} proposals compiled; "
                f"{sum(r['prompt_tokens'] for r in rows):.0f} prompt + {sum(r['completion_tokens'] for r in rows):.0f} "
                f"completion tokens; cost ${sum(r['cost_usd'] for r in rows):.4f}.")
    table = pd.DataFrame([{"iteration": r["iteration"],
                           "compiled": "no" if r["status"] in ("compile_error", "malformed") else "yes",
                           "status": r["status"], "why": r.get("message") or "", "time (s, simulated)": r["time_s"],
                           "prompt tok": r["prompt_tokens"], "completion tok": r["completion_tokens"],
                           "cost $": r["cost_usd"], "LLM s": round(r.get("llm_latency_s") or 0.0, 1),
                           "grammar": r.get("grammar") or "", "stop": r.get("finish_reason") or ""} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch")
    it = st.selectbox("Show proposal", [r["iteration"] for r in rows], key="mapper_llm_iter")
    r = next(x for x in rows if x["iteration"] == it)
    st.code(r.get("proposal") or "(empty)", language=None)
    st.caption("Feedback given back: " + (r.get("feedback") or "").replace("\n", " / ")[:600])


def render(ctx: FlowContext) -> None:
    best_so_far(ctx)
    speedups(ctx)
    mappers(ctx)
    lower_bound(ctx)
    llm_proposals(ctx)
