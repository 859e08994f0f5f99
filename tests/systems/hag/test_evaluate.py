"""evaluate.run: one job end to end for the baseline and the HAG methods."""

import math

import pytest

from systems.core import Job
from systems.core.execute import execute
from systems.core import ConfigError, get_system
from systems.hag.evaluate import run


def _job(workload, method, **params):
    return Job(system="hag", workload=workload, method=method, seed=0, suite="smoke", params=params,
               config="debug_cpu")


def _cfg(job):
    return get_system("hag").resolve(job)


def test_gnn_graph_reports_plain_numbers():
    job = _job("fig1", "gnn-graph")
    r = run(job, _cfg(job))
    m = r.metrics
    assert m["aggregations"] == 6 and m["transfers"] == 10 and m["agg_nodes"] == 0
    assert m["search_s"] == 0 and m["epoch_speedup"] == 1.0
    assert m["epoch_s"] > 0 and 0 <= m["accuracy"] <= 1
    assert not r.simulated and r.hardware


def test_hag_greedy_fig1_default_capacity():
    r = execute(_job("fig1", "hag-greedy"))
    assert r.ok, r.error
    assert r.metrics["aggregations"] == 5 and r.metrics["agg_nodes"] == 1 and r.metrics["verified"] == 1.0


@pytest.mark.parametrize("method", ["hag-greedy", "hag-pw", "hag-seq", "hag-cap-1"])
def test_hag_methods_on_clique_mini(method):
    r = execute(_job("clique-mini", method))
    assert r.ok, r.error
    m = r.metrics
    assert m["aggregations"] < m["aggregations_before"]
    assert m["transfers"] <= m["transfers_before"]
    assert m["output_max_abs_diff"] < 1e-4
    assert m["accuracy"] == m["accuracy_plain"]  # same model, same data: identical accuracy
    assert m["epoch_s"] > 0 and m["epoch_s_plain"] > 0 and math.isfinite(m["epoch_speedup"])
    assert 0 < m["memory_overhead"] < 1


def test_capacity_params_and_sweep_methods():
    assert _cfg(_job("karate", "hag-cap-0.5")).search.capacity_frac == 0.5
    assert _cfg(_job("karate", "gnn-graph")).hag is False
    assert _cfg(_job("karate", "hag-pw")).search.method == "pw"
    with pytest.raises(ValueError, match="unknown method 'hag-anneal'"):
        _cfg(_job("karate", "hag-anneal"))
    cfg = _cfg(_job("karate", "hag-greedy", capacity_frac=0.5, epochs=3))
    assert cfg.search.capacity_frac == 0.5 and cfg.train.epochs == 3
    with pytest.raises(ConfigError, match="unknown key 'bogus'.*valid keys: .*capacity_frac"):
        _cfg(_job("karate", "hag-greedy", bogus=1))


def test_pyg_peer_in_same_job():
    pytest.importorskip("torch_geometric")
    r = execute(_job("karate", "hag-greedy", pyg=True, epochs=4))
    assert r.metrics["pyg_epoch_s"] > 0
    assert r.metrics["pyg_output_max_abs_diff"] < 1e-4  # PyG GCNConv computes the same function


def test_summary_artifact():
    import json

    r = execute(_job("karate", "hag-greedy", epochs=2))
    summ = json.loads(r.artifacts["hag_summary.json"])
    assert summ["aggregations_after"] == r.metrics["aggregations"]
    assert sum(summ["level_sizes"]) == r.metrics["agg_nodes"]


def test_lstm_method_reuses_prefixes_and_matches_plain():
    r = execute(_job("clique-mini", "hag-lstm", epochs=3))
    assert r.ok, r.error
    m = r.metrics
    assert m["lstm_cells"] < m["lstm_cells_plain"] and m["aggregations"] < m["aggregations_before"]
    assert m["output_max_abs_diff"] < 1e-4 and m["accuracy"] == m["accuracy_plain"]
    assert r.params["mode"] == "seq" and r.params["max_depth"] > 10  # sequential mode: unbounded depth


def test_config_checks_and_other_kernels():
    with pytest.raises(ConfigError, match="'train.kernel' must be 'fused' \| 'csr'"):
        _cfg(_job("karate", "hag-greedy", kernel="dense"))
    with pytest.raises(ConfigError, match="hub_degree must be >= 2"):
        _cfg(_job("karate", "hag-greedy", hub_degree=1))
    cfg = _cfg(_job("karate", "hag-greedy"))
    assert cfg.search.max_depth is None and cfg.search.hub_degree == 512 and cfg.train.kernel == "fused"
    with pytest.raises(ValueError, match="needs search.mode='seq'"):
        job = _job("karate", "hag-greedy", model="sage-lstm")
        run(job, _cfg(job))
    r = execute(_job("karate", "hag-greedy", epochs=3, other_kernel_epochs=2))
    assert r.ok, r.error
    assert r.params["kernel_used"] == "fused" and r.params["engine"] == "native"
    for k in ("csr", "scatter"):
        assert r.metrics[f"epoch_s_{k}"] > 0 and r.metrics[f"epoch_s_plain_{k}"] > 0
