"""Routing statistics read with a lag, and the re-compilation controller (the optimizer).

After every optimizer step the trainer hands this step's statistics to
:meth:`RecompileController.observe` (on a GPU as :class:`Pending` copies: a non-blocking copy into
pinned host memory plus an event) and calls :meth:`RecompileController.after_step`. The controller
only converts statistics to Python numbers once they are ``launch_ahead`` steps old; by then their
copy has long finished, so reading them never stalls the step (DynaMoE reads Legion futures the
same way). Policies (DynaMoE section 3):

* ``static``  — never changes anything.
* ``dynamic`` — global alpha: shrink when ``score < 0.5 * alpha`` to ``1.3 * score``; raise along
  the schedule 1.8 -> 2.0 -> 2.2 -> 2.5 -> 2.75 when ``score > alpha``. ``score`` is the
  bias-corrected EMA of ``max_e count_e * n / (k * B)``, the alpha needed for zero drops.
* ``local``   — one capacity per expert, target ``max(1.3 * EMA(load_e), EMA(load_e) + 2 * std(load_e))``
  rounded up to a quantum. The first decision fits every expert to its target; after that only the
  experts that need it grow (right away: EMA load above capacity / 1.1, or the latest observed load
  above capacity, i.e. a drop), to their target, and the whole vector is refitted (after the cooldown) only when that shrinks the
  total by 15 %. Growing only the experts that need it keeps the others' capacities, and the
  configuration, stable (each change is a recompile).
* ``cache`` (a flag on top of ``dynamic``) — assignment caching on when the match score (EMA,
  gamma 0.99, of the fraction of tokens whose expert set equals the one cached for the same
  batch position in the previous epoch) exceeds 0.95 and at least ``cache_min_steps`` steps passed
  since the last change; off when it drops below 0.85. This needs a fixed data order.

Capacity bucketing (``bucket_alpha`` > 0) rounds every capacity up to a multiple of
``bucket_alpha * k * B / n`` rows, so the set of configurations, and with it the number of distinct
compiled graphs, is bounded; it is an option whose effect the benchmark measures.

Every returned :class:`Decision` is a change of configuration, i.e. one re-compilation.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import torch

from systems.moe.config import ControllerConfig
from systems.moe.layer import capacity_for


class Pending:
    """A device tensor being copied to the host without blocking; ``values()`` reads it later.

    On CUDA the copy goes to pinned memory with ``non_blocking=True`` and an event marks its end, so
    ``values()`` waits only for that (old) event, never for the work queued after it. On CPU the
    tensor is read directly.
    """

    def __init__(self, t: torch.Tensor) -> None:
        t = t.detach()
        self.event = None
        if t.is_cuda:
            self.host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            self.host.copy_(t, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.host = t

    def values(self) -> list[float]:
        if self.event is not None:
            self.event.synchronize()
        return self.host.reshape(-1).tolist()


def pack_stats(counts: torch.Tensor, dropped: torch.Tensor, match: torch.Tensor | None) -> Pending:
    """One step's statistics as one small pending host copy: counts..., dropped, match (-1 = none)."""
    m = match.reshape(1).float() if match is not None else counts.new_full((1,), -1.0, dtype=torch.float32)
    return Pending(torch.cat([counts.reshape(-1).float(), dropped.reshape(1).float(), m]))


class EMA:
    """Bias-corrected exponential moving average (weight ``w`` on the newest value)."""

    def __init__(self, w: float) -> None:
        if not 0 < w <= 1:
            raise ValueError(f"EMA weight must be in (0, 1], got {w}")
        self.w, self.raw, self.n = w, 0.0, 0

    def update(self, v: float) -> float:
        self.raw = (1 - self.w) * self.raw + self.w * v
        self.n += 1
        return self.value

    @property
    def value(self) -> float:
        return self.raw / (1 - (1 - self.w) ** self.n) if self.n else float("nan")


@dataclass
class StepStats:
    """Statistics of one step, as produced by the layer (tensors or numbers)."""

    step: int
    counts: object
    """(n,) demand per expert, or a :class:`Pending` from :func:`pack_stats` (then ``dropped`` and
    ``match`` are read from it)."""
    dropped: object
    """Dropped assignments this step."""
    match: object | None = None
    """Fraction of tokens whose expert set matches the cache (None when nothing is cached yet)."""


@dataclass
class RoutingStats:
    """EMAs of the routing statistics (global and per expert), updated from lagged steps."""

    n: int
    k: int
    batch: int
    ema_weight: float
    cache_gamma: float
    score: EMA = field(init=False)
    per_expert: list[EMA] = field(init=False)
    per_expert_sq: list[EMA] = field(init=False)
    match: EMA = field(init=False)
    dropped_total: int = 0
    assignments_total: int = 0
    observed: int = 0
    last_needed: float = float("nan")
    last_counts: list[float] = field(default_factory=list)
    """Per-expert demand of the latest observed (lagged) step."""

    def __post_init__(self) -> None:
        self.score = EMA(self.ema_weight)
        self.per_expert = [EMA(self.ema_weight) for _ in range(self.n)]
        self.per_expert_sq = [EMA(self.ema_weight) for _ in range(self.n)]
        self.match = EMA(1 - self.cache_gamma)

    def update(self, counts: list[float], dropped: float, match: float | None) -> None:
        scale = self.n / (self.k * self.batch)
        self.last_needed = max(counts) * scale
        self.last_counts = list(counts)
        self.score.update(self.last_needed)
        for e, c in enumerate(counts):
            self.per_expert[e].update(c * scale)
            self.per_expert_sq[e].update((c * scale) ** 2)
        if match is not None:
            self.match.update(match)
        self.dropped_total += int(dropped)
        self.assignments_total += self.k * self.batch
        self.observed += 1

    @property
    def alpha_needed(self) -> float:
        """EMA of the global alpha needed for zero drops."""
        return self.score.value

    @property
    def alpha_local(self) -> list[float]:
        """EMA of each expert's own load in units of alpha."""
        return [e.value for e in self.per_expert]

    @property
    def alpha_local_std(self) -> list[float]:
        """EMA standard deviation of each expert's load in units of alpha."""
        return [math.sqrt(max(0.0, q.value - m.value ** 2)) if m.n else float("nan")
                for m, q in zip(self.per_expert, self.per_expert_sq)]

    @property
    def dropped_frac(self) -> float:
        return self.dropped_total / self.assignments_total if self.assignments_total else 0.0


@dataclass
class Decision:
    """A new configuration: per-expert capacities and whether cached assignments are used."""

    caps: tuple[int, ...]
    alpha: float | None
    """Global alpha when uniform, None for local capacities."""
    cache_on: bool
    reason: str
    step: int = -1


POLICIES = ("static", "dynamic", "local")


class RecompileController:
    """``observe(stats)`` each step, ``after_step(step)`` returns a Decision when the config changes."""

    def __init__(self, cfg: ControllerConfig, policy: str, n: int, k: int, batch: int, alpha0: float,
                 cache: bool = False) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown capacity policy {policy!r}; valid: {', '.join(POLICIES)}")
        if cfg.launch_ahead < 0:
            raise ValueError(f"launch_ahead must be >= 0, got {cfg.launch_ahead}")
        self.cfg, self.policy, self.n, self.k, self.batch = cfg, policy, n, k, batch
        self.cache_enabled = cache
        self.stats = RoutingStats(n, k, batch, cfg.ema_weight, cfg.cache_gamma)
        self.alpha = alpha0
        self.caps = (self.uniform_caps(alpha0),) * n
        self.cache_on = False
        self.fitted = False
        self.last_change = 0
        self.pending: deque[StepStats] = deque()
        self.history: list[Decision] = []

    # -- statistics ---------------------------------------------------------------------------
    def observe(self, s: StepStats) -> None:
        """Queue one step's statistics; they are read ``launch_ahead`` steps later."""
        self.pending.append(s)

    def _drain(self, step: int) -> int:
        """Fold in every queued statistic at least ``launch_ahead`` steps old; returns how many."""
        n = 0
        while self.pending and self.pending[0].step <= step - self.cfg.launch_ahead:
            s = self.pending.popleft()
            if isinstance(s.counts, Pending):
                vals = s.counts.values()
                counts, dropped, match = vals[:self.n], vals[self.n], (vals[self.n + 1] if vals[self.n + 1] >= 0 else None)
            else:
                counts = s.counts.tolist() if hasattr(s.counts, "tolist") else list(s.counts)
                dropped = float(s.dropped.item() if hasattr(s.dropped, "item") else s.dropped)
                match = None if s.match is None else float(s.match.item() if hasattr(s.match, "item") else s.match)
            self.stats.update(counts, dropped, match)
            n += 1
        return n

    def flush(self) -> None:
        """Read every queued statistic (end of training, for the final report)."""
        while self.pending:
            s = self.pending.popleft()
            self.pending.appendleft(s)
            self._drain(s.step + self.cfg.launch_ahead)

    # -- policies -----------------------------------------------------------------------------
    def after_step(self, step: int) -> Decision | None:
        """Call after ``optimizer.step()``; returns the new configuration when it changes."""
        self._drain(step)
        if self.stats.observed < self.cfg.min_observations or self.policy == "static":
            return None
        since = step - self.last_change
        new_caps, new_alpha, reason = self.caps, self.alpha, ""
        if self.policy == "dynamic" and since >= self.cfg.cooldown:
            new_alpha, reason = self.global_alpha(self.alpha, self.stats.alpha_needed)
            if reason:
                new_caps = (self.uniform_caps(new_alpha),) * self.n
        elif self.policy == "local":
            caps, why = self.local_caps(self.caps, self.stats.alpha_local, self.stats.alpha_local_std)
            if why.startswith("fit") or (why.startswith("grow") and since > self.cfg.launch_ahead) \
                    or (why and since >= self.cfg.cooldown):
                new_caps, new_alpha, reason = caps, None, why
        new_cache = self.cache_on
        if self.cache_enabled:
            m = self.stats.match.value
            if not self.cache_on and self.stats.match.n and m > self.cfg.cache_on and since >= self.cfg.cache_min_steps:
                new_cache, reason = True, (reason + "; " if reason else "") + f"cache on (match {m:.3f})"
            elif self.cache_on and self.stats.match.n and m < self.cfg.cache_off:
                new_cache, reason = False, (reason + "; " if reason else "") + f"cache off (match {m:.3f})"
        if tuple(new_caps) == tuple(self.caps) and new_cache == self.cache_on:
            return None
        self.caps, self.alpha, self.cache_on, self.last_change = tuple(new_caps), new_alpha, new_cache, step
        d = Decision(self.caps, self.alpha, self.cache_on, reason, step)
        self.history.append(d)
        return d

    def bucket_rows(self) -> int:
        """Rows a capacity is rounded up to (1 without bucketing)."""
        return max(1, math.ceil(self.cfg.bucket_alpha * self.k * self.batch / self.n)) if self.cfg.bucket_alpha > 0 else 1

    def uniform_caps(self, alpha: float) -> int:
        """Capacity of every expert for a global alpha, rounded up to the bucket."""
        q = self.bucket_rows()
        return max(1, min(self.batch, math.ceil(capacity_for(alpha, self.k, self.n, self.batch) / q) * q))

    def global_alpha(self, alpha: float, score: float) -> tuple[float, str]:
        """DynaMoE's global rules: (new alpha, reason) — reason empty when unchanged."""
        c = self.cfg
        if score < c.shrink_trigger * alpha:
            new = max(c.min_alpha, c.shrink_factor * score)
            return new, f"shrink: score {score:.3f} < {c.shrink_trigger}*alpha {alpha:.3f} -> alpha {new:.3f}"
        if score > alpha:
            above = [lv for lv in c.raise_levels if lv > score]
            new = above[0] if above else max(c.raise_levels)
            if new > alpha:
                return new, f"raise: score {score:.3f} > alpha {alpha:.3f} -> alpha {new:.3f}"
        return alpha, ""

    def local_caps(self, caps: tuple[int, ...], loads: list[float],
                   stds: list[float] | None = None) -> tuple[tuple[int, ...], str]:
        """Per-expert capacities max(headroom * EMA, EMA + z * std) of each expert's load: (new caps, reason)."""
        c = self.cfg
        unit = self.k * self.batch / self.n  # rows per unit of alpha
        q = max(c.local_quantum, self.bucket_rows(), 1)
        stds = stds or [0.0] * len(loads)
        target = []
        for a, sd in zip(loads, stds):
            a_e = max(c.min_alpha / self.n, a) if math.isfinite(a) else 1.0
            sd = sd if math.isfinite(sd) else 0.0
            rows = math.ceil(max(c.local_headroom * a_e, a_e + c.local_z * sd) * unit / q) * q
            target.append(max(1, min(self.batch, rows)))
        if not self.fitted:
            self.fitted = True
            return tuple(target), "fit: per-expert capacities from the first statistics"
        last = self.stats.last_counts or [0.0] * len(loads)
        over = [e for e, a in enumerate(loads) if math.isfinite(a) and
                (a * unit * c.local_grow_margin > caps[e] or last[e] > caps[e])]
        if over:
            grown = list(caps)
            for e in over:
                need = math.ceil(loads[e] * unit * c.local_grow_margin / q) * q
                grown[e] = max(1, min(self.batch, max(caps[e], target[e], need)))
            return tuple(grown), f"grow: experts {over} load above capacity"
        if sum(target) < c.local_shrink_ratio * sum(caps):
            return tuple(target), f"shrink: {sum(caps)} -> {sum(target)} rows"
        return caps, ""
