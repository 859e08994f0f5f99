"""Typed configs for the HAG system (search + training/timing of one job)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal


@dataclass
class SearchConfig:
    """Knobs of the HAG search."""

    capacity_frac: float = 0.25
    """Capacity (max aggregation nodes) as a fraction of |V|; the paper's default is |V|/4."""
    max_depth: int | None = None
    """Maximum aggregation-node depth; None = the mode's default: 10 in set mode (greedy.cc's
    ``maxDepth``), unbounded in sequential mode (Theorem 3 needs it)."""
    min_redundancy: int = 2
    """Merge a pair only when at least this many nodes share it (the paper's "> 1")."""
    mode: Literal["set", "seq"] = "set"
    """``set`` (sum/mean/max, order-free) or ``seq`` (ordered lists, prefix sharing)."""
    method: Literal["greedy", "pw"] = "greedy"
    """``greedy`` (the paper's Algorithm 3) or ``pw`` (one-pass heuristic after Porter & Wootters)."""
    hub_degree: int | None = 512
    """Consumers with more inputs than this are not counted when ranking pairs (they are still rewired
    by every merge); None counts every consumer. Bounds the O(Σ deg²) pair counting on power-law
    graphs; no stand-in workload has such a node."""
    engine: Literal["auto", "native", "python"] = "auto"
    """Search engine: the compiled one when it builds (``auto``), or the pure-Python reference."""

    def __post_init__(self) -> None:
        if self.capacity_frac < 0:
            raise ValueError("capacity_frac must be >= 0")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError("max_depth must be >= 1 (or None)")
        if self.min_redundancy < 2:
            raise ValueError("min_redundancy must be >= 2")
        if self.hub_degree is not None and self.hub_degree < 2:
            raise ValueError("hub_degree must be >= 2 (or None)")


@dataclass
class TrainConfig:
    """Knobs of the training run that measures epoch time and accuracy."""

    model: Literal["gcn", "gin", "sgc", "sage-max", "sage-lstm"] = "gcn"
    """``gcn`` (symmetric-normalised, as PyG GCNConv), ``gin``, ``sgc``, ``sage-max`` (max aggregation) or
    ``sage-lstm`` (GraphSAGE-LSTM; needs ``search.mode = "seq"``)."""
    hidden: int = 16
    """Hidden units of the 2-layer model (the paper's end-to-end setting)."""
    num_features: int = 32
    """Width of the synthetic input features."""
    num_classes: int = 4
    """Number of synthetic classes."""
    epochs: int = 60
    """Training epochs (each plain/HAG/PyG epoch is timed; the median is reported)."""
    lr: float = 0.01
    """Adam learning rate."""
    kernel: Literal["fused", "csr", "scatter"] = "fused"
    """Sum-aggregation kernel of our executor: ``fused`` (one pull pass per level over an int32 CSR,
    compiled; falls back to ``csr`` where unavailable), ``csr`` (torch sparse CSR × dense for the real
    nodes, index_select per level) or ``scatter`` (per-edge gather + ``index_add_``). Plain and HAG
    always share it."""
    other_kernel_epochs: int = 10
    """Also time this many epochs with each of the other two kernels (0 = skip)."""
    pyg: bool = True
    """Also train PyG ``GCNConv`` on the same graph, in the same job (the peer; GCN only)."""
    threads: int = 1
    """torch intra-op threads and threads of the compiled kernel (0 = torch's default). 1 by default: on
    a shared, oversubscribed CPU, multi-threaded kernels stall."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (``auto`` = cuda when available)."""

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.hidden < 1 or self.num_features < 1 or self.num_classes < 2:
            raise ValueError("epochs, hidden, num_features must be >= 1 and num_classes >= 2")
        if self.other_kernel_epochs < 0 or self.threads < 0:
            raise ValueError("other_kernel_epochs and threads must be >= 0")


@dataclass
class HagConfig:
    """Everything one HAG job needs."""

    hag: bool = True
    """Search for a HAG (False: run the plain GNN graph, the expert baseline)."""
    search: SearchConfig = dataclasses.field(default_factory=SearchConfig)
    """Search settings (ignored when ``hag`` is False)."""
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    """Training/timing settings."""
    seed: int = 0
    """Seed of features, labels, initialisation (set from the job's seed)."""


def hag_default() -> HagConfig:
    """The default/full-suite configuration (paper settings: capacity |V|/4, 2-layer GCN, 16 hidden)."""
    return HagConfig()


def hag_debug_cpu() -> HagConfig:
    """A configuration that runs in seconds on a laptop CPU (smoke suite, tests)."""
    cfg = HagConfig()
    cfg.train.epochs = 15
    cfg.train.pyg = False
    cfg.train.num_features = 8
    cfg.train.other_kernel_epochs = 3
    return cfg


def hag_nightly_cpu() -> HagConfig:
    """Nightly: paper settings with fewer epochs, PyG peer included."""
    cfg = HagConfig()
    cfg.train.epochs = 20
    cfg.train.other_kernel_epochs = 5
    return cfg


CONFIGS = {"default": hag_default, "debug_cpu": hag_debug_cpu, "nightly_cpu": hag_nightly_cpu}
"""Named configs (``SuiteEntry.config``)."""
