"""Named workloads and suites of the precision system.

A workload is a dataset + model (+ width, image size, subset); a suite fixes which workloads,
methods, r values and how many epochs. ``ours`` and its ablations appear once per ``r`` (and per
order seed for ``ours-random``), carried in ``Job.params`` so the jobs differ by their key.
"""

from __future__ import annotations

from dataclasses import dataclass

from systems.core.types import Job

METHODS = ("ours", "fp32", "pi-op", "unif-lo", "amp", "ours-smallest-first", "ours-random", "ours-no-promotion")
"""All methods: pi_ours(r), the baselines, then the ablations."""
BASELINES = ("pi-op", "fp32", "unif-lo", "amp")
"""Baselines (``pi-op`` is the reference expert)."""
RANDOM_SEEDS = (123, 456, 789)
"""Order seeds of the ``ours-random`` ablation (the paper's)."""
DEFAULT_R = 0.7
"""r used when a suite lists no r for a method."""


@dataclass(frozen=True)
class Workload:
    """A dataset and a model."""

    dataset: str
    """``digits`` or ``mnist``."""
    model: str
    """Model name."""
    width: float | None = None
    """Width multiplier (None = the model's default)."""
    image_size: int | None = None
    """Resize to this side (None = native)."""
    train_size: int | None = None
    """Training subset size (None = all)."""
    lr: float = 0.05
    """Peak learning rate."""


WORKLOADS: dict[str, Workload] = {
    "digits-tiny": Workload("digits", "tiny", lr=0.1),
    "digits-resnet18": Workload("digits", "resnet18"),
    "digits-mobilenetv2": Workload("digits", "mobilenetv2"),
    "digits-shufflenetv2": Workload("digits", "shufflenetv2"),
    "digits-squeezenet": Workload("digits", "squeezenet"),
    "mnist-tiny": Workload("mnist", "tiny", width=2.0, image_size=14, lr=0.1),
    "mnist-resnet18": Workload("mnist", "resnet18", image_size=14),
    "mnist-mobilenetv2": Workload("mnist", "mobilenetv2", image_size=14),
    "mnist-shufflenetv2": Workload("mnist", "shufflenetv2", image_size=14),
    "mnist-squeezenet": Workload("mnist", "squeezenet", image_size=14),
}
"""Workload name -> definition."""


@dataclass(frozen=True)
class Suite:
    """What one suite runs."""

    workloads: tuple[str, ...]
    """Workload names."""
    methods: tuple[str, ...]
    """Methods (baselines run once, ``ours*`` once per r)."""
    rs: tuple[float, ...]
    """r values of ``ours``."""
    ablation_rs: tuple[float, ...]
    """r values of the ablations."""
    epochs: int
    """Training epochs."""
    seeds: tuple[int, ...] = (0,)
    """Default seeds."""


SUITES: dict[str, Suite] = {
    "smoke": Suite(("digits-tiny",), ("ours", "fp32", "pi-op", "unif-lo"), (0.7,), (), epochs=3),
    "nightly": Suite(("digits-tiny", "digits-resnet18"), METHODS, (0.3, 0.5, 0.7, 0.9), (0.7,), epochs=6),
    "default": Suite(("digits-resnet18", "digits-mobilenetv2", "digits-shufflenetv2", "digits-squeezenet"), METHODS,
                     (0.2, 0.4, 0.6, 0.8, 1.0), (0.6,), epochs=8),
    "full": Suite(("mnist-resnet18", "mnist-mobilenetv2", "mnist-shufflenetv2", "mnist-squeezenet"), METHODS,
                  tuple(round(0.1 * i, 1) for i in range(11)), (0.4, 0.7, 1.0), epochs=15, seeds=(0, 1, 2)),
}
"""Suite name -> definition."""


def workloads(suite: str) -> list[str]:
    """Workload names of a suite (every workload is valid in every suite)."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid: {', '.join(SUITES)}")
    own = list(SUITES[suite].workloads)
    return own + [w for w in WORKLOADS if w not in own]


def method_params(method: str, suite: Suite) -> list[dict]:
    """The ``Job.params`` variants of a method in a suite."""
    rs = suite.rs or (DEFAULT_R,)
    ars = suite.ablation_rs or (DEFAULT_R,)
    if method == "ours":
        return [{"r": r} for r in rs]
    if method in ("ours-smallest-first", "ours-no-promotion"):
        return [{"r": r} for r in ars]
    if method == "ours-random":
        return [{"r": r, "order_seed": s} for r in ars for s in RANDOM_SEEDS]
    return [{}]


def make_jobs(suite: str = "smoke", methods: list[str] | None = None, workloads: list[str] | None = None,
              seeds: list[int] | None = None) -> list[Job]:
    """Jobs of a suite: every workload x method (x r) x seed. Cheap: no data or model is built."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; valid: {', '.join(SUITES)}")
    s = SUITES[suite]
    ws = list(workloads) if workloads else list(s.workloads)
    for w in ws:
        if w not in WORKLOADS:
            raise ValueError(f"unknown workload {w!r}; valid: {', '.join(WORKLOADS)}")
    ms = list(methods) if methods else list(s.methods)
    jobs = []
    for w in ws:
        for m in ms:
            if m not in METHODS:
                raise ValueError(f"unknown method {m!r}; valid: {', '.join(METHODS)}")
            for p in method_params(m, s):
                for seed in (seeds if seeds is not None else s.seeds):
                    jobs.append(Job(system="precision", workload=w, method=m, seed=seed, suite=suite,
                                    params={**p, "epochs": s.epochs}, wants_gpu=w.startswith("mnist")))
    return jobs
