"""End to end: ``make dashboard`` in a real headless Chromium, click through to a system page."""

from __future__ import annotations

import time

import pytest

from tests.dashboards.browser import Browser, dashboard_server, find_chromium, store_env

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="chromium is not installed (Debian: apt-get install -y chromium; "
                                       ".ci/run installs it)")


def test_click_through_to_a_system_page(seeded_store, tmp_path):
    ids = seeded_store["ids"]
    system = next((s for s in ("hag", "layerwise", "mapper", "moe", "precision") if s in ids), "toy")
    t0 = time.perf_counter()
    with dashboard_server(store_env(seeded_store["home"]), log=tmp_path / "streamlit.log") as base, \
            Browser() as b:
        b.goto(base + "/")
        b.wait_for("optimizers vs expert baselines", "· geomean", timeout=150)
        assert not b.exceptions()
        b.screenshot(tmp_path / "overview.png")
        # a real click on the system's entry in the sidebar navigation
        b.click('[data-testid="stSidebarNav"] a', system)
        b.wait_for("Versus expert", "Flow run", timeout=150)
        assert b.url().rstrip("/").endswith(f"/{system}")
        b.click('[role="tab"]', "Field plots")
        time.sleep(1.0)
        b.wait_for("Field plots", timeout=60)
        shot = b.screenshot(tmp_path / f"{system}.png")
        assert shot.stat().st_size > 20_000
        assert b.js("document.querySelectorAll('.js-plotly-plot, [data-testid=\"stPlotlyChart\"]').length") > 0
        excs = b.exceptions()
        assert not excs, excs
        body = b.text()
        assert "Traceback" not in body, body[:3000]
        assert "plots failed" not in body
    assert time.perf_counter() - t0 < 400
