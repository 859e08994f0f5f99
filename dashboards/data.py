"""Streamlit caching over :mod:`dashboards.store`.

The MLflow client lives in ``st.cache_resource`` (one per tracking URI); every query lives in
``st.cache_data`` with a short TTL, keyed by the URI so two stores never share entries. The
sidebar's refresh button calls :func:`refresh`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import store

TTL_S = 30
"""Seconds a query result is reused before MLflow is asked again."""


@st.cache_resource(show_spinner=False, max_entries=8)
def _open(uri: str):
    client, _ = store.open_store(uri)
    return client


def client(uri: str):
    """The MLflow client for ``uri``; None while an embedded store does not exist yet.

    Raises :class:`dashboards.store.StoreError` (not cached) when the store cannot be read.
    """
    db = store._sqlite_path(uri)
    if db is not None and not db.exists():
        return None  # not cached: the store appears as soon as a flow runs
    c = _open(uri)
    if c is None:
        _open.clear()
    return c


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def flows(uri: str) -> pd.DataFrame:
    """All flow runs in the store, newest first."""
    c = client(uri)
    return store.flows(c) if c is not None else pd.DataFrame(columns=store.FLOW_COLUMNS)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=256)
def jobs(uri: str, parent_id: str, experiment_id: str) -> pd.DataFrame:
    """The job runs of one flow run."""
    return store.jobs(client(uri), parent_id, experiment_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=512)
def artifact_text(uri: str, run_id: str, path: str) -> str | None:
    """A text artifact of a run (None when absent)."""
    return store.artifact_text(client(uri), run_id, path)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=256)
def artifact_paths(uri: str, run_id: str, path: str = "artifacts") -> list[str]:
    """Files under a run's artifact folder."""
    try:
        return store.artifact_paths(client(uri), run_id, path)
    except Exception:  # noqa: BLE001 - no artifact folder
        return []


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=2048)
def curve(uri: str, run_id: str, name: str) -> list[tuple[int, float]]:
    """A per-step series (``curve.<name>``) of a job run."""
    return store.curve(client(uri), run_id, name)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=256)
def result_json(uri: str, run_id: str) -> dict | None:
    """The stored JobResult of a job run."""
    return store.result_json(client(uri), run_id)


def refresh() -> None:
    """Forget every cached query (and the client) so the next render re-reads MLflow."""
    st.cache_data.clear()
    _open.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=16)
def stored_systems(uri: str) -> list[str]:
    """Systems with a ``syslab/<system>`` experiment in the store ([] when none or unreadable)."""
    try:
        c = client(uri)
    except store.StoreError:
        return []
    return sorted(store.experiments(c)) if c is not None else []
