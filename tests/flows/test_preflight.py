"""Preflight: every environment fault fails fast with one located `error:` line (exit 2)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flows import preflight as pf
from flows.preflight import SetupError

REPO = Path(__file__).resolve().parents[2]
SYSLAB = str(Path(sys.executable).parent / "syslab")


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mute_server():
    """A TCP server on 127.0.0.1 that accepts connections and never says anything."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    conns, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


# --- settings ------------------------------------------------------------------------------------
@pytest.mark.parametrize("var, value, needle", [
    ("SYSLAB_RAY_NUM_CPUS", "0", "needs at least one CPU"),
    ("SYSLAB_RAY_NUM_CPUS", "two", "not an integer"),
    ("SYSLAB_RAY_MAX_RETRIES", "abc", "not an integer"),
    ("SYSLAB_RAY_MAX_RETRIES", "-2", "out of range"),
    ("SYSLAB_RAY_NUM_GPUS", "-1", "out of range"),
    ("SYSLAB_RAY_LOG_TO_DRIVER", "maybe", "not a flag"),
    ("SYSLAB_PREFLIGHT_TIMEOUT_S", "0", "out of range"),
    ("SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S", "soon", "not a number"),
    ("SYSLAB_MLFLOW_PORT", "80", "out of range"),
])
def test_bad_settings_name_the_variable(monkeypatch, var, value, needle):
    monkeypatch.setenv(var, value)
    with pytest.raises(SetupError) as ei:
        pf.check_settings()
    msg = str(ei.value)
    assert msg.startswith(f"{var}={value!r}: ") and needle in msg and "Fix:" in msg and "\n" not in msg


def test_settings_defaults_and_values(monkeypatch):
    for var in pf.SETTINGS:
        monkeypatch.delenv(var, raising=False)
    assert pf.ray_num_cpus() == (os.cpu_count() or 1) and pf.ray_max_retries() == 2
    monkeypatch.setenv("SYSLAB_RAY_NUM_CPUS", " 3 ")
    monkeypatch.setenv("SYSLAB_RAY_LOG_TO_DRIVER", "true")
    assert pf.ray_num_cpus() == 3 and pf.env_flag("SYSLAB_RAY_LOG_TO_DRIVER") is True
    from flows.ray_runner import local_init_kwargs, remote_options_for

    assert local_init_kwargs()["num_cpus"] == 3 and local_init_kwargs()["log_to_driver"] is True
    monkeypatch.setenv("SYSLAB_RAY_MAX_RETRIES", "0")
    assert remote_options_for(False, 0)["max_retries"] == 0


def test_ray_port_inside_the_worker_port_range_is_refused(monkeypatch):
    monkeypatch.setenv("SYSLAB_RAY_PORT", "12000")
    with pytest.raises(SetupError) as ei:
        pf.check_ports()
    assert "SYSLAB_RAY_PORT='12000'" in str(ei.value) and "10002-19999" in str(ei.value)
    monkeypatch.setenv("SYSLAB_RAY_PORT", "6390")
    monkeypatch.setenv("SYSLAB_PREFECT_PORT", "6390")
    with pytest.raises(SetupError, match="also SYSLAB_PREFECT_PORT|also SYSLAB_RAY_PORT"):
        pf.check_ports()


def test_services_up_refuses_bad_ports_before_starting_anything(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from flows.cli.main import app

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    r = CliRunner().invoke(app, ["services", "up"], env={"SYSLAB_MLFLOW_PORT": "15000"})
    assert r.exit_code == 2 and "error: SYSLAB_MLFLOW_PORT='15000'" in r.output
    assert not (tmp_path / "pids").exists() or not list((tmp_path / "pids").iterdir())


# --- Ray -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("addr, kind, host, port", [
    ("", "embedded", "", 0), ("local", "embedded", "", 0), ("10.0.0.5:6379", "gcs", "10.0.0.5", 6379),
    ("head", "gcs", "head", 6379), ("ray://head", "client", "head", 10001),
    ("ray://head:10002", "client", "head", 10002), ("[::1]:7000", "gcs", "::1", 7000),
])
def test_ray_target_parsing(addr, kind, host, port):
    t = pf.ray_target(addr)
    assert (t.kind, t.host, t.port) == (kind, host, port)


@pytest.mark.parametrize("addr", ["http://head:6379", "head:port", "ray://:10001", "head:70000"])
def test_ray_target_rejects_malformed_addresses(addr):
    with pytest.raises(SetupError, match="RAY_ADDRESS"):
        pf.ray_target(addr)


def test_loopback_detection():
    assert pf.ray_target("").loopback and pf.ray_target("127.0.0.1:6379").loopback
    assert pf.ray_target("localhost:6379").loopback and pf.ray_target("ray://[::1]:10001").loopback
    assert not pf.ray_target("10.1.2.3:6379").loopback


def test_unreachable_ray_fails_in_a_second(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    t0 = time.perf_counter()
    with pytest.raises(SetupError) as ei:
        pf.check_ray(timeout=1)
    assert time.perf_counter() - t0 < 5
    assert "connection refused" in str(ei.value) and str(ei.value).startswith("RAY_ADDRESS='127.0.0.1:")


def test_a_port_that_is_not_a_ray_gcs_is_refused(monkeypatch, mute_server):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{mute_server}")
    t0 = time.perf_counter()
    with pytest.raises(SetupError) as ei:
        pf.check_ray(timeout=1)
    assert time.perf_counter() - t0 < 10
    assert "Ray GCS" in str(ei.value)


def test_a_mute_ray_client_port_is_refused(monkeypatch, mute_server):
    monkeypatch.setenv("RAY_ADDRESS", f"ray://127.0.0.1:{mute_server}")
    with pytest.raises(SetupError, match="no Ray Client server answers"):
        pf.check_ray(timeout=1)


# --- MLflow --------------------------------------------------------------------------------------
def test_unreachable_mlflow_server(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(SetupError) as ei:
        pf.check_mlflow(timeout=1, tries=2)
    assert "no MLflow server answers" in str(ei.value) and "2 tries" in str(ei.value)


@pytest.mark.parametrize("uri, needle", [
    ("file:///tmp/mlruns", "file store"), ("/tmp/mlruns", "file store"),
    ("postgresql://u@127.0.0.1:5432/mlflow", "driver 'psycopg' is not installed"),
    ("gopher://x", "unknown scheme"), ("sqlite:///:memory:", "keeps nothing"),
])
def test_mlflow_uri_shapes(monkeypatch, uri, needle):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(SetupError, match=needle):
        pf.check_mlflow(timeout=1, tries=1)


def test_mlflow_password_is_masked(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql+psycopg2://u:s3cret@127.0.0.1:{_closed_port()}/m")
    with pytest.raises(SetupError) as ei:
        pf.check_mlflow(timeout=1, tries=1)
    assert "s3cret" not in str(ei.value) and "connection refused" in str(ei.value)


def test_unwritable_sqlite_store(monkeypatch, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{ro}/mlflow.db")
    try:
        if os.access(ro, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user that can write anywhere")
        with pytest.raises(SetupError, match="not writable"):
            pf.check_mlflow()
    finally:
        ro.chmod(0o700)


def test_embedded_mlflow_store_is_fine(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert "SQLite store" in pf.check_mlflow()


# --- Prefect and the topology --------------------------------------------------------------------
def test_unreachable_or_malformed_prefect_url():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{_closed_port()}/api"}):
        with pytest.raises(SetupError, match="no Prefect server answers"):
            pf.check_prefect(timeout=1, tries=1)
    with temporary_settings(updates={PREFECT_API_URL: "nonsense"}):
        with pytest.raises(SetupError, match="not an http"):
            pf.check_prefect(timeout=1, tries=1)
    with pytest.raises(SetupError, match="schedules need a running Prefect server"):
        pf.check_prefect(require_server=True)


@pytest.mark.parametrize("addr, url, ok", [
    ("", None, True), ("127.0.0.1:6379", None, True),
    ("10.1.2.3:6379", None, False), ("ray://10.1.2.3:10001", "http://127.0.0.1:4200/api", False),
    ("ray://10.1.2.3:10001", "http://prefect.internal:4200/api", True),
])
def test_remote_ray_needs_a_reachable_prefect(addr, url, ok):
    target = pf.ray_target(addr)
    if ok:
        pf.check_topology(target, url)
    else:
        with pytest.raises(SetupError) as ei:
            pf.check_topology(target, url)
        assert str(ei.value).startswith("PREFECT_API_URL") and "Fix: run a Prefect server every Ray node" in str(ei.value)


def test_connected_cluster_with_remote_nodes_needs_a_reachable_prefect():
    pf.check_cluster_nodes(["127.0.0.1"], None)
    pf.check_cluster_nodes(["10.9.9.9"], "http://prefect.internal:4200/api")
    with pytest.raises(SetupError, match="nodes on other machines"):
        pf.check_cluster_nodes(["127.0.0.1", "10.9.9.9"], "http://127.0.0.1:4200/api")


# --- end to end: the CLI, timed ------------------------------------------------------------------
FAULTS = [
    ("RAY_ADDRESS", lambda: f"127.0.0.1:{_closed_port()}"),
    ("MLFLOW_TRACKING_URI", lambda: f"http://127.0.0.1:{_closed_port()}"),
    ("PREFECT_API_URL", lambda: f"http://127.0.0.1:{_closed_port()}/api"),
    ("SYSLAB_RAY_NUM_CPUS", lambda: "0"),
]


@pytest.mark.parametrize("var, value", FAULTS, ids=[f[0] for f in FAULTS])
def test_cli_fails_fast_with_one_located_line(tmp_path, var, value):
    """`syslab run` with one bad variable: exit 2 within 20 s, one `error:` line naming it, no traceback."""
    env = {**os.environ, "SYSLAB_HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect"),
           "PYTHONPATH": str(REPO), "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system", var: value()}
    t0 = time.perf_counter()
    r = subprocess.run([SYSLAB, "run", "toy", "-m", "fast", "-w", "w1"], env=env, cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    wall = time.perf_counter() - t0
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert r.returncode == 2, r.stdout[-1000:] + r.stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(f"error: {var}="), r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "mlflow.db").exists()
    assert wall < 20, f"{var}: {wall:.1f}s"
