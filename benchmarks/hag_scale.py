"""Power-law scaling of the HAG search, one search per process (so peak RSS is the search's own).

Used by ``benchmarks.hag`` (section "power-law scaling"); runnable alone:

    python -m benchmarks.hag_scale gen --edges 1000000            # build + cache the Chung–Lu graph
    python -m benchmarks.hag_scale search --edges 1000000 --hub 512  # one search, one JSON line

``gen`` writes the graph's CSR (int64 indptr, int32 indices) to a cache directory; ``search`` loads it
(so the graph generator's own peak memory is not counted), runs ``hag_search`` with the settings of the
named config ``default`` (``systems.hag.config``) except where given, verifies the HAG, and prints one
JSON object: search wall and CPU seconds, verify seconds, peak RSS (``VmHWM``) before and after the
search, aggregations before/after and the engine's counters.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GAMMA = 2.5
AVG_DEGREE = 20.0


def cache_dir() -> Path:
    d = Path(os.environ.get("SYSLAB_HAG_BENCH_CACHE", Path(tempfile.gettempdir()) / "syslab-hag-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def graph_path(edges: int, seed: int = 0) -> Path:
    return cache_dir() / f"chung-lu-{edges}-g{GAMMA}-d{AVG_DEGREE:g}-s{seed}.npz"


def _rss_mb() -> float:
    """Peak resident set of this process so far, MB: ``VmHWM`` (per address space, so it starts afresh
    in a new process; ``ru_maxrss`` would carry over the parent's peak across fork + exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gen(edges: int, seed: int = 0) -> dict:
    from systems.hag.graph import chung_lu_graph

    p = graph_path(edges, seed)
    t0 = time.perf_counter()
    if not p.exists():
        g = chung_lu_graph(edges, avg_degree=AVG_DEGREE, gamma=GAMMA, seed=seed)
        tmp = p.with_suffix(".tmp.npz")
        np.savez(tmp, indptr=g.indptr, indices=g.indices.astype(np.int32))
        os.replace(tmp, p)
    with np.load(p) as z:
        deg = np.diff(z["indptr"])
    return {"edges_undirected": edges, "nodes": int(len(deg)), "edges_directed": int(deg.sum()),
            "max_degree": int(deg.max()), "sum_deg2": float((deg.astype(np.float64) ** 2).sum()),
            "gen_s": time.perf_counter() - t0, "path": str(p)}


def search(edges: int, hub: int | None, engine: str, seed: int = 0) -> dict:
    from systems.hag.config import CONFIGS
    from systems.hag.search import hag_search

    scfg = CONFIGS["default"]().search
    with np.load(graph_path(edges, seed)) as z:
        ptr, idx = z["indptr"].astype(np.int64), z["indices"].astype(np.int64)
    rss0 = _rss_mb()
    r = hag_search((ptr, idx), capacity_frac=scfg.capacity_frac, max_depth=scfg.max_depth,
                   min_redundancy=scfg.min_redundancy, mode=scfg.mode, method=scfg.method, hub_degree=hub,
                   engine=engine, check=True)
    return {"edges_undirected": edges, "hub_degree": hub, "engine": r.engine, "search_s": r.search_s,
            "search_cpu_s": r.search_cpu_s, "verify_s": r.verify_s, "verified": r.verified,
            "rss_before_mb": rss0, "peak_rss_mb": _rss_mb(), "capacity": r.capacity, "agg_nodes": r.after.agg_nodes,
            "aggregations_before": r.before.aggregations, "aggregations_after": r.after.aggregations,
            "transfers_before": r.before.transfers, "transfers_after": r.after.transfers, "stats": r.stats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.hag_scale", description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["gen", "search"])
    ap.add_argument("--edges", type=int, required=True, help="undirected edges of the Chung–Lu graph")
    ap.add_argument("--hub", type=int, default=512, help="hub bound (0 = count every consumer)")
    ap.add_argument("--engine", default="auto", choices=["auto", "native", "python"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    out = gen(a.edges, a.seed) if a.what == "gen" else search(a.edges, a.hub or None, a.engine, a.seed)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
