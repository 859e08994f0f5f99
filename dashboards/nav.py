"""Which pages the dashboard has — the one place to register a page.

``PAGES`` lists the fixed pages (file paths relative to ``dashboards/``); a system page is added
for every registered system (discovered by ``systems.core.SYSTEMS``) and every system found only in the
store. A system page is generic (:mod:`dashboards.views.system`) and shows the field plots of
``dashboards/views/<name>.py`` when that module exists: no page file per system. To add a page (e.g. the nightly history), add one
``PageDef`` line to ``PAGES``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageDef:
    """One fixed page."""

    title: str
    """Title in the navigation menu."""
    path: str
    """Page script relative to ``dashboards/`` (it calls its view's ``render()``)."""
    section: str = "Results"
    """Navigation section."""
    icon: str | None = None
    """Material icon (``:material/...:``) or emoji."""
    default: bool = False
    """The page served at ``/``."""


PAGES: list[PageDef] = [
    PageDef("Overview", "pages/overview.py", icon=":material/leaderboard:", default=True),
    PageDef("Run browser", "pages/runs.py", icon=":material/manage_search:"),
    PageDef("Nightly", "pages/nightly.py", icon=":material/nightlight:"),
]

def system_names(stored: list[str] | None = None) -> list[str]:
    """Registered systems (registry order), then systems only present in the store."""
    from systems.core import SYSTEMS

    names = list(SYSTEMS)
    names += [s for s in (stored or []) if s not in names]
    return names
