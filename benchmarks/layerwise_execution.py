"""Measured vs predicted step time of a real multi-process execution (gloo on this CPU).

For each tiny network and world size P: the strategies (data parallel, model parallel, OWT, the
layer-wise optimum under the CPU model, everything on one device, and seeded random ones) run as P real processes
(``systems.layerwise.distributed``); the measured step is the median over timed steps of the
slowest rank's wall time. The prediction is the same cost model the search uses, on a description
of this machine: t_c profiled per sub-shape with torch (1 thread, in the parent process), the
point-to-point bandwidth and latency measured by a gloo ping-pong, ring all-reduce, and the CPU's
core count as compute slots (P processes share the cores); variants: concurrent transfers
(``parallel``), no compute slots, and the per-message latency set to the all-rank barrier time
measured in the same run. Spearman's rank correlation and the median relative error compare the two,
on absolute step times and on ratios to the one-device strategy timed in the same interleaved run
(a uniform slowdown from other users' load cancels in the ratio).
"""

from __future__ import annotations

import os
import random
import sys
import time

import numpy as np

from systems.layerwise import distributed as D
from systems.layerwise.compute import TorchProfiler
from systems.layerwise.config import CostConfig, cpu_emulated
from systems.layerwise.cost import CostModel
from systems.layerwise.evaluate import plan
from systems.layerwise.graph import build


MODEL_VARIANTS = ("sum", "parallel", "no slots", "sum, barrier latency")
"""Cost-model variants predicting the CPU runs (see :func:`run`)."""


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


def probe_link() -> dict[str, float]:
    """gloo ping-pong between two processes on this machine."""
    g = build("micro_cnn", 2)
    res = D.run_strategies(D.Job(g, {}, steps=0, link_probe=True, dtype="float32"), 2, backend="gloo")
    return res[0].link


def cpu_spec(link: dict[str, float], world: int, slots: int):
    return cpu_emulated(bw=link["bw"], gpus_per_node=world, latency=link["latency_s"], slots=slots)


def run(nets=("tiny_alexnet", "tiny_vgg", "tiny_inception"), worlds=(2, 4), batch: int = 32, n_random: int = 4,
        timing_steps: int = 5, seed: int = 0, stat: str = "min", log=print) -> dict:
    """The whole experiment; returns rows (one per strategy) and per-(network, P) summaries."""
    import torch
    from scipy.stats import spearmanr

    cores = os.cpu_count() or 1
    load0 = _load()
    t0 = time.perf_counter()
    link = probe_link()
    log(f"  link: {link['bw'] / 1e9:.2f} GB/s, latency {link['latency_s'] * 1e6:.0f} us")
    rows, summary = [], []
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for net in nets:
            for world in worlds:
                g = build(net, batch)
                prof = TorchProfiler(repeats=5, warmup=1, stat=stat)
                models = {
                    "sum": CostModel(g, world, cpu_spec(link, world, cores), CostConfig(compute="profiled", sync="ring"),
                                     profiler=prof),
                }
                cfgs = models["sum"].configs
                models["parallel"] = CostModel(g, world, cpu_spec(link, world, cores),
                                               CostConfig(compute="profiled", transfer="parallel", sync="ring"),
                                               profiler=prof, configs=cfgs)
                models["no slots"] = CostModel(g, world, cpu_spec(link, world, 0),
                                               CostConfig(compute="profiled", sync="ring"), profiler=prof, configs=cfgs)
                strat_idx = {m: plan(g, world, m, model=models["sum"]).strategy
                             for m in ("data-parallel", "model-parallel", "owt", "layerwise-dp")}
                strat_idx["one device"] = {n: 0 for n in cfgs}  # everything unsplit on device 0
                rng = random.Random(seed + world)
                for i in range(n_random):
                    strat_idx[f"random{i}"] = {n: rng.randrange(len(c)) for n, c in cfgs.items()}
                strategies = {k: {n: cfgs[n][i] for n, i in s.items()} for k, s in strat_idx.items()}
                job = D.Job(g, strategies, steps=1, timing_steps=timing_steps, dtype="float32", seed=seed,
                            link_probe=True)
                res = D.run_strategies(job, world, backend="gloo", timeout_s=900)
                barrier = res[0].link["barrier_s"]
                # the same model with the per-message latency set to the all-rank barrier time measured
                # in this run (on an oversubscribed CPU every exchange waits for the other processes)
                models["sum, barrier latency"] = CostModel(
                    g, world, cpu_emulated(bw=link["bw"], gpus_per_node=world, latency=barrier, slots=cores),
                    CostConfig(compute="profiled", sync="ring"), profiler=prof, configs=cfgs)
                meas, preds = [], {k: [] for k in models}
                for name, s in strat_idx.items():
                    m = D.measured_step(res, name)
                    row = {"net": net, "P": world, "strategy": name, "measured_s": m["step_s"],
                           "measured_min_s": m["min_s"], "measured_max_s": m["max_s"], "cpu_s": m["cpu_s"],
                           "compute_s": m["compute_s"], "p2p_s": m["p2p_s"], "sync_s": m["sync_s"],
                           "bytes_per_step": D.Layout.build(g, strategies[name]).message_bytes(4)}
                    for k, mod in models.items():
                        row[f"pred_{k}_s"] = mod.total(s)
                        preds[k].append(row[f"pred_{k}_s"])
                    bd = models["sum"].breakdown(s)
                    row.update(pred_compute_s=bd.compute_s, pred_sync_s=bd.sync_s, pred_transfer_s=bd.transfer_s)
                    meas.append(m["step_s"])
                    rows.append(row)
                summ = {"net": net, "P": world, "n": len(meas), "barrier_s": barrier}
                mine = rows[-len(meas):]
                mins = [r["measured_min_s"] for r in mine]
                # ratios to the one-device run of the same interleaved measurement: a uniform slowdown
                # of the shared host (other users' load) cancels out
                one = next(r for r in mine if r["strategy"] == "one device")
                for r in mine:
                    r["measured_rel"] = r["measured_s"] / one["measured_s"]
                    for k in models:
                        r[f"pred_{k}_rel"] = r[f"pred_{k}_s"] / one[f"pred_{k}_s"]
                for k in models:
                    summ[f"rho_{k}"] = float(spearmanr(preds[k], meas).statistic)
                    summ[f"err_{k}"] = float(np.median(np.abs(np.array(preds[k]) / np.array(meas) - 1.0)))
                    summ[f"rho_min_{k}"] = float(spearmanr(preds[k], mins).statistic)
                    summ[f"err_rel_{k}"] = float(np.median([abs(r[f"pred_{k}_rel"] / r["measured_rel"] - 1.0)
                                                            for r in mine if r is not one]))
                    summ[f"err_min_{k}"] = float(np.median(np.abs(np.array(preds[k]) / np.array(mins) - 1.0)))
                summary.append(summ)
                log(f"  {net}@{world}: barrier {barrier * 1e3:.1f} ms; " + ", ".join(
                    f"{k}: rho {summ['rho_' + k]:.2f} err {summ['err_' + k]:.0%}" for k in MODEL_VARIANTS))
    finally:
        torch.set_num_threads(prev)
    pooled = {}
    for k in MODEL_VARIANTS:
        pm = np.array([r[f"pred_{k}_s"] for r in rows])
        for tag, col in (("", "measured_s"), ("min_", "measured_min_s")):
            mm = np.array([r[col] for r in rows])
            pooled[f"rho_{tag}{k}"] = float(spearmanr(pm, mm).statistic)
            pooled[f"err_{tag}{k}"] = float(np.median(np.abs(pm / mm - 1.0)))
            # within-workload ranking: mean of the per-(network, P) correlations
            pooled[f"mean_rho_{tag}{k}"] = float(np.mean([s[f"rho_{tag}{k}"] for s in summary]))
        rel = [(r[f"pred_{k}_rel"], r["measured_rel"]) for r in rows if r["strategy"] != "one device"]
        pooled[f"rho_rel_{k}"] = float(spearmanr([a for a, _ in rel], [b for _, b in rel]).statistic)
        pooled[f"err_rel_{k}"] = float(np.median([abs(a / b - 1.0) for a, b in rel]))
    return {"rows": rows, "summary": summary, "pooled": pooled, "link": link, "cores": cores,
            "batch": batch, "timing_steps": timing_steps, "load_start": load0, "load_end": _load(),
            "wall_s": time.perf_counter() - t0}


if __name__ == "__main__":  # a quick look: python -m benchmarks.layerwise_execution [batch] [steps]
    out = run(nets=("tiny_alexnet",), worlds=(2,), n_random=2,
              batch=int(sys.argv[1]) if len(sys.argv) > 1 else 32,
              timing_steps=int(sys.argv[2]) if len(sys.argv) > 2 else 3, log=lambda s: print(s, file=sys.stderr))
    for r in out["rows"]:
        print({k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()})
    print(out["summary"], out["pooled"])
