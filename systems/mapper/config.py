"""Typed config of the mapper system and its named configs (:data:`CONFIGS`).

One job = one benchmark (``app``, set by the workload) on one machine, evaluated for the expert's
mapper (``optimizer`` None) or searched by an optimizer within a budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class MapperConfig:
    """One mapper job: the benchmark and its sizes, the machine, the optimizer and its budget."""

    app: str = "circuit"
    """Benchmark name (see ``systems.mapper.apps.APPS``); set by the workload."""
    machine: str | None = None
    """Machine shape (``NnGg``, ``NnGgRr`` with R ranks per physical node, or ``NxG``); None = the benchmark's
    own machine, the shape its authors ran (2n4g; 8n1g4r for Johnson and COSMA)."""
    size: Literal["default", "small"] = "default"
    """Problem sizes: the benchmark's defaults or its ``small`` set (smoke suite)."""
    sizes: dict = field(default_factory=dict)
    """Explicit size parameters (override ``size``), e.g. ``{"pieces": 16}``."""
    optimizer: str | None = None
    """Optimizer (``systems.mapper.search.OPTIMIZERS``); None = evaluate the expert mapper."""
    iterations: int = 100
    """Optimizer budget in proposals."""
    wall_s: float | None = 300.0
    """Optimizer wall-clock budget in seconds (None = iterations only)."""
    feedback: str | None = None
    """Feedback level given to feedback-reading optimizers (None = the optimizer's default)."""
    seed: int = 0
    """Seed of every random choice (set from the job's seed)."""

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.wall_s is not None and self.wall_s <= 0:
            raise ValueError(f"wall_s must be > 0 (or None), got {self.wall_s}")

    def resolved_sizes(self) -> dict:
        """The size parameters passed to the benchmark builder."""
        if self.sizes:
            return dict(self.sizes)
        if self.size == "small":
            from systems.mapper.apps import APPS

            return dict(APPS[self.app].small)
        return {}


def mapper_default() -> MapperConfig:
    """Default sizes on each benchmark's own machine; 100 proposals or 300 s per search."""
    return MapperConfig()


def mapper_debug_cpu() -> MapperConfig:
    """Smoke: each benchmark's small sizes; 10 proposals or 20 s per search (seconds on a laptop)."""
    return MapperConfig(size="small", iterations=10, wall_s=20.0)


def mapper_nightly() -> MapperConfig:
    """Nightly: default sizes, 30 proposals or 60 s per search."""
    return MapperConfig(iterations=30, wall_s=60.0)


def mapper_full() -> MapperConfig:
    """Full: default sizes, 1,000 proposals or 600 s per search."""
    return MapperConfig(iterations=1000, wall_s=600.0)


CONFIGS = {"default": mapper_default, "debug_cpu": mapper_debug_cpu, "nightly": mapper_nightly,
           "full": mapper_full}
"""Named configs (``SuiteEntry.config``)."""
