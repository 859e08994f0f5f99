"""Graph input: the edge-list loader (including located errors) and the bundled graphs."""

import networkx as nx
import pytest

from systems.hag.graph import (GraphInputError, atlas_graph, figure1_graph, from_networkx, karate_graph,
                               lesmis_graph, load_edge_list, parse_edge_list)


def test_edge_list_directed_and_undirected(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("# a comment\n0 1\n\n2 1   # trailing comment\n0 1\n")
    g = load_edge_list(p)
    assert g.num_nodes == 3
    assert g.in_lists == [[], [0, 2], []]  # 0 -> 1 means 1 aggregates 0; duplicate dropped
    gu = load_edge_list(p, undirected=True)
    assert sorted(gu.in_lists[0]) == [1] and sorted(gu.in_lists[1]) == [0, 2] and gu.in_lists[2] == [1]
    assert gu.num_edges == 4


def test_first_seen_order_is_kept():
    g = parse_edge_list("3 0\n1 0\n2 0\n")
    assert g.in_lists[0] == [3, 1, 2]


@pytest.mark.parametrize("text,line,fragment", [
    ("0 1\n1 x\n", 2, "integer"),
    ("0 1\n1 2 3\n", 2, "two integers"),
    ("0\n", 1, "two integers"),
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
