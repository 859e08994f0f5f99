"""``syslab hag ...``: search a HAG for an edge-list file or a bundled graph; list workloads."""

from __future__ import annotations

import json
from typing import Optional

import typer

NAME = "hag"
app = typer.Typer(help="HAG: redundancy-free GNN aggregation (search, verify, cost).", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


@app.command("search")
def search_cmd(
    edges: Optional[str] = typer.Option(None, "--edges", "-e",
                                        help="edge-list file: 'src dst [weight]' per line, '#' comments; src -> dst means dst aggregates src"),
    graph: Optional[str] = typer.Option(None, "--graph", "-g",
                                        help="a bundled graph or workload instead of --edges (fig1, karate, lesmis, atlas, bzr-like, ...)"),
    undirected: bool = typer.Option(False, "--undirected", help="add both directions of every edge"),
    capacity_frac: float = typer.Option(0.25, "--capacity-frac", help="capacity = this × |V| aggregation nodes"),
    capacity: Optional[int] = typer.Option(None, "--capacity", help="absolute capacity (overrides --capacity-frac)"),
    mode: str = typer.Option("set", "--mode", help="set | seq"),
    method: str = typer.Option("greedy", "--method", help="greedy (Jia et al.) | pw (one-pass heuristic after Porter & Wootters)"),
    max_depth: Optional[int] = typer.Option(None, "--max-depth",
                                            help="maximum aggregation-node depth (default: 10 in set mode, unbounded in seq mode)"),
    min_redundancy: int = typer.Option(2, "--min-redundancy", help="merge a pair only when shared by at least this many nodes"),
    hub_degree: int = typer.Option(512, "--hub-degree",
                                   help="consumers with more inputs than this are not counted when ranking pairs (0 = count all)"),
    duplicates: str = typer.Option("sum", "--duplicates", help="duplicate edges: sum (multiplicity, as PyG) | drop (warn) | error"),
    relabel: str = typer.Option("auto", "--relabel", help="node ids: auto (compact sparse ids) | always | never"),
    max_nodes: int = typer.Option(50_000_000, "--max-nodes", help="refuse graphs with more nodes than this"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON object"),
    show_hag: bool = typer.Option(False, "--show", help="also print the aggregation nodes and new input lists (small graphs)"),
) -> None:
    """Search a HAG, verify cover(v) == N(v), print the cost before and after."""
    from systems.hag.graph import DUPLICATES, RELABEL, GraphInputError, load_edge_list
    from systems.hag.search import METHODS, MODES, CoverMismatch, hag_search

    if mode not in MODES:
        _fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if method not in METHODS:
        _fail(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if (edges is None) == (graph is None):
        _fail("give exactly one of --edges FILE or --graph NAME")
    if capacity_frac < 0 or (capacity is not None and capacity < 0):
        _fail("capacity must be >= 0")
    if max_depth is not None and max_depth < 1:
        _fail("--max-depth must be >= 1")
    if min_redundancy < 2:
        _fail("--min-redundancy must be >= 2")
    if hub_degree != 0 and hub_degree < 2:
        _fail("--hub-degree must be 0 (count every consumer) or >= 2")
    if duplicates not in DUPLICATES:
        _fail(f"--duplicates must be one of {', '.join(DUPLICATES)}, got {duplicates!r}")
    if relabel not in RELABEL:
        _fail(f"--relabel must be one of {', '.join(RELABEL)}, got {relabel!r}")
    if max_nodes < 1:
        _fail("--max-nodes must be >= 1")
    try:
        if edges is not None:
            g = load_edge_list(edges, undirected=undirected, duplicates=duplicates, relabel=relabel,
                               max_nodes=max_nodes)
        else:
            from systems.hag.graph import BUNDLED
            from systems.hag.workloads import WORKLOADS, build_graph

            if graph in BUNDLED:
                g = BUNDLED[graph]()
            elif graph in WORKLOADS:
                g = build_graph(graph)
            else:
                _fail(f"unknown graph {graph!r}; valid: {', '.join(dict.fromkeys([*BUNDLED, *WORKLOADS]))}")
    except GraphInputError as exc:
        _fail(str(exc))
    try:
        res = hag_search(g, capacity=capacity, capacity_frac=capacity_frac, max_depth=max_depth,
                         min_redundancy=min_redundancy, mode=mode, method=method, check=True,
                         hub_degree=hub_degree or None)
    except CoverMismatch as exc:  # an internal error, not bad input
        typer.echo(f"error: HAG verification failed: {exc}", err=True)
        raise typer.Exit(1)
    b, a = res.before, res.after
    out = {
        "graph": g.name, "nodes": g.num_nodes, "edges": g.num_edges, "mode": mode, "method": method,
        "capacity": res.capacity, "agg_nodes": a.agg_nodes, "depth": res.hag.depth,
        "aggregations_before": b.aggregations, "aggregations_after": a.aggregations,
        "aggregation_reduction": round(b.aggregations / a.aggregations, 4) if a.aggregations else 1.0,
        "transfers_before": b.transfers, "transfers_after": a.transfers,
        "transfer_reduction": round(b.transfers / a.transfers, 4) if a.transfers else 1.0,
        "search_s": round(res.search_s, 6), "search_cpu_s": round(res.search_cpu_s, 6),
        "verify_s": round(res.verify_s, 6), "verified": res.verified, "engine": res.engine,
        "max_depth": res.max_depth, "hub_degree": res.hub_degree, "weighted": g.weighted, "self_loops": g.num_loops,
        "relabelled": g.node_ids is not None,
    }
    if show_hag:
        out.update(_show(g, res.hag))
    if json_out:
        typer.echo(json.dumps(out))
        return
    typer.echo(f"{g.name}: {g.num_nodes} nodes, {g.num_edges} directed edges; {mode} mode, {method}, "
               f"capacity {res.capacity}")
    typer.echo(f"aggregations {b.aggregations} -> {a.aggregations} ({out['aggregation_reduction']}x fewer)")
    typer.echo(f"transfers    {b.transfers} -> {a.transfers} ({out['transfer_reduction']}x fewer)")
    typer.echo(f"aggregation nodes {a.agg_nodes} in {res.hag.depth} level(s); search {res.search_s:.3f}s "
               f"({res.engine} engine); verified cover(v) == N(v): {res.verified}")
    if show_hag:
        for k, v in out["agg_inputs"].items():
            typer.echo(f"  agg {k} <- {v}")
        for k, v in out["node_inputs"].items():
            typer.echo(f"  node {k} <- {v}")


def _show(g, h) -> dict:
    """The HAG in the input's own ids: real nodes by their original id, aggregation nodes as ``A<i>``,
    weighted inputs as ``<id>*<weight>``."""
    from systems.hag.graph import search_input

    n, T = g.num_nodes, h.num_nodes
    _, tokens = search_input(g)

    def name(x: int):
        if x < n:
            return g.original_id(x)
        if x < T:
            i = x - n
            return f"{g.original_id(int(tokens.node[i]))}*{tokens.scale[i]:g}"
        return f"A{x - T}"
    return {"agg_inputs": {f"A{i}": [name(a), name(b)] for i, (a, b) in enumerate(h.agg_inputs)},
            "node_inputs": {str(g.original_id(v)): [name(x) for x in xs] for v, xs in enumerate(h.node_inputs[:n])}}


@app.command("workloads")
def workloads_cmd(suite: Optional[str] = typer.Option(None, "--suite", "-s", help="only this suite's workloads")) -> None:
    """List the workloads (stand-in graphs and their scale)."""
    from systems.hag.workloads import SUITES, WORKLOADS

    if suite is not None and suite not in SUITES:
        _fail(f"unknown suite {suite!r}; valid: {', '.join(SUITES)}")
    names = SUITES[suite].workloads if suite else tuple(WORKLOADS)
    for name in names:
        w = WORKLOADS[name]
        typer.echo(f"{name:15s} {w.task:5s}  {w.scale}" + (f"  [paper {w.paper}]" if w.paper else ""))
