"""Named workloads (``network@devices`` or ``network@devices/cluster``) and the suites.

* ``smoke``   — micro/tiny networks on 2-4 devices (one not series-parallel), every method (seconds).
* ``nightly`` — the three full networks at 4 and 16 devices, the micro network, and a DenseNet block and
  a randomly wired network at 16 devices, every method.
* ``default`` — AlexNet, VGG-16 and Inception-v3 at 1, 2, 4, 8, 16 devices of the paper's cluster
  (``p100_4x4``), the micro network at every count, and the non-series-parallel graphs (DenseNet block,
  Watts-Strogatz and Erdos-Renyi randomly wired networks) at 4, 8, 16; every method (brute force only
  where the joint space is small enough: the micro network and one device).
* ``full``    — ``default`` plus the tiny networks and the three networks on the 8xH100 preset.

Building a suite only builds graphs and counts configurations (milliseconds); costs are computed in
``evaluate.run``.
"""

from __future__ import annotations

import math
from functools import lru_cache

from systems.core import Suite, SuiteEntry
from systems.core.types import LazySuites

METHODS = ("layerwise-dp", "mcmc", "brute-force", "data-parallel", "model-parallel", "owt")
DEVICE_COUNTS = (1, 2, 4, 8, 16)
BRUTE_FORCE_LIMIT = 2_000_000
DEFAULT_BATCH_PER_DEVICE = 32


def parse_workload(name: str) -> tuple[str, int, str]:
    """``"vgg16@8/h100_8"`` → ``("vgg16", 8, "h100_8")`` (cluster defaults to ``p100_4x4``)."""
    from systems.layerwise.graph import BUILDERS

    body, _, cluster = name.partition("/")
    net, sep, p = body.partition("@")
    if not sep or not p.isdigit() or net not in BUILDERS:
        raise ValueError(f"unknown layerwise workload {name!r}: expected NETWORK@DEVICES[/CLUSTER]; "
                         f"valid networks: {', '.join(BUILDERS)}")
    return net, int(p), cluster or "p100_4x4"


PAPER_NETWORKS = ("alexnet", "vgg16", "inception_v3")
NON_SP_NETWORKS = ("densenet_block", "randwire_ws", "randwire_er")
"""Graphs that are not series-parallel (the elimination leaves a residual graph to solve)."""


def _suite_workloads(suite: str) -> list[str]:
    if suite == "smoke":
        return ["micro_cnn@2", "micro_cnn@4", "tiny_alexnet@4", "tiny_inception@4", "tiny_densenet@4"]
    if suite == "nightly":
        return (["micro_cnn@8"] + [f"{n}@{p}" for n in PAPER_NETWORKS for p in (4, 16)]
                + ["densenet_block@16", "randwire_ws@16"])
    base = [f"{n}@{p}" for n in PAPER_NETWORKS for p in DEVICE_COUNTS]
    base += [f"micro_cnn@{p}" for p in DEVICE_COUNTS]
    base += [f"{n}@{p}" for n in NON_SP_NETWORKS for p in (4, 8, 16)]
    if suite == "full":
        base += [f"{n}@{p}" for n in ("tiny_alexnet", "tiny_vgg", "tiny_inception", "tiny_densenet",
                                      "tiny_randwire") for p in DEVICE_COUNTS]
        base += [f"{n}@{p}/h100_8" for n in PAPER_NETWORKS for p in (8, 16)]
    return base


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


def workload_overrides(name: str) -> dict:
    """``"vgg16@8/h100_8"`` -> ``{"network": "vgg16", "devices": 8, "cluster": "h100_8"}``."""
    net, p, clus = parse_workload(name)
    return {"network": net, "devices": p, "cluster": clus}


def _entries(suite: str) -> tuple[SuiteEntry, ...]:
    """Every workload x method (brute force only where the joint space is small enough)."""
    config = "debug_cpu" if suite == "smoke" else "default"
    return tuple(SuiteEntry(w, m, config) for w in _suite_workloads(suite) for m in METHODS
                 if m != "brute-force" or brute_force_feasible(w))


SUITES = LazySuites(("smoke", "nightly", "default", "full"), lambda s: Suite(_entries(s)))
"""Suite name -> entries (each built on first use: graphs and configuration counts only, about a second)."""
