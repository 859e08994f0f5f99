"""The flow against real local MLflow and Prefect servers, started and stopped by the test."""

import os
import socket

import pytest

from tests.flows.conftest import mlflow_runs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.services
def test_flow_against_real_mlflow_and_prefect_servers(tmp_path, monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import services

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SYSLAB_MLFLOW_PORT", str(_free_port()))
    monkeypatch.setenv("SYSLAB_PREFECT_PORT", str(_free_port()))
    names = ("mlflow", "prefect")
    try:
        assert services.up(timeout=300, names=names), (tmp_path / "home" / "logs").glob("*")
        st = {s["name"]: s for s in services.status()}
        assert st["mlflow"]["healthy"] and st["prefect"]["healthy"] and st["ray"]["pid"] is None
        env = {k: v for n in names for k, v in st[n]["env"].items()}
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        with temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}):
            from flows.run import run_system

            summary = run_system("toy", "smoke", methods=["expert", "fast"])
            assert summary["tracking_uri"].startswith("http://127.0.0.1:")
            assert summary["n_ok"] == 4
            # the server has the runs
            _, parent, children = mlflow_runs("toy", summary["mlflow_run_id"])
            assert len(children) == 4
            # and Prefect's server has the flow run and its task runs
            from prefect import get_client

            with get_client(sync_client=True) as client:
                fr = client.read_flow_run(parent.data.tags["syslab.prefect_flow_run_id"])
                assert fr.state.is_completed()
                from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
                from prefect.client.schemas.sorting import TaskRunSort

                trs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])),
                                            limit=100, sort=TaskRunSort.EXPECTED_START_TIME_DESC)
                assert len([t for t in trs if t.state and t.state.is_completed()]) == 4
        pids = [st[n]["pid"] for n in names]
    finally:
        services.down(names=names)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
