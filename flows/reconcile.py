"""Runs left open by a driver that died: find them and close them (``syslab runs reconcile``).

A driver killed with ``kill -9`` (or a machine that lost power) cannot close what it opened: its
MLflow parent run stays RUNNING, and so do its Prefect flow run and task runs. Each parent run
records its driver (``syslab.driver.host``, ``syslab.driver.pid`` and ``syslab.driver.started``,
the process's start time, so a reused pid is not mistaken for the driver). A RUNNING run is
**dangling** when its driver ran on this machine and that process is gone; runs of other
machines, and old runs without driver tags, are only touched with ``--older-than`` or by id.

Closing a dangling run: its RUNNING child runs and the parent become KILLED with
``syslab.error`` saying why, and its Prefect flow run and every unfinished task run of it become
Crashed (on ``PREFECT_API_URL``, or on the temporary API's database under ``PREFECT_HOME``).
Jobs that finished before the crash keep their FINISHED/FAILED child runs, which is what
``syslab run ... --resume RUN_ID`` builds on.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

HOST_TAG, PID_TAG, STARTED_TAG = "syslab.driver.host", "syslab.driver.pid", "syslab.driver.started"


def _start_time(pid: int) -> float | None:
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - no such process (or not allowed to look): treat as gone
        return None


def driver_tags() -> dict[str, str]:
    """Tags that identify this driver process (set on every parent run)."""
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), STARTED_TAG: f"{_start_time(pid) or 0:.2f}"}


def driver_state(tags: dict[str, str]) -> str:
    """``alive``, ``dead`` (this machine, process gone or pid reused) or ``unknown`` (other machine / no tags)."""
    host, pid, started = tags.get(HOST_TAG), tags.get(PID_TAG), tags.get(STARTED_TAG)
    if not host or not pid or host != socket.gethostname():
        return "unknown"
    try:
        pid_i = int(pid)
    except ValueError:
        return "unknown"
    now_started = _start_time(pid_i)
    if now_started is None:
        return "dead"
    if started and abs(now_started - float(started)) > 1.0:
        return "dead"  # the pid belongs to another process now
    return "alive"


@dataclass
class Dangling:
    run_id: str
    experiment: str
    name: str
    reason: str
    start_time: float
    prefect_flow_run_id: str = ""
    open_children: list[str] = field(default_factory=list)

    def line(self) -> str:
        age = (time.time() - self.start_time) / 3600
        extra = f", {len(self.open_children)} open child run(s)" if self.open_children else ""
        pf = f", Prefect flow run {self.prefect_flow_run_id}" if self.prefect_flow_run_id else ""
        return f"{self.run_id} {self.experiment} {self.name} (started {age:.1f} h ago; {self.reason}{extra}{pf})"


def find_dangling(c=None, *, older_than_s: float | None = None, run_ids: list[str] | None = None) -> list[Dangling]:
    """RUNNING parent runs whose driver is gone (or old enough / named, see the module docstring)."""
    from flows.tracking import client

    c = c or client()
    exps = {e.experiment_id: e.name for e in c.search_experiments(max_results=1000)
            if e.name.startswith("syslab")}
    if not exps:
        return []
    now = time.time()
    runs = _search(c, list(exps), "attributes.status = 'RUNNING'")
    by_parent: dict[str, list[str]] = {}
    for r in runs:
        p = r.data.tags.get("mlflow.parentRunId")
        if p:
            by_parent.setdefault(p, []).append(r.info.run_id)
    out = []
    wanted = set(run_ids or [])
    for r in runs:
        tags = r.data.tags
        if tags.get("mlflow.parentRunId"):
            continue
        start = (r.info.start_time or 0) / 1000
        state = driver_state(tags)
        if wanted:
            if r.info.run_id not in wanted:
                continue
            reason = f"named (driver {state})"
        elif state == "dead":
            reason = f"driver pid {tags.get(PID_TAG)} on {tags.get(HOST_TAG)} is gone"
        elif state == "unknown" and older_than_s is not None and now - start > older_than_s:
            reason = f"driver {tags.get(HOST_TAG) or 'unrecorded'}, older than {older_than_s / 3600:g} h"
        else:
            continue
        out.append(Dangling(r.info.run_id, exps.get(r.info.experiment_id, r.info.experiment_id),
                            r.info.run_name or "", reason, start, tags.get("syslab.prefect_flow_run_id", ""),
                            by_parent.get(r.info.run_id, [])))
    return out


def _search(c, exp_ids: list[str], flt: str) -> list[Any]:
    out, token = [], None
    while True:
        page = c.search_runs(exp_ids, filter_string=flt, max_results=1000, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def close_mlflow(c, d: Dangling, why: str) -> None:
    """Open children, then the parent: KILLED, with the reason as ``syslab.error``."""
    for rid in d.open_children:
        c.set_tag(rid, "syslab.error", why)
        c.set_terminated(rid, "KILLED")
    c.set_tag(d.run_id, "syslab.error", why)
    c.set_tag(d.run_id, "syslab.reconciled_at", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    c.set_terminated(d.run_id, "KILLED")


def crash_prefect(flow_run_ids: list[str], message: str) -> dict[str, int]:
    """Set each flow run and its unfinished task runs Crashed; returns counts (needs a reachable API)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    counts = {"flow_runs": 0, "task_runs": 0}
    with get_client(sync_client=True) as pc:
        for fid in flow_run_ids:
            try:
                fr = pc.read_flow_run(fid)
            except Exception:  # noqa: BLE001 - unknown here (another server, or deleted)
                continue
            trs, page = [], None
            while page is None or len(page) == 200:  # the server's page limit
                page = pc.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fr.id])),
                                         limit=200, offset=len(trs))
                trs += page
            for tr in trs:
                if tr.state is not None and tr.state.is_final():
                    continue
                pc.set_task_run_state(tr.id, Crashed(message=message), force=True)
                counts["task_runs"] += 1
            if fr.state is None or not fr.state.is_final():
                pc.set_flow_run_state(fr.id, Crashed(message=message), force=True)
                counts["flow_runs"] += 1
    return counts


def reconcile(*, dry_run: bool = False, older_than_s: float | None = None, run_ids: list[str] | None = None,
              echo=print) -> list[Dangling]:
    """Find and close dangling runs in MLflow and Prefect; returns what was (or would be) closed."""
    from flows.tracking import client

    c = client()
    found = find_dangling(c, older_than_s=older_than_s, run_ids=run_ids)
    if not found:
        echo("no dangling runs")
        return found
    for d in found:
        echo(("would close " if dry_run else "closing ") + d.line())
    if dry_run:
        return found
    why = "driver died; closed by `syslab runs reconcile`"
    flow_ids = [d.prefect_flow_run_id for d in found if d.prefect_flow_run_id]
    if flow_ids:  # Prefect first: if its API is unreachable, MLflow is still closed and the ids are printed
        from flows.stores import start_temporary_prefect, stop_temporary_prefect

        try:
            start_temporary_prefect()
            counts = crash_prefect(flow_ids, why)
            echo(f"Prefect: {counts['flow_runs']} flow run(s), {counts['task_runs']} task run(s) set Crashed")
        except Exception as exc:  # noqa: BLE001 - say what is left to do by hand
            echo(f"Prefect: could not reach the API to crash flow run(s) {', '.join(flow_ids)}: "
                 f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        finally:
            stop_temporary_prefect()
    for d in found:
        close_mlflow(c, d, why)
    echo(f"MLflow: {len(found)} run(s) and {sum(len(d.open_children) for d in found)} open child run(s) set KILLED")
    return found


def resume_arguments(system: str, run_id: str, echo=print) -> dict[str, Any]:
    """The job list of parent run ``run_id`` (suite, methods, workloads, seeds, overrides), for ``--resume``.

    A run still RUNNING whose driver is gone is reconciled first; one whose driver is alive is refused.
    """
    import json

    from flows.tracking import client, experiment_name

    c = client()
    try:
        run = c.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - unknown id
        raise ValueError(f"--resume {run_id}: no such MLflow run ({type(exc).__name__})") from None
    tags, params = run.data.tags, run.data.params
    exp = c.get_experiment(run.info.experiment_id)
    if tags.get("syslab.kind") != "flow" or exp.name != experiment_name(system):
        raise ValueError(f"--resume {run_id}: not a parent run of system {system!r} (experiment {exp.name!r}, "
                         f"kind {tags.get('syslab.kind')!r})")
    if run.info.status == "RUNNING":
        state = driver_state(tags)
        if state == "alive":
            raise ValueError(f"--resume {run_id}: its driver (pid {tags.get(PID_TAG)}) is still running")
        if state == "unknown":
            raise ValueError(f"--resume {run_id}: RUNNING, driver on {tags.get(HOST_TAG) or 'an unknown machine'}; "
                             f"if it is gone, `syslab runs reconcile --run {run_id}` first")
        reconcile(run_ids=[run_id], echo=echo)

    def load(name: str, default):
        raw = params.get(name)
        if raw is None or raw in ("all", "suite default"):
            return default
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    return {"suite": params.get("suite") or tags.get("syslab.suite"), "methods": load("methods", None),
            "workloads": load("workloads", None), "seeds": load("seeds", None),
            "overrides": load("overrides", {}) or {}}
