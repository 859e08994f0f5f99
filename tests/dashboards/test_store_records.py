"""Records are self-describing: a flow run is graded by the comparison spec stored with it."""

from __future__ import annotations

import dataclasses

import pytest

from dashboards import store


def test_old_runs_keep_their_grading_when_the_spec_changes(dash_env, monkeypatch):
    """Changing a system's reference baseline or direction later must not change an old run's ratios."""
    from systems.core import SYSTEMS, Method

    c, _ = store.open_store(dash_env["uri"])
    flows = store.flows(c)
    f = flows[flows["run_id"] == dash_env["ids"]["toy"]].iloc[0]
    assert f["comparison_spec"], "the flow run must carry its comparison spec"
    jobs = store.jobs(c, f["run_id"], f["experiment_id"])
    before = {(r.workload, r.method): r.ratio for r in store.comparison(store.spec_for("toy", jobs, None,
                                                                                        f["comparison_spec"]), jobs)}
    live = SYSTEMS["toy"]
    changed = dataclasses.replace(live, direction="max", reference_baseline="fast",
                                  methods=(Method("expert"), Method("fast", "baseline"), *live.methods[2:]))
    monkeypatch.setitem(SYSTEMS, "toy", changed)
    spec = store.spec_for("toy", jobs, None, f["comparison_spec"])
    assert (spec.direction, spec.reference_baseline) == ("min", "expert")
    after = {(r.workload, r.method): r.ratio for r in store.comparison(spec, jobs)}
    assert after == before and after[("w1", "fast")] == pytest.approx(2.0)
    # without the stored spec (a run made before records carried it) the live spec would regrade it
    regraded = {(r.workload, r.method): r.ratio for r in store.comparison(store.spec_for("toy", jobs), jobs)}
    assert regraded != before


def test_job_runs_record_their_resolved_config(dash_env):
    import json

    c, _ = store.open_store(dash_env["uri"])
    flows = store.flows(c)
    f = flows[flows["run_id"] == dash_env["ids"]["hag"]].iloc[0]
    jobs = store.jobs(c, f["run_id"], f["experiment_id"])
    row = jobs[jobs["method"] == "hag-greedy"].iloc[0]
    assert row["p.config.name"] == "debug_cpu"
    assert row["p.config.search.capacity_frac"] == "0.25" and row["p.config.train.lr"] == "0.01"
    cfg = json.loads(store.artifact_text(c, row["run_id"], "config.json"))
    assert cfg["name"] == "debug_cpu" and cfg["config"]["train"]["kernel"] == "fused"
