"""The embedded stores' first use, made safe for several processes at once.

Two stores create their schema lazily on first use: MLflow's SQLite database
(``$SYSLAB_HOME/mlflow.db``: Alembic migrations when a client first touches it) and the
temporary Prefect API's SQLite database under ``$PREFECT_HOME`` (migrated when the server
starts). Two processes doing that at the same moment race: measured with four processes on a
fresh MLflow store, 3 of 4 fail with ``OperationalError: duplicate column name: step`` or an
Alembic ``CommandError``. Here each first use runs under a file lock next to the database, so
the first process migrates and the others wait and then find the schema in place.

The temporary Prefect API is also started here, by the driver, before the flow: the server process is
tied to the driver (Linux ``PR_SET_PDEATHSIG``), so a driver killed with ``kill -9`` does not leave it
running, and :func:`stop_temporary_prefect` stops it on every normal or signalled exit.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator

_ready: set[str] = set()
_ready_lock = threading.Lock()
LOCK_TIMEOUT_S = 300.0
"""How long a process waits for another one's migration (a first Prefect migration on a busy
2-core machine can take over a minute)."""


@contextlib.contextmanager
def first_use_lock(db_path: str | os.PathLike) -> Iterator[None]:
    """An inter-process lock named ``<db>.lock`` beside the database file."""
    from filelock import FileLock

    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT_S):
        yield


def sqlite_path(uri: str) -> Path | None:
    """The file behind a ``sqlite:///`` URI (None for other stores and in-memory databases)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):]
    return None if not path or path == ":memory:" else Path(path)


def mlflow_client(uri: str):
    """An ``MlflowClient`` on ``uri``; the first one per process and SQLite file creates the schema under a lock."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    db = sqlite_path(uri)
    if db is None or uri in _ready:
        return MlflowClient(tracking_uri=uri)
    with _ready_lock, first_use_lock(db):
        c = MlflowClient(tracking_uri=uri)  # builds the store (cached per process): creates/migrates the schema
        c.search_experiments(max_results=1)
        _ready.add(uri)
    return c


# --- the driver's temporary Prefect API --------------------------------------------------------------
_PR_SET_PDEATHSIG = 1
try:  # loaded here, in the parent: the child may only call it (no dlopen between fork and exec)
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None
except OSError:
    _LIBC = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:  # elsewhere the server still stops at exit, just not after kill -9
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_temporary_prefect() -> str | None:
    """Start Prefect's temporary API for this process (when ``PREFECT_API_URL`` is unset); its URL.

    It is Prefect's own singleton (``SubprocessASGIServer``), so the flow engine reuses it instead
    of starting another. Migrations of ``$PREFECT_HOME``'s database run under :func:`first_use_lock`.
    The server is started from the calling thread; PR_SET_PDEATHSIG fires when *that thread* exits,
    so call this from the main thread.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, get_current_settings

    if PREFECT_API_URL.value():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    if server.running:
        return server.api_url
    original = server._run_uvicorn_command

    def run_tied_to_parent():
        import subprocess

        popen = subprocess.Popen

        def tied(*args, **kwargs):
            argv = kwargs.get("args", args[0] if args else ())
            if "uvicorn" in argv and threading.current_thread() is threading.main_thread():
                kwargs.setdefault("preexec_fn", _die_with_parent)
            return popen(*args, **kwargs)

        subprocess.Popen = tied  # only for the one Popen inside Prefect's method
        try:
            return original()
        finally:
            subprocess.Popen = popen

    server._run_uvicorn_command = run_tied_to_parent
    secret = get_current_settings().server.database.connection_url
    db_url = secret.get_secret_value() if secret is not None else ""
    db = sqlite_path(db_url.replace("sqlite+aiosqlite:", "sqlite:", 1)) if db_url.startswith("sqlite") else None
    with first_use_lock(db if db is not None else Path(PREFECT_HOME.value()) / "prefect.db"):
        server.start()
    return server.api_url


def stop_temporary_prefect() -> None:
    """Stop the temporary API if this process started one (idempotent)."""
    if "prefect.server.api.server" not in sys.modules:
        return
    from prefect.server.api.server import SubprocessASGIServer

    if not any(s.running or s.server_process is not None for s in SubprocessASGIServer._instances.values()):
        return
    try:  # send queued logs and events first: afterwards nothing could receive them
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001 - best effort
        pass
    for server in list(SubprocessASGIServer._instances.values()):
        if server.running or server.server_process is not None:
            server.stop()
