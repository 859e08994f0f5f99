"""dashboards.store: read-only MLflow access, the empty and broken states, the comparison."""

from __future__ import annotations

import csv
import io
import time

import pytest

from dashboards import store


def test_sqlite_path_parsing():
    assert str(store._sqlite_path("sqlite:////abs/dir/mlflow.db")) == "/abs/dir/mlflow.db"
    assert str(store._sqlite_path("sqlite:///rel.db")) == "rel.db"
    assert store._sqlite_path("sqlite:///:memory:") is None
    assert store._sqlite_path("http://host:5000") is None


def test_missing_embedded_store_is_empty_and_not_created(tmp_path):
    db = tmp_path / "mlflow.db"
    client, info = store.open_store(f"sqlite:///{db}")
    assert client is None and info.exists is False
    assert not db.exists(), "the dashboard must not create the store"


def test_unreachable_server_is_a_clear_error_fast():
    t0 = time.perf_counter()
    with pytest.raises(store.StoreError, match=r"cannot reach the MLflow tracking server at http://127\.0\.0\.1:1"):
        store.open_store("http://127.0.0.1:1", timeout=2)
    assert time.perf_counter() - t0 < 15


def test_flows_and_jobs_of_seeded_store(seeded_store):
    c, info = store.open_store(seeded_store["uri"])
    assert info.exists
    flows = store.flows(c)
    assert set(seeded_store["ids"]) <= set(flows["system"])
    assert list(flows["start"]) == sorted(flows["start"], reverse=True)
    toy = flows[flows["run_id"] == seeded_store["ids"]["toy"]].iloc[0]
    assert toy["n_failed"] == 2 and toy["suite"] == "smoke" and toy["hardware"]
    jobs = store.jobs(c, toy["run_id"], toy["experiment_id"])
    assert len(jobs) == 6
    failed = jobs[jobs["status"] == "failed"]
    assert set(failed["method"]) == {"boom"}
    assert all("toy job exploded on purpose" in e for e in failed["error"])
    assert store.curve_names(jobs) == ["loss"]
    ok = jobs[jobs["status"] == "ok"].iloc[0]
    assert [v for _, v in store.curve(c, ok["run_id"], "loss")] == [3.0, 2.0, 1.0]
    assert store.artifact_text(c, ok["run_id"], "artifacts/note.txt") == "hello"
    assert store.artifact_text(c, ok["run_id"], "artifacts/absent.txt") is None


def test_comparison_matches_what_the_flow_published(seeded_store):
    """The dashboard recomputes the comparison with systems.core.compare; it must equal the flow's CSV."""
    from systems.core import SYSTEMS

    c, _ = store.open_store(seeded_store["uri"])
    flows = store.flows(c)
    checked = 0
    for system, rid in seeded_store["ids"].items():
        f = flows[flows["run_id"] == rid].iloc[0]
        jobs = store.jobs(c, rid, f["experiment_id"])
        text = store.artifact_text(c, rid, "comparison/comparison.csv")
        spec = SYSTEMS[system] if system in SYSTEMS else store.spec_for(system, jobs, text)
        rows = {(r.workload, r.method): r for r in store.comparison(spec, jobs)}
        for rec in csv.DictReader(io.StringIO(text)):
            r = rows[(rec["workload"], rec["method"])]
            if rec["ratio"]:
                assert r.ratio == pytest.approx(float(rec["ratio"]), rel=1e-9)
                checked += 1
            else:
                assert r.ratio is None
    assert checked >= 4


def test_toy_ratios_best_rows_and_geomean(seeded_store):
    from tests.flows.toy_system import SPEC

    c, _ = store.open_store(seeded_store["uri"])
    flows = store.flows(c)
    f = flows[flows["run_id"] == seeded_store["ids"]["toy"]].iloc[0]
    rows = store.comparison(SPEC, store.jobs(c, f["run_id"], f["experiment_id"]))
    best = store.best_rows(SPEC, rows)
    assert [(r.workload, r.method) for r in best] == [("w1", "fast"), ("w2", "fast")]
    assert all(r.ratio == pytest.approx(2.0) for r in best)  # expert 2.0 vs fast 1.0, lower is better
    assert store.best_geomean(rows) == ("fast", pytest.approx(2.0))


def test_unregistered_system_spec_is_rebuilt_from_the_stored_comparison(seeded_store):
    c, _ = store.open_store(seeded_store["uri"])
    flows = store.flows(c)
    f = flows[flows["run_id"] == seeded_store["ids"]["toy"]].iloc[0]
    jobs = store.jobs(c, f["run_id"], f["experiment_id"])
    spec = store.spec_for("not-a-system", jobs, store.artifact_text(c, f["run_id"], "comparison/comparison.csv"))
    assert (spec.primary_metric, spec.direction, spec.baselines) == ("time_s", "min", ("expert",))
    with pytest.raises(store.StoreError, match="not registered"):
        store.spec_for("not-a-system", jobs, None)


def test_missing_file_store_is_empty(tmp_path):
    client, info = store.open_store(str(tmp_path / "mlruns"))
    assert client is None and not info.exists
    assert not (tmp_path / "mlruns").exists()
