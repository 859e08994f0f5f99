"""First use of a fresh embedded store by several processes at once (the schema-creation race)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_OPEN_STORE = """
import pathlib, sys, time
barrier, me = pathlib.Path(sys.argv[1]), sys.argv[2]
from mlflow.tracking import MlflowClient  # the slow import, before the barrier
from flows.stores import mlflow_client
(barrier / me).touch()  # imports done: wait for the other three, then all open the store at once
deadline = time.time() + 120
while len(list(barrier.iterdir())) < 4 and time.time() < deadline:
    time.sleep(0.02)
c = mlflow_client(sys.argv[3])  # what flows.tracking.client() does for the embedded store
c.create_experiment(f"race-{me}")
print("ok", len(c.search_experiments()))
"""


@pytest.mark.slow  # four interpreters importing mlflow: ~15 s of CPU
def test_four_processes_open_a_fresh_sqlite_store(tmp_path):
    """Without the lock 3 of 4 fail (duplicate column / Alembic CommandError); with it all succeed."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_STORE, str(barrier), str(i), uri], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert out.split()[0] == "ok"
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlflow.db.lock").exists()


def test_sqlite_path():
    from flows.stores import sqlite_path

    assert sqlite_path("sqlite:////a/b.db") == Path("/a/b.db")
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("http://x") is None
