import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def toy_system_env():
    """Register the toy system in this process and in Ray workers (they inherit the environment)."""
    os.environ["SYSLAB_EXTRA_SYSTEMS"] = "tests.flows.toy_system"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    from systems.core.registry import SYSTEMS

    SYSTEMS.reload()
    yield
    os.environ.pop("SYSLAB_EXTRA_SYSTEMS", None)
    SYSTEMS.reload()


def mlflow_runs(system: str, parent_id: str | None = None):
    """(parent, children) runs of the latest flow run of ``system`` in the current store."""
    from flows.tracking import client, experiment_name

    c = client()
    exp = c.get_experiment_by_name(experiment_name(system))
    runs = c.search_runs([exp.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("syslab.kind") == "flow"]
    parent = next(r for r in parents if r.info.run_id == parent_id) if parent_id else parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return c, parent, children
