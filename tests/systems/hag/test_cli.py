"""``syslab hag search``: JSON output, exit codes, located errors on stderr."""

import json

import pytest
from typer.testing import CliRunner

from flows.cli.main import app


@pytest.fixture
def runner():
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always separates stderr
        return CliRunner()


def test_search_json_fig1(runner, tmp_path):
    p = tmp_path / "fig1.txt"
    p.write_text("0 1\n0 2\n0 3\n1 2\n1 3\n")
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--undirected", "--capacity-frac", "0.5", "--json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("nodes", "edges", "agg_nodes", "aggregations_before", "aggregations_after", "transfers_before",
                "transfers_after", "search_s", "verified"):
        assert key in out
    assert (out["nodes"], out["edges"]) == (4, 10)
    assert (out["aggregations_before"], out["aggregations_after"], out["agg_nodes"]) == (6, 4, 2)
    assert out["verified"] is True


def test_search_default_capacity_and_seq(runner, tmp_path):
    p = tmp_path / "fig1.txt"
    p.write_text("0 1\n0 2\n0 3\n1 2\n1 3\n")
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--undirected", "--json"])
    assert json.loads(r.stdout)["aggregations_after"] == 5
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--undirected", "--mode", "seq",
                            "--method", "pw", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["mode"] == "seq"


def test_search_text_output_bundled(runner):
    r = runner.invoke(app, ["hag", "search", "--graph", "karate"])
    assert r.exit_code == 0
    assert "aggregations 122 ->" in r.stdout


@pytest.mark.parametrize("content,where", [("0 1\n1 x\n", ":2:"), ("", ":1:"), ("0 1\n-3 1\n", ":2:")])
def test_bad_input_exits_2_with_location(runner, tmp_path, content, where):
    p = tmp_path / "bad.txt"
    p.write_text(content)
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--json"])
    assert r.exit_code == 2
    assert f"{p}{where}" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout == ""


@pytest.mark.parametrize("args", [["--edges", "/nonexistent/x.txt"], ["--graph", "cora"],
                                  ["--graph", "karate", "--mode", "tree"], ["--graph", "karate", "--method", "x"],
                                  []])
def test_bad_options_exit_2(runner, args):
    r = runner.invoke(app, ["hag", "search", *args])
    assert r.exit_code == 2
    assert "error:" in r.stderr


def test_workloads_listing(runner):
    r = runner.invoke(app, ["hag", "workloads", "--suite", "smoke"])
    assert r.exit_code == 0 and "clique-mini" in r.stdout
