"""Preflight: check the environment before a flow starts; fail in seconds with one located line.

Every entry point that starts a flow (``syslab run``, ``syslab nightly run|serve``) calls
:func:`preflight` first; ``syslab check`` prints every check. A failed check raises
:class:`SetupError`, which the CLI prints as one line and exits 2::

    error: RAY_ADDRESS='127.0.0.1:9': nothing listens on 127.0.0.1:9 (connection refused). Fix: start the cluster ...

What is checked (each probe waits at most ``SYSLAB_PREFLIGHT_TIMEOUT_S``, default 3 s):

- **settings**: every numeric ``SYSLAB_*`` variable parses and is in range (CPUs >= 1, ports in
  1024-65535, ...), read through :func:`env_int` / :func:`env_float` / :func:`env_flag`, the
  same readers the flows use, so a value the preflight accepts is the value that runs;
- **Ray** (``RAY_ADDRESS``): embedded needs nothing; ``auto`` must find a cluster on this machine;
  ``host:port`` must accept a TCP connection and answer as a Ray GCS (this also catches a
  cluster that wants a token when ``RAY_AUTH_MODE`` is not ``token``); ``ray://host:port`` must
  accept a TCP connection;
- **MLflow** (``MLFLOW_TRACKING_URI``): an HTTP server must answer ``/health`` (3 tries); SQLite's
  directory must be writable; a database URL must name an installed driver and its port must
  accept connections; the file store (removed from MLflow 3.13+) is refused;
- **Prefect** (``PREFECT_API_URL``): a set URL must answer ``/health``; unset means a temporary
  local API, which only works when every Ray node is this machine: a remote Ray cluster with an
  unset or loopback Prefect URL is refused, because its workers report task state to that URL.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# Ray's default port range for worker processes (`ray start --min-worker-port/--max-worker-port`).
# A service port inside it collides with a Ray worker sooner or later; a GCS port inside it makes
# `ray start --head` fail.
RAY_WORKER_PORTS = (10002, 19999)


class SetupError(RuntimeError):
    """A bad environment: which variable, what is wrong with it, and what to do."""

    def __init__(self, var: str, problem: str, fix: str, value: str | None = None):
        self.var, self.problem, self.fix, self.value = var, problem, fix, value
        where = f"{var}={value!r}" if value is not None else var
        super().__init__(f"{where}: {problem}. Fix: {fix}")


# --- settings ------------------------------------------------------------------------------------
def _raw(var: str) -> str | None:
    v = os.environ.get(var)
    return None if v is None or v.strip() == "" else v.strip()


def env_int(var: str, default: int | None, *, minimum: int | None = None, maximum: int | None = None,
            why: str = "") -> int | None:
    """``int($var)`` or ``default``; a non-integer or out-of-range value raises :class:`SetupError`."""
    raw = _raw(var)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SetupError(var, "not an integer", f"set it to a whole number{_range(minimum, maximum)} or unset it",
                         raw) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise SetupError(var, f"out of range{why}", f"use a value{_range(minimum, maximum)} or unset it", raw)
    return value


def env_float(var: str, default: float | None, *, minimum: float | None = None, exclusive_min: bool = False) -> float | None:
    """``float($var)`` or ``default``; checked like :func:`env_int`."""
    raw = _raw(var)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SetupError(var, "not a number", "set it to a number of seconds or unset it", raw) from None
    if minimum is not None and (value < minimum or (exclusive_min and value == minimum) or value != value):
        bound = f"> {minimum:g}" if exclusive_min else f">= {minimum:g}"
        raise SetupError(var, "out of range", f"use a value {bound} or unset it", raw)
    return value


def env_flag(var: str, default: bool = False) -> bool:
    """``0/1/true/false/yes/no`` (any case) or ``default``."""
    raw = _raw(var)
    if raw is None:
        return default
    low = raw.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise SetupError(var, "not a flag", "use 1 or 0 (true/false) or unset it", raw)


def _range(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def preflight_timeout() -> float:
    """Seconds one probe may wait (``SYSLAB_PREFLIGHT_TIMEOUT_S``, default 3)."""
    return env_float("SYSLAB_PREFLIGHT_TIMEOUT_S", 3.0, minimum=0.0, exclusive_min=True)


def ray_num_cpus() -> int:
    """Logical CPUs of the embedded Ray (``SYSLAB_RAY_NUM_CPUS``, default all cores; >= 1: with 0
    no job can ever be scheduled and the flow would wait forever)."""
    return env_int("SYSLAB_RAY_NUM_CPUS", os.cpu_count() or 1, minimum=1,
                   why=" (the embedded Ray needs at least one CPU to run any job)")


def ray_num_gpus() -> int | None:
    return env_int("SYSLAB_RAY_NUM_GPUS", None, minimum=0)


def ray_max_retries() -> int:
    """Ray re-runs of a job whose worker died (``SYSLAB_RAY_MAX_RETRIES``, default 2; -1 = forever)."""
    return env_int("SYSLAB_RAY_MAX_RETRIES", 2, minimum=-1)


def service_ports() -> dict[str, int]:
    """The ports ``syslab services`` binds on 127.0.0.1, by variable."""
    return {
        "SYSLAB_MLFLOW_PORT": env_int("SYSLAB_MLFLOW_PORT", 5000, minimum=1024, maximum=65535),
        "SYSLAB_PREFECT_PORT": env_int("SYSLAB_PREFECT_PORT", 4200, minimum=1024, maximum=65535),
        "SYSLAB_RAY_PORT": env_int("SYSLAB_RAY_PORT", 6379, minimum=1024, maximum=65535),
        "SYSLAB_RAY_CLIENT_PORT": env_int("SYSLAB_RAY_CLIENT_PORT", 10001, minimum=1024, maximum=65535),
    }


def check_ports() -> dict[str, int]:
    """Service ports: in range, distinct, and outside Ray's worker-port range."""
    ports = service_ports()
    lo, hi = RAY_WORKER_PORTS
    seen: dict[int, str] = {}
    for var, port in ports.items():
        if lo <= port <= hi:
            raise SetupError(var, f"port {port} is inside Ray's worker-port range {lo}-{hi} (Ray workers on this "
                             "machine take ports from it; `ray start --head` fails on a GCS port there)",
                             f"pick a port outside {lo}-{hi}, e.g. the default", str(port))
        if port in seen:
            raise SetupError(var, f"port {port} is also {seen[port]}", "give every service its own port", str(port))
        seen[port] = var
    return ports


SETTINGS: dict[str, Callable[[], object]] = {
    "SYSLAB_RAY_NUM_CPUS": ray_num_cpus,
    "SYSLAB_RAY_NUM_GPUS": ray_num_gpus,
    "SYSLAB_RAY_MAX_RETRIES": ray_max_retries,
    "SYSLAB_RAY_LOG_TO_DRIVER": lambda: env_flag("SYSLAB_RAY_LOG_TO_DRIVER"),
    "SYSLAB_PREFLIGHT_TIMEOUT_S": preflight_timeout,
    "SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S": lambda: env_float("SYSLAB_NIGHTLY_SYSTEM_TIMEOUT_S", None, minimum=0.0,
                                                          exclusive_min=True),
}
"""Every numeric/flag setting with its reader; :func:`check_settings` reads them all."""


def check_settings() -> str:
    for read in SETTINGS.values():
        read()
    check_ports()
    return f"{len(SETTINGS) + len(service_ports())} numeric settings parse"


# --- addresses -----------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (names are resolved)."""
    h = host.strip("[]")
    if h.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(h, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def _split_host_port(text: str, default_port: int | None) -> tuple[str, int]:
    text = text.strip().rstrip("/")
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port_s = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port_s = text.split(":")
    else:
        host, port_s = text, ""
    if not port_s:
        if default_port is None:
            raise ValueError("no port")
        return host, default_port
    port = int(port_s)
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    return host, port


@dataclass(frozen=True)
class RayTarget:
    """Where ``RAY_ADDRESS`` points: ``embedded`` (unset/``local``), ``auto``, ``gcs`` or ``client``."""

    kind: str
    host: str = ""
    port: int = 0
    raw: str = ""

    @property
    def loopback(self) -> bool:
        return self.kind == "embedded" or (bool(self.host) and is_loopback(self.host))

    @property
    def on_this_machine(self) -> bool:
        """Loopback, or one of this machine's own addresses (a local multi-node cluster)."""
        if self.loopback:
            return True
        try:
            ips = {i[4][0] for i in socket.getaddrinfo(self.host, None)}
        except OSError:
            return False
        return bool(ips) and ips <= _local_ips()


def ray_target(addr: str | None = None) -> RayTarget:
    """Parse ``RAY_ADDRESS`` (``auto`` is resolved to this machine's running cluster)."""
    raw = (addr if addr is not None else os.environ.get("RAY_ADDRESS", "")).strip()
    if raw in ("", "local"):
        return RayTarget("embedded", raw=raw)
    fix = "use host:6379 (a cluster's GCS), ray://host:10001 (Ray Client), auto, or unset it for the embedded Ray"
    if raw == "auto":
        found = _find_local_cluster()
        if not found:
            raise SetupError("RAY_ADDRESS", "no running Ray cluster found on this machine",
                             "start one (`make services`, or `ray start --head`) or unset RAY_ADDRESS for the "
                             "embedded Ray", raw)
        host, port = _split_host_port(found, 6379)
        return RayTarget("auto", host, port, raw)
    kind, rest = ("client", raw[len("ray://"):]) if raw.startswith("ray://") else ("gcs", raw)
    if "://" in rest:
        raise SetupError("RAY_ADDRESS", "unknown scheme", fix, raw)
    try:
        host, port = _split_host_port(rest, 10001 if kind == "client" else 6379)
    except ValueError:
        raise SetupError("RAY_ADDRESS", "not host:port", fix, raw) from None
    if not host:
        raise SetupError("RAY_ADDRESS", "no host", fix, raw)
    return RayTarget(kind, host, port, raw)


def _find_local_cluster() -> str | None:
    """The address ``ray.init("auto")`` would use: the last ``ray start`` on this machine, else any GCS."""
    try:
        from ray._private import services as ray_services
    except ImportError:  # pragma: no cover - ray is pinned
        return None
    addr = ray_services.find_bootstrap_address(None)
    if addr:
        return addr
    found = ray_services.find_gcs_addresses()
    return next(iter(found)) if found else None


def _tcp(host: str, port: int, timeout: float) -> str | None:
    """None when ``host:port`` accepts a TCP connection within ``timeout``, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r} ({exc.strerror or exc})"
    except ConnectionRefusedError:
        return f"nothing listens on {host}:{port} (connection refused)"
    except (socket.timeout, TimeoutError):
        return f"no answer from {host}:{port} within {timeout:g}s"
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc})"


def _in_thread(fn: Callable[[], object], timeout: float) -> tuple[bool, object]:
    """Run ``fn`` in a daemon thread; (finished, result-or-exception). A call that hangs is abandoned."""
    box: dict[str, object] = {}

    def target():
        try:
            box["v"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["v"] = exc

    t = threading.Thread(target=target, daemon=True, name="syslab-preflight-probe")
    t.start()
    t.join(timeout)
    return ("v" in box), box.get("v")


# --- Ray -----------------------------------------------------------------------------------------
def check_ray(timeout: float | None = None) -> str:
    """Reach ``RAY_ADDRESS`` (see the module docstring); returns what was found."""
    timeout = timeout or preflight_timeout()
    target = ray_target()
    if target.kind == "embedded":
        return f"embedded Ray on 127.0.0.1 with {ray_num_cpus()} CPU(s)"
    err = _tcp(target.host, target.port, timeout)
    if err:
        fix = ("start the cluster (`make services` starts one on 127.0.0.1:6379) or unset RAY_ADDRESS for the "
               "embedded Ray")
        if target.kind == "client":
            fix = "start the cluster's Ray Client server (head port 10001) or unset RAY_ADDRESS for the embedded Ray"
        raise SetupError("RAY_ADDRESS", err, fix, target.raw)
    if target.kind == "client":
        return _probe_client_server(target, timeout)
    return _probe_gcs(target, timeout)


def _probe_client_server(target: RayTarget, timeout: float) -> str:
    """Ping the Ray Client server (a TCP accept alone proves little: proxies accept anything)."""
    import grpc
    from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc

    address = f"{target.host}:{target.port}"
    channel = grpc.insecure_channel(address)
    try:
        req = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(req, timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        if code == grpc.StatusCode.UNAUTHENTICATED:
            if os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
                raise SetupError("RAY_AUTH_MODE", f"the Ray Client server at {address} requires a token",
                                 "export RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=<the cluster's token> "
                                 "(clusters/README.md)", os.environ.get("RAY_AUTH_MODE") or None) from None
            return f"Ray Client server at {address} answers (token checked when connecting)"
        detail = (exc.details() if hasattr(exc, "details") else "") or str(code)
        raise SetupError("RAY_ADDRESS", f"no Ray Client server answers at {address} ({detail.splitlines()[0][:160]})",
                         "point it at the head's Ray Client port (default 10001; e.g. `kubectl port-forward "
                         "svc/syslab-head-svc 10001:10001`) or unset RAY_ADDRESS", target.raw) from None
    finally:
        channel.close()
    return f"Ray Client server at {address} answers"


def _probe_gcs(target: RayTarget, timeout: float) -> str:
    """Ask the GCS for its cluster id: proves it is Ray and that our token (if any) is accepted."""
    address = f"{target.host}:{target.port}"

    def probe():
        from ray._raylet import GcsClient

        return GcsClient(address=address).cluster_id

    done, value = _in_thread(probe, timeout + 2.0)  # + the GCS client's own first connect
    if not done:
        raise SetupError("RAY_ADDRESS", f"{address} accepts connections but does not answer as a Ray GCS within "
                         f"{timeout + 2:g}s", "point it at the head's GCS port (`ray start --head --port`, default "
                         "6379), or use ray://host:10001 for Ray Client", target.raw)
    if isinstance(value, BaseException):
        name = type(value).__name__
        text = str(value).splitlines()[0].split(". ")[0] if str(value) else name
        if "Authentication" in name or "InvalidAuthToken" in text or "Unauthenticated" in text:
            mode = os.environ.get("RAY_AUTH_MODE", "")
            if mode.lower() != "token":
                raise SetupError("RAY_AUTH_MODE", f"the Ray cluster at {address} requires a token ({text})",
                                 "export RAY_AUTH_MODE=token and make the cluster's token available as "
                                 "RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token (clusters/README.md)",
                                 mode or None)
            raise SetupError("RAY_AUTH_TOKEN", f"the Ray cluster at {address} rejected this machine's token ({text})",
                             "use the cluster's own token: RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
                             "~/.ray/auth_token (clusters/README.md)")
        raise SetupError("RAY_ADDRESS", f"{address} did not answer as a Ray GCS ({name}: {text})",
                         "point it at the head's GCS port or unset RAY_ADDRESS for the embedded Ray", target.raw)
    return f"Ray cluster {value} at {address}"


# --- MLflow --------------------------------------------------------------------------------------
_DB_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
_DB_DRIVERS = {"psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "asyncpg": "asyncpg",
               "pymysql": "pymysql", "mysqldb": "MySQLdb", "mysqlconnector": "mysql.connector",
               "pyodbc": "pyodbc", "pymssql": "pymssql"}
# SQLAlchemy 2.1's default driver per dialect (what a bare postgresql:// would load).
_DEFAULT_DRIVER = {"postgresql": "psycopg", "mysql": "mysqldb", "mssql": "pyodbc"}


def _http_get(url: str, timeout: float) -> tuple[int | None, str]:
    """(status, reason) of ``GET url``; status None when nothing answered."""
    req = urllib.request.Request(url, headers={"User-Agent": "syslab-preflight"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, "ok"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            return None, "connection refused"
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return None, f"no answer within {timeout:g}s"
        if isinstance(reason, socket.gaierror):
            return None, f"cannot resolve host ({reason.strerror or reason})"
        return None, str(reason)
    except (socket.timeout, TimeoutError):
        return None, f"no answer within {timeout:g}s"
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _http_health(url: str, timeout: float, tries: int) -> tuple[int | None, str]:
    status, why = None, ""
    for i in range(tries):
        status, why = _http_get(url, timeout)
        if status is not None and status < 500:
            return status, why
        if i + 1 < tries:
            time.sleep(0.5 * (i + 1))
    return status, why


def check_mlflow(timeout: float | None = None, tries: int = 3) -> str:
    """Reach ``MLFLOW_TRACKING_URI`` (or the embedded SQLite store); returns what was found."""
    from flows.tracking import tracking_uri

    timeout = timeout or preflight_timeout()
    uri = tracking_uri()
    var, raw = "MLFLOW_TRACKING_URI", os.environ.get("MLFLOW_TRACKING_URI") or None
    fix_unset = "or unset MLFLOW_TRACKING_URI to use the embedded SQLite store under $SYSLAB_HOME"
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        if not parsed.hostname:
            raise SetupError(var, "no host in the URL", "use http://host:5000 " + fix_unset, raw)
        status, why = _http_health(uri.rstrip("/") + "/health", timeout, tries)
        if status is None or status >= 500:
            raise SetupError(var, f"no MLflow server answers at {uri} ({why}, {tries} tries)",
                             "start it (`make services` or infra/mlflow-server.sh) " + fix_unset, raw)
        if status >= 300 and status not in (401, 403):
            raise SetupError(var, f"{uri}/health answered {why}; is this an MLflow server?",
                             "point it at the MLflow server's base URL " + fix_unset, raw)
        # /health is exempt from MLflow 3's Host-header and auth checks; a real API call is not.
        status, why = _http_get(uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1", timeout)
        if status == 401:
            raise SetupError(var, f"the MLflow server at {uri} wants credentials ({why})",
                             "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD", raw)
        if status == 403:
            raise SetupError(var, f"the MLflow server at {uri} refused the request ({why}): MLflow 3 rejects Host "
                             f"headers it was not told about", f"start the server with --allowed-hosts "
                             f"'{urllib.parse.urlparse(uri).netloc}' (or fix the credentials)", raw)
        if status is None or status >= 500:
            raise SetupError(var, f"the MLflow server at {uri} is up but its API failed ({why})",
                             "check the server's log (its backend store may be unreachable)", raw)
        return f"MLflow server {uri} healthy"
    if scheme == "sqlite":
        path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
        if not path or path == ":memory:":
            raise SetupError(var, "an in-memory or malformed SQLite URI keeps nothing",
                             "use sqlite:////absolute/path/mlflow.db " + fix_unset, raw)
        db = Path(path)
        parent = db.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(var, f"cannot create {parent} ({exc.strerror})", "pick a writable directory " + fix_unset,
                             raw) from None
        if not os.access(parent, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            raise SetupError(var, f"{db if db.exists() else parent} is not writable",
                             "pick a writable location " + fix_unset, raw)
        return f"MLflow SQLite store {db}"
    dialect, _, driver = scheme.partition("+")
    if dialect in _DB_PORTS:
        driver = driver or _DEFAULT_DRIVER[dialect]
        module = _DB_DRIVERS.get(driver, driver)
        import importlib.util

        if importlib.util.find_spec(module.split(".")[0]) is None:
            hint = f"{dialect}+psycopg2://..." if dialect == "postgresql" else f"{dialect}+<installed driver>://..."
            raise SetupError(var, f"the database driver {driver!r} is not installed (a bare {dialect}:// means "
                             f"{_DEFAULT_DRIVER[dialect]!r} under SQLAlchemy 2.1)", f"name an installed driver: "
                             f"{hint}", _mask(raw))
        host, port = parsed.hostname or "localhost", parsed.port or _DB_PORTS[dialect]
        err = _tcp(host, port, timeout)
        if err:
            raise SetupError(var, f"database {err}", "start the database (infra/postgres.sh start) " + fix_unset,
                             _mask(raw))
        return f"MLflow database {dialect} at {host}:{port}"
    if scheme in ("", "file"):
        raise SetupError(var, "a file store: MLflow 3.13+ refuses the file tracking backend",
                         "use a database URI (sqlite:////path/mlflow.db) or an MLflow server " + fix_unset, raw)
    if scheme.startswith("databricks"):
        return f"MLflow {scheme} (not probed)"
    raise SetupError(var, f"unknown scheme {scheme!r}", "use http(s)://, sqlite:///, postgresql+psycopg2:// "
                     + fix_unset, _mask(raw))


def _mask(uri: str | None) -> str | None:
    """The URI without its password (it ends up in an error line)."""
    if not uri:
        return uri
    p = urllib.parse.urlparse(uri)
    if p.password:
        return uri.replace(f":{p.password}@", ":***@")
    return uri


# --- Prefect -------------------------------------------------------------------------------------
def prefect_api_url_setting() -> str | None:
    """``PREFECT_API_URL`` as Prefect resolves it (environment, then the active profile)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def check_prefect(timeout: float | None = None, tries: int = 2, require_server: bool = False) -> str:
    """Reach ``PREFECT_API_URL`` (unset: a temporary local API, unless ``require_server``)."""
    timeout = timeout or preflight_timeout()
    url = prefect_api_url_setting()
    var = "PREFECT_API_URL"
    fix_unset = "or unset PREFECT_API_URL to use a temporary local API"
    if not url:
        if require_server:
            raise SetupError(var, "not set, and schedules need a running Prefect server",
                             "start one (`make services`, then eval \"$(syslab services env)\"; or `prefect server "
                             "start`) and export PREFECT_API_URL=http://127.0.0.1:4200/api")
        from prefect.settings import get_current_settings

        if not get_current_settings().server.ephemeral.enabled:
            raise SetupError(var, "not set and the active Prefect profile disables the temporary local API",
                             "export PREFECT_API_URL=http://<server>:4200/api or "
                             "PREFECT_SERVER_EPHEMERAL_ENABLED=true")
        return "Prefect: a temporary local API on 127.0.0.1 (started with the flow)"
    p = urllib.parse.urlparse(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        raise SetupError(var, "not an http(s) URL", "use http://host:4200/api " + fix_unset, url)
    status, why = _http_health(url.rstrip("/") + "/health", timeout, tries)
    if status is None or status >= 500:
        raise SetupError(var, f"no Prefect server answers at {url} ({why})",
                         "start it (`make services` or infra/prefect-server.sh) " + fix_unset, url)
    if status in (401, 403):
        raise SetupError(var, f"the Prefect server refused the request ({why})",
                         "set PREFECT_API_KEY or PREFECT_API_AUTH_STRING", url)
    if status >= 300:
        raise SetupError(var, f"{url}/health answered {why}; the URL must end in /api", "use http://host:4200/api "
                         + fix_unset, url)
    return f"Prefect server {url} healthy"


def check_topology(target: RayTarget | None = None, prefect_url: str | None = "<read>") -> str:
    """A remote Ray cluster needs a Prefect URL that its nodes can reach (not unset, not loopback)."""
    target = target or ray_target()
    if prefect_url == "<read>":
        prefect_url = prefect_api_url_setting()
    if target.on_this_machine:
        return "Ray runs on this machine: a loopback Prefect API is fine"
    fix = ("run a Prefect server every Ray node can reach (`prefect server start --host 0.0.0.0`, or "
           "clusters/kuberay/prefect-server.yaml) and export PREFECT_API_URL=http://<address the nodes reach>:4200/api")
    if not prefect_url:
        raise SetupError("PREFECT_API_URL", f"unset while RAY_ADDRESS={target.raw!r} is a remote cluster: its "
                         "workers would report task state to this machine's temporary loopback API", fix)
    host = urllib.parse.urlparse(prefect_url).hostname or ""
    if is_loopback(host):
        raise SetupError("PREFECT_API_URL", f"a loopback address while RAY_ADDRESS={target.raw!r} is a remote "
                         "cluster: its workers cannot reach it", fix, prefect_url)
    return f"remote Ray with Prefect at {host}"


def check_cluster_nodes(node_ips: list[str], prefect_url: str | None) -> None:
    """After connecting: a cluster with nodes on other machines needs a non-loopback Prefect URL.

    Catches what :func:`check_topology` cannot see before connecting, e.g. ``ray://127.0.0.1:10001``
    through a port-forward to a remote cluster.
    """
    local = _local_ips()
    remote = sorted({ip for ip in node_ips if ip and not is_loopback(ip) and ip not in local})
    if not remote:
        return
    host = urllib.parse.urlparse(prefect_url or "").hostname or ""
    if not prefect_url or is_loopback(host):
        raise SetupError("PREFECT_API_URL", f"{'unset' if not prefect_url else 'loopback'} while the Ray cluster "
                         f"has nodes on other machines ({', '.join(remote[:3])}): their workers cannot report task "
                         "state to it", "run a Prefect server every Ray node can reach and export "
                         "PREFECT_API_URL=http://<address the nodes reach>:4200/api (clusters/README.md)",
                         prefect_url)


def _local_ips() -> set[str]:
    """Every address of this machine's interfaces (psutil), plus what its host name resolves to."""
    ips = {"127.0.0.1", "::1"}
    try:
        import psutil

        ips |= {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs
                if a.family in (socket.AF_INET, socket.AF_INET6)}
    except Exception:  # noqa: BLE001 - psutil missing or restricted: fall back to the name
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(info[4][0])
    except OSError:
        pass
    try:  # the address this machine uses for outbound traffic (no packet is sent)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            ips.add(s.getsockname()[0])
    except OSError:
        pass
    return ips


# --- the entry point -----------------------------------------------------------------------------
CHECKS: dict[str, Callable[..., str]] = {
    "settings": lambda **kw: check_settings(),
    "ray": lambda **kw: check_ray(),
    "mlflow": lambda **kw: check_mlflow(),
    "prefect": lambda **kw: check_prefect(require_server=kw.get("require_prefect_server", False)),
    "topology": lambda **kw: check_topology(),
}


def preflight(only: tuple[str, ...] | list[str] | None = None, *, require_prefect_server: bool = False,
              report: Callable[[str, str, float], None] | None = None) -> list[tuple[str, str, float]]:
    """Run the checks in order (all by default); the first failure raises :class:`SetupError`.

    ``report(name, outcome, seconds)`` is called after each passed check. Returns the same triples.
    """
    names = list(only) if only else list(CHECKS)
    bad = [n for n in names if n not in CHECKS]
    if bad:
        raise ValueError(f"unknown check(s) {bad}; valid: {', '.join(CHECKS)}")
    out = []
    for name in names:
        t0 = time.perf_counter()
        outcome = CHECKS[name](require_prefect_server=require_prefect_server)
        dt = time.perf_counter() - t0
        out.append((name, outcome, dt))
        if report:
            report(name, outcome, dt)
    return out
