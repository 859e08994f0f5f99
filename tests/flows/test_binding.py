"""What listens where: the embedded Ray and the `syslab services` Ray head bind only 127.0.0.1.

Each test lists the listening TCP sockets of every process it started (psutil) and checks
their addresses. Without the loopback switch (flows.ray_runner.loopback_ray) Ray's GCS, raylet,
object manager and agents listened on all interfaces or on the machine's outward address.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]

_EMBEDDED = """
import json, os, psutil, ray
from flows.ray_runner import init_shared_ray
init_shared_ray()
@ray.remote
def f():
    return os.getpid()
ray.get([f.remote() for _ in range(2)])
procs = [psutil.Process()] + psutil.Process().children(recursive=True)
socks = sorted({(p.name(), c.laddr.ip, c.laddr.port) for p in procs for c in p.net_connections("inet")
                if c.status == psutil.CONN_LISTEN})
print(json.dumps({"node_ip": ray.util.get_node_ip_address(), "listen": socks}))
ray.shutdown()
"""


def _loopback(ip: str) -> bool:
    ip = ip.split("%")[0]
    if ip.startswith("::ffff:"):
        ip = ip[len("::ffff:"):]
    return ipaddress.ip_address(ip).is_loopback


@pytest.mark.slow
def test_embedded_ray_listens_on_loopback_only(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "SYSLAB_HOME": str(tmp_path), "SYSLAB_RAY_NUM_CPUS": "1",
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    r = subprocess.run([sys.executable, "-c", _EMBEDDED], env=env, cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["node_ip"] == "127.0.0.1"
    assert len(out["listen"]) >= 3, out  # GCS, raylet, object manager, agents ...
    exposed = [s for s in out["listen"] if not _loopback(s[1])]
    assert not exposed, f"listening beyond loopback: {exposed}"


@pytest.mark.slow
def test_services_ray_head_listens_on_loopback_only(tmp_path, monkeypatch):
    from flows import services

    def free() -> int:
        import socket

        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                p = s.getsockname()[1]
            if not 10002 <= p <= 19999:
                return p

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    monkeypatch.setenv("SYSLAB_RAY_PORT", str(free()))
    monkeypatch.setenv("SYSLAB_RAY_CLIENT_PORT", str(free()))
    try:
        assert services.up(timeout=240, names=("ray",)), (tmp_path / "logs" / "ray.log").read_text()[-3000:]
        pgid = services.running_pid("ray")
        wanted = {int(os.environ["SYSLAB_RAY_PORT"]), int(os.environ["SYSLAB_RAY_CLIENT_PORT"])}
        deadline = time.monotonic() + 120
        while True:  # the Ray Client server comes up a little after the GCS
            procs = [p for p in psutil.process_iter() if _pgid(p.pid) == pgid]
            procs += [c for p in list(procs) for c in p.children(recursive=True)]
            socks = {(p.name(), c.laddr.ip, c.laddr.port) for p in set(procs) for c in _listening(p)}
            if wanted <= {port for _, _, port in socks} or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert wanted <= {port for _, _, port in socks}, socks
        exposed = [s for s in socks if not _loopback(s[1])]
        assert not exposed, f"listening beyond loopback: {exposed}"
    finally:
        services.down(names=("ray",))


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _listening(p: psutil.Process) -> list:
    try:
        return [c for c in p.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
