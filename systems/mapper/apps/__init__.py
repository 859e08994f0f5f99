"""The nine benchmarks: ``APPS`` (name -> spec with its own machine) and ``get_app(name, machine=None, **sizes)``.

Each benchmark runs by default on the machine shape its authors ran (``AppSpec.machine``): 2 ranks of
4 GPUs, except Johnson and COSMA, which DISTAL ran with 4 single-GPU ranks per node (``8n1g4r``).
A machine name (``4n4g``, ``8n1g``, ...) changes the shape and keeps the benchmark's per-rank settings.
"""

from __future__ import annotations

from typing import Callable

from systems.mapper.apps.base import App, Region, Req, TaskDef, TaskInst
from systems.mapper.apps.matmul import build_2d, build_3d, build_solomonik
from systems.mapper.apps.scientific import build_circuit, build_pennant, build_stencil
from systems.mapper.machine import Machine, get_machine

MIB = 2**20


def _regent(cpus: int) -> Machine:
    # legion pldi23_scripts/bsub_*.lsf and perfbench run.py: -ll:gpu 4 -ll:csize 150000 -ll:fsize 15000
    # -ll:zsize 2048 -ll:rsize 512; circuit adds -ll:cpu 4; Regent built with -fopenmp 0 (no OpenMP processors)
    return Machine(name="2n4g", nodes=2, gpus_per_node=4, cpus_per_node=cpus, omps_per_node=0)


def _distal() -> Machine:
    # taco scripts/benchmark_lassen.py lgGPUArgs: -ll:ocpu 1 -ll:othr 10 -ll:csize 150000 -ll:gpu 4
    # -ll:fsize 15000; no -ll:cpu (1 CPU) and no -ll:zsize (Realm's default 64 MB)
    return Machine(name="2n4g", nodes=2, gpus_per_node=4, cpus_per_node=1, omps_per_node=1, omp_threads=10,
                   zc_bytes=64 * MIB)


def _distal_multirank() -> Machine:
    # benchmark_lassen.py lassenHeader_multirank (jsrun -a 4) + lgGPUMultShardsArgs: -ll:cpu 1 -ll:csize 37500
    # -ll:gpu 1 -ll:fsize 15000 per rank, 4 ranks per node
    return Machine(name="8n1g4r", nodes=8, gpus_per_node=1, ranks_per_node=4, cpus_per_node=1, omps_per_node=0,
                   sys_bytes=37_500 * MIB, sock_bytes=37_500 * MIB // 2, zc_bytes=64 * MIB)


class AppSpec:
    """A benchmark: its builder, the machine its authors ran it on, and smoke sizes."""

    def __init__(self, name: str, build: Callable[..., App], summary: str, small: dict, machine: Callable[[], Machine]):
        self.name = name
        self.build = build
        self.summary = summary
        """One line for listings."""
        self.small = small
        """Size parameters of the fast ``smoke`` variant."""
        self.machine_factory = machine

    @property
    def machine(self) -> Machine:
        """The benchmark's own machine (the authors' run shape and per-rank settings)."""
        return self.machine_factory()

    def __repr__(self) -> str:
        return f"AppSpec({self.name})"


APPS: dict[str, AppSpec] = {
    "circuit": AppSpec("circuit", build_circuit, "sparse circuit simulation (Regent)", dict(loops=2),
                       lambda: _regent(4)),
    "stencil": AppSpec("stencil", build_stencil, "2-D star stencil (Regent PRK)", dict(tsteps=2), lambda: _regent(1)),
    "pennant": AppSpec("pennant", build_pennant, "Lagrangian hydrodynamics (Regent PENNANT)", dict(cycles=1),
                       lambda: _regent(1)),
    "cannon": AppSpec("cannon", lambda m, **kw: build_2d("cannon", m, variant="cannon", **kw),
                      "Cannon's matrix multiplication (DISTAL)", dict(n=8192), _distal),
    "summa": AppSpec("summa", lambda m, **kw: build_2d("summa", m, variant="summa", **kw), "SUMMA (DISTAL)",
                     dict(n=8192), _distal),
    "pumma": AppSpec("pumma", lambda m, **kw: build_2d("pumma", m, variant="pumma", **kw),
                     "PUMMA (DISTAL; its generated code equals SUMMA's)", dict(n=8192), _distal),
    "johnson": AppSpec("johnson", lambda m, **kw: build_3d("johnson", m, variant="johnson", **kw),
                       "Johnson's 3-D matrix multiplication (DISTAL)", dict(n=8192), _distal_multirank),
    "solomonik": AppSpec("solomonik", build_solomonik, "Solomonik's 2.5-D matrix multiplication (DISTAL)",
                         dict(n=8192), _distal),
    "cosma": AppSpec("cosma", lambda m, **kw: build_3d("cosma", m, variant="cosma", **kw),
                     "COSMA-style communication-optimal matrix multiplication (DISTAL)", dict(n=8192),
                     _distal_multirank),
}
"""The nine benchmarks by name."""


def app_machine(name: str, machine: Machine | str | None = None, ranks_per_node: int | None = None) -> Machine:
    """The machine benchmark ``name`` runs on: its own, or ``machine`` (a shape name applied to its own)."""
    spec = _spec(name)
    return get_machine(machine, base=spec.machine, ranks_per_node=ranks_per_node)


def _spec(name: str) -> AppSpec:
    if name not in APPS:
        import difflib

        close = difflib.get_close_matches(name, list(APPS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown app {name!r}; known: {', '.join(APPS)}.{hint}")
    return APPS[name]


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


_CACHE: dict = {}


def get_app(name: str, machine: Machine | str | None = None, **size_params) -> App:
    """Build (cached) benchmark ``name`` for ``machine`` (default: its own) with optional size parameters."""
    import dataclasses

    spec = _spec(name)
    m = app_machine(name, machine)
    key = (name, _freeze(dataclasses.asdict(m)), _freeze(size_params))
    app = _CACHE.get(key)
    if app is None:
        try:
            app = spec.build(m, **size_params)
        except TypeError as exc:
            raise ValueError(f"bad size parameters for {name}: {exc}") from None
        app.machine = m
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = app
    return app


__all__ = ["APPS", "App", "AppSpec", "Region", "Req", "TaskDef", "TaskInst", "app_machine", "get_app"]
