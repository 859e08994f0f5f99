"""``run(job) -> JobResult`` and :func:`plan`, the one entry point the CLI, flow and benchmark share.

:func:`plan` builds the cost model of a graph on P devices, runs one method (a search or an
expert baseline) and returns the strategy with its predicted (simulated) step time, throughput,
communication and search time.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from systems.core import Job, JobResult
from systems.layerwise.baselines import BASELINES
from systems.layerwise.config import LayerwiseConfig, cluster
from systems.layerwise.cost import Breakdown, CostModel
from systems.layerwise.graph import Graph, build
from systems.layerwise.search import CostGraph, brute_force, eliminate_search, mcmc_search
from systems.layerwise.workloads import METHODS

ALIASES = {"dp": "layerwise-dp", "layerwise": "layerwise-dp", "bruteforce": "brute-force",
           "brute": "brute-force", "data": "data-parallel", "model": "model-parallel"}


def canonical_method(name: str) -> str:
    m = ALIASES.get(name, name)
    if m not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)} (alias: dp = layerwise-dp)")
    return m


@dataclass
class Plan:
    """A method's strategy and its predicted cost."""

    method: str
    graph: Graph
    model: CostModel
    strategy: dict[str, int]
    breakdown: Breakdown
    search_s: float
    stats: dict[str, float] = field(default_factory=dict)
    series: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.graph.batch / self.breakdown.total_s

    def metrics(self) -> dict[str, float]:
        b = self.breakdown
        return {"throughput": self.throughput, "cost_s": b.total_s, "comm_bytes": b.comm_bytes,
                "search_s": self.search_s, "n_configs": float(self.model.n_configs()),
                "compute_s": b.compute_s, "sync_s": b.sync_s, "transfer_s": b.transfer_s,
                "sync_bytes": b.sync_bytes, "transfer_bytes": b.transfer_bytes,
                "cost_model_s": self.model.build_s, "cost_model_cpu_s": self.model.build_cpu_s,
                "search_cpu_s": float(self.stats.get("search_cpu_s", 0.0)), "log10_space": self.model.log10_space(),
                "batch": float(self.graph.batch), "devices": float(self.model.P)}

    def to_json(self) -> dict:
        return {"method": self.method, "network": self.graph.name, "devices": self.model.P,
                "cluster": self.model.spec.name, "batch": self.graph.batch, "simulated": True,
                **{k: v for k, v in self.metrics().items()},
                "strategy": self.model.strategy_json(self.strategy), "search_stats": self.stats}


def plan(graph: Graph, devices: int, method: str, cfg: LayerwiseConfig | None = None,
         model: CostModel | None = None) -> Plan:
    """Run ``method`` on ``graph`` over ``devices`` devices (cost model built unless given)."""
    cfg = cfg or LayerwiseConfig()
    method = canonical_method(method)
    if model is None:
        model = CostModel(graph, devices, cluster(cfg.cluster), cfg.cost, cfg.search)
    stats: dict[str, float] = {}
    series: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    if method in BASELINES:
        strategy = BASELINES[method](graph, model.configs, devices)
    else:
        cg = CostGraph.from_model(model)
        if method == "layerwise-dp":
            r = eliminate_search(cg, cfg.search.final_limit)
        elif method == "brute-force":
            r = brute_force(cg, cfg.search.final_limit)
        else:
            init = BASELINES["data-parallel"](graph, model.configs, devices)
            if cfg.search.mcmc_init == "random":
                import random

                rng = random.Random(cfg.seed)
                init = {n: rng.randrange(len(c)) for n, c in model.configs.items()}
            r = mcmc_search(cg, init, cfg.search.mcmc_iterations, cfg.search.mcmc_alpha, cfg.seed)
            series = r.series
        strategy, stats = r.assignment, dict(r.stats)
    search_s = time.perf_counter() - t0
    stats["search_cpu_s"] = time.process_time() - c0
    return Plan(method, graph, model, strategy, model.breakdown(strategy), search_s, stats, series)


def run(job: Job, cfg: LayerwiseConfig) -> JobResult:
    """One (workload, method, seed): predicted throughput etc. of the method's strategy."""
    graph = build(cfg.network, cfg.batch_per_device * cfg.devices)
    p = plan(graph, cfg.devices, cfg.method, cfg)
    strategy = p.model.strategy_json(p.strategy)
    return JobResult(system="layerwise", workload=job.workload, method=job.method, seed=job.seed,
                     metrics=p.metrics(),
                     params={"network": cfg.network, "devices": cfg.devices, "cluster": cfg.cluster,
                             "batch": graph.batch, "transfer": cfg.cost.transfer, "sync": cfg.cost.sync,
                             "compute": cfg.cost.compute,
                             **{k: v for k, v in p.stats.items() if not k.endswith("_s")}},
                     series={"best_cost_s": p.series} if p.series else {},
                     artifacts={"strategy.json": json.dumps(strategy, indent=1)},
                     simulated=True)
