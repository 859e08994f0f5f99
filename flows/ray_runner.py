"""Where Ray runs: an embedded local Ray sized to the machine, or the cluster ``RAY_ADDRESS`` names.

Retry policy (decided once, here): **Ray** retries a job whose worker process or node dies
(``max_retries``, system failures only), **Prefect** does not retry (``retries=0``). Why:
under ``RayTaskRunner`` the Prefect task engine runs *inside* the Ray worker, so when the worker
dies the Prefect retry logic dies with it; only Ray can re-run the task. Application errors are
not retried by either: :func:`systems.core.execute.execute` turns them into a ``failed``
JobResult (a deterministic failure would only fail again), so the flow always finishes.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from prefect_ray.task_runners import RayTaskRunner

from flows.preflight import env_flag, ray_max_retries, ray_num_cpus, ray_num_gpus, ray_target

_LOOPBACK_VAR = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def ray_address() -> str | None:
    """``$RAY_ADDRESS`` (``auto``, ``ray://head:10001``, ``host:6379``) or None for embedded Ray."""
    return os.environ.get("RAY_ADDRESS") or None


def local_init_kwargs() -> dict[str, Any]:
    """``ray.init`` arguments for the embedded default: all cores, no dashboard, quiet."""
    kwargs: dict[str, Any] = {
        "num_cpus": ray_num_cpus(),
        "include_dashboard": False,
        # Job outcomes (errors included) come back in JobResults and the driver logs progress;
        # forwarding every worker's Prefect chatter adds noise. SYSLAB_RAY_LOG_TO_DRIVER=1 turns it on.
        "log_to_driver": env_flag("SYSLAB_RAY_LOG_TO_DRIVER"),
        "configure_logging": True,
        "logging_level": "warning",
    }
    gpus = ray_num_gpus()
    if gpus is not None:  # logical GPUs: lets CI exercise GPU scheduling without a GPU
        kwargs["num_gpus"] = gpus
    return kwargs


@contextlib.contextmanager
def loopback_ray(enabled: bool = True) -> Iterator[None]:
    """Keep a Ray that this process starts or joins on 127.0.0.1 (all of its ports).

    On Linux Ray rewrites 127.0.0.1 to the machine's outward address (``--node-ip-address
    127.0.0.1`` included), so an embedded Ray listens on every interface and a driver asked to
    join ``127.0.0.1:6379`` dials ``<eth0>:6379``. Ray's single-machine mode (the one it uses on
    macOS/Windows, switched by ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) keeps the node address on
    loopback: every Ray process started under it binds 127.0.0.1 (measured with ``ss -ltnp``;
    tests/flows/test_binding.py). Ray reads the switch at import, so the module constant is set as well;
    both are restored afterwards (processes already started keep their loopback environment).
    """
    if not enabled:
        yield
        return
    from ray._private import ray_constants

    old_env, old_const = os.environ.get(_LOOPBACK_VAR), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_LOOPBACK_VAR] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = old_const
        if old_env is None:
            os.environ.pop(_LOOPBACK_VAR, None)
        else:
            os.environ[_LOOPBACK_VAR] = old_env


def check_connected_cluster() -> None:
    """After ``ray.init``: refuse a cluster with remote nodes when the Prefect URL is loopback/unset."""
    import ray
    from prefect.settings import PREFECT_API_URL

    from flows.preflight import check_cluster_nodes

    try:
        ips = [n.get("NodeManagerAddress", "") for n in ray.nodes() if n.get("Alive")]
    except Exception:  # noqa: BLE001 - no node list (e.g. an old Ray Client server): nothing to check
        return
    check_cluster_nodes(ips, PREFECT_API_URL.value())


def init_shared_ray() -> bool:
    """``ray.init`` for a process that runs several flows on one Ray (the nightly); True if it started it."""
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    target = ray_target()
    if target.kind != "embedded":
        with loopback_ray(target.loopback):
            ray.init(address=ray_address(), namespace="prefect", log_to_driver=True)
        from flows.lifecycle import reclaim_signals

        reclaim_signals()
        check_connected_cluster()
    else:
        kwargs = local_init_kwargs()
        kwargs["runtime_env"] = {"env_vars": worker_env()}
        # address="local": always a fresh embedded Ray. Without it ray.init() attaches to any Ray
        # head already running on the machine (e.g. `make services`' one, or another user's) and
        # then rejects num_cpus. Use RAY_ADDRESS=auto to run on such a head on purpose.
        with loopback_ray():
            ray.init(address="local", namespace="prefect", **kwargs)
    from flows.lifecycle import reclaim_signals

    reclaim_signals()  # ray.init took SIGTERM over
    return True


class SyslabRayTaskRunner(RayTaskRunner):
    """``RayTaskRunner`` that reads ``RAY_ADDRESS`` when the flow starts, not at import time."""

    def __init__(self, address: str | None = None, init_kwargs: dict | None = None):
        super().__init__(address=address, init_kwargs=init_kwargs)

    def duplicate(self):
        return type(self)(address=self.address, init_kwargs=self.init_kwargs)

    def __enter__(self):
        # Workers receive the driver's *settings context* (prefect-ray serialises it), so the
        # API URL must be in the settings, not only in the environment. With an ephemeral API
        # the driver's temporary server is pinned there for the lifetime of this runner.
        from prefect.settings import PREFECT_API_URL, temporary_settings

        self._settings_cm = None
        if not PREFECT_API_URL.value():
            self._settings_cm = temporary_settings(updates={PREFECT_API_URL: prefect_api_url()})
            self._settings_cm.__enter__()
        # RayTaskRunner always puts namespace="prefect" into init_kwargs, so "not configured by the
        # caller" means: no address and nothing beyond that namespace.
        loopback = False
        if self.address is None and set(self.init_kwargs) <= {"namespace"}:
            addr = ray_address()
            if addr:
                self.address = addr
                self.init_kwargs = {**self.init_kwargs, "log_to_driver": True}
                loopback = ray_target(addr).loopback
            else:
                loopback = True
                # "local" always starts a fresh embedded Ray; a bare ray.init() would silently attach
                # to any Ray already running on this machine (e.g. `make services`).
                self.address = "local"
                self.init_kwargs = {**self.init_kwargs, **local_init_kwargs()}
                # Local workers report to the driver's Prefect API, ephemeral included; without
                # this each worker would start (and record into) its own temporary server.
                self.init_kwargs["runtime_env"] = {"env_vars": worker_env()}
        import ray

        joined = not ray.is_initialized()
        with loopback_ray(loopback):
            out = super().__enter__()
        from flows.lifecycle import reclaim_signals

        reclaim_signals()  # ray.init took SIGTERM over
        if joined and self.address not in (None, "local"):
            check_connected_cluster()
        return out

    def __exit__(self, *exc_info):
        try:
            super().__exit__(*exc_info)
        finally:
            if self._settings_cm is not None:
                self._settings_cm.__exit__(None, None, None)
                self._settings_cm = None


def prefect_api_url() -> str:
    """The API the driver talks to: ``PREFECT_API_URL`` or the ephemeral server it started."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if url:
        return url
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the driver's singleton; started by the flow run already
    server.start()
    return server.api_url


def worker_env() -> dict[str, str]:
    """Environment for local Ray workers: the driver's Prefect API, quiet task logs."""
    return {
        "PREFECT_API_URL": prefect_api_url(),
        "PREFECT_LOGGING_LEVEL": os.environ.get("SYSLAB_WORKER_LOG_LEVEL", "WARNING"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def remote_options_for(wants_gpu: bool, cluster_gpus: float) -> dict[str, Any]:
    """Ray options for one job: 1 CPU, 1 GPU when wanted and the cluster has one, retries."""
    opts: dict[str, Any] = {"num_cpus": 1, "max_retries": ray_max_retries(), "retry_exceptions": False}
    if wants_gpu and cluster_gpus >= 1:
        opts["num_gpus"] = 1
    return opts
