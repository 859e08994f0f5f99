"""A driver's life: signals, the Prefect states it leaves behind, and what each job attempt cost.

- :func:`signals_raise` turns SIGTERM (and SIGHUP) into :class:`Terminated`, a ``BaseException`` like
  ``KeyboardInterrupt``, so a killed-by-signal driver unwinds through the same ``finally`` blocks as
  Ctrl-C: the flow marks its MLflow runs KILLED, sets open Prefect task runs Crashed, cancels its Ray
  tasks and the CLI stops its temporary Prefect API (exit 130 for SIGINT, 143 for SIGTERM).
- :func:`crash_task_runs` sets task runs Crashed (a job whose worker died past its retries, or jobs
  still open when the driver stops).
- :class:`AttemptLog` records every Ray attempt of a job in the GCS key-value store (it survives a
  dead worker or node): the driver reads how many attempts a job took and how long the failed ones
  cost, and logs both on the job's child run.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
import uuid
from typing import Any, Iterator


class Terminated(BaseException):
    """The driver received SIGTERM/SIGHUP (a ``BaseException``: it is not a job failure)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


_ACTIVE: list[bool] = []


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM/SIGHUP raise :class:`Terminated` in the main thread.

    ``ray.init`` replaces the SIGTERM handler with its own (``sys.exit(15)``, after which the driver
    aborted with SIGABRT, exit 134); :func:`reclaim_signals` puts ours back once Ray is up.
    """
    old = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, _raise_terminated)
        except ValueError:  # not the main thread: leave signals alone
            pass
    _ACTIVE.append(bool(old))
    try:
        yield
    finally:
        _ACTIVE.pop()
        for sig, h in old.items():
            signal.signal(sig, h)


def reclaim_signals() -> None:
    """Re-install the :func:`signals_raise` handlers (call after ``ray.init``)."""
    if not (_ACTIVE and _ACTIVE[-1]):
        return
    import threading

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _raise_terminated)


def exit_code(exc: BaseException) -> int:
    if isinstance(exc, Terminated):
        return 128 + exc.signum
    return 130  # KeyboardInterrupt


def crash_task_runs(task_run_ids: list, message: str) -> int:
    """Set the task runs that are not final yet to Crashed; returns how many were set."""
    if not task_run_ids:
        return 0
    from prefect import get_client
    from prefect.states import Crashed

    n = 0
    with get_client(sync_client=True) as pc:
        for tid in task_run_ids:
            try:
                tr = pc.read_task_run(tid)
                if tr.state is not None and tr.state.is_final():
                    continue
                pc.set_task_run_state(tid, Crashed(message=message), force=True)
                n += 1
            except Exception:  # noqa: BLE001 - best effort while shutting down
                continue
    return n


# --- Ray attempts -------------------------------------------------------------------------------------
_NS = "syslab-attempts"


class AttemptLog:
    """Attempts of the jobs of one flow run, in Ray's GCS key-value store (keys ``<token>/<job>/<attempt>``)."""

    def __init__(self, token: str):
        self.token = token

    @staticmethod
    def start(token: str, job_key: str, info: dict[str, Any]) -> None:
        """Called on the worker when an attempt starts (``info``: node, pid, ...)."""
        from ray.experimental import internal_kv

        key = f"{token}/{job_key}/{uuid.uuid4().hex}".encode()
        internal_kv._internal_kv_put(key, json.dumps({"start": time.time(), **info}).encode(), namespace=_NS)

    def attempts(self, job_key: str) -> list[dict[str, Any]]:
        """Every recorded attempt of ``job_key``, oldest first (then forgotten)."""
        from ray.experimental import internal_kv

        prefix = f"{self.token}/{job_key}/".encode()
        try:
            keys = internal_kv._internal_kv_list(prefix, namespace=_NS)
        except Exception:  # noqa: BLE001 - no KV (e.g. Ray not initialised): nothing recorded
            return []
        out = []
        for k in keys:
            raw = internal_kv._internal_kv_get(k, namespace=_NS)
            if raw:
                out.append(json.loads(raw))
            internal_kv._internal_kv_del(k, namespace=_NS)
        return sorted(out, key=lambda a: a["start"])


def attempt_cost(attempts: list[dict[str, Any]]) -> dict[str, float]:
    """``ray_attempts`` and ``ray_retry_lost_s``: time from the first attempt's start to the last one's."""
    if not attempts:
        return {}
    lost = attempts[-1]["start"] - attempts[0]["start"] if len(attempts) > 1 else 0.0
    return {"ray_attempts": float(len(attempts)), "ray_retry_lost_s": max(lost, 0.0)}
