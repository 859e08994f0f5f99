import json

import pytest

from typer.testing import CliRunner

from flows.cli.main import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["layerwise", *args])


def test_search_model_json():
    r = _run("search", "--model", "alexnet", "--devices", "4", "--method", "dp", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    for k in ("cost_s", "comm_bytes", "search_s", "strategy", "throughput"):
        assert k in data
    assert data["method"] == "layerwise-dp" and data["simulated"] is True
    assert set(data["strategy"]) >= {"conv1", "fc8"}


def test_search_graph_file_and_every_method(tmp_path):
    f = tmp_path / "net.json"
    f.write_text(json.dumps({"input": [8, 3, 8, 8], "layers": [
        {"name": "c1", "op": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1, "inputs": ["input"]},
        {"name": "f1", "op": "linear", "out_features": 4, "inputs": ["c1"]}]}))
    for m in ("dp", "mcmc", "brute-force", "data-parallel", "model-parallel", "owt"):
        r = _run("search", "--graph", str(f), "--devices", "2", "--method", m, "--json", "--iterations", "200")
        assert r.exit_code == 0, (m, r.output)
        assert json.loads(r.stdout)["cost_s"] > 0
    r = _run("search", "--graph", str(f), "--devices", "2")
    assert r.exit_code == 0 and "predicted step time" in r.stdout


def test_bad_inputs_exit_2_with_located_message(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"input": [8, 3, 8, 8], "layers": [
        {"name": "c1", "op": "conv2d", "out_channels": 8, "kernel": 3, "inputs": ["nothere"]}]}))
    r = _run("search", "--graph", str(f), "--devices", "2")
    assert r.exit_code == 2
    assert "layer 'c1'" in r.stderr and "'nothere' is not defined" in r.stderr
    assert "Traceback" not in r.output
    assert _run("search", "--model", "resnet", "--devices", "2").exit_code == 2
    r = _run("search", "--model", "alexnet", "--devices", "3")
    assert r.exit_code == 2 and "power of two" in r.stderr
    r = _run("search", "--model", "alexnet", "--devices", "4", "--method", "magic")
    assert r.exit_code == 2 and "unknown method" in r.stderr
    r = _run("search", "--model", "alexnet", "--devices", "4", "--method", "brute-force")
    assert r.exit_code == 2 and "combinations" in r.stderr
    assert _run("search", "--devices", "4").exit_code == 2


def test_emulate_command():
    r = _run("emulate", "--model", "tiny_vgg", "--devices", "2", "--method", "model-parallel", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ok"] and data["emulated_fwd_bytes"] + data["emulated_bwd_bytes"] == data["model_transfer_bytes"]


@pytest.mark.slow
def test_execute_command_runs_real_processes():
    r = _run("execute", "--model", "tiny_vgg", "--devices", "2", "--method", "model-parallel", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ok"] and data["bytes_sent_per_step"] == data["model_transfer_bytes_fp64"] > 0


def test_non_series_parallel_graphs_search_without_exit_2():
    for net in ("densenet_block", "randwire_er"):
        r = _run("search", "--model", net, "--devices", "8", "--json", "--iterations", "500")
        assert r.exit_code == 0, r.output
        data = json.loads(r.stdout)
        assert data["search_stats"]["residual_nodes"] > 0 and "exact" in data
