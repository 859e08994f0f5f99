"""``syslab mapper`` commands."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli.mapper import app

runner = CliRunner()


def test_apps_and_expert():
    r = runner.invoke(app, ["apps"])
    assert r.exit_code == 0 and "circuit" in r.output and "cosma" in r.output
    r = runner.invoke(app, ["expert", "cannon"])
    assert r.exit_code == 0 and "IndexTaskMap" in r.output
    r = runner.invoke(app, ["expert", "nope"])
    assert r.exit_code == 2


def test_eval_ok_and_failures(tmp_path):
    good = tmp_path / "m.dsl"
    good.write_text(runner.invoke(app, ["expert", "stencil"]).output)
    r = runner.invoke(app, ["eval", str(good), "--app", "stencil"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output.strip().splitlines()[-1])
    assert d["status"] == "ok" and d["time_s"] > 0 and d["lower_bound_s"] > 0 and d["line"] is None
    bad = tmp_path / "bad.dsl"
    bad.write_text("Task * GPU;\nRegion * * GPU FBMEM\n")
    r = runner.invoke(app, ["eval", str(bad), "--app", "stencil", "--json"])
    assert r.exit_code == 2
    d = json.loads(r.stdout[: r.stdout.rindex("}") + 1])
    assert d["status"] == "compile_error" and d["line"] == 3 and d["time_s"] is None  # $end after the last newline
    r = runner.invoke(app, ["eval", str(tmp_path / "missing.dsl"), "--app", "stencil"])
    assert r.exit_code == 2 and "Traceback" not in r.output
    r = runner.invoke(app, ["eval", str(good), "--app", "nope"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["eval", str(good), "--app", "stencil", "--machine", "zz"])
    assert r.exit_code == 2


def test_eval_with_sizes_and_describe(tmp_path):
    good = tmp_path / "m.dsl"
    good.write_text(runner.invoke(app, ["expert", "cannon"]).output)
    r = runner.invoke(app, ["eval", str(good), "--app", "cannon", "--size", "n=8192"])
    assert r.exit_code == 0, r.output
    from systems.mapper.evaluate import evaluate_mapper

    d = json.loads(r.output.strip().splitlines()[-1])
    assert d["time_s"] == evaluate_mapper(good.read_text(), "cannon", n=8192).time_s
    r = runner.invoke(app, ["eval", str(good), "--app", "cannon", "--size", "bogus"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["eval", str(good), "--app", "cannon", "--size", "zz=1"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["describe", "circuit"])
    assert r.exit_code == 0 and "calculate_new_currents" in r.output and "rp_ghost" in r.output
