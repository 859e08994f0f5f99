"""Typed configs of the mapper system."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MapperConfig:
    """One evaluation setting: which benchmark, its sizes, and the machine."""

    app: str = "circuit"
    """Benchmark name (see ``systems.mapper.apps.APPS``)."""
    machine: str = "2x4"
    """Named machine (``systems.mapper.machine.MACHINES`` or ``NxG``)."""
    sizes: dict = field(default_factory=dict)
    """Size parameters passed to the benchmark builder (empty: the defaults)."""
    iterations: int = 10
    """Optimizer budget in proposals (used by the search methods)."""
    wall_s: float = 60.0
    """Optimizer wall-clock budget in seconds."""


def mapper_debug_cpu() -> MapperConfig:
    """A setting that evaluates in milliseconds: a small circuit on the default machine."""
    return MapperConfig(app="circuit", sizes={"loops": 2, "pieces": 16}, iterations=3, wall_s=10.0)


def mapper_default() -> MapperConfig:
    """The default setting: default sizes on the 2-node x 4-GPU machine."""
    return MapperConfig()
