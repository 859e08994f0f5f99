"""`syslab mapper check`, the semantic corpus, generated mappers in the real dialect, and the real experts.

Optional: ``SYSLAB_MAPPER_HEAD_EXPERTS`` = a directory holding the public HEAD expert mappers (files named
after the benchmark, ``circuit``, ``cannon``, ..., or as in the authors' repositories: ``circuit_mappings``,
``cannonMM`` ...). Each must evaluate unmodified on its benchmark and match our expert's simulated time
within 1%.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.mapper import app as cli
from systems.mapper.agent.prompt import DSL_REFERENCE
from systems.mapper.agent.space import MapperSpace
from systems.mapper.apps import get_app
from systems.mapper.check import check_mapper
from systems.mapper.dsl import check_syntax
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper
from systems.mapper.workloads import ALL_APPS

CORPUS = Path(__file__).parent / "corpus" / "semantic"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())["files"]
runner = CliRunner()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_semantic_corpus(name):
    e = EXPECTED[name]
    r = check_mapper((CORPUS / name).read_text(), app=e["app"])
    assert (r.status, r.error_class, r.line) == (e["status"], e["error_class"], e["line"]), r.message
    assert bool(r.warnings) == bool(e.get("warnings"))


def test_corpora_cover_every_error_class():
    from systems.mapper.dsl.errors import COMPILE_KINDS

    grammar = json.loads((CORPUS.parent / "grammar" / "expected.json").read_text())["files"]
    seen = {e["error_class"] for e in EXPECTED.values()} | {e["verdict"] for e in grammar.values()}
    assert set(COMPILE_KINDS) <= seen, set(COMPILE_KINDS) - seen


def test_check_cli_json_and_exit_codes(tmp_path):
    bad = tmp_path / "bad.dsl"
    bad.write_text("Task * GPU;\nInstanceLimit task_5 GPU 1;\n")
    r = runner.invoke(cli, ["check", str(bad), "--json"])
    assert r.exit_code == 2
    d = json.loads(r.stdout)
    assert (d["status"], d["error_class"], d["line"], d["column"]) == ("compile_error", "syntax", 2, 22)
    assert d["message"].startswith("Error at line 2: syntax error, unexpected T_GPU, expecting T_IntConstant")
    r = runner.invoke(cli, ["check", str(bad), "--dialect", "extended", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "ok"
    good = tmp_path / "good.dsl"
    good.write_text(expert_mapper("cannon"))
    r = runner.invoke(cli, ["check", str(good)])
    assert r.exit_code == 0 and "ok" in r.stdout
    other = tmp_path / "stencil.dsl"
    other.write_text(expert_mapper("stencil"))
    r = runner.invoke(cli, ["check", str(other), "--app", "circuit", "--json"])
    assert r.exit_code == 0   # stencil's task names do not exist in circuit: warnings, not errors
    assert any("no task 'increment'" in w for w in json.loads(r.stdout)["warnings"])
    r = runner.invoke(cli, ["check", str(good), "--app", "johnson", "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["error_class"] == "dimension_mismatch"
    r = runner.invoke(cli, ["check", str(good), "--dialect", "mapple"])
    assert r.exit_code == 2
    r = runner.invoke(cli, ["check", str(tmp_path / "missing.dsl")])
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_eval_takes_machine_shapes_and_ranks_per_node(tmp_path):
    f = tmp_path / "j.dsl"
    f.write_text(expert_mapper("johnson"))
    r = runner.invoke(cli, ["eval", str(f), "--app", "johnson", "--machine", "8n1g", "--ranks-per-node", "4",
                            "--size", "n=8192"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["machine"] == "8n1g4r" and d["status"] == "ok"


# -- everything the project generates is real-dialect text --------------------------------------------
def _statements(text: str) -> list[str]:
    return re.findall(r"`([^`]*;)`", text)


def test_every_generated_mapper_parses_in_the_real_dialect():
    texts = [expert_mapper(a) for a in ALL_APPS]
    from tests.systems.mapper.agent.test_prompt import _code_blocks

    texts += _code_blocks(DSL_REFERENCE)  # every example of the prompt's DSL reference
    for app in ALL_APPS:
        space = MapperSpace(get_app(app))
        rng = random.Random(app)
        texts.append(space.render(space.default()).text)
        texts += [space.render(space.random(rng)).text for _ in range(25)]
    for t in texts:
        err = check_syntax(t)
        assert err is None, (err.message, t)


def test_feedback_suggestions_are_real_dialect_statements():
    from systems.mapper.agent.feedback import autoguide
    from systems.mapper.evaluate import Outcome

    app = get_app("cannon")
    cases = [Outcome("runtime_error", "Out of memory: failed to allocate an instance of region a for task task_4 in "
                     "node0.fb1 (FBMEM, capacity 15.73 GB): peak demand 16.0 GB (instances allocated there: a 9.0 GB)",
                     error_kind="oom", app="cannon"),
             Outcome("runtime_error", "Out of memory: failed to allocate an instance of region b for task task_4 in "
                     "node0.zcmem (ZCMEM, capacity 0.07 GB): peak demand 1.0 GB (instances allocated there: b 1.0 GB)",
                     error_kind="oom", app="cannon"),
             Outcome("runtime_error", "cuBLAS/BLAS call in task task_4 failed: stride does not match for region b "
                     "(instance is F_order; the library expects C_order leading dimensions)", error_kind="stride",
                     app="cannon")]
    found = 0
    for o in cases:  # the paper levels name no statement to paste; the oracle level does
        assert not _statements(autoguide(o, expert_mapper("cannon"), "guide", app=app).text)
        fb = autoguide(o, expert_mapper("cannon"), "oracle", app=app)
        for stmt in _statements(fb.text):
            found += 1
            assert check_syntax(stmt.replace("{...}", "{ return 0; }")) is None, stmt
    assert found >= 3


# -- the real experts ----------------------------------------------------------------------------------
HEAD_NAMES = {"circuit": "circuit_mappings", "stencil": "stencil_mappings", "pennant": "pennant_mappings",
              "cannon": "cannonMM", "summa": "summaMM", "pumma": "pummaMM", "johnson": "johnsonMM",
              "solomonik": "solomonikMM", "cosma": "cosma"}


@pytest.mark.skipif(not os.environ.get("SYSLAB_MAPPER_HEAD_EXPERTS"),
                    reason="set SYSLAB_MAPPER_HEAD_EXPERTS to a directory of the public HEAD expert mappers")
@pytest.mark.parametrize("app", ALL_APPS)
def test_real_head_expert_matches_ours(app):
    d = Path(os.environ["SYSLAB_MAPPER_HEAD_EXPERTS"])
    path = next((p for p in (d / app, d / HEAD_NAMES[app], d / f"{app}.dsl") if p.is_file()), None)
    if path is None:
        pytest.skip(f"no file for {app} in {d}")
    real = evaluate_mapper(path.read_text(), app)
    ours = evaluate_mapper(expert_mapper(app), app)
    assert real.ok, real.message
    assert ours.ok and abs(real.time_s / ours.time_s - 1) <= 0.01
    r = runner.invoke(cli, ["eval", str(path), "--app", app])
    assert r.exit_code == 0
