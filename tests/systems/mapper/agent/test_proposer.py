"""The full LLM loop against a local OpenAI-compatible stub server (no network).

Scripted replies: a malformed reply, a transport error (dropped connection, retried by the
client), a mapper with a syntax error, then replies computed from the prompt. Checks that the
loop survives all of them, that each iteration's feedback reaches the next prompt, that token
usage is recorded, and that the API key appears nowhere in results, artifacts or logs.
"""

import json
import logging

import pytest

from systems.core import Job
from systems.mapper.agent.llm import LLMConfig
from systems.mapper.experts import expert_mapper
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper import SPEC
from systems.mapper.search import run_search_job, search
from tests.systems.mapper.agent.stub_openai import StubOpenAI

KEY = "sk-stub-DO-NOT-LEAK-4f1c2a9e7b"
APP = "stencil"


def _user(req):
    return req["messages"][-1]["content"]


def _reply_with_expert(req):
    return "Keeping the expert-style policy.\n```mapper\n" + expert_mapper(APP) + "```\n"


def _script():
    broken = expert_mapper(APP).replace(";", "", 1)  # first statement loses its ';'
    return ["I think GPUs are good for this.",            # 0: malformed (no mapper)
            {"drop": True}, _reply_with_expert,          # 1: transport error, retried → ok
            f"```mapper\n{broken}```",                   # 2: compile error
            _reply_with_expert]                          # 3: ok again


def test_llm_loop_survives_malformed_transport_and_compile_errors(caplog):
    cfg = LLMConfig(base_url=None, model="stub-model", api_key=KEY, backoff_s=0.0)
    with StubOpenAI(_script()) as stub, caplog.at_level(logging.DEBUG):
        cfg.base_url = stub.base_url
        res = search(APP, "llm-agent", iterations=4, seed=0, feedback="guide", llm=cfg)
    st = [r.status for r in res.records]
    assert st[0] == "malformed" and st[1] == "ok" and st[2] == "compile_error" and st[3] == "ok"
    assert len(stub.requests) == 5  # 4 iterations + 1 retry
    # feedback of each iteration is in the next prompt
    assert "malformed reply" in _user(stub.requests[1]) and "malformed reply" in _user(stub.requests[2])
    assert res.records[2].feedback.splitlines()[0] in _user(stub.requests[4])
    assert "Failing statement" in _user(stub.requests[4])  # guide localises the compile error
    assert "Best mappers so far" in _user(stub.requests[3])  # the ok mapper is shown as best
    # tokens recorded per iteration; best mapper = the expert's text, re-evaluates exactly
    assert all(r.prompt_tokens > 0 for r in res.records)
    assert res.best_time_s == pytest.approx(res.expert_time_s)
    assert evaluate_mapper(res.best_mapper, APP).time_s == res.best_time_s
    blob = json.dumps(res.to_dict(), default=str)
    assert KEY not in blob and KEY not in caplog.text
    assert res.llm["llm_model"] == "stub-model"


def test_llm_job_never_leaks_the_key(monkeypatch, caplog):
    with StubOpenAI([_reply_with_expert, "no mapper here", {"status": 500}, _reply_with_expert]) as stub, \
            caplog.at_level(logging.DEBUG):
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("SYSLAB_LLM_MODEL", "stub-model")
        job = Job(system="mapper", workload=APP, method="llm-agent", seed=1,
                  params={"iterations": 3, "wall_s": 60}, config="debug_cpu")
        r = run_search_job(job, SPEC.resolve(job))
    assert r.ok and r.metrics["iterations"] == 3 and r.metrics["failed_iterations"] == 1
    assert r.series["prompt_tokens"][0] > 0 and len(r.series["cost_usd"]) == 3
    assert stub.headers[0]["authorization"] == f"Bearer {KEY}"
    assert KEY not in r.to_json() and KEY not in caplog.text
    assert r.params["llm_model"] == "stub-model" and "api_key" not in json.dumps(r.params)


def test_repeated_transport_failures_stop_the_search():
    cfg = LLMConfig(base_url=None, model="m", api_key=KEY, backoff_s=0.0, max_retries=1)
    from systems.mapper.agent.llm import LLMUnavailableError

    with StubOpenAI([{"status": 503}] * 10) as stub:
        cfg.base_url = stub.base_url
        with pytest.raises(LLMUnavailableError) as ei:
            search(APP, "llm-agent", iterations=5, llm=cfg)
    assert KEY not in str(ei.value) and len(stub.requests) == 6  # 3 proposals x (1 + 1 retry)


def test_grammar_mode_sends_the_gbnf_and_reads_the_bare_reply():
    from systems.mapper.agent.grammar import gbnf

    cfg = LLMConfig(base_url=None, model="stub-model", api_key=KEY, backoff_s=0.0, grammar="gbnf")
    with StubOpenAI([lambda req: expert_mapper(APP), "Task * GPU"]) as stub:  # 2nd: cut short (no ';')
        cfg.base_url = stub.base_url
        res = search(APP, "llm-agent", iterations=2, seed=0, feedback="guide", llm=cfg)
    assert stub.requests[0]["grammar"] == gbnf()
    assert "```mapper" not in _user(stub.requests[0]) and "no code fence" in stub.requests[0]["messages"][0]["content"]
    assert [r.status for r in res.records] == ["ok", "compile_error"]
    assert [r.grammar for r in res.records] == ["gbnf", "gbnf"] and res.llm["llm_grammar_sent"] == "gbnf"
    assert res.records[0].model == "stub-model" and res.llm["llm_answered_by"] == "stub-model"
    assert res.llm["dsl_reference"].startswith("v1 sha256:")


def test_unusable_endpoint_fails_before_any_iteration():
    import socket

    from systems.mapper.agent.llm import LLMUnavailableError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", api_key=KEY, backoff_s=0.0)
    with pytest.raises(LLMUnavailableError, match="unreachable") as ei:
        search(APP, "llm-agent", iterations=3, llm=cfg)
    assert "\n" not in str(ei.value)
    with StubOpenAI([], models=["another"]) as stub:
        cfg.base_url = stub.base_url
        with pytest.raises(LLMUnavailableError, match="does not serve model 'm'"):
            search(APP, "llm-agent", iterations=3, llm=cfg)
        assert stub.requests == []  # no completion was requested


def test_job_records_every_proposal_with_why_it_failed(monkeypatch):
    broken = expert_mapper(APP).replace(";", "", 1)
    with StubOpenAI([f"```mapper\n{broken}```", _reply_with_expert]) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_MODEL", "stub-model")
        job = Job(system="mapper", workload=APP, method="llm-agent", seed=0, params={"iterations": 2})
        r = run_search_job(job, SPEC.resolve(job))
    rows = [json.loads(x) for x in r.artifacts["proposals.jsonl"].splitlines()]
    assert [x["status"] for x in rows] == ["compile_error", "ok"]
    assert rows[0]["error_kind"] == "syntax" and "syntax error" in rows[0]["message"]
    assert rows[0]["proposal"].strip() == broken.strip() and rows[1]["prompt_tokens"] > 0
    assert r.metrics["compile_rate"] == 0.5 and r.params["llm_answered_by"] == "stub-model"
