"""Shared Streamlit pieces: connecting (with the empty/broken states), the sidebar, styling."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, store

BETTER = "background-color: #c8ecc9; color: #0b3d0f"
WORSE = "background-color: #f7c9c9; color: #5c0a0a"
PAR_TOL = 0.005
"""Ratios within ±0.5% of 1 are shown uncoloured (a tie with the expert)."""


def run_flow_hint(systems: list[str] | None = None) -> str:
    """The ``make run-flow`` commands that fill an empty store."""
    from systems.core import SYSTEMS

    names = systems or list(SYSTEMS) or ["<system>"]
    return "\n".join(f"make run-flow name={n} suite=smoke" for n in names)


def sidebar(uri: str) -> None:
    """Tracking URI and the refresh button (clears every cached query)."""
    with st.sidebar:
        st.caption("MLflow tracking store (read-only)")
        st.code(uri, language=None)
        if st.button("Refresh data", key="refresh", help=f"Queries are cached for {data.TTL_S} s"):
            data.refresh()
            st.rerun()


def connect(uri: str) -> Any | None:
    """The MLflow client, or render the broken/empty state and return None.

    Unreachable server / unreadable store → a red error naming the URI (no traceback);
    no store yet → an info box with the ``make run-flow`` command to run.
    """
    try:
        c = data.client(uri)
    except store.StoreError as exc:
        st.error(f"**Cannot read the MLflow tracking store.** {exc}")
        st.caption("Check `MLFLOW_TRACKING_URI` (unset = the embedded SQLite store under `$SYSLAB_HOME`).")
        return None
    if c is None:
        empty_state(uri)
        return None
    return c


def empty_state(uri: str, system: str | None = None) -> None:
    """The message shown when there is nothing to show yet."""
    who = f"of `{system}` " if system else ""
    st.info(f"No flow runs {who}in the MLflow store `{uri}` yet. Run a flow first, for example:")
    st.code(run_flow_hint([system] if system else None), language="bash")


def load_flows(uri: str) -> pd.DataFrame | None:
    """All flow runs, or None after rendering an error."""
    try:
        return data.flows(uri)
    except Exception as exc:  # noqa: BLE001 - a query failing mid-session (server went away)
        st.error(f"**Could not query MLflow at `{uri}`:** {type(exc).__name__}: {str(exc)[:300]}")
        return None


def flows_or_none(uri: str) -> pd.DataFrame | None:
    """All flow runs, or None after rendering the broken, failed-query or empty state."""
    if connect(uri) is None:
        return None
    flows = load_flows(uri)
    if flows is None:
        return None
    if flows.empty:
        empty_state(uri)
        return None
    return flows


def fmt_num(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, float)):
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.{digits}g}"
    return str(v)


def fmt_ratio(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3f}×"


def ratio_style(v: Any) -> str:
    """Green when better than the expert, red when worse, plain at parity or unknown."""
    if v is None or not isinstance(v, (int, float)) or math.isnan(v):
        return ""
    if v > 1 + PAR_TOL:
        return BETTER
    if v < 1 - PAR_TOL:
        return WORSE
    return ""


def styled(df: pd.DataFrame, ratio_cols: tuple[str, ...] = ("vs expert",), status_col: str | None = None):
    """A Styler colouring ratio columns (and failed statuses), with readable number formats."""
    df = df.copy()
    for col in df.columns:  # None in a numeric column would render as "None"
        if df[col].dtype == object and df[col].map(lambda v: v is None or isinstance(v, (int, float))
                                                   and not isinstance(v, bool)).all() and df[col].notna().any():
            df[col] = pd.to_numeric(df[col], errors="coerce")
    fmt: dict[str, Any] = {}
    for col in df.columns:
        if col in ratio_cols:
            fmt[col] = fmt_ratio
        elif pd.api.types.is_float_dtype(df[col]):
            fmt[col] = fmt_num
        elif df[col].dtype == object:
            fmt[col] = lambda v: "–" if v is None else v
    sty = df.style.format(fmt, na_rep="–")
    cols = [c for c in ratio_cols if c in df.columns]
    if cols:
        sty = sty.map(ratio_style, subset=cols)
    if status_col and status_col in df.columns:
        sty = sty.map(lambda s: WORSE if s == "failed" else "", subset=[status_col])
    return sty


def flow_label(row: pd.Series) -> str:
    start = row["start"].strftime("%Y-%m-%d %H:%M") if row.get("start") is not None else "?"
    failed = int(row["n_failed"]) if row.get("n_failed") is not None and not pd.isna(row["n_failed"]) else None
    bad = f" · {failed} failed" if failed else ""
    state = "" if row.get("status") == "FINISHED" else f" · {str(row.get('status', '')).lower()}"
    return f"{start} · {row['suite']} · {str(row['git_sha'])[:8] or 'no-sha'}{bad}{state} · {row['run_id'][:8]}"


def short_error(text: str | None, n: int = 200) -> str:
    """The last non-empty line of an error (the exception message)."""
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:n] if lines else ""


def table_height(n_rows: int, max_rows: int = 30) -> int:
    """Pixel height that shows ``n_rows`` rows of an ``st.dataframe`` without inner scrolling."""
    return 38 + 35 * min(max(n_rows, 1), max_rows)


def table(data, n_rows: int | None = None, max_rows: int = 30, **kw) -> None:
    """``st.dataframe`` with the dashboard's defaults (no index, full width, "–" for missing values)."""
    if n_rows is not None:
        kw.setdefault("height", table_height(n_rows, max_rows))
    kw.setdefault("hide_index", True)
    st.dataframe(data, width="stretch", placeholder="–", **kw)
