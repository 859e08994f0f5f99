"""Fixtures: one MLflow store seeded once per session with recorded real results (see ``seed.py``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
"""The dashboard entrypoint."""

_KEYS = ("SYSLAB_HOME", "MLFLOW_TRACKING_URI", "SYSLAB_EXTRA_SYSTEMS")


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory) -> dict:
    """``{"home", "uri", "ids", "seconds"}`` of a store with toy (incl. a failed job) + every registered system."""
    from tests.dashboards.seed import seed, uri_for

    saved = {k: os.environ.get(k) for k in _KEYS}
    home = tmp_path_factory.mktemp("dash-store")
    t0 = time.perf_counter()
    try:
        ids = seed(home, log=lambda *_: None)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"home": home, "uri": uri_for(home), "ids": ids, "seconds": time.perf_counter() - t0}


@pytest.fixture
def dash_env(seeded_store, monkeypatch):
    """Environment of a dashboard process reading the seeded store, toy system registered."""
    from systems.core import SYSTEMS

    monkeypatch.setenv("MLFLOW_TRACKING_URI", seeded_store["uri"])
    monkeypatch.setenv("SYSLAB_HOME", str(seeded_store["home"]))
    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", "tests.flows.toy_system")
    SYSTEMS.reload()
    yield seeded_store
    monkeypatch.undo()
    SYSTEMS.reload()


def app_test(timeout: float = 120):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    return at


def system_page(system: str, timeout: float = 120):
    """An AppTest of ``system``'s page (the generic page every system gets; no page file per system)."""
    from streamlit.testing.v1 import AppTest

    def page(system: str) -> None:
        from dashboards.views.system import render

        render(system)

    return AppTest.from_function(page, default_timeout=timeout, kwargs={"system": system})


def page_text(at, code: bool = True) -> str:
    """Every text-bearing element of the rendered page, joined (``code=False``: without code blocks,
    which legitimately hold failed jobs' tracebacks)."""
    parts = []
    kinds = ["title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
             "metric", "expander"] + (["code"] if code else [])
    for kind in kinds:
        for el in getattr(at, kind, []):
            for attr in ("value", "label", "body"):
                v = getattr(el, attr, None)
                if isinstance(v, str):
                    parts.append(v)
    return "\n".join(parts)
