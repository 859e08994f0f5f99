"""``run(job, cfg) -> JobResult``: one (workload, method, seed) of the HAG system.

Methods (as data in ``systems.hag.METHODS``; each is a set of config overrides):

* ``gnn-graph`` — the expert baseline: the plain GNN graph (no search; ``search.plain_hag``).
* ``hag-greedy`` — the paper's greedy, set aggregation, capacity |V|/4.
* ``hag-pw`` — the fast one-pass heuristic after Porter & Wootters, capacity |V|/4.
* ``hag-seq`` — the greedy in sequential mode (prefix sharing), capacity |V|/4; executed here with the
  GCN (a sequential HAG is also a valid set HAG: its ordered covers equal N(v)).
* ``hag-lstm`` — GraphSAGE-LSTM through a sequential HAG at capacity |V| (prefix states reused); its own
  plain baseline (the same LSTM model without a HAG) runs in the same job.
* ``hag-cap-<f>`` — the greedy with capacity ``f``·|V| (the capacity sweep).

Every job reports: ``aggregations`` (primary), ``transfers``, ``agg_nodes``, ``search_s`` / ``search_cpu_s``,
``epoch_s`` (median training epoch of this method's graph with ``train.kernel``, ``fused`` by default; ``epoch_cpu_*``:
the same in process CPU seconds),
``epoch_s_plain`` and ``epoch_speedup`` (plain / this, measured in the same job, interleaved), the same
for each other kernel (``epoch_s_<kernel>``, ``epoch_s_plain_<kernel>``, ``epoch_speedup_<kernel>``),
``pyg_epoch_s`` / ``pyg_csr_epoch_s`` / ``pyg_best_epoch_s`` (PyG GCNConv on ``edge_index`` and on a CSR
adjacency; GCN only; ``speedup_vs_pyg`` uses the faster), ``accuracy``, ``accuracy_plain``, ``memory_overhead``, reduction
ratios, and for ``sage-lstm`` the LSTM cell evaluations per aggregation (``lstm_cells``, ``lstm_cells_plain``).
Timings are measured (not simulated).
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
    if cfg.train.model == "sage-lstm" and scfg is not None and scfg.mode != "seq":
        raise ValueError("train.model='sage-lstm' needs search.mode='seq' (an LSTM reuses prefixes, not sets)")
    wl = get_workload(job.workload)
    t_build = time.perf_counter()
    g = build_graph(job.workload)
    build_s = time.perf_counter() - t_build
    dev = cfg.train.device
    if dev == "auto":
        dev = detect_device()
    metrics: dict[str, float] = {}
    before = graph_cost(g)
    hags = {}
    params = {"nodes": g.num_nodes, "edges": g.num_edges, "graphs": g.num_graphs, "task": wl.task,
              "scale": wl.scale, "model": cfg.train.model, "hidden": cfg.train.hidden,
              "epochs": cfg.train.epochs, "device": dev, "device_name": device_name(dev)}
    if scfg is None:
        after = before
        metrics["search_s"] = 0.0
        metrics["verified"] = 1.0
    else:
        res = hag_search(g, capacity_frac=scfg.capacity_frac, max_depth=scfg.max_depth,
                         min_redundancy=scfg.min_redundancy, mode=scfg.mode, method=scfg.method, check=True,
                         hub_degree=scfg.hub_degree, engine=scfg.engine)
        after = res.after
        hags["hag"] = res.hag
        metrics["search_s"] = res.search_s
        metrics["search_cpu_s"] = res.search_cpu_s
        params["engine"] = res.engine
        metrics["verify_s"] = res.verify_s
        metrics["verified"] = float(res.verified)
        metrics["depth"] = float(res.hag.depth)
        params.update({"capacity": res.capacity, "capacity_frac": scfg.capacity_frac, "mode": scfg.mode,
                       "search_method": scfg.method, "max_depth": res.max_depth,
                       "min_redundancy": scfg.min_redundancy, "hub_degree": res.hub_degree})
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
    metrics["epoch_cpu_s"] = mine.epoch_cpu_s
    metrics["epoch_cpu_s_plain"] = plain.epoch_cpu_s
    metrics["epoch_speedup"] = plain.epoch_s / mine.epoch_s if mine.epoch_s > 0 else 1.0
    metrics["accuracy"] = mine.accuracy
    metrics["accuracy_plain"] = plain.accuracy
    metrics["output_max_abs_diff"] = mine.init_max_abs_diff
    if mine is not plain and mine.predictions is not None and plain.predictions is not None:
        metrics["prediction_agreement"] = float((mine.predictions == plain.predictions).float().mean()) \
            if mine.predictions.numel() else 1.0
    params["kernel_used"] = plain.kernel_used
    if cfg.train.model == "sage-lstm":
        from systems.hag.executor import lstm_cells
        from systems.hag.search import plain_hag

        metrics["lstm_cells_plain"] = float(lstm_cells(plain_hag(g, mode="seq")))
        metrics["lstm_cells"] = float(lstm_cells(hags["hag"])) if hags else metrics["lstm_cells_plain"]
    if cfg.train.other_kernel_epochs > 0:
        from systems.hag.executor import KERNELS

        for kernel in KERNELS:
            if kernel == cfg.train.kernel or cfg.train.model in ("sage-max", "sage-lstm"):
                continue  # the kernels differ in sums only; max and LSTM aggregation would time the same code
            other = dataclasses.replace(cfg.train, kernel=kernel, epochs=cfg.train.other_kernel_epochs, pyg=False)
            trs = train_compare(g, hags, task, other, job.seed, device=dev)
            ms = trs.get("hag", trs["plain"])
            metrics[f"epoch_s_{kernel}"] = ms.epoch_s
            metrics[f"epoch_s_plain_{kernel}"] = trs["plain"].epoch_s
            metrics[f"epoch_cpu_s_{kernel}"] = ms.epoch_cpu_s
            metrics[f"epoch_cpu_s_plain_{kernel}"] = trs["plain"].epoch_cpu_s
            metrics[f"epoch_speedup_{kernel}"] = trs["plain"].epoch_s / ms.epoch_s if ms.epoch_s > 0 else 1.0
    if "pyg" in tr:
        metrics["pyg_epoch_s"] = tr["pyg"].epoch_s
        metrics["pyg_csr_epoch_s"] = tr["pyg_csr"].epoch_s
        metrics["pyg_epoch_cpu_s"] = tr["pyg"].epoch_cpu_s
        metrics["pyg_csr_epoch_cpu_s"] = tr["pyg_csr"].epoch_cpu_s
        best = min(tr["pyg"].epoch_s, tr["pyg_csr"].epoch_s)
        metrics["pyg_best_epoch_s"] = best
        metrics["pyg_accuracy"] = tr["pyg"].accuracy
        metrics["pyg_output_max_abs_diff"] = max(tr["pyg"].init_max_abs_diff, tr["pyg_csr"].init_max_abs_diff)
        metrics["speedup_vs_pyg"] = best / mine.epoch_s if mine.epoch_s > 0 else 1.0
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
                     series={"epoch_s": mine.epoch_times, "epoch_s_plain": plain.epoch_times,
                             "epoch_cpu_s": mine.epoch_cpu_times, "epoch_cpu_s_plain": plain.epoch_cpu_times},
                     hardware=hardware_description(), simulated=False)
