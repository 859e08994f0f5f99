"""The mapper agent: AutoGuide feedback, the LLM proposer, the structured space, offline proposers.

- :mod:`.feedback`   AutoGuide: outcome → feedback at ``score`` / ``raw`` / ``guide`` level
- :mod:`.llm`        OpenAI-compatible client (env-configured, retries, usage/cost, key redaction)
- :mod:`.prompt`     prompt building (DSL reference, app, best mappers, feedback) and reply parsing
- :mod:`.proposer`   the LLM proposer
- :mod:`.space`      structured mapper space (knob = DSL statement)
- :mod:`.optimizers` random search, OpenTuner-style scalar tuner, feedback-guided evolve

The loop itself and the optimizer registry live in :mod:`systems.mapper.search`.
"""

from systems.mapper.agent.feedback import LEVELS, Feedback, Suggestion, autoguide

__all__ = ["LEVELS", "Feedback", "Suggestion", "autoguide"]
