"""The search loop, the offline optimizers, run_search_job and the CLI commands."""

import json

import pytest
from typer.testing import CliRunner

from systems.core import Job
from systems.mapper.agent.feedback import autoguide
from systems.mapper.agent.optimizers import Evolve
from systems.mapper.agent.space import MapperSpace
from systems.mapper.apps import get_app
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper import SPEC
from systems.mapper.search import OPTIMIZERS, SearchError, run_search_job, search

OFFLINE = [n for n, i in OPTIMIZERS.items() if not i.needs_llm]


@pytest.mark.parametrize("opt", OFFLINE)
def test_offline_optimizers_are_deterministic_and_best_reevaluates(opt):
    a = search("circuit", opt, iterations=12, seed=3)
    b = search("circuit", opt, iterations=12, seed=3)
    assert a.history == b.history and a.best_mapper == b.best_mapper
    assert [r.note for r in a.records] == [r.note for r in b.records]
    assert a.best_time_s is not None
    assert evaluate_mapper(a.best_mapper, "circuit").time_s == a.best_time_s
    assert a.speedup == pytest.approx(a.expert_time_s / a.best_time_s)
    hist = [h for h in a.history if h is not None]
    assert all(x >= y for x, y in zip(hist, hist[1:]))  # best-so-far never gets worse


def test_seeds_differ():
    a = search("stencil", "random-search", iterations=5, seed=0)
    b = search("stencil", "random-search", iterations=5, seed=1)
    assert [r.time_s for r in a.records] != [r.time_s for r in b.records]


def test_bad_arguments_name_valid_values():
    with pytest.raises(SearchError, match="random-search"):
        search("stencil", "opentuner")
    with pytest.raises(SearchError, match="score, raw, explain, guide, oracle"):
        search("stencil", "evolve", feedback="loud")
    with pytest.raises(SearchError, match="positive"):
        search("stencil", "evolve", iterations=0)


def test_run_search_job_result():
    job = Job(system="mapper", workload="pennant", method="scalar-tuner", seed=0,
              params={"iterations": 20, "wall_s": 60}, config="debug_cpu")
    r = run_search_job(job, SPEC.resolve(job))
    assert r.ok and r.simulated
    for k in ("time_s", "expert_time_s", "speedup", "iterations", "search_wall_s"):
        assert k in r.metrics
    assert r.metrics["iterations"] == 20
    assert len(r.series["iteration_time_s"]) == 20
    assert r.series["best_so_far"][-1] == r.metrics["time_s"]
    assert evaluate_mapper(r.artifacts["best_mapper.dsl"], "pennant", **r.params["sizes"]).time_s == r.metrics["time_s"]
    assert "expert_mapper.dsl" in r.artifacts
    if "lower_bound_s" in r.metrics:
        assert r.metrics["bound_ratio"] >= 1.0 - 1e-9


def test_wall_budget_stops_early():
    r = search("cannon", "random-search", iterations=10_000, wall_s=0.5)
    assert r.stopped_by == "wall_s" and 1 <= r.iterations < 10_000


def _find_failing(app_name, machine, kind, tries=400):
    """A seeded random point of the structured space that fails with ``kind``."""
    import random

    space = MapperSpace(get_app(app_name, machine))
    rng = random.Random(0)
    for _ in range(tries):
        p = space.random(rng)
        text = space.render(p).text
        out = evaluate_mapper(text, app_name, machine)
        if out.status != "ok" and out.error_kind == kind:
            return space, p, out
    pytest.skip(f"no {kind} failure found in {tries} random points")


@pytest.mark.parametrize("app_name,kind,machine", [("cannon", "stride", None), ("johnson", "oom", None)])
def test_guide_feedback_fixes_the_failure(app_name, kind, machine):
    """Scripted scenario: a failing mapper + guide feedback → evolve's next proposals repair it."""
    import random

    app = get_app(app_name, machine)
    space, point, out = _find_failing(app_name, machine, kind)
    ev = Evolve(space, random.Random(0), level="guide")
    prop = ev._proposal(point, "scripted failing mapper")
    fb = autoguide(out, prop.text, "guide", app=app)
    assert fb.suggestions, fb.text
    fixed = False
    for it in range(1, 6):
        ev.observe(prop, None, fb)
        prop = ev.propose(it)
        out = evaluate_mapper(prop.text, app_name, machine)
        if out.status == "ok":
            fixed = True
            break
        fb = autoguide(out, prop.text, "guide", app=app)
    assert fixed, f"guide feedback did not repair the {kind} failure: {fb.text}"


def _cli():
    from flows.cli.main import app

    return app


def test_cli_search_json_and_eval_roundtrip(tmp_path):
    runner = CliRunner()
    res = runner.invoke(_cli(), ["mapper", "search", "--app", "stencil", "--optimizer", "evolve",
                                 "--iterations", "6", "--seed", "1", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    for k in ("best_time_s", "expert_time_s", "speedup", "iterations", "wall_s", "best_mapper"):
        assert k in d
    f = tmp_path / "best.dsl"
    f.write_text(d["best_mapper"])
    ev = runner.invoke(_cli(), ["mapper", "eval", str(f), "--app", "stencil", "--json"])
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.stdout)["time_s"] == d["best_time_s"]


@pytest.mark.parametrize("args,needle", [
    (["--app", "nope", "--optimizer", "evolve"], "circuit"),
    (["--app", "stencil", "--optimizer", "nope"], "scalar-tuner"),
    (["--app", "stencil", "--optimizer", "evolve", "--feedback", "x"], "guide"),
    (["--app", "stencil", "--optimizer", "evolve", "--iterations", "0"], "positive"),
    (["--app", "stencil", "--optimizer", "llm-agent"], "OPENAI_BASE_URL"),
])
def test_cli_bad_args_exit_2(args, needle):
    res = CliRunner().invoke(_cli(), ["mapper", "search", *args])
    assert res.exit_code == 2 and needle in res.stderr and "Traceback" not in res.output


def test_cli_optimizers_lists_llm_status():
    res = CliRunner().invoke(_cli(), ["mapper", "optimizers"])
    assert res.exit_code == 0
    for n in OPTIMIZERS:
        assert n in res.stdout
    assert "no LLM endpoint configured" in res.stdout


def test_llm_agent_without_endpoint_fails_clearly():
    from systems.mapper.agent.llm import LLMUnavailableError

    with pytest.raises(LLMUnavailableError, match="OPENAI_BASE_URL"):
        job = Job(system="mapper", workload="stencil", method="llm-agent", params={"iterations": 2}, config="debug_cpu")
        run_search_job(job, SPEC.resolve(job))


def test_cli_optimizers_with_endpoint_hides_key(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "some-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value-123456")
    res = CliRunner().invoke(_cli(), ["mapper", "optimizers"])
    assert res.exit_code == 0 and "LLM endpoint configured" in res.stdout and "some-model" in res.stdout
    assert "sk-secret-value-123456" not in res.output
    assert "llm-agent      available" in res.stdout


def test_smoke_suite_jobs_run_through_evaluate():
    """evaluate.run dispatches every non-expert method here; smoke jobs use the small sizes."""
    from systems.mapper import SPEC
    from systems.mapper.runner import run

    jobs = [j for j in SPEC.jobs("smoke") if j.workload == "stencil" and j.method != "expert"]
    assert {j.method for j in jobs} == {"random-search", "scalar-tuner", "evolve"}
    for j in jobs:
        cfg = SPEC.resolve(j)
        r = run(j, cfg)
        assert r.ok and r.metrics["iterations"] == cfg.iterations and r.params["sizes"]
