"""Graph input: the edge-list loader (including located errors) and the bundled graphs."""

import networkx as nx
import numpy as np
import pytest

from systems.hag.graph import (GraphInputError, atlas_graph, figure1_graph, from_networkx, karate_graph,
                               lesmis_graph, load_edge_list, parse_edge_list)


def test_edge_list_directed_and_undirected(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("# a comment\n0 1\n\n2 1   # trailing comment\n0 1\n")
    g = load_edge_list(p, duplicates="drop")
    assert g.num_nodes == 3
    assert g.in_lists == [[], [0, 2], []]  # 0 -> 1 means 1 aggregates 0
    gu = load_edge_list(p, undirected=True, duplicates="drop")
    assert sorted(gu.in_lists[0]) == [1] and sorted(gu.in_lists[1]) == [0, 2] and gu.in_lists[2] == [1]
    assert gu.num_edges == 4


def test_first_seen_order_is_kept():
    g = parse_edge_list("3 0\n1 0\n2 0\n")
    assert g.in_lists[0] == [3, 1, 2]


@pytest.mark.parametrize("text,line,fragment", [
    ("0 1\n1 x\n", 2, "integer"),
    ("0 1\n1 2 3\n", 2, "expected 2 fields"),
    ("0\n", 1, "'src dst'"),
    ("0 1 2 3\n", 1, "'src dst'"),
    ("0 1 0.5\n1 2\n", 2, "weights on every line or none"),
    ("0 1 x\n", 1, "number as edge weight"),
    ("0 1 nan\n", 1, "finite edge weight"),
    ("0 1\n# ok\n-1 2\n", 3, "non-negative"),
    ("1.5 2\n", 1, "integer"),
    ("", 1, "at least one edge"),
    ("# only comments\n\n", 2, "at least one edge"),
])
def test_malformed_input_is_located(tmp_path, text, line, fragment):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(GraphInputError) as ei:
        load_edge_list(p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}:{line}: ")
    assert fragment in msg
    assert ei.value.line == line


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(GraphInputError, match="no such file"):
        load_edge_list(tmp_path / "nope.txt")
    with pytest.raises(GraphInputError, match="directory"):
        load_edge_list(tmp_path)


def test_bundled_graphs_have_known_sizes():
    assert figure1_graph().num_edges == 10
    k = karate_graph()
    assert (k.num_nodes, k.num_edges) == (34, 156)
    lm = lesmis_graph()
    assert (lm.num_nodes, lm.num_edges) == (77, 508)
    a = atlas_graph()
    assert a.num_graphs == 1252
    assert a.graph_ids is not None and len(a.graph_ids) == a.num_nodes


def test_networkx_directed_graph_keeps_direction():
    g = from_networkx(nx.DiGraph([(0, 1), (2, 1)]))
    assert g.in_lists[1] == [0, 2] and g.in_lists[0] == [] and g.num_edges == 2


@pytest.mark.parametrize("big", [10**8, 10**12, 2**62])
def test_sparse_huge_ids_are_relabelled_and_kept(tmp_path, big):
    p = tmp_path / "sparse.txt"
    p.write_text(f"{big} 7\n7 {big + 5}\n")
    g = load_edge_list(p)
    assert g.num_nodes == 3 and g.num_edges == 2
    assert g.node_ids.tolist() == [7, big, big + 5]
    assert [g.original_id(v) for v in range(3)] == [7, big, big + 5]
    assert g.in_lists == [[1], [], [0]]  # big -> 7, 7 -> big+5


def test_dense_ids_are_kept_including_isolated_nodes():
    g = parse_edge_list("0 1\n3 2\n")  # node ids 0..3 (dense)
    assert g.num_nodes == 4 and g.node_ids is None
    g = parse_edge_list("0 1\n3 2\n", relabel="always")
    assert g.num_nodes == 4 and g.node_ids.tolist() == [0, 1, 2, 3]


def test_max_nodes_guard(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("0 1\n1 2\n# x\n5000000 3\n")
    with pytest.raises(GraphInputError) as ei:
        load_edge_list(p, relabel="never", max_nodes=1_000_000)
    assert str(ei.value).startswith(f"{p}:4: ") and "max_nodes" in str(ei.value)
    assert load_edge_list(p, max_nodes=1_000_000).num_nodes == 5  # relabelled: 5 distinct ids
    with pytest.raises(GraphInputError, match="5 distinct nodes, more than max_nodes=4"):
        load_edge_list(p, max_nodes=4)


def test_duplicates_sum_as_multiplicity_by_default():
    g = parse_edge_list("0 1\n0 1\n0 1\n2 1\n1 0\n")
    assert g.num_edges == 3 and g.in_lists == [[1], [0, 2], []]
    assert g.weights.tolist() == [1.0, 3.0, 1.0]  # CSR order: node 0 <- 1; node 1 <- 0 (x3), 2


def test_duplicates_drop_warns_and_error_is_located(tmp_path):
    p = tmp_path / "dup.txt"
    p.write_text("0 1\n2 1\n# c\n0 1\n")
    with pytest.warns(UserWarning, match="dropped 1 duplicate"):
        g = load_edge_list(p, duplicates="drop")
    assert g.weights is None and g.num_edges == 2
    with pytest.raises(GraphInputError) as ei:
        load_edge_list(p, duplicates="error")
    assert str(ei.value).startswith(f"{p}:4: ") and "duplicate edge 0 -> 1" in str(ei.value)


def test_weighted_edges_and_duplicate_weights_add():
    g = parse_edge_list("0 1 0.5\n2 1 2\n0 1 0.25\n")
    assert g.in_lists == [[], [0, 2], []]
    assert g.weights.tolist() == [0.75, 2.0]
    assert parse_edge_list("0 1 1\n2 1 1.0\n").weights is None  # all ones: unweighted


def test_self_loops_follow_pyg():
    g = parse_edge_list("0 1\n1 1\n1 1\n2 2\n")
    assert g.in_lists == [[], [0], []]  # loops never enter the in-lists (nor the HAG)
    assert g.loop_weight.tolist() == [0.0, 2.0, 1.0]  # GIN/sum: every copy is an edge
    assert g.gcn_loop is None  # GCN (add_remaining_self_loops, unweighted): identity weight 1 everywhere
    gw = parse_edge_list("0 1 1\n1 1 3\n")
    assert gw.gcn_loop.tolist() == [1.0, 3.0]  # weighted: the loop's weight replaces the fill value 1
    gu = parse_edge_list("0 0\n0 1\n", undirected=True)
    assert gu.loop_weight.tolist() == [1.0, 0.0]  # an undirected loop line is one loop, not two


def test_chung_lu_generator_is_deterministic_power_law():
    from systems.hag.graph import chung_lu_graph

    a = chung_lu_graph(20_000, seed=1)
    b = chung_lu_graph(20_000, seed=1)
    assert a.num_edges == 40_000 and np.array_equal(a.indices, b.indices)
    deg = a.in_degrees()
    assert a.num_nodes == 2000 and deg.max() > 10 * deg.mean()  # hubs
    assert not np.any(a.indices == np.repeat(np.arange(a.num_nodes), deg))  # no loops
