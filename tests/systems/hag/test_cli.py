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


def test_sparse_ids_weights_and_loops_end_to_end(runner, tmp_path):
    p = tmp_path / "db.txt"
    big = 10**12
    # a weighted edge list with database ids, a duplicate (weights add) and a self-loop
    p.write_text(f"{big} 7 1\n{big} 9 1\n{big + 1} 7 1\n{big + 1} 9 1\n{big} 7 1\n9 9 2\n")
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--capacity-frac", "2", "--json", "--show"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["relabelled"] and out["weighted"] and out["self_loops"] == 1 and out["nodes"] == 4
    assert set(out["node_inputs"]) == {"7", "9", str(big), str(big + 1)}
    # node 7 reads big twice (weight 2), so only node 9's unit-weight inputs can share with it: no pair is shared
    assert out["node_inputs"]["9"] and all(isinstance(x, (int, str)) for x in out["node_inputs"]["7"])
    assert f"{big}*2" in out["node_inputs"]["7"]


def test_duplicates_error_and_max_nodes_exit_2(runner, tmp_path):
    p = tmp_path / "dup.txt"
    p.write_text("0 1\n2 1\n0 1\n")
    r = runner.invoke(app, ["hag", "search", "--edges", str(p), "--duplicates", "error"])
    assert r.exit_code == 2 and f"{p}:3:" in r.stderr and "duplicate edge" in r.stderr
    q = tmp_path / "huge.txt"
    q.write_text("0 1\n100000000 2\n")
    r = runner.invoke(app, ["hag", "search", "--edges", str(q), "--relabel", "never", "--max-nodes", "1000"])
    assert r.exit_code == 2 and f"{q}:2:" in r.stderr and "max_nodes" in r.stderr
    r = runner.invoke(app, ["hag", "search", "--edges", str(q), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["nodes"] == 4  # relabelled: no 10^8-node allocation
