"""The Streamlit app under ``streamlit.testing.v1.AppTest``: every page, the empty and broken states."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from dashboards import ui
from tests.dashboards.conftest import app_test, page_text, system_page

BUILTIN = ["mapper", "precision", "hag", "layerwise", "moe"]


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]
    assert "Traceback" not in page_text(at, code=False)


def _charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def _store_counts(home) -> dict[str, int]:
    con = sqlite3.connect(home / "mlflow.db")
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("experiments", "runs", "metrics", "params", "tags")}
    finally:
        con.close()


def test_overview_one_row_per_system_workload(dash_env):
    at = app_test().run()
    _no_exception(at)
    df = at.dataframe[0].value
    seeded = set(dash_env["ids"])
    assert seeded <= set(df["system"])
    toy = df[df["system"] == "toy"].set_index("workload")
    assert list(toy.index) == ["w1", "w2", "GEOMEAN"]
    assert toy.loc["w1", "best method"] == "fast" and toy.loc["w1", "expert"] == "expert"
    assert toy.loc["w1", "vs expert"] == pytest.approx(2.0)
    assert toy.loc["GEOMEAN", "vs expert"] == pytest.approx(2.0)
    assert toy.loc["w1", "git sha"] and toy.loc["w1", "hardware"] and toy.loc["w1", "run date"]
    for s in seeded:
        assert (df[df["system"] == s]["workload"] == "GEOMEAN").sum() == 1
    # the latest toy run has failed jobs: the overview says so
    assert "toy" in " ".join(w.value for w in at.warning)
    assert any(m.label.startswith("toy · geomean") for m in at.metric)


def test_ratio_colouring_is_direction_aware():
    assert ui.ratio_style(2.0) == ui.BETTER
    assert ui.ratio_style(0.5) == ui.WORSE
    assert ui.ratio_style(1.001) == "" and ui.ratio_style(None) == "" and ui.ratio_style(float("nan")) == ""


def test_navigation_has_a_page_per_registered_system(dash_env):
    """System pages are discovered from the registry (no hard-coded list, no page file per system)."""
    from dashboards import nav
    from systems.core import SYSTEMS

    names = nav.system_names(["only-in-store"])
    assert names[:len(SYSTEMS)] == list(SYSTEMS) and "toy" in names and names[-1] == "only-in-store"
    at = app_test().run()
    _no_exception(at)


@pytest.mark.parametrize("system", BUILTIN + ["toy"])
def test_system_page(dash_env, system):
    from systems.core import SYSTEMS

    at = system_page(system).run()
    _no_exception(at)
    text = page_text(at)
    if system not in dash_env["ids"]:
        if system not in SYSTEMS:
            assert "not registered" in text or "failed to import" in text
        assert f"make run-flow name={system}" in text
        return
    # a seeded system: comparison table, ratio chart, field plots rendered without errors
    assert at.dataframe, "comparison table missing"
    charts = _charts(at)
    assert charts, "no chart rendered"
    assert not [e.value for e in at.error if "plots failed" in e.value]
    expected = {
        "hag": ["Aggregation and transfer reductions", "Capacity sweep", "Epoch time"],
        "layerwise": ["Throughput vs device count", "Chosen parallelization per layer"],
        "mapper": ["Best-so-far makespan", "Speedup over the expert", "Winning mapper", "lower bound"],
        "moe": ["Per method", "Over training"],
        "precision": ["Share–accuracy trade-off", "Headline"],
        "toy": [],
    }[system]
    subheaders = " | ".join(h.value for h in at.subheader)
    for e in expected:
        assert e in subheaders, (e, subheaders)


def test_hag_page_plots_real_metrics(dash_env):
    if "hag" not in dash_env["ids"]:
        pytest.skip("systems.hag is not registered in this checkout")
    at = system_page("hag").run()
    _no_exception(at)
    titles = [c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at)]
    assert any("fewer binary aggregations" in t for t in titles)
    assert any("capacity" in t.lower() for t in titles)
    assert any("epoch time" in t.lower() for t in titles)


def test_layerwise_strategy_table(dash_env):
    if "layerwise" not in dash_env["ids"]:
        pytest.skip("systems.layerwise is not registered in this checkout")
    at = system_page("layerwise").run()
    _no_exception(at)
    tables = [d.value for d in at.dataframe if d.value.index.name == "layer"]
    assert tables and {"layerwise-dp", "data-parallel"} <= set(tables[0].columns)


def test_generic_page_for_a_system_without_specialised_view(dash_env):
    from streamlit.testing.v1 import AppTest

    def page():
        from dashboards.views.system import render

        render("toy")

    at = AppTest.from_function(page, default_timeout=120).run()
    _no_exception(at)
    assert at.dataframe and _charts(at)
    text = page_text(at)
    assert "1 of 3 jobs failed" not in text  # 2 of 6 in the latest toy flow
    assert "2 of 6 jobs failed" in text
    assert "toy job exploded on purpose" in text
    # the toy store has two flow runs: the history tab plots geomean over runs
    assert any("over flow runs" in c.get("layout", {}).get("title", {}).get("text", "") for c in _charts(at))


def test_run_browser_filters_and_opens_a_failed_flow(dash_env):
    at = app_test().run()
    at.switch_page("pages/runs.py").run()
    _no_exception(at)
    at.multiselect(key="rb_system").set_value(["toy"]).run()
    _no_exception(at)
    text = page_text(at)
    assert "2 of " in text  # two toy flow runs among all
    assert "2 of 6 jobs failed" in text
    assert "toy job exploded on purpose" in text
    jobs = [d.value for d in at.dataframe if "status" in d.value.columns and "method" in d.value.columns]
    assert jobs and set(jobs[0].loc[jobs[0]["method"] == "boom", "status"]) == {"failed"}
    # open the older (all ok) toy flow
    at.selectbox(key="rb_open").set_value(1).run()
    _no_exception(at)
    assert "All 4 jobs finished ok" in page_text(at)


def test_run_browser_deep_link(dash_env):
    at = app_test()
    at.query_params["flow"] = dash_env["ids"]["toy"]
    at.run()
    at.switch_page("pages/runs.py").run()
    _no_exception(at)
    assert "2 of 6 jobs failed" in page_text(at)


def test_refresh_button(dash_env):
    at = app_test().run()
    at.button(key="refresh").click().run()
    _no_exception(at)
    assert at.dataframe


def test_dashboard_never_writes(dash_env):
    before = _store_counts(dash_env["home"])
    for system in BUILTIN:
        _no_exception(system_page(system).run())
    at = app_test().run()
    at.switch_page("pages/runs.py").run()
    _no_exception(at)
    assert _store_counts(dash_env["home"]) == before


@pytest.mark.parametrize("page", [None, "pages/runs.py", "hag"])
def test_empty_store_says_which_flow_to_run(tmp_path, monkeypatch, page):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    if page == "hag":
        at = system_page("hag").run()
    else:
        at = app_test().run()
        if page:
            at.switch_page(page).run()
    _no_exception(at)
    text = page_text(at)
    assert "No flow runs" in text and "make run-flow name=" in text
    assert not (tmp_path / "mlflow.db").exists()


def test_store_with_no_syslab_runs_is_empty(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()  # creates an empty store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    at = app_test().run()
    _no_exception(at)
    assert "make run-flow name=" in page_text(at)


def test_unreachable_tracking_server_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    t0 = time.perf_counter()
    at = app_test().run()
    _no_exception(at)
    errors = " ".join(e.value for e in at.error)
    assert "Cannot read the MLflow tracking store" in errors and "http://127.0.0.1:1" in errors
    at = system_page("moe").run()
    _no_exception(at)
    assert "Cannot read the MLflow tracking store" in " ".join(e.value for e in at.error)
    assert time.perf_counter() - t0 < 60


@pytest.mark.parametrize("system", ["mapper", "precision", "hag", "layerwise", "moe"])
def test_field_plots_degrade_to_a_note_when_metrics_are_missing(dash_env, system):
    """Each system's field plots on a run that recorded none of its metrics (the toy flow): notes, no errors."""
    from streamlit.testing.v1 import AppTest

    def page(system: str, uri: str) -> None:
        import importlib

        from dashboards import data
        from dashboards.views import flow as fv

        flows = data.flows(uri)
        f = flows[(flows["system"] == "toy") & (flows["n_failed"] > 0)].iloc[0]
        ctx = fv.context(uri, f)
        importlib.import_module(f"dashboards.views.{system}").render(ctx)

    at = AppTest.from_function(page, default_timeout=120, kwargs={"system": system, "uri": dash_env["uri"]}).run()
    _no_exception(at)
    assert not at.error
    notes = " ".join(i.value for i in at.info)
    assert "not available for this run" in notes or "No optimizer" in notes or "no " in notes.lower(), notes
