"""Named workloads (``network@devices`` or ``network@devices/cluster``) and the suites.

* ``smoke``   — micro/tiny networks on 2-4 devices, every method (seconds on a laptop CPU).
* ``nightly`` — the three full networks at 4 and 16 devices plus the micro network, every method.
* ``default`` — AlexNet, VGG-16 and Inception-v3 at 1, 2, 4, 8, 16 devices of the paper-like
  P100 cluster, every method (brute force only where the joint space is small enough, i.e. at 1
  device, plus the micro network at every device count).
* ``full``    — ``default`` plus the tiny networks and the three networks on the 8xH100 preset.

``make_jobs`` only builds graphs and counts configurations (milliseconds); costs are computed in
``evaluate.run``.
"""

from __future__ import annotations

import math
from functools import lru_cache

from systems.core import Job

METHODS = ("layerwise-dp", "mcmc", "brute-force", "data-parallel", "model-parallel", "owt")
BASELINE_METHODS = ("data-parallel", "model-parallel", "owt")
DEVICE_COUNTS = (1, 2, 4, 8, 16)
BRUTE_FORCE_LIMIT = 2_000_000
DEFAULT_BATCH_PER_DEVICE = 32


def parse_workload(name: str) -> tuple[str, int, str]:
    """``"vgg16@8/h100_8"`` → ``("vgg16", 8, "h100_8")`` (cluster defaults to ``p100_4x4``)."""
    from systems.layerwise.graph import BUILDERS

    body, _, cluster = name.partition("/")
    net, sep, p = body.partition("@")
    if not sep or not p.isdigit() or net not in BUILDERS:
        raise ValueError(f"bad layerwise workload {name!r}: expected NETWORK@DEVICES[/CLUSTER] with "
                         f"NETWORK in {', '.join(BUILDERS)}")
    return net, int(p), cluster or "p100_4x4"


def _suite_workloads(suite: str) -> list[str]:
    if suite == "smoke":
        return ["micro_cnn@2", "micro_cnn@4", "tiny_alexnet@4", "tiny_inception@4"]
    if suite == "nightly":
        return ["micro_cnn@8"] + [f"{n}@{p}" for n in ("alexnet", "vgg16", "inception_v3") for p in (4, 16)]
    base = [f"{n}@{p}" for n in ("alexnet", "vgg16", "inception_v3") for p in DEVICE_COUNTS]
    base += [f"micro_cnn@{p}" for p in DEVICE_COUNTS]
    if suite == "full":
        base += [f"{n}@{p}" for n in ("tiny_alexnet", "tiny_vgg", "tiny_inception") for p in DEVICE_COUNTS]
        base += [f"{n}@{p}/h100_8" for n in ("alexnet", "vgg16", "inception_v3") for p in (8, 16)]
    return base


def workloads(suite: str) -> list[str]:
    """Workload names of a suite."""
    return _suite_workloads(suite)


@lru_cache(maxsize=256)
def log10_space(workload: str, batch_per_device: int = DEFAULT_BATCH_PER_DEVICE) -> float:
    """log10 of the joint strategy space of a workload (cheap: graph + configuration counts)."""
    from systems.layerwise.graph import build
    from systems.layerwise.parallel import enumerate_configs

    net, p, _ = parse_workload(workload)
    g = build(net, batch_per_device * p)
    return sum(math.log10(len(enumerate_configs(ly, p))) for ly in g.layers)


def brute_force_feasible(workload: str, batch_per_device: int = DEFAULT_BATCH_PER_DEVICE) -> bool:
    return log10_space(workload, batch_per_device) <= math.log10(BRUTE_FORCE_LIMIT)


def make_jobs(suite: str, methods=None, workloads=None, seeds=None) -> list[Job]:
    """Jobs of a suite: every workload x method (brute force only where feasible) x seed."""
    names = list(workloads) if workloads else _suite_workloads(suite)
    ms = list(methods) if methods else list(METHODS)
    seed_list = list(seeds) if seeds else [0]
    params = {"mcmc_iterations": 2000} if suite == "smoke" else {}
    jobs = []
    for w in names:
        for m in ms:
            if m == "brute-force" and not brute_force_feasible(w):
                continue
            # deterministic methods need one seed only
            for s in (seed_list if m == "mcmc" else seed_list[:1]):
                jobs.append(Job(system="layerwise", workload=w, method=m, seed=s, suite=suite,
                                params=dict(params)))
    return jobs
