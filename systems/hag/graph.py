"""Graph input for HAG: CSR in-neighbour lists, an edge-list loader with located errors, bundled graphs.

Convention (as in the paper): a directed edge ``u -> v`` means *v aggregates u*, so ``u`` is in
``N(v)``, the in-neighbour list of ``v``. Undirected graphs carry both directions.

Input semantics (the same as PyG's on the same edge list, so models here equal PyG's layers):

* **Node ids** may be sparse or huge (database ids): with ``relabel="auto"`` they are compacted to
  ``0..n-1`` (in ascending order of the original id) whenever they are not already dense
  (``max id + 1 > 2 × distinct ids``); ``Graph.node_ids`` keeps the original id of every node for
  output. ``relabel="always"``/``"never"`` force either way. A ``max_nodes`` guard rejects graphs
  with more nodes before anything of that size is allocated.
* **Duplicate edges** (``duplicates=``): ``"sum"`` (default, PyG's behaviour: every copy of an edge
  is aggregated, so duplicates become an integer multiplicity = edge weight); ``"drop"`` keeps the
  first copy and warns with the count; ``"error"`` raises a :class:`GraphInputError` at the first
  duplicate's line.
* **Edge weights**: a third column ``src dst weight`` (every line, or none). Weighted sums use them
  (duplicates add their weights); max aggregation ignores them (as PyG's max-aggregating layers do).
* **Self-loops** ``u -> u`` are kept out of the in-neighbour lists (the HAG never sees them) and
  stored per node: ``loop_weight`` (their summed weight: an ordinary edge for GIN/sum layers, as in
  PyG) and ``gcn_loop`` (the weight PyG's ``add_remaining_self_loops`` gives the identity term in GCN:
  1 where a node has no loop or the input is unweighted, else the loop line's weight — the last one
  when a weighted loop is repeated).

In-neighbour lists are kept in the order edges were first seen (sequential aggregation uses that
order) unless built with ``sort=True``.
"""

from __future__ import annotations

import os
import warnings
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


DUPLICATES: tuple[str, ...] = ("sum", "drop", "error")
RELABEL: tuple[str, ...] = ("auto", "always", "never")
MAX_NODES = 50_000_000
"""Default node-count guard of the loader (about 50M nodes: a few GB of int64 index arrays)."""


@dataclass
class Graph:
    """A graph as CSR in-neighbour lists: ``v`` aggregates ``indices[indptr[v]:indptr[v+1]]``."""

    num_nodes: int
    """Number of nodes; ids are ``0 .. num_nodes-1``."""
    indptr: np.ndarray
    """int64 (n + 1) row pointers."""
    indices: np.ndarray
    """int64 in-neighbours (no duplicates, no self-loops)."""
    name: str = "graph"
    """Human name (file name or workload name)."""
    graph_ids: np.ndarray | None = field(default=None, repr=False)
    """For a disjoint union of small graphs (graph classification): the graph id of each node."""
    weights: np.ndarray | None = field(default=None, repr=False)
    """float64 weight of each entry of ``indices`` (multiplicity or given weight); None = all 1."""
    loop_weight: np.ndarray | None = field(default=None, repr=False)
    """float64 (n): summed weight of the input self-loops of each node (0 = none); None = no loops."""
    gcn_loop: np.ndarray | None = field(default=None, repr=False)
    """float64 (n): the identity-term weight GCN uses (PyG ``add_remaining_self_loops``); None = all 1."""
    node_ids: np.ndarray | None = field(default=None, repr=False)
    """Original id of each node when the input was relabelled; None = ids are the original ones."""
    _lists: list | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_lists(cls, in_lists, name: str = "graph", graph_ids: np.ndarray | None = None) -> "Graph":
        """From in-neighbour lists (must be duplicate- and loop-free)."""
        deg = np.fromiter((len(x) for x in in_lists), dtype=np.int64, count=len(in_lists))
        ptr = np.zeros(len(in_lists) + 1, dtype=np.int64)
        np.cumsum(deg, out=ptr[1:])
        idx = np.fromiter((u for x in in_lists for u in x), dtype=np.int64, count=int(ptr[-1]))
        return cls(num_nodes=len(in_lists), indptr=ptr, indices=idx, name=name, graph_ids=graph_ids)

    @property
    def in_lists(self) -> list[list[int]]:
        """``in_lists[v]``: the in-neighbours of ``v`` as Python lists (built once, on demand)."""
        if self._lists is None:
            il, pl = self.indices.tolist(), self.indptr.tolist()
            self._lists = [il[pl[v]:pl[v + 1]] for v in range(self.num_nodes)]
        return self._lists

    @property
    def num_edges(self) -> int:
        """Number of directed edges |E| in the in-neighbour lists (each undirected edge counts twice;
        self-loops and duplicate copies are not counted)."""
        return len(self.indices)

    @property
    def num_loops(self) -> int:
        """Number of nodes with an input self-loop."""
        return 0 if self.loop_weight is None else int(np.count_nonzero(self.loop_weight))

    @property
    def weighted(self) -> bool:
        """True when some edge weight differs from 1."""
        return self.weights is not None

    @property
    def num_graphs(self) -> int:
        """Number of member graphs (1 unless ``graph_ids`` is set)."""
        return int(self.graph_ids.max()) + 1 if self.graph_ids is not None and len(self.graph_ids) else 1

    def edge_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(src, dst)`` int64 arrays, one entry per directed non-loop edge ``src -> dst``."""
        dst = np.repeat(np.arange(self.num_nodes, dtype=np.int64), np.diff(self.indptr))
        return self.indices.copy(), dst

    def edge_weights(self) -> np.ndarray:
        """Weight per entry of :meth:`edge_arrays` (ones when unweighted)."""
        return self.weights.copy() if self.weights is not None else np.ones(self.num_edges)

    def in_degrees(self) -> np.ndarray:
        return np.diff(self.indptr)

    def original_id(self, v: int) -> int:
        """The input file's id of node ``v``."""
        return int(self.node_ids[v]) if self.node_ids is not None else int(v)


def from_edges(num_nodes: int, src, dst, name: str = "graph", undirected: bool = False,
               graph_ids: np.ndarray | None = None, sort: bool = False, weights=None,
               duplicates: str = "sum", lines: np.ndarray | None = None, source: str = "<edges>") -> Graph:
    """Build a :class:`Graph` from edge arrays (``src -> dst``), with the module's input semantics.

    ``sort=True`` orders each in-neighbour list by id; otherwise first-seen order. ``lines`` (the
    input line of each edge) lets ``duplicates="error"`` name the line.
    """
    if duplicates not in DUPLICATES:
        raise ValueError(f"unknown duplicates policy {duplicates!r}; valid: {', '.join(DUPLICATES)}")
    src = np.asarray(src, dtype=np.int64).reshape(-1)
    dst = np.asarray(dst, dtype=np.int64).reshape(-1)
    n = int(num_nodes)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    line_no = None if lines is None else np.asarray(lines, dtype=np.int64)
    if undirected:
        nl = src != dst  # a loop line stays one loop
        src, dst = np.concatenate([src, dst[nl]]), np.concatenate([dst, src[nl]])
        if w is not None:
            w = np.concatenate([w, w[nl]])
        if line_no is not None:
            line_no = np.concatenate([line_no, line_no[nl]])
    loop = src == dst
    loop_weight = gcn_loop = None
    if loop.any():
        lw = w[loop] if w is not None else np.ones(int(loop.sum()))
        loop_weight = np.bincount(src[loop], weights=lw, minlength=n).astype(np.float64)
        gcn_loop = np.ones(n, dtype=np.float64)
        if w is not None:
            gcn_loop[src[loop]] = lw  # numpy fancy assignment: the last repeated loop wins (as PyG on CPU)
        else:
            gcn_loop = None
        keep = ~loop
        src, dst = src[keep], dst[keep]
        if w is not None:
            w = w[keep]
        if line_no is not None:
            line_no = line_no[keep]
    key = dst * max(n, 1) + src
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(uniq) < len(key):
        ndup = len(key) - len(uniq)
        if duplicates == "error":
            seen = np.zeros(len(uniq), dtype=bool)
            pos = None
            for i, k in enumerate(inverse.tolist()):  # first edge whose key was seen before
                if seen[k]:
                    pos = i
                    break
                seen[k] = True
            u, v = int(src[pos]), int(dst[pos])
            ln = int(line_no[pos]) if line_no is not None else None
            raise GraphInputError(source, ln, f"duplicate edge {u} -> {v} (duplicates='error'; use 'sum' to "
                                              "aggregate every copy as PyG does, or 'drop')")
        if duplicates == "sum":
            base = w if w is not None else np.ones(len(key))
            w = np.bincount(inverse, weights=base, minlength=len(uniq))
        else:
            warnings.warn(f"{source}: dropped {ndup} duplicate edge(s) (duplicates='drop'; the first copy is kept)",
                          stacklevel=2)
            w = w[first] if w is not None else None
    elif w is not None:
        w = w[first]
    # order: by destination, then by id (sort=True) or by first appearance
    if sort:
        order = np.arange(len(uniq))  # uniq is sorted by (dst, src)
    else:
        order = np.lexsort((first, uniq // max(n, 1)))
    d_sorted = uniq[order] // max(n, 1)
    s_sorted = uniq[order] % max(n, 1)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(d_sorted, minlength=n), out=ptr[1:])
    if w is not None:
        w = w[order]
        if np.all(w == 1.0):
            w = None
    return Graph(num_nodes=n, indptr=ptr, indices=s_sorted.astype(np.int64), name=name, graph_ids=graph_ids,
                 weights=w, loop_weight=loop_weight, gcn_loop=gcn_loop)


def from_networkx(g, name: str | None = None, directed: bool | None = None) -> Graph:
    """A networkx graph as a :class:`Graph`; nodes are relabelled ``0..n-1`` in iteration order
    (``node_ids`` keeps the networkx node when it is an integer).

    Undirected networkx graphs give both directions of every edge.
    """
    nodes = list(g.nodes())
    index = {v: i for i, v in enumerate(nodes)}
    src = [index[u] for u, _ in g.edges()]
    dst = [index[v] for _, v in g.edges()]
    und = not g.is_directed() if directed is None else not directed
    return from_edges(len(nodes), src, dst, name=name or getattr(g, "name", "") or "networkx",
                      undirected=und, sort=True)


def load_edge_list(path: str | os.PathLike, undirected: bool = False, duplicates: str = "sum",
                   relabel: str = "auto", max_nodes: int = MAX_NODES) -> Graph:
    """Read ``src dst [weight]`` per line (``#`` starts a comment; blank lines ignored).

    Node ids are non-negative integers (relabelled when sparse, see the module docstring); the
    optional third column is a finite float weight, on every line or on none. Any malformed line, a
    negative id, mixed 2/3-column lines, a graph over ``max_nodes`` or a file without edges raises
    :class:`GraphInputError` naming ``file:line``.
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
    return parse_edge_list(text, source=shown, undirected=undirected, duplicates=duplicates, relabel=relabel,
                           max_nodes=max_nodes)


def parse_edge_list(text: str, source: str = "<string>", undirected: bool = False, duplicates: str = "sum",
                    relabel: str = "auto", max_nodes: int = MAX_NODES) -> Graph:
    """Parse edge-list text (see :func:`load_edge_list`)."""
    if relabel not in RELABEL:
        raise ValueError(f"unknown relabel policy {relabel!r}; valid: {', '.join(RELABEL)}")
    src: list[int] = []
    dst: list[int] = []
    wts: list[float] = []
    lines: list[int] = []
    ncols = 0
    last_line = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        last_line = lineno
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) not in (2, 3):
            raise GraphInputError(source, lineno, f"expected 'src dst' or 'src dst weight', got {len(parts)} "
                                                  f"field(s): {raw.strip()!r}")
        if ncols == 0:
            ncols = len(parts)
        elif len(parts) != ncols:
            raise GraphInputError(source, lineno, f"expected {ncols} fields like the first edge line "
                                                  f"(weights on every line or none), got {len(parts)}")
        ids = []
        for tok in parts[:2]:
            try:
                val = int(tok)
            except ValueError:
                raise GraphInputError(source, lineno, f"expected an integer node id, got {tok!r}") from None
            if val < 0:
                raise GraphInputError(source, lineno, f"expected a non-negative node id, got {val}")
            if val >= 2**63:
                raise GraphInputError(source, lineno, f"node id {val} does not fit in 64 bits")
            ids.append(val)
        if ncols == 3:
            try:
                wv = float(parts[2])
            except ValueError:
                raise GraphInputError(source, lineno, f"expected a number as edge weight, got {parts[2]!r}") from None
            if not np.isfinite(wv):
                raise GraphInputError(source, lineno, f"expected a finite edge weight, got {parts[2]!r}")
            wts.append(wv)
        src.append(ids[0])
        dst.append(ids[1])
        lines.append(lineno)
    if not src:
        raise GraphInputError(source, max(last_line, 1) if last_line else 1,
                              "expected at least one edge line 'src dst', found none (empty file)")
    s = np.asarray(src, dtype=np.int64)
    d = np.asarray(dst, dtype=np.int64)
    ln = np.asarray(lines, dtype=np.int64)
    ids = np.unique(np.concatenate([s, d]))
    max_id = int(ids[-1])
    dense = max_id + 1 <= 2 * len(ids)
    node_ids = None
    if relabel == "always" or (relabel == "auto" and not dense):
        n = len(ids)
        if n > max_nodes:
            raise GraphInputError(source, None, f"graph has {n:,} distinct nodes, more than max_nodes={max_nodes:,}")
        s, d = np.searchsorted(ids, s), np.searchsorted(ids, d)
        node_ids = ids
    else:
        n = max_id + 1
        if n > max_nodes:
            where = int(ln[int(np.argmax(np.maximum(s, d)))])
            raise GraphInputError(source, where, f"node id {max_id} gives {n:,} nodes, more than max_nodes="
                                                 f"{max_nodes:,} (relabel='never' keeps ids as given; "
                                                 "use relabel='auto' for sparse ids)")
    g = from_edges(n, s, d, name=Path(source).name, undirected=undirected,
                   weights=np.asarray(wts, dtype=np.float64) if ncols == 3 else None, duplicates=duplicates,
                   lines=ln, source=source)
    g.node_ids = node_ids
    return g


# ---------------------------------------------------------------- weighted inputs as tokens

@dataclass
class Tokens:
    """Weighted inputs as extra base rows: token ``n + i`` is ``scale[i] · x[node[i]]``."""

    num_nodes: int
    node: np.ndarray
    scale: np.ndarray

    @property
    def num_tokens(self) -> int:
        return self.num_nodes + len(self.node)


def search_input(g) -> tuple[tuple[np.ndarray, np.ndarray], Tokens | None]:
    """The CSR the HAG search runs on for graph ``g``, and its token map (None when unweighted).

    Weighted graphs: each node's inputs become token ids (unit weights keep the node id, other
    (node, weight) pairs share one extra token each); the CSR is square over ``n + extra`` ids, the
    extra rows empty.
    """
    n = g.num_nodes
    if getattr(g, "weights", None) is None:
        return (g.indptr, g.indices), None
    w = np.asarray(g.weights, dtype=np.float64)
    unit = w == 1.0
    src = np.asarray(g.indices, dtype=np.int64)
    tok = src.copy()
    node = np.zeros(0, dtype=np.int64)
    scale = np.zeros(0, dtype=np.float64)
    if (~unit).any():
        pairs = np.stack([src[~unit].astype(np.float64), w[~unit]], axis=1)
        uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
        node, scale = uniq[:, 0].astype(np.int64), uniq[:, 1]
        tok[~unit] = n + inv.reshape(-1)
    t = n + len(node)
    ptr = np.concatenate([np.asarray(g.indptr, dtype=np.int64), np.full(t - n, g.indptr[-1], dtype=np.int64)])
    return (ptr, tok), Tokens(n, node, scale)


# ---------------------------------------------------------------- generators and bundled graphs

def chung_lu_graph(num_edges: int, avg_degree: float = 20.0, gamma: float = 2.5, seed: int = 0,
                   name: str | None = None) -> Graph:
    """An undirected power-law graph after Chung & Lu: ``num_edges`` distinct undirected edges on
    ``n = 2·num_edges/avg_degree`` nodes, endpoints drawn with probability ∝ w_i = i^(-1/(γ-1))
    (expected degree ∝ w_i, degree distribution ~ d^-γ), loops and repeats discarded, ids shuffled.
    """
    rng = np.random.default_rng(seed)
    n = max(2, int(round(2 * num_edges / avg_degree)))
    w = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / (gamma - 1.0))
    cw = np.cumsum(w)
    cw /= cw[-1]
    keys = np.zeros(0, dtype=np.int64)
    for _ in range(50):
        if len(keys) >= num_edges:
            break
        k = int((num_edges - len(keys)) * 1.15) + 1000
        u = np.minimum(np.searchsorted(cw, rng.random(k), side="right"), n - 1)
        v = np.minimum(np.searchsorted(cw, rng.random(k), side="right"), n - 1)
        ok = u != v
        lo, hi = np.minimum(u[ok], v[ok]), np.maximum(u[ok], v[ok])
        keys = np.unique(np.concatenate([keys, lo * n + hi]))
    keys = rng.permutation(keys)[:num_edges]
    perm = rng.permutation(n)
    a, b = perm[keys // n], perm[keys % n]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    order = np.argsort(dst * n + src)
    src, dst = src[order], dst[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=ptr[1:])
    return Graph(num_nodes=n, indptr=ptr, indices=src, name=name or f"chung-lu-{num_edges}")


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
