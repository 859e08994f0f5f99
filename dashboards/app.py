"""Entrypoint of the results dashboard: ``make dashboard`` = ``streamlit run dashboards/app.py``.

Reads the MLflow store the flows write (``$MLFLOW_TRACKING_URI`` or the embedded
``sqlite:///$SYSLAB_HOME/mlflow.db``), never writes to it. Pages are registered in
:mod:`dashboards.nav` (one list); this file only builds the navigation and runs the page.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # `streamlit run dashboards/app.py` puts only dashboards/ on the path
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboards import data, nav, store  # noqa: E402
from dashboards.views import system as system_view  # noqa: E402


def _generic_page(name: str):
    def page() -> None:
        system_view.render(name)

    page.__name__ = f"system_{name}"
    return page


def build_pages() -> dict[str, list]:
    """``{section: [st.Page]}`` from :data:`dashboards.nav.PAGES` plus one generic page per system."""
    sections: dict[str, list] = {}
    for p in nav.PAGES:
        sections.setdefault(p.section, []).append(
            st.Page(p.path, title=p.title, icon=p.icon, default=p.default))
    stored = data.stored_systems(store.tracking_uri())
    for name in nav.system_names(stored):
        sections.setdefault("Systems", []).append(st.Page(_generic_page(name), title=name, url_path=name))
    return sections


st.set_page_config(page_title="syslab dashboard", page_icon=":material/monitoring:", layout="wide")
st.navigation(build_pages()).run()
