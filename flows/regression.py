"""Regression detection for nightly sweeps, asv/Conbench style. Pure Python: no prefect, no mlflow.

A nightly sweep produces, per **benchmark key** ``(system, workload, method, metric, hardware)``,
one value (the mean over the job's seeds). :func:`detect` compares the newest sweep of each key
with its own history and sorts every key into exactly one category:

``regression`` / ``improvement``
    Two tests, both direction-aware (``min`` metrics regress upwards, ``max`` ones downwards):

    * **ratio against the previous nightly** (asv ``compare --factor``): the change is at least
      ``threshold``× (default 1.1) in the bad (or good) direction;
    * **lookback z-score** (Conbench): ``z = (new - mean(window)) / sd(window)`` over the last
      ``window`` earlier nightlies, only when at least ``min_history`` of them exist. ``sd`` is
      floored at ``rel_noise_floor * |mean|`` so a deterministic (simulated) metric with zero
      spread does not turn a 0.1 % change into z = inf.

    A key is flagged when the ratio test fires **and** -- where there is enough history -- the
    z-score agrees (``|z| >= z_threshold``). The ratio alone decides while history is short. So
    noise that a long history shows to be normal is not flagged, and a small but statistically
    clear drift below the ratio threshold is not either (the threshold is the smallest change
    anyone acts on).
``lost_to_expert``
    The ``vs_expert`` ratio of an optimizer (not a baseline) is below 1.0: the optimizer lost to
    the expert strategy on that workload. Reported on its own, whatever its trend, with whether
    it is ``new`` (the previous nightly was >= 1.0, or there was none).
(``vs_expert`` of the expert baselines themselves is not judged: it is relative to whichever
baseline was best that night; their own primary metric is.)
``new``
    No earlier comparable nightly: nothing to compare against (first run, or first run since the
    benchmark version changed -- ``history_reset`` says which).
``unchanged``
    Everything else.

Only history with the same ``version`` (the benchmark-definition hash of the newest point) and
the same hardware (part of the key) is compared, so results from a changed benchmark or another
machine never produce a flag.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import mean, pstdev
from typing import Iterable, Literal

Direction = Literal["min", "max"]
Category = Literal["regression", "improvement", "lost_to_expert", "new", "unchanged"]

CATEGORIES: tuple[str, ...] = ("regression", "improvement", "lost_to_expert", "new", "unchanged")
"""Report sections, in the order they are printed."""

EXPERT_RATIO_METRIC = "vs_expert"
"""The per-(workload, method) ratio against the expert baseline (> 1 = the optimizer wins)."""


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of :func:`detect`."""

    threshold: float = 1.1
    """Ratio against the previous nightly that counts as a change (asv ``--factor``), > 1."""
    z_threshold: float = 3.0
    """|z| over the lookback window that counts as a change when enough history exists."""
    window: int = 10
    """How many earlier comparable nightlies form the lookback window."""
    min_history: int = 3
    """Earlier points needed before the z-score is used (Conbench needs >= 2; 3 is steadier)."""
    rel_noise_floor: float = 0.01
    """The window's sd is at least this fraction of its mean (guards deterministic metrics)."""
    expert_floor: float = 1.0
    """``vs_expert`` below this is reported as ``lost_to_expert``."""

    def __post_init__(self) -> None:
        if not self.threshold > 1.0:
            raise ValueError(f"threshold must be > 1.0 (a ratio such as 1.1), got {self.threshold}")
        if not self.z_threshold > 0:
            raise ValueError(f"z_threshold must be > 0, got {self.z_threshold}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        if self.min_history < 2:
            raise ValueError(f"min_history must be >= 2 (a z-score needs a spread), got {self.min_history}")
        if self.rel_noise_floor < 0:
            raise ValueError(f"rel_noise_floor must be >= 0, got {self.rel_noise_floor}")


@dataclass(frozen=True)
class Point:
    """One benchmark value of one nightly sweep."""

    system: str
    """Registry name of the system."""
    workload: str
    """Workload of the benchmark."""
    method: str
    """Method (optimizer or expert baseline)."""
    metric: str
    """Metric name (the system's primary metric, ``vs_expert``, a quality metric)."""
    hardware: str
    """Hardware description of the machine that ran it (history is per machine)."""
    value: float
    """The value (mean over the sweep's seeds)."""
    direction: Direction
    """``min`` when lower is better, ``max`` when higher is better."""
    time: float
    """When the sweep ran (epoch seconds); orders the history."""
    version: str = ""
    """Benchmark-definition hash; only equal versions are compared."""
    sweep: str = ""
    """Identifier of the sweep (MLflow parent run id) the point comes from."""
    git_sha: str = ""
    """Commit the sweep ran at."""
    is_baseline: bool = False
    """True for an expert-baseline method."""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.system, self.workload, self.method, self.metric, self.hardware)


@dataclass
class Finding:
    """The verdict for one benchmark key: its newest point against its history."""

    category: Category
    """One of :data:`CATEGORIES`."""
    system: str
    workload: str
    method: str
    metric: str
    hardware: str
    direction: Direction
    value: float
    """The newest value."""
    previous: float | None
    """The previous comparable nightly's value (None without history)."""
    ratio: float | None
    """``value / previous`` as asv prints it (> 1 = went up; direction tells whether that is bad)."""
    z: float | None
    """Signed z-score of the newest value over the lookback window (None with too little history)."""
    n_history: int
    """Comparable earlier points available (the window uses the last ``window`` of them)."""
    version: str
    git_sha: str
    previous_git_sha: str | None
    time: float
    sweep: str
    is_baseline: bool = False
    history_reset: bool = False
    """True when earlier points exist but under another benchmark version (not compared)."""
    newly: bool = False
    """For ``lost_to_expert``: the previous nightly did not lose (or there was none)."""
    reason: str = ""
    """Why the category was chosen, in words."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Report:
    """Every key's finding, grouped by category, plus the settings that produced them."""

    findings: list[Finding] = field(default_factory=list)
    config: DetectorConfig = field(default_factory=DetectorConfig)
    missing: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    """Keys seen in an earlier sweep but absent from the newest one (failed or removed)."""

    def by_category(self, category: str) -> list[Finding]:
        return [f for f in self.findings if f.category == category]

    @property
    def regressions(self) -> list[Finding]:
        return self.by_category("regression")

    @property
    def improvements(self) -> list[Finding]:
        return self.by_category("improvement")

    @property
    def lost_to_expert(self) -> list[Finding]:
        return self.by_category("lost_to_expert")

    def counts(self) -> dict[str, int]:
        return {c: len(self.by_category(c)) for c in CATEGORIES}

    def to_rows(self, categories: Iterable[str] = ("regression", "improvement", "lost_to_expert")) -> list[dict]:
        """Rows of strings for tables (Prefect table artifact, CLI, dashboard)."""
        wanted = list(categories)
        out = []
        for f in sorted(self.findings, key=lambda f: (wanted.index(f.category) if f.category in wanted else 99,
                                                      f.system, f.workload, f.method, f.metric)):
            if f.category not in wanted:
                continue
            out.append({
                "category": f.category + (" (new)" if f.newly else ""),
                "system": f.system, "workload": f.workload,
                "method": f.method + (" (expert)" if f.is_baseline else ""),
                "metric": f"{f.metric} ({'lower' if f.direction == 'min' else 'higher'} better)",
                "previous": _fmt(f.previous), "now": _fmt(f.value),
                "ratio": _fmt(f.ratio, 3) + ("x" if f.ratio is not None else ""),
                "z": _fmt(f.z, 2), "history": str(f.n_history),
                "commits": f"{f.previous_git_sha or '-'} -> {f.git_sha or '-'}",
                "hardware": f.hardware,
            })
        return out

    def to_markdown(self, title: str = "Nightly regression report") -> str:
        c = self.config
        counts = self.counts()
        lines = [f"## {title}", "",
                 f"Ratio threshold {c.threshold:g}x against the previous nightly; z-score >= {c.z_threshold:g} over "
                 f"the last {c.window} nightlies once {c.min_history} exist; same hardware and benchmark version only.",
                 "",
                 " | ".join(f"**{counts[k]}** {k.replace('_', ' ')}" for k in CATEGORIES), ""]
        sections = (("regression", "Regressions"), ("improvement", "Improvements"),
                    ("lost_to_expert", "Optimizer lost to the expert (vs_expert < %g)" % c.expert_floor))
        for cat, heading in sections:
            rows = self.to_rows([cat])
            lines += [f"### {heading}", ""]
            if not rows:
                lines += ["_none_", ""]
                continue
            cols = [k for k in rows[0] if k != "category" or cat == "lost_to_expert"]
            lines.append("| " + " | ".join(cols) + " |")
            lines.append("|" + "---|" * len(cols))
            lines += ["| " + " | ".join(str(r[k]).replace("|", "/") for k in cols) + " |" for r in rows]
            lines.append("")
        if self.missing:
            lines += [f"### Missing from the newest sweep ({len(self.missing)})", ""]
            lines += [f"- `{'/'.join(k[:3])}` {k[3]} on {k[4]}" for k in self.missing[:50]]
            lines.append("")
        new = self.by_category("new")
        if new:
            reset = sum(f.history_reset for f in new)
            lines += [f"_{len(new)} benchmark(s) without comparable history"
                      + (f" ({reset} after a benchmark-version change)" if reset else "") + "._", ""]
        return "\n".join(lines)

    def to_text(self) -> str:
        """A plain aligned table for terminals (the same rows as the markdown)."""
        counts = self.counts()
        out = ["  ".join(f"{counts[k]} {k}" for k in CATEGORIES)
               + (f"  {len(self.missing)} missing" if self.missing else "")]
        rows = self.to_rows()
        if not rows:
            out.append("no regressions, improvements or losses to the expert.")
            return "\n".join(out)
        cols = list(rows[0])
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in cols}
        out.append("  ".join(k.ljust(widths[k]) for k in cols))
        out += ["  ".join(str(r[k]).ljust(widths[k]) for k in cols) for r in rows]
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {"config": asdict(self.config), "counts": self.counts(),
                "findings": [f.to_dict() for f in self.findings], "missing": [list(k) for k in self.missing]}


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.{digits}g}"


def worse_factor(new: float, old: float, direction: Direction) -> float:
    """How many times worse ``new`` is than ``old`` (> 1 worse, < 1 better), direction-aware.

    Values of opposite sign or zero have no meaningful ratio: ``inf``/``0`` mark any change there.
    """
    if new == old:
        return 1.0
    if old == 0 or new == 0 or (old < 0) != (new < 0):
        worse = new > old if direction == "min" else new < old
        return math.inf if worse else 0.0
    r = new / old
    if old < 0:  # both negative: -2 -> -4 is "more negative", i.e. down
        r = 1.0 / r
    return r if direction == "min" else 1.0 / r


def zscore(new: float, window: list[float], rel_noise_floor: float) -> float:
    """``(new - mean) / sd`` with ``sd`` floored at ``rel_noise_floor * |mean|`` (and above zero)."""
    m = mean(window)
    sd = max(pstdev(window), rel_noise_floor * abs(m), 1e-12)
    return (new - m) / sd


def _classify(latest: Point, earlier: list[Point], had_other_version: bool, cfg: DetectorConfig) -> Finding:
    prev = earlier[-1] if earlier else None
    f = Finding(category="unchanged", system=latest.system, workload=latest.workload, method=latest.method,
                metric=latest.metric, hardware=latest.hardware, direction=latest.direction, value=latest.value,
                previous=prev.value if prev else None,
                ratio=(latest.value / prev.value if prev and prev.value else None),
                z=None, n_history=len(earlier), version=latest.version, git_sha=latest.git_sha,
                previous_git_sha=prev.git_sha if prev else None, time=latest.time, sweep=latest.sweep,
                is_baseline=latest.is_baseline, history_reset=had_other_version and not earlier)
    # The optimizer-lost-to-the-expert category comes first: it is about the absolute level.
    if latest.metric == EXPERT_RATIO_METRIC and not latest.is_baseline and latest.value < cfg.expert_floor:
        f.category = "lost_to_expert"
        f.newly = prev is None or prev.value >= cfg.expert_floor
        f.reason = (f"{EXPERT_RATIO_METRIC} {latest.value:.3g} < {cfg.expert_floor:g}"
                    + (" (first time)" if f.newly else f" (previous {prev.value:.3g})"))
        if len(earlier) >= cfg.min_history:
            f.z = zscore(latest.value, [p.value for p in earlier[-cfg.window:]], cfg.rel_noise_floor)
        return f
    if prev is None:
        f.category = "new"
        f.reason = ("benchmark version changed; history restarts" if f.history_reset
                    else "no earlier comparable nightly")
        return f
    worse = worse_factor(latest.value, prev.value, latest.direction)
    ratio_bad, ratio_good = worse >= cfg.threshold, worse <= 1.0 / cfg.threshold
    window = [p.value for p in earlier[-cfg.window:]]
    z_ok_bad = z_ok_good = True  # without enough history the ratio alone decides
    if len(window) >= cfg.min_history:
        f.z = zscore(latest.value, window, cfg.rel_noise_floor)
        bad_z = f.z if latest.direction == "min" else -f.z
        z_ok_bad, z_ok_good = bad_z >= cfg.z_threshold, bad_z <= -cfg.z_threshold
    zs = f", z={f.z:+.2f} over {len(window)}" if f.z is not None else f" (z needs {cfg.min_history} earlier)"
    if ratio_bad and z_ok_bad:
        f.category = "regression"
        f.reason = f"{worse:.3g}x worse than the previous nightly{zs}"
    elif ratio_good and z_ok_good:
        f.category = "improvement"
        f.reason = f"{1 / worse if worse else math.inf:.3g}x better than the previous nightly{zs}"
    else:
        f.reason = (f"{worse:.3g}x vs previous" + zs
                    + ("; ratio past threshold but within the window's noise" if (ratio_bad or ratio_good) else ""))
    return f


def detect(points: Iterable[Point], config: DetectorConfig | None = None) -> Report:
    """Classify the newest point of every benchmark key against that key's comparable history.

    ``points`` may hold any number of sweeps in any order; per key the newest point (by ``time``)
    is judged, and the earlier points with the same ``version`` form its history.
    """
    cfg = config or DetectorConfig()
    by_key: dict[tuple, list[Point]] = {}
    for p in points:
        if p.value is None or not math.isfinite(p.value):
            continue
        if p.metric == EXPERT_RATIO_METRIC and p.is_baseline:
            # A baseline's vs_expert is relative to whichever baseline is best that night (or is
            # 1.0 by definition): it moves when *another* baseline moves. Its own metric is judged.
            continue
        by_key.setdefault(p.key, []).append(p)
    findings = []
    for key in sorted(by_key):
        pts = sorted(by_key[key], key=lambda p: p.time)
        latest = pts[-1]
        earlier = [p for p in pts[:-1] if p.version == latest.version]
        other = any(p.version != latest.version for p in pts[:-1])
        findings.append(_classify(latest, earlier, other, cfg))
    return Report(findings=findings, config=cfg)


def latest_sweep_points(points: Iterable[Point]) -> list[Point]:
    """Keep, per (system, hardware), only keys whose newest point is in that pair's newest sweep.

    A benchmark that disappeared from the latest sweep (its job failed, the method was removed)
    would otherwise be judged on stale data; :func:`missing` lists those instead.
    """
    pts = list(points)
    newest: dict[tuple[str, str], tuple[float, str]] = {}
    for p in pts:
        k = (p.system, p.hardware)
        if k not in newest or p.time > newest[k][0]:
            newest[k] = (p.time, p.sweep)
    last_of_key: dict[tuple, Point] = {}
    for p in pts:
        if p.key not in last_of_key or p.time > last_of_key[p.key].time:
            last_of_key[p.key] = p
    keep = {k for k, p in last_of_key.items() if p.sweep == newest[(p.system, p.hardware)][1]}
    return [p for p in pts if p.key in keep]


def missing(points: Iterable[Point]) -> list[tuple[str, str, str, str, str]]:
    """Keys present in an earlier sweep of their (system, hardware) but absent from the newest one."""
    pts = list(points)
    kept = {p.key for p in latest_sweep_points(pts)}
    return sorted({p.key for p in pts} - kept)


def parse_since(text: str, now: float) -> float:
    """``--since`` as epoch seconds: ``7d``, ``12h``, ``30m``, ``2w`` ago, or an ISO date/datetime (UTC
    unless it names an offset). Raises ValueError naming the accepted forms."""
    from datetime import datetime, timezone

    s = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if len(s) >= 2 and s[-1].lower() in units:
        try:
            n = float(s[:-1])
        except ValueError:
            n = None
        if n is not None and n >= 0 and math.isfinite(n):
            return now - n * units[s[-1].lower()]
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a duration like 7d, 12h, 30m, 2w or an ISO date "
                         f"like 2026-11-01 / 2026-11-01T02:00") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
