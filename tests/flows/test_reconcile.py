"""Which RUNNING runs `syslab runs reconcile` closes (driver identity), and --resume argument checks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flows import reconcile as rc


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_driver_state():
    me = rc.driver_tags()
    assert rc.driver_state(me) == "alive"
    assert rc.driver_state({**me, rc.PID_TAG: str(_dead_pid())}) == "dead"
    assert rc.driver_state({**me, rc.STARTED_TAG: "12.0"}) == "dead"  # the pid was reused
    assert rc.driver_state({**me, rc.HOST_TAG: "elsewhere"}) == "unknown"
    assert rc.driver_state({}) == "unknown"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    from flows.tracking import client, ensure_experiment

    c = client()
    return c, ensure_experiment(c, "recon")


def _parent(c, exp, **tags):
    run = c.create_run(exp, run_name="p", tags={"syslab.kind": "flow", **tags})
    return run.info.run_id


def test_find_and_close_dangling_runs(store):
    c, exp = store
    me = rc.driver_tags()
    dead = _parent(c, exp, **{**me, rc.PID_TAG: str(_dead_pid())})
    child = c.create_run(exp, run_name="c", tags={"mlflow.parentRunId": dead, "syslab.kind": "job"}).info.run_id
    alive = _parent(c, exp, **me)
    other = _parent(c, exp, **{**me, rc.HOST_TAG: "elsewhere"})
    finished = _parent(c, exp, **{**me, rc.PID_TAG: str(_dead_pid())})
    c.set_terminated(finished, "FINISHED")

    found = {d.run_id: d for d in rc.find_dangling(c)}
    assert set(found) == {dead} and found[dead].open_children == [child]
    assert set(d.run_id for d in rc.find_dangling(c, older_than_s=0.0)) == {dead, other}
    assert set(d.run_id for d in rc.find_dangling(c, run_ids=[alive])) == {alive}

    out: list[str] = []
    closed = rc.reconcile(echo=out.append)
    assert [d.run_id for d in closed] == [dead]
    assert c.get_run(dead).info.status == "KILLED" and c.get_run(child).info.status == "KILLED"
    assert "driver died" in c.get_run(dead).data.tags["syslab.error"]
    assert c.get_run(alive).info.status == "RUNNING" and c.get_run(other).info.status == "RUNNING"
    assert rc.reconcile(echo=out.append) == [] and out[-1] == "no dangling runs"
    for rid in (alive, other):
        c.set_terminated(rid, "FINISHED")


def test_resume_arguments_come_from_the_parent(store, monkeypatch):
    c, exp = store
    from flows.tracking import experiment_name

    exp_id = c.create_experiment(experiment_name("toyr"))
    rid = _parent(c, exp_id, **{"syslab.system": "toyr", "syslab.suite": "faults"})
    for k, v in {"suite": "faults", "methods": '["expert", "crashy"]', "workloads": "all", "seeds": "2",
                 "overrides": '{"size": 4}'}.items():
        c.log_param(rid, k, v)
    c.set_terminated(rid, "KILLED")
    args = rc.resume_arguments("toyr", rid)
    assert args == {"suite": "faults", "methods": ["expert", "crashy"], "workloads": None, "seeds": 2,
                    "overrides": {"size": 4}}
    with pytest.raises(ValueError, match="not a parent run of system 'other'"):
        rc.resume_arguments("other", rid)
    live = _parent(c, exp_id, **{"syslab.system": "toyr", **rc.driver_tags()})
    with pytest.raises(ValueError, match="is still running"):
        rc.resume_arguments("toyr", live)
    c.set_terminated(live, "FINISHED")
    with pytest.raises(ValueError, match="no such MLflow run"):
        rc.resume_arguments("toyr", "0" * 32)


def test_cli_resume_takes_no_job_selection():
    from typer.testing import CliRunner

    from flows.cli.main import app

    r = CliRunner().invoke(app, ["run", "toy", "--resume", "abc", "--method", "fast"])
    assert r.exit_code == 2 and "--resume re-runs the job list" in r.output


def test_reconcile_cli_rejects_a_bad_duration():
    from typer.testing import CliRunner

    from flows.cli.main import app

    r = CliRunner().invoke(app, ["runs", "reconcile", "--older-than", "soon"])
    assert r.exit_code == 2 and "expected a positive duration" in r.output
