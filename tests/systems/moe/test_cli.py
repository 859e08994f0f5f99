"""``syslab moe bench``: table and JSON output, exit code 2 with a message on bad input."""

import json

from typer.testing import CliRunner

from flows.cli.moe import app

runner = CliRunner()


def test_bench_json():
    res = runner.invoke(app, ["bench", "-w", "micro-tiny", "-m", "static-cf-oracle", "-m", "dropless",
                              "--steps", "6", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {r["method"] for r in out["runs"]} == {"static-cf-oracle", "dropless"}
    for r in out["runs"]:
        assert r["status"] == "ok"
        for k in ("tokens_per_s", "peak_mem_mb", "dropped_frac", "final_loss", "recompiles", "recompile_s"):
            assert k in r["metrics"]


def test_bench_table():
    res = runner.invoke(app, ["bench", "-w", "digits-tiny", "-m", "local-cf", "--steps", "6"])
    assert res.exit_code == 0, res.output
    assert "tokens/s" in res.stdout and "local-cf" in res.stdout and "recomp" in res.stdout


def test_bad_input_exits_2_without_traceback():
    for args in (["bench", "-w", "nope"], ["bench", "-m", "nope"], ["bench", "--steps", "0"],
                 ["bench", "-s", "weekly"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, args
        assert "error:" in res.stderr and "Traceback" not in res.output
