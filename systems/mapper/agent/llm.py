"""The LLM side of the agent: an OpenAI-compatible chat client with retries, usage and cost.

The endpoint comes from the environment (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``,
``SYSLAB_LLM_MODEL``), so any OpenAI-compatible server works (hosted, vLLM, Ollama, the test
stub). The API key is held only inside the ``openai`` client: it never enters a config's
``public_dict()``, a log line, an exception text we raise, or a result (:func:`redact` scrubs
it from any text that might have picked it up, e.g. a server echoing a header).
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "SYSLAB_LLM_MODEL"


class LLMUnavailableError(RuntimeError):
    """No endpoint is configured, or every retry of a request failed on transport."""


@dataclass
class LLMConfig:
    """Where and how to call the LLM. Build it with :func:`llm_config_from_env`."""

    base_url: str | None = None
    """OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8000/v1`` (``OPENAI_BASE_URL``)."""
    model: str | None = None
    """Model name sent in the request (``SYSLAB_LLM_MODEL``)."""
    api_key: str | None = field(default=None, repr=False)
    """Secret (``OPENAI_API_KEY``); never logged, never in :meth:`public_dict`."""
    temperature: float = 0.7
    """Sampling temperature of each proposal."""
    max_tokens: int = 2048
    """Upper bound on completion tokens per proposal."""
    timeout_s: float = 120.0
    """Per-request timeout in seconds."""
    max_retries: int = 3
    """Retries after a transport error / 5xx / 429 (exponential backoff between them)."""
    backoff_s: float = 1.0
    """First backoff delay in seconds; doubles each retry."""
    price_in_per_mtok: float = 0.0
    """USD per million prompt tokens (cost is 0 unless set; prices are not guessed)."""
    price_out_per_mtok: float = 0.0
    """USD per million completion tokens."""

    @property
    def configured(self) -> bool:
        """True when an endpoint and a model are set."""
        return bool(self.base_url and self.model)

    def public_dict(self) -> dict[str, object]:
        """Settings safe to record (params, tags): no key, no credentials in the URL."""
        return {"llm_base_url": safe_url(self.base_url), "llm_model": self.model,
                "llm_temperature": self.temperature, "llm_max_tokens": self.max_tokens,
                "llm_max_retries": self.max_retries,
                "llm_price_in_per_mtok": self.price_in_per_mtok,
                "llm_price_out_per_mtok": self.price_out_per_mtok}


def llm_config_from_env(**overrides) -> LLMConfig:
    """An :class:`LLMConfig` from ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``SYSLAB_LLM_MODEL``."""
    cfg = LLMConfig(base_url=os.environ.get(ENV_BASE_URL) or None,
                    model=os.environ.get(ENV_MODEL) or None,
                    api_key=os.environ.get(ENV_API_KEY) or None)
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise TypeError(f"unknown LLMConfig field {k!r}")
        setattr(cfg, k, v)
    return cfg


def llm_status() -> str:
    """One line saying whether an LLM endpoint is configured (never shows the key)."""
    cfg = llm_config_from_env()
    if cfg.configured:
        key = "set" if cfg.api_key else "not set"
        return f"LLM endpoint configured: {safe_url(cfg.base_url)} model {cfg.model} (API key {key})"
    missing = [n for n, v in ((ENV_BASE_URL, cfg.base_url), (ENV_MODEL, cfg.model)) if not v]
    return f"no LLM endpoint configured ({', '.join(missing)} unset): offline optimizers only"


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
    """``text`` with every occurrence of ``secret`` (and bearer tokens) replaced by ``***``."""
    if not text:
        return text
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}", r"\1***", text)


@dataclass
class Completion:
    """One chat completion: the text and what it cost."""

    text: str
    """The assistant message content."""
    prompt_tokens: int
    """Prompt tokens the server reported (0 when it did not report usage)."""
    completion_tokens: int
    """Completion tokens the server reported."""
    cost_usd: float
    """Cost at the configured prices."""
    latency_s: float
    """Wall time of the request, retries included."""
    attempts: int
    """Requests made (1 = no retry)."""
    errors: list[str] = field(default_factory=list)
    """Redacted transport errors that were retried."""


class LLMClient:
    """Chat completions against ``cfg``'s endpoint with our own retry/backoff (and no SDK retries)."""

    def __init__(self, cfg: LLMConfig, sleep=time.sleep) -> None:
        if not cfg.configured:
            raise LLMUnavailableError(
                f"no LLM endpoint configured: set {ENV_BASE_URL} and {ENV_MODEL} (and {ENV_API_KEY} "
                "if the server needs one), or use an offline optimizer (random-search, scalar-tuner, evolve)")
        import openai

        self.cfg = cfg
        self._sleep = sleep
        self._openai = openai
        # The SDK insists on a key; servers that need none accept any placeholder.
        self._client = openai.OpenAI(base_url=cfg.base_url, api_key=cfg.api_key or "no-key",
                                     timeout=cfg.timeout_s, max_retries=0)

    def _retryable(self, exc: Exception) -> bool:
        o = self._openai
        if isinstance(exc, (o.APIConnectionError, o.APITimeoutError, o.RateLimitError, o.InternalServerError)):
            return True
        return isinstance(exc, o.APIStatusError) and getattr(exc, "status_code", 0) >= 500

    def complete(self, messages: list[dict[str, str]], seed: int | None = None) -> Completion:
        """One completion; transport errors are retried with exponential backoff.

        Raises :class:`LLMUnavailableError` (redacted message) when every attempt failed on
        transport, and re-raises other API errors (e.g. 400/401) with the key redacted.
        """
        t0 = time.perf_counter()
        errors: list[str] = []
        delay = self.cfg.backoff_s
        for attempt in range(1, self.cfg.max_retries + 2):
            try:
                kwargs = dict(model=self.cfg.model, messages=messages, temperature=self.cfg.temperature,
                              max_tokens=self.cfg.max_tokens)
                if seed is not None:
                    kwargs["seed"] = seed
                resp = self._client.chat.completions.create(**kwargs)
            except Exception as exc:  # noqa: BLE001 - classified below
                msg = redact(f"{type(exc).__name__}: {exc}", self.cfg.api_key)
                if isinstance(exc, self._openai.OpenAIError) and self._retryable(exc) \
                        and attempt <= self.cfg.max_retries:
                    errors.append(msg)
                    log.warning("LLM request failed (attempt %d/%d): %s; retrying in %.1fs",
                                attempt, self.cfg.max_retries + 1, msg, delay)
                    self._sleep(delay)
                    delay *= 2
                    continue
                if isinstance(exc, self._openai.OpenAIError) and self._retryable(exc):
                    raise LLMUnavailableError(f"LLM endpoint {safe_url(self.cfg.base_url)} failed "
                                              f"{attempt} times; last error: {msg}") from None
                raise RuntimeError(f"LLM request rejected: {msg}") from None
            text = ""
            if resp.choices:
                text = resp.choices[0].message.content or ""
            usage = getattr(resp, "usage", None)
            pt = int(getattr(usage, "prompt_tokens", 0) or 0) if usage else 0
            ct = int(getattr(usage, "completion_tokens", 0) or 0) if usage else 0
            cost = (pt * self.cfg.price_in_per_mtok + ct * self.cfg.price_out_per_mtok) / 1e6
            return Completion(text=text, prompt_tokens=pt, completion_tokens=ct, cost_usd=cost,
                              latency_s=time.perf_counter() - t0, attempts=attempt, errors=errors)
        raise AssertionError("unreachable")  # pragma: no cover
