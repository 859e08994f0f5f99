"""``run(job) -> JobResult`` and :func:`plan`, the one entry point the CLI, flow and benchmark share.

:func:`plan` builds the cost model of a graph on P devices, runs one method (a search or an
expert baseline) and returns the strategy with its predicted (simulated) step time, throughput,
communication and search time.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from systems.core import Job, JobResult
from systems.layerwise.baselines import BASELINES
from systems.layerwise.config import LayerwiseConfig, scaled_cluster
from systems.layerwise.cost import Breakdown, CostModel
from systems.layerwise.graph import Graph, build
from systems.layerwise.search import CostGraph, Fallback, brute_force, eliminate_search, mcmc_multi
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
                "batch": float(self.graph.batch), "devices": float(self.model.P),
                "min_compute_s": self.model.min_compute_s(),
                "exact": float(self.stats.get("exact", 1.0 if self.method in ("layerwise-dp", "brute-force")
                                              else 0.0))}

    def to_json(self) -> dict:
        return {"method": self.method, "network": self.graph.name, "devices": self.model.P,
                "cluster": self.model.spec.name, "batch": self.graph.batch, "simulated": True,
                **{k: v for k, v in self.metrics().items()},
                "strategy": self.model.strategy_json(self.strategy), "search_stats": self.stats}


_MODELS: "OrderedDict[tuple, CostModel]" = OrderedDict()


def cost_model(graph: Graph, devices: int, cfg: LayerwiseConfig) -> CostModel:
    """The cost model of ``graph`` on ``devices`` devices of the run's (scaled) cluster, cached (the last
    few) so that the methods of one workload share their tables. Profiled models are not cached."""
    spec = scaled_cluster(cfg)
    key = (json.dumps(graph.to_json(), sort_keys=True), graph.name, devices, repr(spec), repr(cfg.cost),
           cfg.search.offsets)
    if cfg.cost.compute != "profiled" and key in _MODELS:
        _MODELS.move_to_end(key)
        return _MODELS[key]
    m = CostModel(graph, devices, spec, cfg.cost, cfg.search)
    if cfg.cost.compute != "profiled":
        _MODELS[key] = m
        while len(_MODELS) > 4:
            _MODELS.popitem(last=False)
    return m


def expert_seeds(graph: Graph, model: CostModel, devices: int) -> list[dict[str, int]]:
    """The expert strategies (data parallel, OWT, model parallel), best predicted first."""
    seeds = [BASELINES[m](graph, model.configs, devices) for m in ("data-parallel", "owt", "model-parallel")]
    return sorted(seeds, key=model.total)


def plan(graph: Graph, devices: int, method: str, cfg: LayerwiseConfig | None = None,
         model: CostModel | None = None) -> Plan:
    """Run ``method`` on ``graph`` over ``devices`` devices (cost model built unless given)."""
    cfg = cfg or LayerwiseConfig()
    method = canonical_method(method)
    if model is None:
        model = cost_model(graph, devices, cfg)
    stats: dict[str, float] = {}
    series: list[float] = []
    t0, c0 = time.perf_counter(), time.process_time()
    if method in BASELINES:
        strategy = BASELINES[method](graph, model.configs, devices)
    else:
        cg = CostGraph.from_model(model)
        sc = cfg.search
        if method == "layerwise-dp":
            fb = Fallback(expert_seeds(graph, model, devices), sc.mcmc_iterations, sc.mcmc_alpha,
                          sc.mcmc_restarts, cfg.seed)
            r = eliminate_search(cg, exact_budget=sc.exact_budget, fallback=fb)
        elif method == "brute-force":
            r = brute_force(cg, sc.final_limit)
        else:
            if sc.mcmc_init == "random":
                import random

                rng = random.Random(cfg.seed)
                inits = [{n: rng.randrange(len(c)) for n, c in model.configs.items()}]
            elif sc.mcmc_init == "data-parallel":
                inits = [BASELINES["data-parallel"](graph, model.configs, devices)]
            else:
                inits = expert_seeds(graph, model, devices)
            r = mcmc_multi(cg, inits, sc.mcmc_iterations, sc.mcmc_alpha, cfg.seed, sc.mcmc_restarts)
            series = r.series
        strategy, stats = r.assignment, dict(r.stats)
    search_s = time.perf_counter() - t0
    stats["search_cpu_s"] = time.process_time() - c0
    return Plan(method, graph, model, strategy, model.breakdown(strategy), search_s, stats, series)


def run(job: Job, cfg: LayerwiseConfig) -> JobResult:
    """One (workload, method, seed): predicted throughput etc. of the method's strategy (simulated)."""
    from systems.layerwise.hardware import describe

    graph = build(cfg.network, cfg.batch_per_device * cfg.devices)
    p = plan(graph, cfg.devices, cfg.method, cfg)
    strategy = p.model.strategy_json(p.strategy)
    return JobResult(system="layerwise", workload=job.workload, method=job.method, seed=job.seed,
                     metrics=p.metrics(),
                     params={"network": cfg.network, "batch": graph.batch,
                             **{k: v for k, v in p.stats.items() if not k.endswith("_s")}},
                     series={"best_cost_s": p.series} if p.series else {},
                     artifacts={"strategy.json": json.dumps(strategy, indent=1),
                                "cluster.txt": describe(p.model.spec) + "\n"},
                     simulated=True)
