"""Three iterations of the agent against the real local model (``make llm``): slow, skipped without it."""

import socket

import pytest

from flows import llm as local_llm

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(local_llm.install_problem() is not None, reason="syslab llm is not installed (make llm)")
@pytest.mark.timeout(1800)
def test_three_real_model_iterations(monkeypatch, tmp_path):
    from systems.mapper.agent.llm import llm_config_from_env
    from systems.mapper.search import search

    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path))
    monkeypatch.setenv("SYSLAB_LLM_PORT", str(_free_port()))
    monkeypatch.setenv("SYSLAB_LLM_THREADS", "1")
    try:
        assert local_llm.up(timeout=300)
        cfg = llm_config_from_env(max_tokens=300)
        assert cfg.source == "local-server" and cfg.grammar == "gbnf"
        res = search("stencil", "llm-agent", iterations=3, seed=0, feedback="guide", llm=cfg)
    finally:
        local_llm.down()
    assert res.iterations == 3
    for r in res.records:  # each iteration was a real completion from the local model, grammar-constrained
        assert r.completion_tokens > 0 and r.prompt_tokens > 1000 and r.grammar == "gbnf"
        assert r.model == local_llm.model_alias()
        assert r.status in ("ok", "compile_error", "mapping_error", "runtime_error")
    assert res.llm["llm_answered_by"] == local_llm.model_alias()
