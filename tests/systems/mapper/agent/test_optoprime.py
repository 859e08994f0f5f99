"""The OptoPrime optimizer (Microsoft Trace) against the local stub server."""

import importlib.util
import json

import pytest

from systems.mapper.agent.llm import LLMConfig
from systems.mapper.experts import expert_mapper
from systems.mapper.search import search
from tests.systems.mapper.agent.stub_openai import StubOpenAI

APP = "cannon"
needs_trace = pytest.mark.skipif(importlib.util.find_spec("opto") is None, reason="trace-opt not installed (make llm)")


def _cfg(**kw):
    return LLMConfig(base_url=None, model="stub-model", api_key="sk-stub-0123456789abcdef", backoff_s=0.0, **kw)


@needs_trace
def test_optoprime_loop_backward_step_and_failed_steps():
    def reply(req):  # OptoPrime's JSON answer; the suggestion is the expert's mapper (data, not code)
        return json.dumps({"reasoning": "use the expert policy", "suggestion": {"mapper0": expert_mapper(APP)}})

    cfg = _cfg(grammar="gbnf")
    with StubOpenAI([reply, "not json at all", reply]) as stub:
        cfg.base_url = stub.base_url
        res = search(APP, "optoprime", iterations=4, seed=0, feedback="guide", llm=cfg)
    st = [r.status for r in res.records]
    assert st[1] == "ok" and st[2] == "malformed" and st[3] == "ok"
    assert res.records[0].note.startswith("start") and res.records[0].prompt_tokens == 0  # the default mapper
    # the suggested mapper (the expert's text) evaluates to the expert's time; best is at least that good
    assert res.records[1].time_s == pytest.approx(res.expert_time_s)
    assert res.best_time_s <= res.expert_time_s
    user = stub.requests[0]["messages"][-1]["content"]
    assert "#Variables" in user and "#Feedback" in user and "simulate" in user  # OptoPrime's problem instance
    assert "Mapper DSL reference (v1)" in user  # the parameter's constraint carries the reference
    assert stub.requests[0]["grammar"].startswith("root ::= \"{\"")  # JSON answer with a DSL string inside
    # the failed step's feedback reaches the next request
    assert "no parseable JSON suggestion" in stub.requests[2]["messages"][-1]["content"]


def test_optoprime_without_trace_says_make_llm(monkeypatch):
    import sys

    from systems.mapper.agent.optoprime import TraceUnavailableError

    monkeypatch.setitem(sys.modules, "opto", None)
    with StubOpenAI([]) as stub:
        cfg = _cfg()
        cfg.base_url = stub.base_url
        with pytest.raises(TraceUnavailableError, match="make llm"):
            search(APP, "optoprime", iterations=2, llm=cfg)
