"""Local services on 127.0.0.1: an MLflow server, a Prefect server and a Ray head.

``syslab services up`` starts each in its own process group with a pid file under
``$SYSLAB_HOME/pids`` and logs under ``$SYSLAB_HOME/logs``; ``down`` stops exactly those process
groups; ``status`` reports them and prints the environment that points flows at them.

Everything binds 127.0.0.1. The Ray head runs in Ray's single-machine mode
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, see :func:`flows.ray_runner.loopback_ray`): without it
Ray replaces ``--node-ip-address 127.0.0.1`` by the machine's outward address and its GCS,
raylet and agents listen on every interface. The price: no other machine can join this head
(use ``ray start`` by hand, or clusters/, for a multi-node cluster). Ports come from
``SYSLAB_{MLFLOW,PREFECT,RAY,RAY_CLIENT}_PORT`` and are checked by
:func:`flows.preflight.check_ports` (distinct, outside Ray's worker-port range 10002-19999).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from systems.core.env import syslab_home

HOST = "127.0.0.1"


def _bin(name: str) -> str:
    """The executable from this interpreter's venv (so servers and workers run syslab's pins)."""
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else (shutil.which(name) or name)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return 200 <= r.status < 300
    except Exception:  # noqa: BLE001
        return False


def _tcp_ok(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((HOST, port)) == 0


@dataclass
class Service:
    name: str
    port: int
    command: Callable[[Path], list[str]]
    healthy: Callable[[], bool]
    env: dict[str, str]
    """What a user exports to point flows at this service."""
    extra_env: Callable[[Path], dict[str, str]] = lambda home: {}


def services() -> list[Service]:
    """The three services with their ports (raises :class:`flows.preflight.SetupError` on bad ports)."""
    from flows.preflight import check_ports

    ports = check_ports()
    mp, pp = ports["SYSLAB_MLFLOW_PORT"], ports["SYSLAB_PREFECT_PORT"]
    rp, cp = ports["SYSLAB_RAY_PORT"], ports["SYSLAB_RAY_CLIENT_PORT"]
    return [
        Service("mlflow", mp,
                lambda h: [_bin("mlflow"), "server", "--host", HOST, "--port", str(mp),
                           "--backend-store-uri", f"sqlite:///{h / 'mlflow.db'}",
                           "--artifacts-destination", str(h / "artifacts"), "--workers", "1"],
                lambda: _http_ok(f"http://{HOST}:{mp}/health"),
                {"MLFLOW_TRACKING_URI": f"http://{HOST}:{mp}"}),
        Service("prefect", pp,
                lambda h: [_bin("prefect"), "server", "start", "--host", HOST, "--port", str(pp)],
                lambda: _http_ok(f"http://{HOST}:{pp}/api/health"),
                {"PREFECT_API_URL": f"http://{HOST}:{pp}/api"},
                lambda h: {"PREFECT_HOME": str(h / "prefect"),
                           "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                           "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{h / 'prefect.db'}"}),
        Service("ray", rp,
                lambda h: [_bin("ray"), "start", "--head", "--block", "--node-ip-address", HOST,
                           "--port", str(rp), "--ray-client-server-port", str(cp),
                           "--num-cpus", str(os.cpu_count() or 1), "--dashboard-host", HOST,
                           "--include-dashboard", "false", "--disable-usage-stats"],
                lambda: _tcp_ok(rp),
                # Token auth (Ray 2.60; the token is ~/.ray/auth_token, generated on first use):
                # clients must opt in to send it. The loopback switch is for Ray's own CLI tools
                # (`ray status`); syslab's flows set it themselves for a 127.0.0.1 address.
                {"RAY_ADDRESS": f"{HOST}:{rp}", "RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"},
                lambda h: {"RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}),
    ]


def _pidfile(name: str) -> Path:
    d = syslab_home() / "pids"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def running_pid(name: str) -> int | None:
    pf = _pidfile(name)
    if not pf.exists():
        return None
    try:
        pid = int(pf.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _select(names: tuple[str, ...] | None, known: list[Service] | None = None) -> list[Service]:
    known = services() if known is None else known
    if names is None:
        return known
    bad = set(names) - {s.name for s in known}
    if bad:
        raise ValueError(f"unknown service(s) {sorted(bad)}; known: {[s.name for s in known]}")
    return [s for s in known if s.name in names]


def up(timeout: float = 180.0, echo=print, names: tuple[str, ...] | None = None,
       known: list[Service] | None = None) -> bool:
    """Start every (named) service that is not running; wait until each is healthy. True if all are.

    ``known``: the services to choose from (default: :func:`services`; ``flows.llm`` passes its own).
    """
    home = syslab_home()
    (home / "logs").mkdir(exist_ok=True)
    started = []
    for svc in _select(names, known):
        if running_pid(svc.name):
            echo(f"{svc.name:8s} already running (pid {running_pid(svc.name)})")
            continue
        if svc.healthy():
            echo(f"{svc.name:8s} port {svc.port} is already served by another process; not starting")
            continue
        log = open(home / "logs" / f"{svc.name}.log", "ab")
        env = {**os.environ, **svc.extra_env(home)}
        env.pop("RAY_ADDRESS", None)
        proc = subprocess.Popen(svc.command(home), stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, cwd=home)
        _pidfile(svc.name).write_text(str(proc.pid))
        started.append((svc, proc))
        echo(f"{svc.name:8s} starting (pid {proc.pid}, log {home / 'logs' / (svc.name + '.log')})")
    ok = True
    deadline = time.monotonic() + timeout
    for svc, proc in started:
        while not svc.healthy():
            if proc.poll() is not None:
                echo(f"{svc.name:8s} FAILED (exit {proc.returncode}); see {home / 'logs' / (svc.name + '.log')}")
                _pidfile(svc.name).unlink(missing_ok=True)
                ok = False
                break
            if time.monotonic() > deadline:
                echo(f"{svc.name:8s} not healthy after {timeout:.0f}s; see its log")
                ok = False
                break
            time.sleep(0.5)
        else:
            echo(f"{svc.name:8s} up on {HOST}:{svc.port}")
    return ok


def down(echo=print, grace: float = 15.0, names: tuple[str, ...] | None = None,
         known: list[Service] | None = None) -> None:
    """Stop the process groups recorded in the pid files (and nothing else)."""
    for svc in reversed(_select(names, known)):
        pid = running_pid(svc.name)
        pf = _pidfile(svc.name)
        if pid is None:
            pf.unlink(missing_ok=True)
            echo(f"{svc.name:8s} not running")
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        t0 = time.monotonic()
        while time.monotonic() - t0 < grace and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pf.unlink(missing_ok=True)
        echo(f"{svc.name:8s} stopped (process group {pid})")


def _group_alive(pgid: int) -> bool:
    try:  # reap the leader if it is our own child (up and down in one process), else it stays a zombie
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def status() -> list[dict]:
    out = []
    for svc in services():
        pid = running_pid(svc.name)
        out.append({"name": svc.name, "pid": pid, "port": svc.port, "healthy": svc.healthy(), "env": svc.env})
    return out


def env_exports() -> str:
    """``export`` lines that point flows at the services."""
    lines = []
    for svc in services():
        lines += [f"export {k}={v}" for k, v in svc.env.items()]
    return "\n".join(lines)
