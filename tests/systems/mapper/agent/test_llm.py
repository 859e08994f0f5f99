"""The OpenAI-compatible client wrapper against the local stub server."""

import logging

import pytest

from systems.mapper.agent.llm import (LLMClient, LLMConfig, LLMUnavailableError, llm_config_from_env,
                                      llm_status, redact, safe_url)
from tests.systems.mapper.agent.stub_openai import StubOpenAI

KEY = "sk-test-SECRET-0123456789abcdef"


def _cfg(url, **kw):
    kw.setdefault("backoff_s", 0.0)
    return LLMConfig(base_url=url, model="stub-model", api_key=KEY, **kw)


def test_completion_usage_and_cost():
    with StubOpenAI(["hello mapper"]) as stub:
        c = LLMClient(_cfg(stub.base_url, price_in_per_mtok=2.0, price_out_per_mtok=10.0)).complete(
            [{"role": "user", "content": "x" * 400}])
    assert c.text == "hello mapper"
    assert c.prompt_tokens == 100 and c.completion_tokens == 3
    assert c.cost_usd == pytest.approx((100 * 2.0 + 3 * 10.0) / 1e6)
    assert c.attempts == 1
    assert stub.requests[0]["model"] == "stub-model"
    assert stub.headers[0]["authorization"] == f"Bearer {KEY}"  # the key is sent to the server...


def test_retries_transport_error_and_500_then_succeeds(caplog):
    sleeps = []
    with StubOpenAI([{"drop": True}, {"status": 500}, "ok"]) as stub, caplog.at_level(logging.DEBUG):
        c = LLMClient(_cfg(stub.base_url, backoff_s=0.5), sleep=sleeps.append).complete(
            [{"role": "user", "content": "hi"}])
    assert c.text == "ok" and c.attempts == 3 and len(c.errors) == 2
    assert sleeps == [0.5, 1.0]  # exponential backoff
    assert KEY not in caplog.text and all(KEY not in e for e in c.errors)  # ...but never logged


def test_gives_up_after_retries_with_redacted_error():
    with StubOpenAI([{"status": 503}] * 5) as stub:
        with pytest.raises(LLMUnavailableError) as ei:
            LLMClient(_cfg(stub.base_url, max_retries=2), sleep=lambda s: None).complete([{"role": "user", "content": "x"}])
    assert len(stub.requests) == 3 and KEY not in str(ei.value)


def test_client_error_is_not_retried():
    with StubOpenAI([{"status": 400}, "never"]) as stub:
        with pytest.raises(RuntimeError, match="rejected"):
            LLMClient(_cfg(stub.base_url), sleep=lambda s: None).complete([{"role": "user", "content": "x"}])
    assert len(stub.requests) == 1


def test_unconfigured_raises_clear_error(monkeypatch):
    for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SYSLAB_LLM_MODEL"):
        monkeypatch.delenv(k, raising=False)
    cfg = llm_config_from_env()
    assert not cfg.configured
    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL"):
        LLMClient(cfg)
    assert "no LLM endpoint" in llm_status()


def test_public_dict_and_status_hide_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:pw@example.invalid/v1?token=abc")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "m")
    cfg = llm_config_from_env()
    assert KEY not in repr(cfg) and KEY not in str(cfg.public_dict()) and KEY not in llm_status()
    assert cfg.public_dict()["llm_base_url"] == "https://example.invalid/v1"
    assert safe_url(None) is None
    assert redact(f"auth Bearer {KEY} and {KEY}", KEY) == "auth Bearer *** and ***"
