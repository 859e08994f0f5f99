"""The nine benchmarks: ``APPS`` (name -> builder) and ``get_app(name, machine=None, **sizes)``."""

from __future__ import annotations

from typing import Callable

from systems.mapper.apps.base import App, Region, Req, TaskDef, TaskInst
from systems.mapper.apps.matmul import build_2d, build_3d
from systems.mapper.apps.scientific import build_circuit, build_pennant, build_stencil
from systems.mapper.machine import Machine, get_machine


class AppSpec:
    """A benchmark: its builder and default/smoke sizes."""

    def __init__(self, name: str, build: Callable[..., App], summary: str, small: dict):
        self.name = name
        self.build = build
        self.summary = summary
        """One line for listings."""
        self.small = small
        """Size parameters of the fast ``smoke`` variant."""

    def __repr__(self) -> str:
        return f"AppSpec({self.name})"


APPS: dict[str, AppSpec] = {
    "circuit": AppSpec("circuit", build_circuit, "sparse circuit simulation (Regent)", dict(loops=3)),
    "stencil": AppSpec("stencil", build_stencil, "2-D star stencil (Regent PRK)", dict(tsteps=4)),
    "pennant": AppSpec("pennant", build_pennant, "Lagrangian hydrodynamics (Regent PENNANT)", dict(cycles=2)),
    "cannon": AppSpec("cannon", lambda m, **kw: build_2d("cannon", m, variant="cannon", **kw),
                      "Cannon's matrix multiplication (DISTAL)", dict(n=8192)),
    "summa": AppSpec("summa", lambda m, **kw: build_2d("summa", m, variant="summa", **kw), "SUMMA (DISTAL)", dict(n=8192)),
    "pumma": AppSpec("pumma", lambda m, **kw: build_2d("pumma", m, variant="pumma", **kw), "PUMMA (DISTAL)", dict(n=8192)),
    "johnson": AppSpec("johnson", lambda m, **kw: build_3d("johnson", m, variant="johnson", **kw),
                       "Johnson's 3-D matrix multiplication (DISTAL)", dict(n=8192)),
    "solomonik": AppSpec("solomonik", lambda m, **kw: build_3d("solomonik", m, variant="solomonik", **kw),
                         "Solomonik's 2.5-D matrix multiplication (DISTAL)", dict(n=8192)),
    "cosma": AppSpec("cosma", lambda m, **kw: build_3d("cosma", m, variant="cosma", **kw),
                     "COSMA-style communication-optimal matrix multiplication (DISTAL)", dict(n=8192)),
}
"""The nine benchmarks by name."""


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


_CACHE: dict = {}


def get_app(name: str, machine: Machine | str | None = None, **size_params) -> App:
    """Build (cached) benchmark ``name`` for ``machine`` with optional size parameters."""
    import dataclasses

    if name not in APPS:
        import difflib

        close = difflib.get_close_matches(name, list(APPS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown app {name!r}; known: {', '.join(APPS)}.{hint}")
    m = get_machine(machine)
    key = (name, _freeze(dataclasses.asdict(m)), _freeze(size_params))
    app = _CACHE.get(key)
    if app is None:
        try:
            app = APPS[name].build(m, **size_params)
        except TypeError as exc:
            raise ValueError(f"bad size parameters for {name}: {exc}") from None
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = app
    return app


__all__ = ["APPS", "App", "AppSpec", "Region", "Req", "TaskDef", "TaskInst", "get_app"]
