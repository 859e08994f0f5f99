"""The OpenAI-compatible client wrapper against the local stub server."""

import logging

import pytest

import json
import os
import socket

from systems.mapper.agent.llm import (LLMClient, LLMConfig, LLMRequestError, LLMUnavailableError,
                                      llm_config_from_env, llm_status, redact, safe_url)
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
    with StubOpenAI([{"status": 400, "message": "messages: too long"}, "never"]) as stub:
        with pytest.raises(LLMRequestError, match="rejected.*too long"):
            LLMClient(_cfg(stub.base_url), sleep=lambda s: None).complete([{"role": "user", "content": "x"}])
    assert len(stub.requests) == 1


def test_reasoning_model_rejections_are_adapted_and_remembered():
    """A reasoning model's 400s (max_tokens, temperature) change the request instead of aborting."""
    script = [{"status": 400, "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                                         "Use 'max_completion_tokens' instead."},
              {"status": 400, "message": "Unsupported value: 'temperature' does not support 0.7 with this model. "
                                         "Only the default (1) value is supported."},
              "first", "second"]
    with StubOpenAI(script) as stub:
        cl = LLMClient(_cfg(stub.base_url, max_tokens=333), sleep=lambda s: None)
        a = cl.complete([{"role": "user", "content": "x"}], seed=1)
        b = cl.complete([{"role": "user", "content": "y"}], seed=2)
    assert (a.text, b.text, a.attempts, b.attempts) == ("first", "second", 3, 1)
    last = stub.requests[-1]
    assert last["max_completion_tokens"] == 333 and "max_tokens" not in last and "temperature" not in last
    assert last["seed"] == 2
    assert a.adaptations == ["max_tokens sent as max_completion_tokens", "temperature dropped (rejected by the server)"]


def test_retry_after_is_honoured():
    sleeps = []
    with StubOpenAI([{"status": 429, "headers": {"Retry-After": "7"}},
                     {"status": 503, "headers": {"retry-after-ms": "250"}}, "ok"]) as stub:
        c = LLMClient(_cfg(stub.base_url, backoff_s=0.5), sleep=sleeps.append).complete([{"role": "user", "content": "x"}])
    assert c.text == "ok" and sleeps == [7.0, 0.25]


def test_gbnf_grammar_goes_in_the_body_and_a_refusal_turns_it_off():
    with StubOpenAI(["Task * GPU;", {"status": 400, "message": "Unrecognized request argument supplied: grammar"},
                     "Task * CPU;"]) as stub:
        cl = LLMClient(_cfg(stub.base_url, grammar="gbnf"))
        a = cl.complete([{"role": "user", "content": "x"}], grammar_text="root ::= \"Task\"")
        b = cl.complete([{"role": "user", "content": "x"}], grammar_text="root ::= \"Task\"")
    assert stub.requests[0]["grammar"] == 'root ::= "Task"' and a.grammar == "gbnf"
    assert "grammar" not in stub.requests[2] and b.grammar == "off"
    assert "grammar dropped" in b.adaptations[0]


def test_lark_tool_sends_a_custom_grammar_tool_and_reads_its_input():
    with StubOpenAI([{"tool_input": "Task * GPU;\n"}]) as stub:
        c = LLMClient(_cfg(stub.base_url, grammar="lark-tool")).complete([{"role": "user", "content": "x"}],
                                                                          grammar_text="start: \"Task\"")
    req = stub.requests[0]
    tool = req["tools"][0]
    assert tool["type"] == "custom" and tool["custom"]["format"]["grammar"] == {"syntax": "lark",
                                                                                "definition": 'start: "Task"'}
    assert req["tool_choice"] == {"type": "custom", "custom": {"name": "submit_mapper"}}
    assert c.text == "Task * GPU;\n" and c.grammar == "lark-tool"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_fails_fast_with_one_line():
    cl = LLMClient(_cfg(f"http://127.0.0.1:{_closed_port()}/v1"))
    with pytest.raises(LLMUnavailableError) as ei:
        cl.check()
    assert "unreachable" in str(ei.value) and "\n" not in str(ei.value) and KEY not in str(ei.value)
    with StubOpenAI([], models=["other-model", "m2"]) as stub:
        with pytest.raises(LLMUnavailableError, match="does not serve model 'stub-model'.*other-model"):
            LLMClient(_cfg(stub.base_url)).check()
    with StubOpenAI([], models=["stub-model"]) as stub:
        LLMClient(_cfg(stub.base_url)).check()
    with StubOpenAI([]) as stub:  # no /models route: passes (the first request will tell)
        LLMClient(_cfg(stub.base_url)).check()


def test_model_variable_and_alias(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "alias-model")
    assert llm_config_from_env().model == "alias-model"
    monkeypatch.setenv("OPENAI_MODEL", "main-model")
    assert llm_config_from_env().model == "main-model"
    monkeypatch.setenv("SYSLAB_LLM_GRAMMAR", "nonsense")
    with pytest.raises(ValueError, match="off, gbnf, lark-tool"):
        llm_config_from_env()


def test_local_server_endpoint_is_found_while_alive(monkeypatch, tmp_path):
    for k in ("OPENAI_BASE_URL", "OPENAI_MODEL", "SYSLAB_LLM_MODEL", "SYSLAB_LLM_GRAMMAR", "SYSLAB_LLM_CTX"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    (tmp_path / "llm").mkdir()
    f = tmp_path / "llm" / "endpoint.json"
    f.write_text(json.dumps({"base_url": "http://127.0.0.1:8012/v1", "model": "smol", "grammar": "gbnf",
                             "pid": os.getpid(), "server": "llama-cpp-python 0.3.36", "context_tokens": 8192}))
    cfg = llm_config_from_env()
    assert (cfg.base_url, cfg.model, cfg.grammar, cfg.source, cfg.context_tokens) == \
        ("http://127.0.0.1:8012/v1", "smol", "gbnf", "local-server", 8192)
    assert cfg.max_prompt_chars and cfg.max_prompt_chars < 8192 * 2.5
    assert "local server" in llm_status()
    f.write_text(json.dumps({"base_url": "http://127.0.0.1:8012/v1", "model": "smol", "pid": 2 ** 22 + 12345}))
    assert not llm_config_from_env().configured  # its process is gone


def test_unconfigured_raises_clear_error(monkeypatch, tmp_path):
    for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SYSLAB_LLM_MODEL", "OPENAI_MODEL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    cfg = llm_config_from_env()
    assert not cfg.configured
    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL"):
        LLMClient(cfg)
    assert "no LLM endpoint" in llm_status()


def test_public_dict_and_status_hide_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "https://user:pw@example.invalid/v1?token=abc")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_MODEL", "m")
    cfg = llm_config_from_env()
    assert KEY not in repr(cfg) and KEY not in str(cfg.public_dict()) and KEY not in llm_status()
    assert cfg.public_dict()["llm_base_url"] == "https://example.invalid/v1"
    assert safe_url(None) is None
    assert redact(f"auth Bearer {KEY} and {KEY}", KEY) == "auth Bearer *** and ***"
