"""Mapper search: the optimizer loop, its registry, and the job runner for non-expert methods.

One iteration = propose a mapper (DSL text) → compile → simulate → AutoGuide feedback → the
proposer reads it. Budget = iterations and (optionally) wall-clock seconds, whichever ends first.
The best mapper found is returned as text that re-evaluates to exactly ``best_time_s`` (the
simulator is deterministic; this is checked before returning).

Optimizers (:data:`OPTIMIZERS`): ``random-search``, ``scalar-tuner`` (OpenTuner-style, scalar
reward only — a reconstruction, not OpenTuner), ``evolve`` (statement-editing local search
reading the feedback), ``llm-agent`` (an OpenAI-compatible LLM; needs an endpoint) and
``optoprime`` (Microsoft Trace's OptoPrime over the same endpoint; needs ``make llm``).
An LLM optimizer checks its endpoint before the first iteration and fails with one line when it
cannot be used.
All offline optimizers start from scratch (the default mapper or random points), never from
the expert mapper, so beating the expert is not built in.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from systems.mapper.agent.feedback import LEVELS, Feedback, autoguide, malformed_feedback
from systems.mapper.agent.llm import LLMConfig, llm_config_from_env
from systems.mapper.agent.optimizers import Evolve, Proposal, RandomSearch, ScalarTuner
from systems.mapper.agent.space import MapperSpace
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer."""

    name: str
    """Method name (also a ``SystemSpec`` method)."""
    description: str
    """One line for listings."""
    needs_llm: bool
    """True when it needs an OpenAI-compatible endpoint."""
    default_feedback: str
    """Feedback level it uses unless told otherwise."""
    reads_feedback: bool
    """False when it only ever sees the scalar score (``--feedback`` is then ignored)."""


OPTIMIZERS: dict[str, OptimizerInfo] = {
    "random-search": OptimizerInfo("random-search", "uniform random mappers from the structured space",
                                   False, "score", False),
    "scalar-tuner": OptimizerInfo("scalar-tuner", "OpenTuner-style AUC-bandit of search techniques, "
                                  "scalar reward only (reconstruction)", False, "score", False),
    "evolve": OptimizerInfo("evolve", "local search editing DSL statements, steered by AutoGuide feedback",
                            False, "guide", True),
    "llm-agent": OptimizerInfo("llm-agent", "LLM proposer over an OpenAI-compatible endpoint with "
                               "AutoGuide feedback in the prompt", True, "guide", True),
    "optoprime": OptimizerInfo("optoprime", "Microsoft Trace OptoPrime: the mapper is a trainable node, the "
                               "simulator a bundled operator, AutoGuide text the feedback", True, "guide", True),
}


@dataclass
class SearchConfig:
    """Budget and knobs of one search run."""

    iterations: int = 10
    """Maximum number of proposals evaluated."""
    wall_s: float | None = None
    """Wall-clock budget in seconds (None = iterations only)."""
    seed: int = 0
    """Seed of every random choice."""
    feedback: str = "guide"
    """Feedback level given to feedback-reading optimizers: score | raw | explain | guide | oracle."""


@dataclass
class IterationRecord:
    """What happened in one iteration."""

    iteration: int
    """0-based iteration index."""
    status: str
    """ok | compile_error | mapping_error | runtime_error | malformed."""
    time_s: float | None
    """Simulated time of this proposal (None when it failed)."""
    best_time_s: float | None
    """Best simulated time so far (None while nothing succeeded)."""
    error_kind: str | None
    """Error class of a failed proposal."""
    note: str
    """How the proposal was made."""
    feedback: str
    """Feedback text given back."""
    propose_s: float
    """Seconds spent proposing (LLM latency included)."""
    eval_s: float
    """Seconds spent compiling and simulating."""
    prompt_tokens: float = 0.0
    """LLM prompt tokens (0 offline)."""
    completion_tokens: float = 0.0
    """LLM completion tokens."""
    cost_usd: float = 0.0
    """LLM cost at the configured prices."""
    llm_latency_s: float = 0.0
    """Seconds the LLM request took (retries included; 0 offline)."""
    grammar: str = ""
    """Grammar mode actually sent with the request (off | gbnf | lark-tool; empty offline)."""
    finish_reason: str | None = None
    """Why the LLM stopped (``length`` = cut at max_tokens)."""
    model: str | None = None
    """The model the server said answered."""
    message: str = ""
    """First line of the outcome's message (why it failed)."""
    proposal: str = ""
    """The proposed mapper text (or the raw reply when it held no mapper); LLM optimizers only."""


@dataclass
class SearchResult:
    """The outcome of one search."""

    app: str
    """Benchmark name."""
    optimizer: str
    """Optimizer name."""
    seed: int
    """Seed it ran with."""
    feedback: str
    """Feedback level it ran with (``score`` for scalar-only optimizers)."""
    best_time_s: float | None
    """Best simulated time (None when no proposal succeeded)."""
    best_mapper: str | None
    """DSL text of the best mapper (re-evaluates to ``best_time_s``)."""
    expert_time_s: float
    """Simulated time of the expert mapper."""
    speedup: float | None
    """``expert_time_s / best_time_s`` (> 1 = faster than the expert)."""
    lower_bound_s: float | None
    """The model's lower bound for the benchmark."""
    iterations: int
    """Iterations actually run."""
    wall_s: float
    """Wall-clock seconds of the search."""
    history: list[float | None]
    """Best-so-far time after each iteration."""
    records: list[IterationRecord] = field(default_factory=list)
    """One record per iteration."""
    expert_mapper: str = ""
    """The expert mapper's text (for comparison)."""
    stopped_by: str = "iterations"
    """What ended the search: iterations | wall_s."""
    machine: str = ""
    """Machine name the search ran on."""
    llm: dict[str, Any] = field(default_factory=dict)
    """Public LLM settings (endpoint without credentials, model) when an LLM was used."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SearchError(ValueError):
    """Bad search arguments (unknown optimizer, feedback level, budget)."""


def _load_app(app: str, machine, size: dict | None):
    from systems.mapper.apps import get_app

    return get_app(app, machine, **(size or {}))


def _describe_machine(machine) -> str:
    for attr in ("describe", "description"):
        v = getattr(machine, attr, None)
        if callable(v):
            return str(v())
        if isinstance(v, str):
            return v
    return str(machine) if machine is not None else ""


def make_proposer(optimizer: str, space: MapperSpace, seed: int, feedback: str, app=None, machine=None,
                  llm: LLMConfig | None = None, llm_client=None):
    """The proposer object for ``optimizer``."""
    rng = random.Random(f"{optimizer}:{seed}")
    if optimizer == "random-search":
        return RandomSearch(space, rng)
    if optimizer == "scalar-tuner":
        return ScalarTuner(space, rng)
    if optimizer == "evolve":
        return Evolve(space, rng, level=feedback)
    if optimizer == "llm-agent":
        from systems.mapper.agent.proposer import LLMProposer

        cfg = llm or llm_config_from_env()
        desc = app.describe() if hasattr(app, "describe") else str(app)
        return LLMProposer(cfg, desc, _describe_machine(machine), level=feedback, seed=seed, client=llm_client)
    if optimizer == "optoprime":
        from systems.mapper.agent.optoprime import OptoPrimeProposer

        cfg = llm or llm_config_from_env()
        desc = app.describe() if hasattr(app, "describe") else str(app)
        return OptoPrimeProposer(cfg, desc, _describe_machine(machine), start=space.render(space.default()).text,
                                 level=feedback, seed=seed, client=llm_client)
    raise SearchError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")


def validate(optimizer: str, iterations: int, feedback: str, wall_s: float | None = None) -> None:
    """Raise :class:`SearchError` naming the valid values when an argument is bad."""
    if optimizer not in OPTIMIZERS:
        raise SearchError(f"unknown optimizer {optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    if feedback not in LEVELS:
        raise SearchError(f"unknown feedback level {feedback!r}; valid: {', '.join(LEVELS)}")
    if not isinstance(iterations, int) or iterations < 1:
        raise SearchError(f"iterations must be a positive integer, got {iterations!r}")
    if wall_s is not None and not wall_s > 0:
        raise SearchError(f"wall_s must be positive, got {wall_s!r}")


def search(app: str, optimizer: str, iterations: int = 10, seed: int = 0, feedback: str = "guide", machine=None,
           wall_s: float | None = None, llm: LLMConfig | None = None, size: dict | None = None,
           llm_client=None, progress=None) -> SearchResult:
    """Search a mapper for benchmark ``app`` (sizes ``size``, ``machine`` name or object) with ``optimizer``.

    ``feedback`` is the AutoGuide level for optimizers that read feedback (``evolve``,
    ``llm-agent``); scalar-only optimizers always get ``score``. ``progress(record)`` is called
    after each iteration when given.
    """
    validate(optimizer, iterations, feedback, wall_s)
    info = OPTIMIZERS[optimizer]
    level = feedback if info.reads_feedback else "score"
    from systems.mapper.apps import app_machine

    machine = app_machine(app, machine)
    size = dict(size or {})
    app_obj = _load_app(app, machine, size)
    space = MapperSpace(app_obj)
    cfg = None
    if info.needs_llm:
        cfg = llm or llm_config_from_env()
    proposer = make_proposer(optimizer, space, seed, level, app=app_obj, machine=machine, llm=cfg,
                             llm_client=llm_client)
    if hasattr(proposer, "preflight"):
        proposer.preflight()  # an unusable endpoint fails here, before any iteration

    expert_text = expert_mapper(app)
    expert_out = evaluate_mapper(expert_text, app, machine, **size)
    if expert_out.status != "ok":
        raise RuntimeError(f"expert mapper of {app_obj.name} failed: {expert_out.status}: {expert_out.message}")
    expert_t = float(expert_out.time_s)
    lower = getattr(expert_out, "lower_bound_s", None)

    best_t, best_text = math.inf, None
    history: list[float | None] = []
    records: list[IterationRecord] = []
    t0 = time.perf_counter()
    stopped = "iterations"
    for it in range(iterations):
        if wall_s is not None and it > 0 and time.perf_counter() - t0 >= wall_s:
            stopped = "wall_s"
            break
        tp = time.perf_counter()
        prop: Proposal = proposer.propose(it)
        tp = time.perf_counter() - tp
        te = time.perf_counter()
        if prop.malformed is not None:
            fb: Feedback = malformed_feedback(level, prop.malformed)
            t_it, status, kind = None, "malformed", "malformed"
        else:
            out = evaluate_mapper(prop.text, app, machine, **size)
            fb = autoguide(out, prop.text, level, app=app_obj, best_time_s=best_t if best_text else None)
            status, kind = out.status, getattr(out, "error_kind", None)
            t_it = float(out.time_s) if out.status == "ok" and out.time_s is not None else None
            if lower is None:
                lower = getattr(out, "lower_bound_s", None)
        te = time.perf_counter() - te
        if t_it is not None and t_it < best_t:
            best_t, best_text = t_it, prop.text
        proposer.observe(prop, t_it, fb)
        msg = prop.malformed if prop.malformed is not None else (out.message if status != "ok" else "")
        rec = IterationRecord(it, status, t_it, best_t if best_text else None, kind if status != "ok" else None,
                              prop.note, fb.text, tp, te,
                              prompt_tokens=float(prop.usage.get("prompt_tokens", 0.0)),
                              completion_tokens=float(prop.usage.get("completion_tokens", 0.0)),
                              cost_usd=float(prop.usage.get("cost_usd", 0.0)),
                              llm_latency_s=float(prop.usage.get("llm_latency_s", 0.0)),
                              grammar=str(prop.meta.get("grammar", "")), finish_reason=prop.meta.get("finish_reason"),
                              model=prop.meta.get("model"), message=(msg or "").strip().split("\n")[0][:300],
                              proposal=prop.text if info.needs_llm else "")
        records.append(rec)
        history.append(rec.best_time_s)
        if progress:
            progress(rec)
    wall = time.perf_counter() - t0

    if best_text is not None:  # the promise: the returned text scores exactly best_time_s
        check = evaluate_mapper(best_text, app, machine, **size)
        if check.status != "ok" or float(check.time_s) != best_t:
            raise RuntimeError(f"best mapper does not re-evaluate to its time ({check.status}, "
                               f"{check.time_s} != {best_t}): the simulator is not deterministic")
    return SearchResult(
        app=app, optimizer=optimizer, seed=seed, feedback=level,
        best_time_s=best_t if best_text else None, best_mapper=best_text, expert_time_s=expert_t,
        speedup=(expert_t / best_t) if best_text else None, lower_bound_s=lower,
        iterations=len(records), wall_s=wall, history=history, records=records, expert_mapper=expert_text,
        stopped_by=stopped, machine=getattr(machine, "name", ""), llm=(_llm_public(cfg, records) if cfg else {}))


def _llm_public(cfg: LLMConfig, records: list[IterationRecord]) -> dict[str, Any]:
    """Recordable LLM settings of a run: endpoint, model (and which one answered), grammar, prompt versions."""
    from systems.mapper.agent import grammar
    from systems.mapper.agent.prompt import REFERENCE_SHA, REFERENCE_VERSION

    d = dict(cfg.public_dict())
    answered = sorted({r.model for r in records if r.model})
    d["llm_answered_by"] = ", ".join(answered) if answered else "-"
    d["dsl_reference"] = f"{REFERENCE_VERSION} sha256:{REFERENCE_SHA}"
    d["dsl_grammar_sha"] = grammar.file_hash()[:12]
    sent = sorted({r.grammar for r in records if r.grammar})
    d["llm_grammar_sent"] = ", ".join(sent) if sent else "-"
    return d


def run_search_job(job, mcfg):
    """Run one optimizer job (``mcfg.optimizer``, a resolved :class:`~systems.mapper.config.MapperConfig`)."""
    from systems.core import JobResult

    info = OPTIMIZERS.get(mcfg.optimizer)
    if info is None:
        raise SearchError(f"unknown optimizer {mcfg.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
    cfg = SearchConfig(iterations=mcfg.iterations, wall_s=mcfg.wall_s, seed=job.seed,
                       feedback=mcfg.feedback or info.default_feedback)
    iterations, wall_s = cfg.iterations, cfg.wall_s
    sizes = mcfg.resolved_sizes()
    res = search(mcfg.app, mcfg.optimizer, iterations=cfg.iterations, seed=cfg.seed, feedback=cfg.feedback,
                 machine=mcfg.machine, wall_s=cfg.wall_s, size=sizes)
    if res.best_time_s is None:
        raise RuntimeError(f"{job.method} found no working mapper for {job.workload} in {res.iterations} "
                           f"iterations; last feedback: {res.records[-1].feedback if res.records else '-'}")
    nfail = sum(r.status != "ok" for r in res.records)
    compiled = sum(r.status not in ("compile_error", "malformed") for r in res.records)
    metrics = {"time_s": res.best_time_s, "expert_time_s": res.expert_time_s, "speedup": res.speedup,
               "iterations": float(res.iterations), "search_wall_s": res.wall_s,
               "failed_iterations": float(nfail),
               "prompt_tokens": sum(r.prompt_tokens for r in res.records),
               "completion_tokens": sum(r.completion_tokens for r in res.records),
               "cost_usd": sum(r.cost_usd for r in res.records),
               "compile_rate": compiled / max(1, res.iterations),
               "llm_latency_s": sum(r.llm_latency_s for r in res.records)}
    if res.lower_bound_s:
        metrics["lower_bound_s"] = float(res.lower_bound_s)
        metrics["bound_ratio"] = res.best_time_s / float(res.lower_bound_s)
    first_ok = next((i for i, h in enumerate(res.history) if h is not None), len(res.history))
    series = {"best_so_far": [h for h in res.history[first_ok:]],
              "iteration_time_s": [r.time_s if r.time_s is not None else float("nan") for r in res.records]}
    if info.needs_llm:
        series["prompt_tokens"] = [r.prompt_tokens for r in res.records]
        series["completion_tokens"] = [r.completion_tokens for r in res.records]
        series["cost_usd"] = [r.cost_usd for r in res.records]
    out_params = {"optimizer": job.method, "iterations_budget": iterations, "wall_s_budget": wall_s,
                  "sizes": sizes, "machine": getattr(res, "machine", None) or mcfg.machine or "default",
                  "feedback": res.feedback, "stopped_by": res.stopped_by, "first_ok_iteration": first_ok,
                  **res.llm}
    log_lines = [f"{r.iteration}\t{r.status}\t{r.time_s}\t{r.best_time_s}\t{r.note}" for r in res.records]
    artifacts = {"best_mapper.dsl": res.best_mapper, "expert_mapper.dsl": res.expert_mapper,
                 "search_log.tsv": "iteration\tstatus\ttime_s\tbest_time_s\tnote\n" + "\n".join(log_lines) + "\n"}
    if info.needs_llm:
        artifacts["proposals.jsonl"] = proposals_jsonl(res.records)
    return JobResult(system=job.system, workload=job.workload, method=job.method, seed=job.seed, suite=job.suite,
                     metrics=metrics, params=out_params, series=series, artifacts=artifacts,
                     simulated=True, wall_s=res.wall_s)


def proposals_jsonl(records: list[IterationRecord]) -> str:
    """One JSON object per iteration: the proposal, whether it compiled and why not, tokens, cost, latency."""
    import json

    keep = ("iteration", "status", "error_kind", "message", "time_s", "best_time_s", "note", "prompt_tokens",
            "completion_tokens", "cost_usd", "llm_latency_s", "grammar", "finish_reason", "model", "proposal",
            "feedback")
    return "".join(json.dumps({k: getattr(r, k) for k in keep}) + "\n" for r in records)
