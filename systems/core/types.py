"""Plain-data contracts shared by every system: Job, JobResult, Method, Suite, SystemSpec.

A Job is one (system, workload, method, config, seed) unit of work; a JobResult is what running it
returns. Both are picklable and JSON-serialisable so they can cross Ray and be stored.

Every system declares the same things, as data (see ``docs/adding-a-system.md``):

* ``methods`` — :class:`Method` entries: name, role (optimizer / baseline / ablation / peer /
  verification), the config overrides the method stands for, whether its result depends on the seed;
* ``configs`` — named configs: functions returning a typed dataclass (one docstring per field);
* ``suites`` — :class:`Suite` entries: lists of ``(workload, method, config name, overrides)``
  (:class:`SuiteEntry`), plus default seeds;
* ``workload_overrides(name)`` — the config overrides a named workload implies;
* ``runner`` — ``run(job, cfg) -> JobResult``, called with the config resolved by
  :mod:`systems.core.config` (one strict path for all systems).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping

Direction = Literal["min", "max"]
Status = Literal["ok", "failed"]
Role = Literal["optimizer", "baseline", "ablation", "peer", "verification"]
ROLES: tuple[str, ...] = ("optimizer", "baseline", "ablation", "peer", "verification")
"""Method roles. ``baseline`` = an expert strategy the comparison divides by; ``verification`` = a method
that checks the others (e.g. brute force) and is never listed as an optimizer."""

SUITES: tuple[str, ...] = ("smoke", "default", "full", "nightly")
"""Suite names every system provides. ``smoke`` runs in seconds on a laptop CPU."""


@dataclass
class Job:
    """One unit of work: a method applied to a workload with a named config and a seed."""

    system: str
    """Registry name of the system (``hag``, ``mapper``, ...)."""
    workload: str
    """Named workload of that system (see its ``workloads.py``)."""
    method: str
    """Optimizer or baseline name (one of ``SystemSpec.method_names``)."""
    seed: int = 0
    """Seed for every random choice the job makes."""
    suite: str = "smoke"
    """Suite the job was generated from (recorded)."""
    params: dict[str, Any] = field(default_factory=dict)
    """Config overrides of this job (strictly checked: keys are the config's fields)."""
    wants_gpu: bool = False
    """True when the job benefits from a GPU; it still runs on CPU when none is present."""
    config: str = "default"
    """Name of the system's named config this job starts from (``SystemSpec.configs``)."""

    @property
    def key(self) -> str:
        """A short stable identifier, unique within a flow run."""
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        base = f"{self.system}/{self.workload}/{self.method}/s{self.seed}"
        if self.config != "default":
            base += f"@{self.config}"
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
    """Facts about the run worth recording as MLflow params (sizes found, device used, choices made)."""
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
    config_name: str = "default"
    """The named config the job started from."""
    config: dict[str, Any] = field(default_factory=dict)
    """The resolved config the job ran with (named config + workload + method + job params)."""
    cpu_s: float = 0.0
    """Process CPU time of the job's own work in seconds (beside ``wall_s``)."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobResult":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def failed(cls, job: Job, error: str, *, is_baseline: bool = False, hardware: str = "",
               wall_s: float = 0.0, config: dict[str, Any] | None = None) -> "JobResult":
        """A failed result for ``job`` carrying ``error``."""
        return cls(system=job.system, workload=job.workload, method=job.method, seed=job.seed,
                   suite=job.suite, is_baseline=is_baseline, status="failed", error=error,
                   hardware=hardware, wall_s=wall_s, job_params=dict(job.params),
                   config_name=job.config, config=dict(config or {}))


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
class Method:
    """One method of a system, as data."""

    name: str
    """Name used in jobs, suites and the CLI."""
    role: Role = "optimizer"
    """``optimizer``, ``baseline`` (an expert strategy), ``ablation``, ``peer`` (another package's
    implementation) or ``verification`` (checks the others; never shown as an optimizer)."""
    description: str = ""
    """One line for listings."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Config overrides the method stands for (applied after the workload's, before the job's)."""
    seeded: bool = True
    """False when the method's result does not depend on the seed: a suite runs it once (first seed)."""
    requires: str | None = None
    """Optional ``"module:function"`` returning None when the method can run here, else the reason it
    cannot (e.g. no LLM endpoint). Suites skip such methods unless they are asked for by name."""

    def unavailable(self) -> str | None:
        """None when the method can run here, else why not."""
        if not self.requires:
            return None
        module, _, fn = self.requires.partition(":")
        return getattr(importlib.import_module(module), fn)()


@dataclass(frozen=True)
class SuiteEntry:
    """One line of a suite: a workload, a method, the named config and the job's overrides."""

    workload: str
    """Workload name."""
    method: str
    """Method name."""
    config: str = "default"
    """Named config (a key of ``SystemSpec.configs``)."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Config overrides carried by the job (``Job.params``)."""
    wants_gpu: bool = False
    """The job benefits from a GPU (it still runs on CPU without one)."""


@dataclass(frozen=True)
class Suite:
    """A named set of jobs: entries x seeds."""

    entries: tuple[SuiteEntry, ...]
    """What runs (seeded methods once per seed, the others once)."""
    seeds: tuple[int, ...] = (0,)
    """Default seeds."""
    description: str = ""
    """One line for listings."""

    @property
    def workloads(self) -> list[str]:
        """Workload names, in order of first appearance."""
        return list(dict.fromkeys(e.workload for e in self.entries))

    @property
    def methods(self) -> list[str]:
        """Method names, in order of first appearance."""
        return list(dict.fromkeys(e.method for e in self.entries))


class LazySuites(Mapping):
    """Suites built on first access, one by one (for systems whose suites need graphs to decide)."""

    def __init__(self, names: Iterable[str], build: Callable[[str], Suite]):
        self._names = tuple(names)
        self._build = build
        self._cache: dict[str, Suite] = {}

    def __getitem__(self, name: str) -> Suite:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self._build(name)
        return self._cache[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def grid(workloads: Iterable[str], methods: Iterable[str], *, config: str = "default",
         overrides: Mapping[str, Any] | None = None, variants: Mapping[str, list[Mapping[str, Any]]] | None = None,
         wants_gpu: bool = False) -> tuple[SuiteEntry, ...]:
    """Every workload x method; ``variants[method]`` gives that method one entry per override dict."""
    out = []
    for w in workloads:
        for m in methods:
            for v in (variants or {}).get(m, [{}]):
                out.append(SuiteEntry(w, m, config, {**(overrides or {}), **v}, wants_gpu))
    return tuple(out)


@dataclass(frozen=True)
class ComparisonSpec:
    """What a comparison needs; stored with every flow run so old runs keep their meaning."""

    system: str
    """System name."""
    primary_metric: str
    """Metric compared against the expert baseline."""
    direction: Direction
    """``min`` or ``max``."""
    baselines: tuple[str, ...]
    """Expert baseline methods."""
    reference_baseline: str | None = None
    """The baseline the comparison divides by; None = the best baseline per workload."""
    quality: QualityGate | None = None
    """Quality gate checked beside the primary metric."""
    simulated: bool = False
    """Primary metric is simulated."""
    method_order: tuple[str, ...] = ()
    """Methods in listing order."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """Method -> role."""

    @property
    def name(self) -> str:
        return self.system

    @property
    def method_names(self) -> tuple[str, ...]:
        return self.method_order

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b`` on the primary metric."""
        return a < b if self.direction == "min" else a > b

    def improvement(self, method_value: float, baseline_value: float) -> float:
        """Ratio > 1 when the method beats the baseline (direction-aware)."""
        if self.direction == "min":
            return baseline_value / method_value if method_value else float("inf")
        return method_value / baseline_value if baseline_value else float("inf")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["roles"] = dict(self.roles)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ComparisonSpec":
        q = d.get("quality")
        return cls(system=d["system"], primary_metric=d["primary_metric"], direction=d["direction"],
                   baselines=tuple(d.get("baselines") or ()), reference_baseline=d.get("reference_baseline"),
                   quality=QualityGate(**q) if q else None, simulated=bool(d.get("simulated", False)),
                   method_order=tuple(d.get("method_order") or ()), roles=dict(d.get("roles") or {}))


def _module_source(name: str) -> str:
    try:
        return inspect.getsource(importlib.import_module(name))
    except (OSError, TypeError):
        return ""


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
    methods: tuple[Method, ...]
    """All methods, as data (optimizers, baselines, ablations, peers, verification)."""
    configs: Mapping[str, Callable[[], Any]]
    """Named configs: name -> function returning a fresh typed config dataclass. ``default`` is required."""
    suites: Mapping[str, Suite]
    """Named suites; ``smoke`` is required and runs in seconds on a laptop CPU."""
    workload_overrides: Callable[[str], Mapping[str, Any]]
    """Config overrides a named workload implies; raises ``ValueError`` naming the valid workloads."""
    runner: str
    """Import path ``"module:function"`` of ``run(job, cfg) -> JobResult`` (imported lazily, on the worker)."""
    reference_baseline: str | None = None
    """The baseline the comparison divides by; None = the best baseline per workload."""
    quality: QualityGate | None = None
    """Optional quality constraint checked in the comparison."""
    simulated: bool = False
    """True when the primary metric is simulated (mapper, layerwise)."""
    benchmark_version: str = "1"
    """Bump when a metric's meaning changes (definitions of workloads and configs are hashed anyway)."""
    benchmark_sources: tuple[str, ...] = ()
    """Modules whose source defines the benchmark (workload builders, apps); hashed into the benchmark
    hash with the resolved configs of a suite's jobs, so history restarts when a benchmark changes."""
    status_hook: str | None = None
    """Optional ``"module:function"`` returning one line about how the system will run here (e.g. the
    mapper's "no LLM endpoint configured: offline optimizers only"); the flow logs and records it."""

    def __post_init__(self) -> None:
        names = [m.name for m in self.methods]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"{self.name}: duplicate methods {sorted(dup)}")
        for m in self.methods:
            if m.role not in ROLES:
                raise ValueError(f"{self.name}: method {m.name!r} has role {m.role!r}; valid: {', '.join(ROLES)}")
        if "default" not in self.configs:
            raise ValueError(f"{self.name}: configs must include 'default' (got {', '.join(self.configs)})")
        if "smoke" not in self.suites:
            raise ValueError(f"{self.name}: suites must include 'smoke'")
        if self.reference_baseline and self.reference_baseline not in self.baselines:
            raise ValueError(f"{self.name}: reference baseline {self.reference_baseline!r} is not a baseline")
        for sname, suite in ([] if isinstance(self.suites, LazySuites) else self.suites.items()):
            for e in suite.entries:
                if e.method not in names:
                    raise ValueError(f"{self.name}: suite {sname!r} names unknown method {e.method!r}")
                if e.config not in self.configs:
                    raise ValueError(f"{self.name}: suite {sname!r} names unknown config {e.config!r}; "
                                     f"valid: {', '.join(self.configs)}")

    # --- methods ----------------------------------------------------------------------------------
    @property
    def method_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.methods)

    @property
    def baselines(self) -> tuple[str, ...]:
        """The expert baselines (role ``baseline``)."""
        return tuple(m.name for m in self.methods if m.role == "baseline")

    def method(self, name: str) -> Method:
        """The method called ``name``; a typo fails naming the valid ones."""
        for m in self.methods:
            if m.name == name:
                return m
        raise ValueError(f"unknown method {name!r} for {self.name}; valid: {', '.join(self.method_names)}")

    # --- comparison -------------------------------------------------------------------------------
    @property
    def comparison(self) -> ComparisonSpec:
        """What the comparison needs (stored with each flow run)."""
        return ComparisonSpec(system=self.name, primary_metric=self.primary_metric, direction=self.direction,
                              baselines=self.baselines, reference_baseline=self.reference_baseline,
                              quality=self.quality, simulated=self.simulated, method_order=self.method_names,
                              roles={m.name: m.role for m in self.methods})

    def better(self, a: float, b: float) -> bool:
        return self.comparison.better(a, b)

    def improvement(self, method_value: float, baseline_value: float) -> float:
        return self.comparison.improvement(method_value, baseline_value)

    def status_line(self) -> str | None:
        """The status hook's line, or None."""
        if not self.status_hook:
            return None
        module, _, fn = self.status_hook.partition(":")
        return str(getattr(importlib.import_module(module), fn)())

    # --- configs ----------------------------------------------------------------------------------
    def config(self, name: str = "default") -> Any:
        """A fresh instance of the named config."""
        if name not in self.configs:
            raise ValueError(f"unknown config {name!r} for {self.name}; valid: {', '.join(self.configs)}")
        return self.configs[name]()

    def resolve(self, job: Job) -> Any:
        """The config ``job`` runs with (see :mod:`systems.core.config`); strict, raises ``ConfigError``."""
        from systems.core.config import ConfigError, apply_overrides

        if job.system != self.name:
            raise ConfigError(f"job {job.key} is for system {job.system!r}, not {self.name!r}")
        method = self.method(job.method)
        try:
            cfg = self.config(job.config)
            wl = self.workload_overrides(job.workload)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        cfg = apply_overrides(cfg, wl, where=f"{self.name} workload {job.workload!r}")
        cfg = apply_overrides(cfg, method.overrides, where=f"{self.name} method {job.method!r}")
        cfg = apply_overrides(cfg, job.params, where=f"{self.name} job {job.key} params")
        if any(f.name == "seed" for f in dataclasses.fields(cfg)):
            cfg = dataclasses.replace(cfg, seed=job.seed)
        return cfg

    # --- suites -> jobs ---------------------------------------------------------------------------
    def suite(self, name: str) -> Suite:
        if name not in self.suites:
            raise ValueError(f"unknown suite {name!r} for {self.name}; valid: {', '.join(self.suites)}")
        return self.suites[name]

    def workloads(self, suite: str) -> list[str]:
        """Workload names of ``suite``."""
        return self.suite(suite).workloads

    def jobs(self, suite: str = "smoke", methods: list[str] | None = None, workloads: list[str] | None = None,
             seeds: int | list[int] | None = None, overrides: Mapping[str, Any] | None = None) -> list[Job]:
        """The jobs of ``suite``, validated; the same rules for every system.

        * ``methods`` / ``workloads`` **restrict** the suite: a name that is not in the system fails
          naming the valid ones; a name that is not in this suite fails naming the suite's.
        * ``seeds``: an int ``n >= 1`` means seeds ``0..n-1``; a list gives the seeds; None = the suite's.
          Methods whose result does not depend on the seed run once, with the first seed.
        * ``overrides`` are added to every job's params (a user's ``--set key=value``).
        * Methods that cannot run here (``Method.requires``) are skipped unless named in ``methods``,
          where they fail with the reason.
        * Every job's config is resolved now, so a bad override fails before anything runs.
        """
        from systems.core.config import ConfigError

        s = self.suite(suite)
        for m in methods or []:
            self.method(m)
            if m not in s.methods:
                raise ValueError(f"method {m!r} is not in {self.name} suite {suite!r}; "
                                 f"the suite runs: {', '.join(s.methods)}")
            why = self.method(m).unavailable()
            if why:
                raise ValueError(f"method {m!r} cannot run here: {why}")
        for w in workloads or []:
            try:
                self.workload_overrides(w)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
            if w not in s.workloads:
                raise ValueError(f"workload {w!r} is not in {self.name} suite {suite!r}; the suite runs: "
                                 f"{', '.join(s.workloads)}")
        seed_list = _seed_list(seeds, s.seeds)
        skipped = {m.name for m in self.methods if m.name not in (methods or []) and m.unavailable()}
        out: list[Job] = []
        for e in s.entries:
            if (methods and e.method not in methods) or (workloads and e.workload not in workloads):
                continue
            if e.method in skipped:
                continue
            for seed in (seed_list if self.method(e.method).seeded else seed_list[:1]):
                job = Job(self.name, e.workload, e.method, seed, suite, {**e.overrides, **(overrides or {})},
                          e.wants_gpu, e.config)
                try:
                    self.resolve(job)
                except ConfigError as exc:
                    raise ValueError(str(exc)) from None
                out.append(job)
        if not out:
            raise ValueError(f"no jobs: {self.name} suite {suite!r} has no entry for methods "
                             f"{methods or 'all'} and workloads {workloads or 'all'}")
        return out

    def job(self, workload: str, method: str, seed: int = 0, *, suite: str = "smoke", config: str | None = None,
            params: Mapping[str, Any] | None = None, wants_gpu: bool = False) -> Job:
        """One validated job outside a suite's entries (benchmarks, tests, the CLI's ad-hoc runs).

        ``config`` defaults to the named config the suite uses for this workload (else its first entry's).
        The job's config is resolved now, so a bad name or override fails here.
        """
        from systems.core.config import ConfigError

        if config is None:
            s = self.suite(suite)
            match = [e.config for e in s.entries if e.workload == workload] or [e.config for e in s.entries]
            config = match[0] if match else "default"
        job = Job(self.name, workload, method, seed, suite, dict(params or {}), wants_gpu, config)
        try:
            self.resolve(job)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return job

    def benchmark_hash(self, suite: str, jobs: list[Job] | None = None) -> str:
        """A 12-hex hash of what the benchmark *is*: change any of it and history is not compared.

        Covers the benchmark version, the primary metric and its direction, the quality gate, the
        reference baseline, every job (``jobs``, default: the suite's) with its **resolved config**, and
        the source of the modules that build the workloads (``benchmark_sources``). Resizing a workload
        or changing a named config therefore changes the hash. Not covered on purpose: the optimizers'
        code (that is what a nightly measures).
        """
        from systems.core.config import to_dict

        q = self.quality
        head = {"system": self.name, "benchmark_version": self.benchmark_version, "suite": suite,
                "primary_metric": self.primary_metric, "direction": self.direction,
                "quality": [q.metric, q.direction, q.tolerance] if q else None,
                "reference_baseline": self.reference_baseline}
        rows = sorted(json.dumps([j.key, bool(j.wants_gpu), to_dict(self.resolve(j))], sort_keys=True, default=str)
                      for j in (self.jobs(suite) if jobs is None else jobs))
        h = hashlib.sha256(json.dumps(head, sort_keys=True).encode())
        for r in rows:
            h.update(r.encode())
        for mod in self.benchmark_sources:
            h.update(mod.encode())
            h.update(_module_source(mod).encode())
        return h.hexdigest()[:12]

    def run_fn(self) -> Callable[[Job, Any], JobResult]:
        """Import and return the job runner ``run(job, cfg)``."""
        module, _, fn = self.runner.partition(":")
        return getattr(importlib.import_module(module), fn)


def _seed_list(seeds: int | list[int] | None, default: tuple[int, ...]) -> list[int]:
    if seeds is None:
        return list(default)
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (a count), got {seeds}")
        return list(range(seeds))
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    return seeds
