"""The dashboard over a store written by the real Prefect + Ray flow (slow: flow start-up)."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import app_test, page_text


@pytest.mark.slow
def test_dashboard_reads_a_real_flow_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", "tests.flows.toy_system")
    from systems.core import SYSTEMS

    SYSTEMS.reload()
    try:
        from flows.run import run_system

        out = run_system("toy", "faults", methods=["expert", "fast", "boom"])
        assert out["n_failed"] == 2
        at = app_test().run()
        assert not at.exception
        df = at.dataframe[0].value
        toy = df[df["system"] == "toy"].set_index("workload")
        assert toy.loc["GEOMEAN", "vs expert"] == pytest.approx(out["geomeans"]["fast"])
        at.query_params["flow"] = out["mlflow_run_id"]
        at.switch_page("pages/runs.py").run()
        assert not at.exception
        assert "2 of 6 jobs failed" in page_text(at) and "toy job exploded on purpose" in page_text(at)
    finally:
        monkeypatch.undo()
        SYSTEMS.reload()
