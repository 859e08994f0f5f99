"""Workloads and suites: cheap job lists, deterministic stand-in graphs with the paper's statistics."""

import numpy as np
import pytest

from systems.core import get_system
from systems.hag.workloads import SUITES, WORKLOADS, build_graph


def test_spec_registered():
    spec = get_system("hag")
    assert spec.primary_metric == "aggregations" and spec.direction == "min"
    assert spec.reference_baseline == "gnn-graph" and spec.baselines == ("gnn-graph",)
    assert {"gnn-graph", "hag-greedy", "hag-pw"} <= set(spec.method_names)
    assert any(m.startswith("hag-cap-") for m in spec.method_names)


@pytest.mark.parametrize("suite", list(SUITES))
def test_jobs_are_cheap_and_valid(suite):
    spec = get_system("hag")
    before = build_graph.cache_info()
    jobs = spec.jobs(suite)
    after = build_graph.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)  # cheap: no graph is built for a job list
    assert jobs and all(j.method in spec.method_names and j.workload in WORKLOADS for j in jobs)
    assert {j.workload for j in jobs} == set(spec.workloads(suite))
    assert all(j.suite == suite for j in jobs)
    # every workload has its baseline job
    for w in spec.workloads(suite):
        assert any(j.workload == w and j.method == "gnn-graph" for j in jobs)


def test_smoke_suite_contents():
    jobs = get_system("hag").jobs("smoke")
    assert {j.workload for j in jobs} == {"fig1", "karate", "clique-mini"}
    assert {"gnn-graph", "hag-greedy"} <= {j.method for j in jobs}


def test_spec_validates_names():
    spec = get_system("hag")
    with pytest.raises(ValueError, match="unknown hag workload"):
        spec.jobs("smoke", workloads=["cora"])
    with pytest.raises(ValueError, match="not in hag suite 'smoke'"):
        spec.jobs("smoke", workloads=["lesmis"])
    with pytest.raises(ValueError, match="unknown method"):
        spec.jobs("smoke", methods=["magic"])


def test_stand_ins_are_deterministic_and_match_statistics():
    a = WORKLOADS["bzr-like"].build()
    b = WORKLOADS["bzr-like"].build()
    assert a.in_lists == b.in_lists
    # BZR_MD: 306 graphs, ~21.3 nodes, ~225 undirected edges each
    assert a.num_graphs == 306
    assert 19 < a.num_nodes / 306 < 24
    assert 180 < a.num_edges / 2 / 306 < 270
    imdb = build_graph("imdb-like")
    assert imdb.num_graphs == 1500
    assert 11 < imdb.num_nodes / 1500 < 15
    assert 45 < imdb.num_edges / 2 / 1500 < 90  # IMDB-MULTI: 65.94


def test_graph_ids_cover_all_nodes():
    g = build_graph("clique-mini")
    assert g.graph_ids is not None and len(g.graph_ids) == g.num_nodes
    assert np.all(np.diff(g.graph_ids) >= 0)
