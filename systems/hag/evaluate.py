"""``run(job, cfg) -> JobResult``: one (workload, method, seed) of the HAG system.

Methods (as data in ``systems.hag.METHODS``; each is a set of config overrides):

* ``gnn-graph`` — the expert baseline: the plain GNN graph (no search).
* ``hag-greedy`` — the paper's greedy, set aggregation, capacity |V|/4.
* ``hag-pw`` — the fast one-pass heuristic after Porter & Wootters, capacity |V|/4.
* ``hag-seq`` — the greedy in sequential mode (prefix sharing), capacity |V|/4; executed here with the
  GCN (a sequential HAG is also a valid set HAG: its ordered covers equal N(v)).
* ``hag-cap-<f>`` — the greedy with capacity ``f``·|V| (the capacity sweep).

Every job reports: ``aggregations`` (primary), ``transfers``, ``agg_nodes``, ``search_s``, ``epoch_s``
(median training epoch of this method's graph, CSR kernel), ``epoch_s_plain`` and ``epoch_speedup`` (plain /
this, measured in the same job, interleaved), the same with the message-passing ``scatter`` kernel
(``epoch_s_scatter``, ``epoch_speedup_scatter``), ``pyg_epoch_s`` (PyG GCNConv peer, GCN only), ``accuracy``,
``accuracy_plain``, ``memory_overhead`` and reduction ratios. Timings are measured (not simulated).
"""

from __future__ import annotations

import dataclasses
import json
import time

from systems.core import Job, JobResult, device as detect_device, device_name, hardware_description
from systems.hag.config import HagConfig
from systems.hag.workloads import build_graph, get_workload


def memory_bytes(n: int, num_edges: int, m: int, cfg: HagConfig) -> tuple[int, int]:
    """(plain-graph training bytes, extra HAG bytes), fp32 activations and int64 indices.

    Plain: features (n×F), per layer the node activations kept for backward (input projection,
    aggregate, output: 3 × n × hidden), and the edge index (2 × |E| int64). HAG extra: one aggregation
    buffer (m × hidden, shared by every layer) and its index (2 × m int64).
    """
    f, hdim = cfg.train.num_features, cfg.train.hidden
    plain = 4 * n * f + 2 * 3 * 4 * n * hdim + 2 * 8 * num_edges
    extra = 4 * m * hdim + 2 * 8 * m
    return plain, extra


def run(job: Job, cfg: HagConfig) -> JobResult:
    """Search (unless ``cfg.hag`` is False: the plain graph), verify, train plain vs HAG (and PyG), report."""
    from systems.hag.search import graph_cost, hag_search
    from systems.hag.train import make_task, train_compare

    scfg = cfg.search if cfg.hag else None
    wl = get_workload(job.workload)
    t_build = time.perf_counter()
    g = build_graph(job.workload)
    build_s = time.perf_counter() - t_build
    dev = cfg.train.device
    if dev == "auto":
        dev = detect_device()
    metrics: dict[str, float] = {}
    before = graph_cost(g.in_lists)
    hags = {}
    params = {"nodes": g.num_nodes, "edges": g.num_edges, "graphs": g.num_graphs, "task": wl.task,
              "scale": wl.scale, "model": cfg.train.model, "hidden": cfg.train.hidden,
              "epochs": cfg.train.epochs, "device": dev, "device_name": device_name(dev)}
    if scfg is None:
        after = before
        metrics["search_s"] = 0.0
        metrics["verified"] = 1.0
    else:
        res = hag_search(g.in_lists, capacity_frac=scfg.capacity_frac, max_depth=scfg.max_depth,
                         min_redundancy=scfg.min_redundancy, mode=scfg.mode, method=scfg.method, check=True)
        after = res.after
        hags["hag"] = res.hag
        metrics["search_s"] = res.search_s
        metrics["verify_s"] = res.verify_s
        metrics["verified"] = float(res.verified)
        metrics["depth"] = float(res.hag.depth)
        params.update({"capacity": res.capacity, "capacity_frac": scfg.capacity_frac, "mode": scfg.mode,
                       "search_method": scfg.method, "max_depth": scfg.max_depth,
                       "min_redundancy": scfg.min_redundancy})
    metrics.update({
        "aggregations": float(after.aggregations),
        "transfers": float(after.transfers),
        "agg_nodes": float(after.agg_nodes),
        "aggregations_before": float(before.aggregations),
        "transfers_before": float(before.transfers),
        "aggregation_reduction": before.aggregations / after.aggregations if after.aggregations else 1.0,
        "transfer_reduction": before.transfers / after.transfers if after.transfers else 1.0,
        "graph_build_s": build_s,
    })
    plain_b, extra_b = memory_bytes(g.num_nodes, g.num_edges, after.agg_nodes, cfg)
    metrics["memory_overhead"] = extra_b / plain_b if plain_b else 0.0
    metrics["agg_buffer_bytes"] = float(extra_b)

    task = make_task(g, wl.task, cfg.train, job.seed, dev)
    tr = train_compare(g, hags, task, cfg.train, job.seed, device=dev)
    plain = tr["plain"]
    mine = tr.get("hag", plain)
    metrics["epoch_s"] = mine.epoch_s
    metrics["epoch_s_plain"] = plain.epoch_s
    metrics["epoch_speedup"] = plain.epoch_s / mine.epoch_s if mine.epoch_s > 0 else 1.0
    metrics["accuracy"] = mine.accuracy
    metrics["accuracy_plain"] = plain.accuracy
    metrics["output_max_abs_diff"] = mine.init_max_abs_diff
    if mine is not plain and mine.predictions is not None and plain.predictions is not None:
        metrics["prediction_agreement"] = float((mine.predictions == plain.predictions).float().mean()) \
            if mine.predictions.numel() else 1.0
    if cfg.train.kernel == "csr" and cfg.train.scatter_epochs > 0:
        scfg_train = dataclasses.replace(cfg.train, kernel="scatter", epochs=cfg.train.scatter_epochs, pyg=False)
        trs = train_compare(g, hags, task, scfg_train, job.seed, device=dev)
        ms = trs.get("hag", trs["plain"])
        metrics["epoch_s_scatter"] = ms.epoch_s
        metrics["epoch_s_plain_scatter"] = trs["plain"].epoch_s
        metrics["epoch_speedup_scatter"] = trs["plain"].epoch_s / ms.epoch_s if ms.epoch_s > 0 else 1.0
    if "pyg" in tr:
        metrics["pyg_epoch_s"] = tr["pyg"].epoch_s
        metrics["pyg_accuracy"] = tr["pyg"].accuracy
        metrics["pyg_output_max_abs_diff"] = tr["pyg"].init_max_abs_diff
        metrics["speedup_vs_pyg"] = tr["pyg"].epoch_s / mine.epoch_s if mine.epoch_s > 0 else 1.0
    summary = {"workload": job.workload, "method": job.method, "nodes": g.num_nodes, "edges": g.num_edges,
               "aggregations_before": before.aggregations, "aggregations_after": after.aggregations,
               "transfers_before": before.transfers, "transfers_after": after.transfers,
               "agg_nodes": after.agg_nodes}
    if "hag" in hags:
        h = hags["hag"]
        summary["level_sizes"] = [h.level_bounds[k] - h.level_bounds[k - 1] for k in range(1, len(h.level_bounds))]
    artifacts = {"hag_summary.json": json.dumps(summary, indent=1)}
    return JobResult(system="hag", workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=metrics, params=params, artifacts=artifacts,
                     series={"epoch_s": mine.epoch_times, "epoch_s_plain": plain.epoch_times},
                     hardware=hardware_description(), simulated=False)
