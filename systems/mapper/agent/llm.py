"""The LLM side of the agent: an OpenAI-compatible chat client that adapts to the server.

Where the endpoint comes from, first match wins:

1. the environment: ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` (``SYSLAB_LLM_MODEL`` is an alias),
   ``OPENAI_API_KEY``, ``SYSLAB_LLM_GRAMMAR`` (``off`` | ``gbnf`` | ``lark-tool``);
2. the local server ``syslab llm up`` started (``$SYSLAB_HOME/llm/endpoint.json``, used only while
   the process it names is alive): llama-cpp-python with a GGUF model, grammar ``gbnf``.

Robustness: a server that rejects an optional parameter (a reasoning model's 400 on
``max_tokens`` or ``temperature``, a server without ``seed`` or ``grammar``) gets the request again
without it, or with ``max_completion_tokens``, and the change is remembered and recorded
(:attr:`Completion.adaptations`); a 429/503 with ``Retry-After`` waits that long; every
completion carries tokens, latency and cost; :meth:`LLMClient.check` fails fast, with one line,
when the endpoint is unreachable, rejects the key, or does not serve the model.

The API key is held only inside the ``openai`` client: it never enters a config's
``public_dict()``, a log line, an exception text we raise, or a result (:func:`redact` scrubs it
from any text that might have picked it up, e.g. a server echoing a header).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "OPENAI_MODEL"
ENV_MODEL_ALIAS = "SYSLAB_LLM_MODEL"
ENV_GRAMMAR = "SYSLAB_LLM_GRAMMAR"
GRAMMAR_MODES = ("off", "gbnf", "lark-tool")
"""``gbnf``: llama.cpp's ``grammar`` request field; ``lark-tool``: an OpenAI custom tool whose input
format is a Lark grammar (hosted models that support grammar-constrained tools); ``off``: free text."""
MAX_RETRY_AFTER_S = 300.0
"""Longest ``Retry-After`` wait honoured; a longer one fails the request."""
TOOL_NAME = "submit_mapper"


class LLMUnavailableError(RuntimeError):
    """No endpoint is configured, it cannot be reached, or every retry of a request failed on transport."""


class LLMRequestError(RuntimeError):
    """The server rejected a request in a way no adaptation fixes (bad key, unknown model, bad request)."""


@dataclass
class LLMConfig:
    """Where and how to call the LLM. Build it with :func:`llm_config_from_env`."""

    base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8012/v1`` (``OPENAI_BASE_URL``)."""
    model: str | None = None
    """Model name sent in the request (``OPENAI_MODEL``, alias ``SYSLAB_LLM_MODEL``)."""
    api_key: str | None = field(default=None, repr=False)
    """Secret (``OPENAI_API_KEY``); never logged, never in :meth:`public_dict`."""
    grammar: str = "off"
    """How proposals are constrained to the DSL grammar: off | gbnf | lark-tool (``SYSLAB_LLM_GRAMMAR``)."""
    temperature: float = 0.7
    """Sampling temperature of each proposal (dropped when the server rejects it)."""
    max_tokens: int = 1024
    """Upper bound on completion tokens per proposal (sent as ``max_completion_tokens`` when the server asks)."""
    timeout_s: float = 300.0
    """Per-request timeout in seconds (``SYSLAB_LLM_TIMEOUT``; 1800 for the local CPU server, whose first
    long prompt can take minutes on a loaded machine)."""
    max_retries: int = 3
    """Retries after a transport error / 5xx / 429 (exponential backoff or ``Retry-After`` between them)."""
    backoff_s: float = 1.0
    """First backoff delay in seconds; doubles each retry."""
    price_in_per_mtok: float = 0.0
    """USD per million prompt tokens (``SYSLAB_LLM_PRICE_IN``; cost is 0 unless set: prices are not guessed)."""
    price_out_per_mtok: float = 0.0
    """USD per million completion tokens (``SYSLAB_LLM_PRICE_OUT``)."""
    context_tokens: int | None = None
    """The model's context length when known (``SYSLAB_LLM_CTX``; the local server records it): the prompt
    is trimmed (oldest feedback first) to fit it with room for ``max_tokens``."""
    source: str = "env"
    """Where the endpoint came from: env | local-server (``syslab llm up``) | explicit."""
    server: str | None = None
    """Server software when known (the local server records it)."""

    @property
    def max_prompt_chars(self) -> int | None:
        """Longest user message that fits the context (about 2.5 characters per token of DSL/English)."""
        if not self.context_tokens:
            return None
        return max(4000, int((self.context_tokens - self.max_tokens - 400) * 2.5))

    @property
    def configured(self) -> bool:
        """True when an endpoint and a model are set."""
        return bool(self.base_url and self.model)

    def public_dict(self) -> dict[str, object]:
        """Settings safe to record (params, tags): no key, no credentials in the URL."""
        return {"llm_base_url": safe_url(self.base_url), "llm_model": self.model, "llm_grammar": self.grammar,
                "llm_source": self.source, "llm_server": self.server or "unknown",
                "llm_context_tokens": self.context_tokens,
                "llm_temperature": self.temperature, "llm_max_tokens": self.max_tokens,
                "llm_max_retries": self.max_retries,
                "llm_price_in_per_mtok": self.price_in_per_mtok,
                "llm_price_out_per_mtok": self.price_out_per_mtok}


def local_endpoint() -> dict | None:
    """The endpoint ``syslab llm up`` recorded, when its server process is still alive."""
    from systems.core.env import syslab_home

    f = Path(syslab_home()) / "llm" / "endpoint.json"
    try:
        d = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    pid = d.get("pid")
    if pid:
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, PermissionError, ValueError):
            return None
    return d if d.get("base_url") and d.get("model") else None


def _float_env(name: str) -> float:
    v = os.environ.get(name)
    if not v:
        return 0.0
    try:
        return float(v)
    except ValueError:
        raise ValueError(f"{name}={v!r} is not a number (USD per million tokens)") from None


def llm_config_from_env(**overrides) -> LLMConfig:
    """An :class:`LLMConfig` from the environment, else from the running local server (see module doc)."""
    base = os.environ.get(ENV_BASE_URL) or None
    model = os.environ.get(ENV_MODEL) or os.environ.get(ENV_MODEL_ALIAS) or None
    grammar = os.environ.get(ENV_GRAMMAR) or None
    ctx = os.environ.get("SYSLAB_LLM_CTX")
    cfg = LLMConfig(base_url=base, model=model, api_key=os.environ.get(ENV_API_KEY) or None,
                    price_in_per_mtok=_float_env("SYSLAB_LLM_PRICE_IN"),
                    price_out_per_mtok=_float_env("SYSLAB_LLM_PRICE_OUT"),
                    context_tokens=int(ctx) if ctx and ctx.isdigit() else None)
    if not base:
        loc = local_endpoint()
        if loc:
            cfg.base_url, cfg.model = loc["base_url"], model or loc["model"]
            cfg.source, cfg.server = "local-server", loc.get("server")
            cfg.context_tokens = cfg.context_tokens or loc.get("context_tokens")
            cfg.timeout_s = 1800.0
            grammar = grammar or loc.get("grammar")
    if os.environ.get("SYSLAB_LLM_TIMEOUT"):
        cfg.timeout_s = _float_env("SYSLAB_LLM_TIMEOUT")
    cfg.grammar = grammar or "off"
    if cfg.grammar not in GRAMMAR_MODES:
        raise ValueError(f"{ENV_GRAMMAR}={cfg.grammar!r}; valid: {', '.join(GRAMMAR_MODES)}")
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"unknown LLMConfig field {k!r}")
        setattr(cfg, k, v)
    return cfg


def llm_status() -> str:
    """One line saying whether an LLM endpoint is configured (never shows the key)."""
    try:
        cfg = llm_config_from_env()
    except ValueError as exc:
        return f"LLM endpoint misconfigured: {exc}"
    if cfg.configured:
        key = "set" if cfg.api_key else "not set"
        where = "local server (syslab llm up)" if cfg.source == "local-server" else "environment"
        return (f"LLM endpoint configured from the {where}: {safe_url(cfg.base_url)} model {cfg.model} "
                f"(API key {key}, grammar {cfg.grammar})")
    missing = [n for n, v in ((ENV_BASE_URL, cfg.base_url), (ENV_MODEL, cfg.model)) if not v]
    return (f"no LLM endpoint configured ({', '.join(missing)} unset, no `syslab llm up` server): "
            "offline optimizers only")


def safe_url(url: str | None) -> str | None:
    """``url`` without user-info, query or fragment (where credentials hide)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (and bearer tokens / sk- keys) replaced by ``***``."""
    if not text:
        return text
    if secret:
        text = text.replace(secret, "***")
    text = re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}", r"\1***", text)
    return re.sub(r"\bsk-[A-Za-z0-9_\-]{12,}", "sk-***", text)


@dataclass
class Completion:
    """One chat completion: the text and what it cost."""

    text: str
    """The assistant message content (or the grammar-constrained tool call's input)."""
    prompt_tokens: int
    """Prompt tokens the server reported (0 when it did not report usage)."""
    completion_tokens: int
    """Completion tokens the server reported."""
    cost_usd: float
    """Cost at the configured prices."""
    latency_s: float
    """Wall time of the request, retries and waits included."""
    attempts: int
    """Requests made (1 = no retry)."""
    errors: list[str] = field(default_factory=list)
    """Redacted errors that were retried or adapted to."""
    finish_reason: str | None = None
    """``stop``, ``length`` (hit max tokens), ``tool_calls``, ..."""
    grammar: str = "off"
    """The grammar mode actually sent with this request (``off`` after the server refused one)."""
    adaptations: list[str] = field(default_factory=list)
    """Parameter changes made for this server so far (e.g. ``temperature dropped``)."""
    model: str | None = None
    """The model the server says answered (its ``model`` field)."""


_OPTIONAL = ("temperature", "seed", "grammar", "tools", "tool_choice", "max_tokens", "max_completion_tokens")


class LLMClient:
    """Chat completions against ``cfg``'s endpoint with our own retry/backoff (and no SDK retries)."""

    def __init__(self, cfg: LLMConfig, sleep=time.sleep) -> None:
        if not cfg.configured:
            raise LLMUnavailableError(
                f"no LLM endpoint configured: set {ENV_BASE_URL} and {ENV_MODEL} (and {ENV_API_KEY} if the "
                "server needs one), or start the local one (`make llm && syslab llm up`), or use an offline "
                "optimizer (random-search, scalar-tuner, evolve)")
        if cfg.grammar not in GRAMMAR_MODES:
            raise ValueError(f"grammar mode {cfg.grammar!r}; valid: {', '.join(GRAMMAR_MODES)}")
        import openai

        self.cfg = cfg
        self._sleep = sleep
        self._openai = openai
        # The SDK insists on a key; servers that need none accept any placeholder.
        self._client = openai.OpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "no-key",
                                     timeout=cfg.timeout_s, max_retries=0)
        self.dropped: set[str] = set()
        """Optional parameters this server rejected (not sent again)."""
        self.use_max_completion_tokens = False
        self.adaptations: list[str] = []
        self.checked = False

    # -- preflight --------------------------------------------------------------------------------
    def check(self) -> None:
        """Fail fast with one line when the endpoint is unreachable, refuses the key, or lacks the model.

        Uses ``GET /models``; a server without that route (404/405) passes (the first request will tell).
        """
        o = self._openai
        where = safe_url(self.cfg.base_url)
        try:
            models = [m.id for m in self._client.models.list()]
        except (o.APIConnectionError, o.APITimeoutError) as exc:
            raise LLMUnavailableError(
                f"LLM endpoint {where} is unreachable ({redact(str(exc), self.cfg.api_key)}); start it "
                f"(`syslab llm up`) or fix {ENV_BASE_URL}") from None
        except o.AuthenticationError:
            raise LLMUnavailableError(f"LLM endpoint {where} rejected the API key (401): check {ENV_API_KEY}") from None
        except o.PermissionDeniedError:
            raise LLMUnavailableError(f"LLM endpoint {where} refused access (403): check {ENV_API_KEY}") from None
        except o.APIStatusError as exc:
            if exc.status_code in (404, 405, 501):
                self.checked = True
                return
            raise LLMUnavailableError(f"LLM endpoint {where} failed its model listing "
                                      f"({exc.status_code}): {redact(_err_text(exc), self.cfg.api_key)}") from None
        except Exception as exc:  # noqa: BLE001 - e.g. HTML instead of JSON: not an OpenAI-compatible API
            raise LLMUnavailableError(f"LLM endpoint {where} does not answer like an OpenAI-compatible API: "
                                      f"{type(exc).__name__}: {redact(str(exc), self.cfg.api_key)[:200]}") from None
        if models and self.cfg.model not in models:
            shown = ", ".join(models[:8]) + (" ..." if len(models) > 8 else "")
            raise LLMUnavailableError(f"LLM endpoint {where} does not serve model {self.cfg.model!r} "
                                      f"(it serves: {shown}); fix {ENV_MODEL}")
        self.checked = True

    # -- one request ------------------------------------------------------------------------------
    def _kwargs(self, messages, seed, grammar_text: str | None) -> tuple[dict, str]:
        kw: dict = {"model": self.cfg.model, "messages": messages}
        extra: dict = {}
        if "temperature" not in self.dropped:
            kw["temperature"] = self.cfg.temperature
        tok_key = "max_completion_tokens" if self.use_max_completion_tokens else "max_tokens"
        if tok_key not in self.dropped:
            kw[tok_key] = self.cfg.max_tokens
        if seed is not None and "seed" not in self.dropped:
            kw["seed"] = seed
        mode = self.cfg.grammar if grammar_text else "off"
        if mode == "gbnf" and "grammar" not in self.dropped:
            extra["grammar"] = grammar_text
        elif mode == "lark-tool" and "tools" not in self.dropped:
            kw["tools"] = [{"type": "custom", "custom": {
                "name": TOOL_NAME, "description": "Submit one complete mapper written in the mapping DSL.",
                "format": {"type": "grammar", "grammar": {"syntax": "lark", "definition": grammar_text}}}}]
            kw["tool_choice"] = {"type": "custom", "custom": {"name": TOOL_NAME}}
        else:
            mode = "off"
        if extra:
            kw["extra_body"] = extra
        return kw, mode

    def _adapt(self, exc) -> str | None:
        """Change the request for a 400 that names an optional parameter; the change made, or None."""
        msg = _err_text(exc).lower()
        if "max_tokens" in msg and "max_completion_tokens" in msg and not self.use_max_completion_tokens:
            self.use_max_completion_tokens = True
            return "max_tokens sent as max_completion_tokens"
        for p in ("temperature", "seed", "grammar", "tool_choice", "tools", "max_completion_tokens", "max_tokens"):
            if p in self.dropped:
                continue
            if re.search(rf"['\"`]?\b{p}\b['\"`]?", msg) and (p != "tools" or "tool" in msg):
                self.dropped.add(p)
                if p in ("tools", "tool_choice"):
                    self.dropped.update(("tools", "tool_choice"))
                    return "grammar-constrained tool not supported: tools dropped (grammar off)"
                return f"{p} dropped (rejected by the server)" + (" - grammar off" if p == "grammar" else "")
        if "custom" in msg and "tool" in msg and "tools" not in self.dropped:
            self.dropped.update(("tools", "tool_choice"))
            return "grammar-constrained tool not supported: tools dropped (grammar off)"
        return None

    def _retry_after(self, exc) -> float | None:
        resp = getattr(exc, "response", None)
        headers = getattr(resp, "headers", None)
        if not headers:
            return None
        raw = headers.get("retry-after-ms")
        if raw:
            try:
                return float(raw) / 1000.0
            except ValueError:
                pass
        raw = headers.get("retry-after")
        if not raw:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APIConnectionError, o.APITimeoutError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(exc, o.APIStatusError) and getattr(exc, "status_code", 0) >= 500

    def complete(self, messages: list[dict[str, str]], seed: int | None = None,
                 grammar_text: str | None = None) -> Completion:
        """One completion. ``grammar_text``: the GBNF (``gbnf`` mode) or Lark (``lark-tool``) grammar.

        Transport errors / 5xx / 429 are retried (``Retry-After`` honoured, else exponential
        backoff); a 400 naming an optional parameter is adapted to and retried at once. Raises
        :class:`LLMUnavailableError` when every attempt failed on transport and
        :class:`LLMRequestError` for other rejections; both messages are redacted, one line.
        """
        o = self._openai
        t0 = time.perf_counter()
        errors: list[str] = []
        delay = self.cfg.backoff_s
        attempt = 0
        transport_tries = 0
        while True:
            attempt += 1
            kwargs, mode = self._kwargs(messages, seed, grammar_text)
            try:
                resp = self._client.chat.completions.create(**kwargs)
            except Exception as exc:  # noqa: BLE001 - classified below
                msg = redact(f"{type(exc).__name__}: {_err_text(exc)}", self.cfg.api_key)
                if isinstance(exc, o.BadRequestError) or (isinstance(exc, o.APIStatusError)
                                                          and exc.status_code == 422):
                    change = self._adapt(exc) if attempt <= len(_OPTIONAL) + 1 else None
                    if change:
                        errors.append(msg)
                        self.adaptations.append(change)
                        log.warning("LLM server rejected a parameter (%s); %s; retrying", msg, change)
                        continue
                if isinstance(exc, o.OpenAIError) and self._retryable(exc):
                    transport_tries += 1
                    if transport_tries <= self.cfg.max_retries:
                        wait = self._retry_after(exc)
                        if wait is not None and wait > MAX_RETRY_AFTER_S:
                            raise LLMUnavailableError(f"LLM endpoint {safe_url(self.cfg.base_url)} asks to retry "
                                                      f"after {wait:.0f}s (> {MAX_RETRY_AFTER_S:.0f}s); last error: "
                                                      f"{msg}") from None
                        wait = delay if wait is None else wait
                        errors.append(msg)
                        log.warning("LLM request failed (attempt %d/%d): %s; retrying in %.1fs",
                                    transport_tries, self.cfg.max_retries + 1, msg, wait)
                        self._sleep(wait)
                        delay *= 2
                        continue
                    raise LLMUnavailableError(f"LLM endpoint {safe_url(self.cfg.base_url)} failed "
                                              f"{transport_tries} times; last error: {msg}") from None
                raise LLMRequestError(f"LLM request rejected: {msg}") from None
            text, finish = "", None
            if resp.choices:
                ch = resp.choices[0]
                finish = getattr(ch, "finish_reason", None)
                text = ch.message.content or ""
                for call in getattr(ch.message, "tool_calls", None) or []:
                    custom = getattr(call, "custom", None)
                    if custom is not None and getattr(custom, "input", None) is not None:
                        text = custom.input
                        break
            usage = getattr(resp, "usage", None)
            pt = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
            ct = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
            cost = (pt * self.cfg.price_in_per_mtok + ct * self.cfg.price_out_per_mtok) / 1e6
            return Completion(text=text, prompt_tokens=pt, completion_tokens=ct, cost_usd=cost,
                              latency_s=time.perf_counter() - t0, attempts=attempt, errors=errors,
                              finish_reason=finish, grammar=mode, adaptations=list(self.adaptations),
                              model=getattr(resp, "model", None))


def _err_text(exc) -> str:
    """The server's own error message when the body has one, else the exception text (one line)."""
    body = getattr(exc, "body", None)
    msg = None
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else (err if isinstance(err, str) else None)
        if msg is None and isinstance(body.get("detail"), (str, list)):
            msg = json.dumps(body["detail"]) if isinstance(body["detail"], list) else body["detail"]
    return " ".join(str(msg or exc).split())
