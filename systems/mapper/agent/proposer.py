"""The LLM proposer: prompt → OpenAI-compatible chat completion → DSL text.

One iteration of the agent is: build the prompt (DSL reference, application description,
best mappers so far, feedback history) → ask the model (grammar-constrained to the DSL when the
configuration says so: llama.cpp GBNF or a hosted model's Lark-grammar tool) → take the mapper
from the reply → the DSL compiler and simulator evaluate it (done by
:func:`systems.mapper.search.search`) → AutoGuide feedback goes into the next prompt. The reply
is data: it is parsed as DSL, never executed.

A reply with no mapper is a failed iteration whose feedback says so; a transport failure (after
the client's retries) or a rejected request is a failed iteration too, and the search stops
after ``max_transport_failures`` of them in a row.
"""

from __future__ import annotations

import logging

from systems.mapper.agent.feedback import Feedback
from systems.mapper.agent.llm import LLMClient, LLMConfig, LLMRequestError, LLMUnavailableError
from systems.mapper.agent.optimizers import Proposal
from systems.mapper.agent.prompt import MalformedReply, build_messages, extract_dsl

log = logging.getLogger(__name__)


def grammar_text(mode: str) -> str | None:
    """The generation grammar a grammar mode sends (None for ``off``)."""
    from systems.mapper.agent import grammar

    if mode == "gbnf":
        return grammar.gbnf()
    if mode == "lark-tool":
        return grammar.lark_tool_grammar()
    return None


def usage_of(comp) -> tuple[dict[str, float], dict]:
    """(numeric usage, meta) of a :class:`~systems.mapper.agent.llm.Completion`."""
    usage = {"prompt_tokens": float(comp.prompt_tokens), "completion_tokens": float(comp.completion_tokens),
             "cost_usd": comp.cost_usd, "llm_latency_s": comp.latency_s, "llm_attempts": float(comp.attempts)}
    meta = {"grammar": comp.grammar, "finish_reason": comp.finish_reason, "adaptations": list(comp.adaptations),
            "model": comp.model}
    return usage, meta


class LLMProposer:
    """Proposes mappers by asking an LLM; keeps the best mappers and the feedback history."""

    name = "llm-agent"
    uses_feedback = True

    def __init__(self, cfg: LLMConfig, app_description: str, machine_description: str = "",
                 level: str = "guide", n_best: int = 3, max_history: int = 6, seed: int | None = None,
                 max_transport_failures: int = 3, client: LLMClient | None = None) -> None:
        self.client = client or LLMClient(cfg)
        self.cfg = cfg
        self.app_description = app_description
        self.machine_description = machine_description
        self.level = level
        self.n_best = n_best
        self.max_history = max_history
        self.seed = seed
        self.max_transport_failures = max_transport_failures
        self.grammar_text = grammar_text(cfg.grammar)
        self.best: list[tuple[float, str]] = []
        self.history: list[tuple[int, str, str]] = []
        self.transport_failures = 0
        self.last_messages: list[dict[str, str]] = []

    def preflight(self) -> None:
        """Fail before any iteration when the endpoint is unreachable or misconfigured (one line)."""
        self.client.check()

    def _grammar_active(self) -> bool:
        d = self.client.dropped
        return (self.cfg.grammar == "gbnf" and "grammar" not in d) or \
            (self.cfg.grammar == "lark-tool" and "tools" not in d)

    def propose(self, iteration: int) -> Proposal:
        msgs = build_messages(self.app_description, self.machine_description, self.best[: self.n_best],
                              self.history, max_history=self.max_history, grammar=self._grammar_active(),
                              max_chars=self.cfg.max_prompt_chars)
        self.last_messages = msgs
        try:
            comp = self.client.complete(msgs, seed=None if self.seed is None else self.seed + iteration,
                                        grammar_text=self.grammar_text if self._grammar_active() else None)
        except (LLMUnavailableError, LLMRequestError) as exc:
            self.transport_failures += 1
            if self.transport_failures >= self.max_transport_failures:
                raise
            return Proposal(text="", note="request failed", malformed=f"LLM request failed: {exc}",
                            usage={"prompt_tokens": 0.0, "completion_tokens": 0.0, "cost_usd": 0.0,
                                   "llm_latency_s": 0.0, "llm_attempts": float(self.cfg.max_retries + 1)},
                            meta={"grammar": self.cfg.grammar, "error": str(exc)})
        self.transport_failures = 0
        usage, meta = usage_of(comp)
        try:
            text = extract_dsl(comp.text, bare=comp.grammar != "off")
        except MalformedReply as exc:
            log.info("iteration %d: malformed LLM reply: %s", iteration, exc)
            return Proposal(text=comp.text, note="malformed reply", malformed=str(exc), usage=usage, meta=meta)
        note = "llm" + (f" (grammar {comp.grammar})" if comp.grammar != "off" else "") + \
            (", cut at max_tokens" if comp.finish_reason == "length" else "")
        return Proposal(text=text, note=note, usage=usage, meta=meta)

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        it = len(self.history)
        shown = proposal.text if not proposal.malformed else (proposal.text or "(no reply)")[:2000]
        self.history.append((it, shown, feedback.text))
        if time_s is not None and not proposal.malformed:
            self.best.append((time_s, proposal.text))
            self.best.sort(key=lambda x: x[0])
            del self.best[self.n_best * 2:]
