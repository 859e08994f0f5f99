"""Named workloads and suites of the precision system.

A workload is a dataset + model (+ width, image size, subset), given as config overrides; a suite
fixes which workloads, methods, r values and how many epochs. ``ours`` and its ablations appear once per
``r`` (and per order seed for ``ours-random``), carried in the job's overrides so the jobs differ by key.
"""

from __future__ import annotations

from dataclasses import dataclass

from systems.core import Suite, grid

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
    """``digits``, ``mnist`` or ``contrast`` (synthetic, built to be hard in 8 bits)."""
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
    "mnist28-resnet18": Workload("mnist", "resnet18"),
    "contrast-tiny": Workload("contrast", "tiny", width=2.0, train_size=4000),
    "contrast-resnet18": Workload("contrast", "resnet18", train_size=4000),
}
"""Workload name -> definition."""


def workload_overrides(name: str) -> dict:
    """Config overrides of a named workload (dataset, model, width, image size, subset, lr)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown precision workload {name!r}; valid: {', '.join(WORKLOADS)}")
    w = WORKLOADS[name]
    return {"dataset": w.dataset, "model": w.model, "width": w.width, "image_size": w.image_size,
            "train_size": w.train_size, "lr": w.lr}


def method_variants(method: str, rs: tuple[float, ...], ablation_rs: tuple[float, ...]) -> list[dict]:
    """The override variants of a method in a suite (``ours`` once per r, ``ours-random`` per order seed)."""
    rs = rs or (DEFAULT_R,)
    ars = ablation_rs or (DEFAULT_R,)
    if method == "ours":
        return [{"r": r} for r in rs]
    if method in ("ours-smallest-first", "ours-no-promotion"):
        return [{"r": r} for r in ars]
    if method == "ours-random":
        return [{"r": r, "order_seed": s} for r in ars for s in RANDOM_SEEDS]
    return [{}]


def _suite(workloads: tuple[str, ...], methods: tuple[str, ...], rs: tuple[float, ...],
           ablation_rs: tuple[float, ...], epochs: int, seeds: tuple[int, ...] = (0,), description: str = "") -> Suite:
    variants = {m: method_variants(m, rs, ablation_rs) for m in methods}
    return Suite(grid(workloads, methods, overrides={"epochs": epochs}, variants=variants,
                      wants_gpu=workloads[0].startswith("mnist")), seeds=seeds, description=description)


BENCH_RS = (0.2, 0.4, 0.6, 0.8, 1.0)
"""r values of pi_ours in the benchmark suites."""
BENCH_SEEDS = (0, 1, 2)
"""Paired seeds of the benchmark suites (same seed = same initialisation and data order for every method)."""


def _bench(workloads: tuple[str, ...], epochs: int, rs: tuple[float, ...], ablation_rs: tuple[float, ...],
           description: str) -> Suite:
    methods = ("fp32", "pi-op", "amp", "unif-lo", "ours", "ours-smallest-first", "ours-no-promotion")
    return _suite(workloads, methods, rs, ablation_rs, epochs=epochs, seeds=BENCH_SEEDS, description=description)


SUITES: dict[str, Suite] = {
    "smoke": _suite(("digits-tiny",), ("ours", "fp32", "pi-op", "unif-lo"), (0.6,), (), epochs=3),
    "nightly": _suite(("digits-tiny", "digits-resnet18"), METHODS, (0.3, 0.5, 0.7, 0.9), (0.7,), epochs=6),
    "default": _suite(("digits-resnet18", "digits-mobilenetv2", "digits-shufflenetv2", "digits-squeezenet"),
                      METHODS, (0.2, 0.4, 0.6, 0.8, 1.0), (0.6,), epochs=8),
    "full": _suite(("mnist-resnet18", "mnist-mobilenetv2", "mnist-shufflenetv2", "mnist-squeezenet"), METHODS,
                   tuple(round(0.1 * i, 1) for i in range(11)), (0.4, 0.7, 1.0), epochs=15, seeds=(0, 1, 2)),
}
SUITES["bench"] = _bench(("contrast-tiny", "digits-resnet18"), 10, BENCH_RS, (0.6,),
                         "benchmark: paired seeds, r-sweep with ablations on the task where 8 bits hurt and digits")
SUITES["bench-large"] = _bench(("contrast-resnet18",), 10, BENCH_RS, (0.6,),
                               "the same on ResNet-18 (~200 s per FP32 job on one CPU thread; for a longer run or a GPU)")
SUITES["bench-quick"] = Suite(grid(("contrast-tiny",), ("fp32", "pi-op", "unif-lo", "ours", "ours-smallest-first"),
                                   overrides={"epochs": 4, "train_size": 2000},
                                   variants={"ours": [{"r": 0.6}, {"r": 1.0}], "ours-smallest-first": [{"r": 0.6}]}),
                              seeds=(0, 1), description="benchmark --quick (a few minutes; 2 seeds)")
"""Suite name -> entries (``ours*`` once per r, carried in the job's overrides)."""
