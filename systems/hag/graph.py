"""Graph input for HAG: in-neighbour lists, an edge-list loader with located errors, bundled graphs.

Convention (as in the paper): a directed edge ``u -> v`` means *v aggregates u*, so ``u`` is in
``N(v)``, the in-neighbour list of ``v``. Undirected graphs carry both directions.

The in-neighbour lists are kept in the order edges were first seen (sequential aggregation uses
that order) and without duplicates (set aggregation is over a set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class GraphInputError(ValueError):
    """Malformed graph input; ``str(err)`` is ``file:line: what was expected``."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        loc = f"{source}:{line}" if line is not None else source
        super().__init__(f"{loc}: {message}")


@dataclass
class Graph:
    """A graph as in-neighbour lists (``in_lists[v]`` = the nodes ``v`` aggregates, in order)."""

    num_nodes: int
    """Number of nodes; ids are ``0 .. num_nodes-1``."""
    in_lists: list[list[int]]
    """``in_lists[v]``: the in-neighbours of ``v`` (no duplicates, first-seen order)."""
    name: str = "graph"
    """Human name (file name or workload name)."""
    graph_ids: np.ndarray | None = field(default=None, repr=False)
    """For a disjoint union of small graphs (graph classification): the graph id of each node."""

    @property
    def num_edges(self) -> int:
        """Number of directed edges |E| (each undirected edge counts twice)."""
        return sum(len(x) for x in self.in_lists)

    @property
    def num_graphs(self) -> int:
        """Number of member graphs (1 unless ``graph_ids`` is set)."""
        return int(self.graph_ids.max()) + 1 if self.graph_ids is not None and len(self.graph_ids) else 1

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` int64 arrays, one entry per directed edge ``src -> dst``."""
        deg = np.fromiter((len(x) for x in self.in_lists), dtype=np.int64, count=self.num_nodes)
        dst = np.repeat(np.arange(self.num_nodes, dtype=np.int64), deg)
        src = np.fromiter((u for x in self.in_lists for u in x), dtype=np.int64, count=int(deg.sum()))
        return src, dst

    def in_degrees(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.in_lists), dtype=np.int64, count=self.num_nodes)


def from_edges(num_nodes: int, src, dst, name: str = "graph", undirected: bool = False,
               graph_ids: np.ndarray | None = None, sort: bool = False) -> Graph:
    """Build a :class:`Graph` from edge arrays (``src -> dst``); duplicates are dropped.

    ``sort=True`` orders each in-neighbour list by id (fast, vectorised); otherwise first-seen order.
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    if undirected:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    if sort:
        key = np.unique(dst * max(num_nodes, 1) + src)
        d, s = key // max(num_nodes, 1), key % max(num_nodes, 1)
        bounds = np.searchsorted(d, np.arange(num_nodes + 1))
        sl = s.tolist()
        in_lists = [sl[bounds[v]:bounds[v + 1]] for v in range(num_nodes)]
    else:
        in_lists = [[] for _ in range(num_nodes)]
        seen: set[tuple[int, int]] = set()
        for u, v in zip(src.tolist(), dst.tolist()):
            if (u, v) not in seen:
                seen.add((u, v))
                in_lists[v].append(u)
    return Graph(num_nodes=num_nodes, in_lists=in_lists, name=name, graph_ids=graph_ids)


def from_networkx(g, name: str | None = None, directed: bool | None = None) -> Graph:
    """A networkx graph as a :class:`Graph`; nodes are relabelled ``0..n-1`` in iteration order.

    Undirected networkx graphs give both directions of every edge.
    """
    nodes = list(g.nodes())
    index = {v: i for i, v in enumerate(nodes)}
    src = [index[u] for u, _ in g.edges()]
    dst = [index[v] for _, v in g.edges()]
    und = not g.is_directed() if directed is None else not directed
    return from_edges(len(nodes), src, dst, name=name or getattr(g, "name", "") or "networkx",
                      undirected=und, sort=True)


def load_edge_list(path: str | os.PathLike, undirected: bool = False) -> Graph:
    """Read ``src dst`` per line (``#`` starts a comment; blank lines ignored).

    Node ids are non-negative integers; the graph has ``max id + 1`` nodes. Any malformed line,
    a negative id or a file without edges raises :class:`GraphInputError` naming ``file:line``.
    """
    p = Path(path)
    shown = str(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise GraphInputError(shown, None, "no such file") from None
    except IsADirectoryError:
        raise GraphInputError(shown, None, "is a directory, expected an edge-list file") from None
    except UnicodeDecodeError:
        raise GraphInputError(shown, None, "not a text file (expected lines 'src dst')") from None
    except OSError as exc:
        raise GraphInputError(shown, None, f"cannot read: {exc.strerror or exc}") from None
    return parse_edge_list(text, source=shown, undirected=undirected)


def parse_edge_list(text: str, source: str = "<string>", undirected: bool = False) -> Graph:
    """Parse edge-list text (see :func:`load_edge_list`)."""
    src: list[int] = []
    dst: list[int] = []
    last_line = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        last_line = lineno
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise GraphInputError(source, lineno, f"expected two integers 'src dst', got {len(parts)} "
                                                  f"field(s): {raw.strip()!r}")
        ids = []
        for tok in parts:
            try:
                val = int(tok)
            except ValueError:
                raise GraphInputError(source, lineno, f"expected an integer node id, got {tok!r}") from None
            if val < 0:
                raise GraphInputError(source, lineno, f"expected a non-negative node id, got {val}")
            ids.append(val)
        src.append(ids[0])
        dst.append(ids[1])
    if not src:
        raise GraphInputError(source, max(last_line, 1) if last_line else 1,
                              "expected at least one edge line 'src dst', found none (empty file)")
    n = max(max(src), max(dst)) + 1
    return from_edges(n, src, dst, name=Path(source).name, undirected=undirected)


# ---------------------------------------------------------------- bundled small graphs

def figure1_graph() -> Graph:
    """The paper's Figure 1 graph: edges 0<->1, 0<->2, 0<->3, 1<->2, 1<->3 (K4 minus {2,3})."""
    return from_edges(4, [0, 0, 0, 1, 1], [1, 2, 3, 2, 3], name="fig1", undirected=True, sort=True)


def karate_graph() -> Graph:
    """Zachary's karate club (34 nodes, 78 undirected edges), from networkx."""
    import networkx as nx

    return from_networkx(nx.karate_club_graph(), name="karate")


def lesmis_graph() -> Graph:
    """Les Misérables co-occurrence graph (77 nodes, 254 undirected edges), from networkx."""
    import networkx as nx

    return from_networkx(nx.les_miserables_graph(), name="lesmis")


def atlas_graph() -> Graph:
    """The networkx graph atlas (1,253 graphs of up to 7 nodes) as one disjoint union.

    ``graph_ids`` marks the member graph of each node (the empty graph with 0 nodes is skipped).
    """
    import networkx as nx

    src: list[int] = []
    dst: list[int] = []
    gids: list[int] = []
    off = 0
    gi = 0
    for g in nx.graph_atlas_g():
        k = g.number_of_nodes()
        if k == 0:
            continue
        for u, v in g.edges():
            src.append(u + off)
            dst.append(v + off)
        gids.extend([gi] * k)
        off += k
        gi += 1
    return from_edges(off, src, dst, name="atlas", undirected=True, sort=True,
                      graph_ids=np.asarray(gids, dtype=np.int64))


BUNDLED = {"fig1": figure1_graph, "karate": karate_graph, "lesmis": lesmis_graph, "atlas": atlas_graph}
"""Bundled graphs by name (no download)."""
