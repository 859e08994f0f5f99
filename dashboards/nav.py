"""Which pages the dashboard has — the one place to register a page.

``PAGES`` lists the fixed pages (file paths relative to ``dashboards/``); a system page is added
for every built-in system (``SYSTEM_PAGE_FILES``), every other registered system and every system
found in the store (a generic page). To add a page (e.g. the nightly history), add one
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

SYSTEM_PAGE_FILES: dict[str, str] = {
    "mapper": "pages/mapper.py",
    "precision": "pages/precision.py",
    "hag": "pages/hag.py",
    "layerwise": "pages/layerwise.py",
    "moe": "pages/moe.py",
}
"""Built-in systems: always get a page (it explains when the system is not registered or has no runs)."""


def system_names(stored: list[str] | None = None) -> list[str]:
    """Built-ins first, then other registered systems, then systems only present in the store."""
    from systems.core import SYSTEMS

    names = list(SYSTEM_PAGE_FILES)
    names += [s for s in SYSTEMS if s not in names]
    names += [s for s in (stored or []) if s not in names]
    return names
