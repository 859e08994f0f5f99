"""The LLM proposer: prompt → OpenAI-compatible chat completion → DSL text.

One iteration of the agent is: build the prompt (DSL reference, application description,
best mappers so far, feedback history) → ask the model → extract the ```mapper block → hand it
to the DSL compiler and simulator (done by :func:`systems.mapper.search.search`) → AutoGuide
feedback goes into the next prompt. A reply with no mapper is a failed iteration whose feedback
says so; a transport failure (after the client's retries with backoff) is a failed iteration
too, and the search stops after ``max_transport_failures`` of them in a row.
"""

from __future__ import annotations

import logging

from systems.mapper.agent.feedback import Feedback
from systems.mapper.agent.llm import LLMClient, LLMConfig, LLMUnavailableError
from systems.mapper.agent.optimizers import Proposal
from systems.mapper.agent.prompt import MalformedReply, build_messages, extract_dsl

log = logging.getLogger(__name__)


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
        self.best: list[tuple[float, str]] = []
        self.history: list[tuple[int, str, str]] = []
        self.transport_failures = 0
        self.last_messages: list[dict[str, str]] = []

    def propose(self, iteration: int) -> Proposal:
        msgs = build_messages(self.app_description, self.machine_description, self.best[: self.n_best],
                              self.history, max_history=self.max_history)
        self.last_messages = msgs
        try:
            comp = self.client.complete(msgs, seed=None if self.seed is None else self.seed + iteration)
        except LLMUnavailableError as exc:
            self.transport_failures += 1
            if self.transport_failures >= self.max_transport_failures:
                raise
            return Proposal(text="", note="transport error", malformed=f"LLM request failed: {exc}",
                            usage={"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0,
                                   "llm_latency_s": 0.0, "llm_attempts": float(self.cfg.max_retries + 1)})
        self.transport_failures = 0
        usage = {"prompt_tokens": float(comp.prompt_tokens), "completion_tokens": float(comp.completion_tokens),
                 "cost_usd": comp.cost_usd, "llm_latency_s": comp.latency_s, "llm_attempts": float(comp.attempts)}
        try:
            text = extract_dsl(comp.text)
        except MalformedReply as exc:
            log.info("iteration %d: malformed LLM reply: %s", iteration, exc)
            return Proposal(text=comp.text, note="malformed reply", malformed=str(exc), usage=usage)
        return Proposal(text=text, note="llm", usage=usage)

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        it = len(self.history)
        shown = proposal.text if not proposal.malformed else (proposal.text or "(no reply)")[:2000]
        self.history.append((it, shown, feedback.text))
        if time_s is not None and not proposal.malformed:
            self.best.append((time_s, proposal.text))
            self.best.sort(key=lambda x: x[0])
            del self.best[self.n_best * 2:]
