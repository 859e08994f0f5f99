"""Offline proposers (no network): random search, an OpenTuner-style scalar tuner, and a
feedback-guided evolutionary/local search that edits DSL statements.

All work on :class:`~systems.mapper.agent.space.MapperSpace` points (one knob = one DSL
statement) and are deterministic given their ``random.Random``.

- :class:`RandomSearch` samples the structured space uniformly.
- :class:`ScalarTuner` is a *reconstruction* of OpenTuner's approach (not OpenTuner itself):
  an AUC-credit multi-armed bandit (OpenTuner's ``AUCBanditMetaTechnique``) choosing among
  search techniques (uniform random, greedy mutation at three rates, uniform crossover of good
  configurations, coordinate steps), fed only the scalar reward (time; failures = +inf), with a
  results cache so a configuration is not re-run.
- :class:`Evolve` is an elitist local search whose edits are statement edits. What it reads
  from feedback depends on the level: ``score`` → the number only (random 1–2 statement
  edits of the best); ``raw``/``explain`` → the failing line (re-draw the statement that
  produced it) and task/region names that occur in the message; ``guide`` (and ``oracle``) →
  AutoGuide's structured suggestions (another layout for the named task and region, a region
  to zero-copy memory, an InstanceLimit, a different index mapping), applied to the failing
  candidate so the intended change survives the repair.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from systems.mapper.agent.feedback import Feedback, Suggestion
from systems.mapper.agent.space import LAYOUTS, MapperSpace


@dataclass
class Proposal:
    """One candidate mapper."""

    text: str
    """DSL text to evaluate."""
    point: dict[str, str] | None = None
    """The space point it renders (None for free-form text, e.g. an LLM reply)."""
    line_knob: dict[int, str] = field(default_factory=dict)
    """Source line → knob (for credit assignment)."""
    note: str = ""
    """How it was made (technique / edit), recorded per iteration."""
    usage: dict[str, float] = field(default_factory=dict)
    """LLM tokens/cost for this proposal (empty offline)."""
    malformed: str | None = None
    """Why the proposal is not a mapper (then ``text`` is the raw reply)."""
    meta: dict = field(default_factory=dict)
    """LLM details of this proposal: grammar mode sent, finish reason, server adaptations (empty offline)."""


def _key(point: dict[str, str]) -> tuple:
    return tuple(sorted(point.items()))


class Proposer:
    """Base class: ``propose()`` a candidate, then ``observe()`` its result."""

    name = "base"
    uses_feedback = False

    def __init__(self, space: MapperSpace, rng: random.Random, level: str = "guide") -> None:
        self.space = space
        self.rng = rng
        self.level = level
        self.best_point: dict[str, str] | None = None
        self.best_time = math.inf

    def _proposal(self, point: dict[str, str], note: str) -> Proposal:
        r = self.space.render(point)
        return Proposal(r.text, dict(point), r.line_knob, note)

    def propose(self, iteration: int) -> Proposal:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement propose()")

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        if time_s is not None and time_s < self.best_time and proposal.point is not None:
            self.best_time = time_s
            self.best_point = dict(proposal.point)

    # shared edit operators -------------------------------------------------------------------
    def mutate(self, point: dict[str, str], n: int = 1, knobs=None) -> dict[str, str]:
        """``point`` with ``n`` knobs (from ``knobs`` or all) moved to a different value."""
        out = dict(point)
        pool = [k for k in (knobs or self.space.knobs) if len(k.choices) > 1]
        if not pool:
            return out
        for k in self.rng.sample(pool, min(n, len(pool))):
            out[k.name] = self.rng.choice([c for c in k.choices if c != out.get(k.name)])
        return out


class RandomSearch(Proposer):
    """Uniform random points of the structured space (duplicates re-drawn a few times); the first proposal is
    the space's default point, the configuration a tuner evaluates first (OpenTuner's seed configuration)."""

    name = "random-search"

    def __init__(self, space, rng, level="score") -> None:
        super().__init__(space, rng, level)
        self.seen: set[tuple] = set()

    def propose(self, iteration: int) -> Proposal:
        if iteration == 0:
            p = self.space.default()
            self.seen.add(_key(p))
            return self._proposal(p, "default point")
        for _ in range(20):
            p = self.space.random(self.rng)
            if _key(p) not in self.seen:
                break
        self.seen.add(_key(p))
        return self._proposal(p, "uniform")


class ScalarTuner(Proposer):
    """OpenTuner-style bandit over search techniques, scalar reward only (a reconstruction)."""

    name = "scalar-tuner"
    TECHNIQUES = ("uniform", "mutate_p05", "mutate_p15", "mutate_p30", "crossover", "coordinate")

    def __init__(self, space, rng, level="score", window: int = 500, exploration: float = 0.05) -> None:
        super().__init__(space, rng, "score")  # scalar reward by definition
        self.window = window
        self.c = exploration
        self.uses: list[tuple[str, bool]] = []  # (technique, produced a new best)
        self.cache: dict[tuple, float] = {}
        self.results: list[tuple[float, dict[str, str]]] = []  # ok results, sorted later
        self.pending: str | None = None

    def _score(self, tech: str) -> float:
        hist = [ok for t, ok in self.uses[-self.window:] if t == tech]
        if not hist:
            return math.inf
        n = len(hist)
        auc = sum((i + 1) * v for i, v in enumerate(hist)) / (n * (n + 1) / 2)
        total = min(len(self.uses), self.window)
        return auc + self.c * math.sqrt(2 * math.log(max(total, 1)) / n)

    def _pick(self) -> str:
        scores = [(self._score(t), -i, t) for i, t in enumerate(self.TECHNIQUES)]
        return max(scores)[2]

    def _make(self, tech: str) -> dict[str, str]:
        base = self.best_point or self.space.default()
        if tech == "uniform" or self.best_point is None and tech != "coordinate":
            return self.space.random(self.rng)
        if tech.startswith("mutate_p"):
            p = int(tech[-2:]) / 100
            out = dict(base)
            changed = False
            for k in self.space.knobs:
                if len(k.choices) > 1 and self.rng.random() < p:
                    out[k.name] = self.rng.choice([c for c in k.choices if c != out[k.name]])
                    changed = True
            return out if changed else self.mutate(base, 1)
        if tech == "crossover":
            good = sorted(self.results, key=lambda r: r[0])[:8]
            if len(good) < 2:
                return self.mutate(base, 2)
            a, b = self.rng.sample(good, 2)
            child = {k.name: (a[1] if self.rng.random() < 0.5 else b[1])[k.name] for k in self.space.knobs}
            return self.mutate(child, 1) if self.rng.random() < 0.3 else child
        # coordinate: next value of one knob
        pool = [k for k in self.space.knobs if len(k.choices) > 1]
        k = self.rng.choice(pool) if pool else None
        out = dict(base)
        if k:
            i = k.choices.index(out[k.name])
            out[k.name] = k.choices[(i + self.rng.choice((1, -1))) % len(k.choices)]
        return out

    def propose(self, iteration: int) -> Proposal:
        if iteration == 0:
            self.pending = "seed"
            p = self.space.default()
            return self._proposal(p, "seed (default configuration)")
        tech = self._pick()
        for _ in range(30):
            p = self._make(tech)
            if _key(p) not in self.cache:
                break
        self.pending = tech
        return self._proposal(p, tech)

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        improved = time_s is not None and time_s < self.best_time
        super().observe(proposal, time_s, feedback)
        if proposal.point is not None:
            self.cache[_key(proposal.point)] = time_s if time_s is not None else math.inf
            if time_s is not None:
                self.results.append((time_s, dict(proposal.point)))
        if self.pending and self.pending != "seed":
            self.uses.append((self.pending, improved))


class Evolve(Proposer):
    """Elitist local search over DSL statements, steered by the feedback it is given."""

    name = "evolve"
    uses_feedback = True

    POOL = 4
    """Elite mappers kept as parents."""
    STALL_WIDEN = 4
    """Iterations without improvement before parents come from the whole elite and edits grow."""
    STALL_RESTART = 12
    """Iterations without improvement before a random restart."""

    def __init__(self, space, rng, level="guide") -> None:
        super().__init__(space, rng, level)
        self.seen: set[tuple] = set()
        self.last: Proposal | None = None
        self.last_fb: Feedback | None = None
        self.tried: set[tuple] = set()  # (suggestion signature, base point) already applied
        self.pool: list[tuple[float, dict[str, str]]] = []
        self.stall = 0

    # -- suggestion → edit ----------------------------------------------------------------------
    def apply(self, point: dict[str, str], s: Suggestion, line_knob: dict[int, str]) -> dict[str, str] | None:
        """``point`` edited as ``s`` says, or None when the suggestion maps to no change."""
        sp = self.space
        out = dict(point)
        if s.action == "set_layout":
            ks = sp.knobs_for(task=s.task, region=s.region, kind="layout") if (s.task or s.region) else []
            for k in ks:
                cur = out[k.name]
                want = s.value or ("F_order" if "C_order" in cur else "C_order")
                if want in ("SOA", "AOS"):
                    new = f"{want} {cur.split()[1]}"
                elif want in ("C_order", "F_order"):
                    new = f"{cur.split()[0]} {want}"
                else:
                    new = cur
                if new in LAYOUTS:
                    out[k.name] = new
        elif s.action == "set_memory":
            ks = sp.knobs_for(task=s.task, region=s.region, kind="mem")
            for k in ks:
                if s.value in k.choices:
                    out[k.name] = s.value
        elif s.action == "instance_limit":
            for k in sp.knobs_for(task=s.task, kind="limit"):
                if (s.value or "1") in k.choices:
                    out[k.name] = s.value or "1"
        elif s.action == "collect":
            for k in sp.knobs_for(task=s.task, kind="collect"):
                out[k.name] = "on"
        elif s.action == "set_proc":
            for k in sp.knobs_for(task=s.task, kind="proc"):
                alts = [c for c in k.choices if c != out[k.name]]
                if s.value in k.choices and s.value != out[k.name]:
                    out[k.name] = s.value
                elif alts:
                    out[k.name] = self.rng.choice(alts)
        elif s.action == "remap":
            maps = sp.knobs_for(task=s.task, kind="map") if s.task else []
            if s.region and not s.task:
                users = [t.name for t in sp.tasks if s.region in
                         [r if isinstance(r, str) else getattr(r, "name", r) for r in t.regions]]
                maps = [k for k in sp.knobs_for(kind="map") if k.task in users]
                if len(maps) >= 2:  # align: every user takes one shared user's function
                    common = [c for c in maps[0].choices if all(c in k.choices for k in maps)]
                    target = self.rng.choice(common)
                    for k in maps:
                        out[k.name] = target
                    return out if out != point else None
            for k in maps:
                alts = [c for c in k.choices if c != out[k.name]]
                if s.value in alts:
                    out[k.name] = s.value
                elif alts:
                    out[k.name] = self.rng.choice(alts)
        elif s.action == "fix_statement":
            kn = line_knob.get(s.line or -1)
            if kn:
                return self.mutate(point, 1, knobs=[self.space.by_name[kn]])
            return None
        return out if out != point else None

    def _expand(self, sugg: list[Suggestion], src: dict[str, str]) -> list[Suggestion]:
        """A ``remap`` without a target becomes one concrete suggestion per alternative function, so
        repeated advice walks through the family instead of redrawing at random."""
        out: list[Suggestion] = []
        for s in sugg:
            if s.action != "remap" or s.value:
                out.append(s)
                continue
            knobs = self.space.knobs_for(task=s.task, kind="map") if s.task else [
                k for k in self.space.knobs_for(kind="map")
                if any(s.region in [getattr(t, "regions", [])][0] for t in self.space.tasks if t.name in k.tasks)]
            alts = []
            for k in knobs[:1]:
                alts = [c for c in k.choices if c != src.get(k.name)]
                self.rng.shuffle(alts)
                out += [Suggestion("remap", task=k.task, region=None, value=c, text=s.text) for c in alts]
            if not alts:
                out.append(s)
        return out

    def _localised(self, point: dict[str, str], fb: Feedback, line_knob: dict[int, str]) -> dict[str, str] | None:
        """``raw`` credit assignment: re-draw the statement at the failing line, else one naming a
        task/region from the message."""
        if fb.line and fb.line in line_knob:
            return self.mutate(point, 1, knobs=[self.space.by_name[line_knob[fb.line]]])
        msg = fb.text
        names = [t.name for t in self.space.tasks if re.search(rf"(?<!\w){re.escape(t.name)}(?!\w)", msg)]
        ks = [k for k in self.space.knobs if any(t in names for t in (k.tasks or (k.task,))) and (k.region is None or k.region in msg)]
        if ks:
            return self.mutate(point, 1, knobs=ks)
        return None

    def _fresh(self, p: dict[str, str] | None) -> bool:
        return p is not None and _key(p) not in self.seen

    def propose(self, iteration: int) -> Proposal:
        base = self.best_point or self.space.default()
        cand, note = None, ""
        if iteration == 0:
            cand, note = self.space.default(), "start (default mapper)"
        elif self.last is not None and self.last_fb is not None:
            fb, last = self.last_fb, self.last
            failed = fb.status != "ok"
            src = last.point if (failed and last.point is not None) else base
            if self.level in ("guide", "oracle") and fb.suggestions:
                sugg = self._expand(list(fb.suggestions), src)
                self.rng.shuffle(sugg) if not failed else None
                if failed and fb.error_kind == "oom":
                    # capacity fixes that do not slow kernels go in together: cap run-ahead + collect
                    both = [x for x in sugg if x.action in ("instance_limit", "collect")]
                    p = src
                    for x in both:
                        p = self.apply(p, x, last.line_knob) or p
                    sig = ("oom-combined", _key(src))
                    if len(both) > 1 and sig not in self.tried and self._fresh(p):
                        self.tried.add(sig)
                        cand, note = p, "guide: " + " + ".join(f"{x.action} {x.task or ''}".strip() for x in both)
                for s in ([] if cand is not None else sugg):
                    sig = (s.action, s.task, s.region, s.value, s.line, _key(src))
                    if sig in self.tried:
                        continue
                    p = self.apply(src, s, last.line_knob)
                    self.tried.add(sig)
                    if self._fresh(p):
                        cand, note = p, f"guide: {s.action} {s.task or ''} {s.region or ''} {s.value or ''}".strip()
                        break
            elif self.level in ("raw", "explain") and failed:
                p = self._localised(src, fb, last.line_knob)
                if self._fresh(p):
                    cand, note = p, f"raw: re-drew the statement at line {fb.line}" if fb.line else "raw: edit named task"
        if cand is None and self.stall >= self.STALL_RESTART:
            cand, note = self.space.random(self.rng), "restart (random mapper)"
            self.stall = 0
        if cand is None:
            parent, pname = base, "the best"
            widen = self.stall >= self.STALL_WIDEN
            if widen and len(self.pool) > 1:
                parent, pname = self.rng.choice(self.pool)[1], "an elite mapper"
            for _ in range(30):
                n = (1 if self.rng.random() < 0.6 else 2) + (self.rng.randint(1, 2) if widen else 0)
                cand = self.mutate(parent, n)
                if self._fresh(cand):
                    break
            note = note or f"mutate {n} statement(s) of {pname}"
        self.seen.add(_key(cand))
        return self._proposal(cand, note)

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        improved = time_s is not None and time_s < self.best_time
        super().observe(proposal, time_s, feedback)
        self.stall = 0 if improved else self.stall + 1
        if time_s is not None and proposal.point is not None:
            self.pool.append((time_s, dict(proposal.point)))
            self.pool.sort(key=lambda x: x[0])
            del self.pool[self.POOL:]
        self.last, self.last_fb = proposal, feedback
