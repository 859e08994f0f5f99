"""Plain-data contracts shared by every system: Job, JobResult, SystemSpec.

A Job is one (system, workload, method, seed) unit of work; a JobResult is what running it
returns. Both are picklable and JSON-serialisable so they can cross Ray and be stored.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Direction = Literal["min", "max"]
Status = Literal["ok", "failed"]

SUITES: tuple[str, ...] = ("smoke", "default", "full", "nightly")
"""Suite names every system provides. ``smoke`` runs in seconds on a laptop CPU."""


@dataclass
class Job:
    """One unit of work: a method applied to a workload with a seed."""

    system: str
    """Registry name of the system (``hag``, ``mapper``, ...)."""
    workload: str
    """Named workload of that system (see its ``workloads.py``)."""
    method: str
    """Optimizer or baseline name (one of ``SystemSpec.methods``)."""
    seed: int = 0
    """Seed for every random choice the job makes."""
    suite: str = "smoke"
    """Suite the job was generated from (recorded, and used for sizing)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Extra JSON-able knobs for the method/workload (e.g. ``{"iterations": 10}``)."""
    wants_gpu: bool = False
    """True when the job benefits from a GPU; it still runs on CPU when none is present."""

    @property
    def key(self) -> str:
        """A short stable identifier, unique within a flow run."""
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        base = f"{self.system}/{self.workload}/{self.method}/s{self.seed}"
        return f"{base}[{extra}]" if extra else base

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class JobResult:
    """What a job returns. Only the flow driver turns it into MLflow records."""

    system: str
    """Registry name of the system."""
    workload: str
    """Workload the job ran."""
    method: str
    """Method the job ran."""
    seed: int
    """Seed the job ran with."""
    is_baseline: bool = False
    """True when ``method`` is one of the system's expert baselines."""
    suite: str = "smoke"
    """Suite the job came from."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Scalar results; must contain the system's primary metric when ``status == 'ok'``."""
    params: dict[str, Any] = field(default_factory=dict)
    """Settings worth recording as MLflow params (sizes, budgets, chosen knobs)."""
    series: dict[str, list[float]] = field(default_factory=dict)
    """Per-step curves (best-so-far per iteration, loss per step); index = step."""
    artifacts: dict[str, str] = field(default_factory=dict)
    """Small text artifacts by file name (a mapper, a strategy as JSON, a table)."""
    status: Status = "ok"
    """``ok`` or ``failed``."""
    error: str | None = None
    """Error text (with traceback) when ``status == 'failed'``."""
    hardware: str = ""
    """Hardware description of the machine that ran the job."""
    wall_s: float = 0.0
    """Wall time of the job's own work in seconds (excludes scheduling)."""
    simulated: bool = False
    """True when the primary metric comes from a simulator/cost model, not a measurement."""
    job_params: dict[str, Any] = field(default_factory=dict)
    """The ``Job.params`` the job ran with."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def failed(cls, job: Job, error: str, *, is_baseline: bool = False, hardware: str = "",
               wall_s: float = 0.0) -> "JobResult":
        """A failed result for ``job`` carrying ``error``."""
        return cls(system=job.system, workload=job.workload, method=job.method, seed=job.seed,
                   suite=job.suite, is_baseline=is_baseline, status="failed", error=error,
                   hardware=hardware, wall_s=wall_s, job_params=dict(job.params))


@dataclass(frozen=True)
class QualityGate:
    """A quality constraint the comparison checks beside the primary metric.

    E.g. precision compares memory *at matched accuracy*: ``QualityGate("accuracy", "max", 0.005)``
    marks a method's row ``quality_ok`` only when its accuracy is within 0.005 of the expert's.
    """

    metric: str
    """Metric name in ``JobResult.metrics``."""
    direction: Direction
    """``max`` when higher is better (accuracy), ``min`` when lower is better (loss)."""
    tolerance: float = 0.0
    """Allowed shortfall against the expert, in the metric's own units."""


@dataclass(frozen=True)
class SystemSpec:
    """The front door of a system: what it optimises and how to make and run its jobs."""

    name: str
    """Registry name (the package name under ``systems/``)."""
    description: str
    """One line for ``syslab systems``."""
    primary_metric: str
    """Metric compared against the expert baseline."""
    direction: Direction
    """``min`` when lower is better (time, memory), ``max`` when higher is better (throughput)."""
    methods: tuple[str, ...]
    """All methods, optimizers and baselines alike."""
    baselines: tuple[str, ...]
    """The methods that are expert baselines (subset of ``methods``)."""
    make_jobs: Callable[..., list[Job]]
    """``make_jobs(suite, methods=None, workloads=None, seeds=None) -> list[Job]``."""
    runner: str
    """Import path ``"module:function"`` of ``run(job) -> JobResult`` (imported lazily, on the worker)."""
    workloads: Callable[[str], list[str]] | None = None
    """``workloads(suite) -> names``; used to validate ``--workload`` and in listings."""
    reference_baseline: str | None = None
    """The baseline the comparison divides by; None = the best baseline per workload."""
    quality: QualityGate | None = None
    """Optional quality constraint checked in the comparison."""
    simulated: bool = False
    """True when the primary metric is simulated (mapper, layerwise)."""
    benchmark_version: str = "1"
    """Bump when a workload/metric definition changes so incomparable history is not compared."""
    suites: tuple[str, ...] = SUITES
    """Suites this system provides."""
    status_hook: str | None = None
    """Optional ``"module:function"`` returning one line about how the system will run here (e.g. the
    mapper's "no LLM endpoint configured: offline optimizers only"); the flow logs and records it."""

    def status_line(self) -> str | None:
        """The status hook's line, or None."""
        if not self.status_hook:
            return None
        module, _, fn = self.status_hook.partition(":")
        return str(getattr(importlib.import_module(module), fn)())

    def jobs(self, suite: str = "smoke", methods: list[str] | None = None,
             workloads: list[str] | None = None, seeds: int | list[int] | None = None) -> list[Job]:
        """Validated job list for a suite (unknown names fail with the valid ones listed)."""
        if suite not in self.suites:
            raise ValueError(f"unknown suite {suite!r} for {self.name}; valid: {', '.join(self.suites)}")
        for m in methods or []:
            if m not in self.methods:
                raise ValueError(f"unknown method {m!r} for {self.name}; valid: {', '.join(self.methods)}")
        if workloads and self.workloads is not None:
            known = self.workloads(suite)
            for w in workloads:
                if w not in known:
                    raise ValueError(f"unknown workload {w!r} for {self.name} suite {suite!r}; "
                                     f"valid: {', '.join(known)}")
        seed_list = list(range(seeds)) if isinstance(seeds, int) else seeds
        return self.make_jobs(suite, methods=methods, workloads=workloads, seeds=seed_list)

    def run_fn(self) -> Callable[[Job], JobResult]:
        """Import and return the job runner."""
        module, _, fn = self.runner.partition(":")
        return getattr(importlib.import_module(module), fn)

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b`` on the primary metric."""
        return a < b if self.direction == "min" else a > b

    def improvement(self, method_value: float, baseline_value: float) -> float:
        """Ratio > 1 when the method beats the baseline (direction-aware)."""
        if self.direction == "min":
            return baseline_value / method_value if method_value else float("inf")
        return method_value / baseline_value if baseline_value else float("inf")
