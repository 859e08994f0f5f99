"""The paper's optimizer: Microsoft Trace's OptoPrime (``trace-opt``, package ``opto``) over the mapper.

The Trace graph of one iteration::

    mapper (trainable ParameterNode, the DSL text)
        └─ simulate(mapper)  (a @bundle operator: compile + simulate the benchmark)  ─→ outcome
    optimizer.backward(outcome, AutoGuide feedback text);  optimizer.step()  →  new mapper text

``OptoPrime`` reads the graph (the code of the bundled operator, the parameter, its constraint =
the DSL reference and the application, the output) and the feedback, and asks the LLM for a new
value of the parameter as JSON (``{"reasoning": ..., "suggestion": {"<param>": "<mapper>"}}``).
Its LLM backend is :class:`SyslabLLM`, an ``opto.utils.llm.AbstractModel`` over syslab's own client,
so it reaches the same OpenAI-compatible endpoint with the same robustness (parameter adaptation,
``Retry-After``, usage, key redaction) and, in ``gbnf`` mode, sends a grammar for exactly that JSON
object whose mapper string is the DSL (JSON-escaped). The suggestion is data: parsed as DSL by
the compiler, never executed.

Two deviations from stock OptoPrime, both because the parameter is DSL, not Python:
- ``construct_update_dict`` does not run ``black`` on a suggestion that contains ``def`` (stock
  OptoPrime formats such values as Python, which fails on DSL and drops the update);
- ``response_format={"type": "json_object"}`` is not forwarded (with ``gbnf`` the grammar is
  stricter; without it, the reply is free text, which is the "grammar off" condition).

The simulator call inside the bundle does not re-run the simulation: the search loop has already
evaluated the proposal, and the bundle returns that outcome's summary (same text, no double cost).
"""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

from systems.mapper.agent.feedback import Feedback
from systems.mapper.agent.llm import LLMClient, LLMConfig, LLMRequestError, LLMUnavailableError
from systems.mapper.agent.optimizers import Proposal
from systems.mapper.agent.prompt import DSL_REFERENCE

log = logging.getLogger(__name__)

PARAM_NAME = "mapper"


class TraceUnavailableError(RuntimeError):
    """``trace-opt`` (package ``opto``) cannot be imported: install the optional group with ``make llm``."""


def _import_opto():
    os.environ.setdefault("TRACE_DEFAULT_LLM_BACKEND", "LiteLLM")  # opto picks a backend at import time
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm would fetch a price list at import
    try:
        import io
        from contextlib import redirect_stdout

        with redirect_stdout(io.StringIO()):  # opto prints its backend choice on import
            from opto import trace
            from opto.optimizers import OptoPrime
            from opto.utils.llm import AbstractModel
    except ImportError as exc:
        raise TraceUnavailableError(f"optoprime needs Microsoft Trace (trace-opt): {exc}; run `make llm`") from None
    return trace, OptoPrime, AbstractModel


def optoprime_gbnf(param_py_name: str) -> str:
    """GBNF for OptoPrime's JSON answer whose suggestion for ``param_py_name`` is a DSL mapper string."""
    from systems.mapper.agent.grammar import gbnf

    dsl = gbnf(json_string=True, prefix="d-")
    key = json.dumps(param_py_name).replace("\\", "\\\\").replace('"', '\\"')
    head = [
        'root ::= "{" ows "\\"reasoning\\":" ows jstr ows "," ows "\\"suggestion\\":" ows "{" ows '
        f'"{key}:" ows "\\"" d-root "\\"" ows "}}" ows "}}"',
        'ows ::= [ \\t\\n]{0,4}',
        'jstr ::= "\\"" jchar{0,400} "\\""',
        'jchar ::= [^"\\\\\\n\\x00-\\x1f] | "\\\\" ["\\\\/bfnrt]',
    ]
    return "\n".join(head) + "\n" + dsl


class OptoPrimeProposer:
    """Proposes mappers with Trace's OptoPrime; ``observe`` runs backward + step on the AutoGuide feedback."""

    name = "optoprime"
    uses_feedback = True

    def __init__(self, cfg: LLMConfig, app_description: str, machine_description: str = "", start: str = "",
                 level: str = "guide", seed: int | None = None, max_transport_failures: int = 3,
                 client: LLMClient | None = None, memory_size: int = 0) -> None:
        trace, OptoPrime, AbstractModel = _import_opto()
        self.client = client or LLMClient(cfg)
        self.cfg = cfg
        self.level = level
        self.seed = seed
        self.max_transport_failures = max_transport_failures
        self.failures = 0
        self._trace = trace
        self._outcomes: dict[str, str] = {}
        self.last_usage: dict[str, float] = {}
        self.last_meta: dict = {}
        self.last_error: str | None = None
        self.last_response: str = ""
        constraint = ("A complete mapper written in the mapping DSL below (statements end with ';'). It is "
                      "compiled and simulated for this application on this machine; lower simulated time is "
                      "better.\n\n" + DSL_REFERENCE.strip() + "\n\n# Application\n" + app_description.strip()
                      + ("\n\n# Machine\n" + machine_description.strip() if machine_description else ""))
        self.param = trace.node(start, trainable=True, name=PARAM_NAME,
                                description="the mapper: DSL text (data, never executed)", constraint=constraint)
        outcomes = self._outcomes

        def simulate(mapper):
            """Compile the mapper (DSL text) and simulate the application on the machine with it. Returns the
            outcome: ok with the simulated time, or the error class, message and failing line."""
            return outcomes.get(mapper, "not evaluated")

        simulate.__qualname__ = "simulate"  # the name OptoPrime shows in #Code / #Documentation
        self._simulate = trace.bundle()(simulate)
        proposer = self

        class SyslabLLM(AbstractModel):
            """OptoPrime's LLM backend: syslab's client (same endpoint, adaptations, usage, redaction)."""

            def __init__(self):
                super().__init__(lambda: None)

            @property
            def model(self):
                return proposer._call

        self.optimizer = OptoPrime([self.param], llm=SyslabLLM(), memory_size=memory_size,
                                   max_tokens=cfg.max_tokens)
        self.optimizer.construct_update_dict = self._construct_update_dict
        self.grammar = None
        if cfg.grammar == "gbnf":
            self.grammar = optoprime_gbnf(self.param.py_name)
        elif cfg.grammar == "lark-tool":
            log.warning("optoprime: the lark-tool grammar mode is not implemented for OptoPrime's JSON answer; "
                        "requests go without a grammar")
        self._step_n = 0
        self._suggested = False

    # -- the LLM backend ---------------------------------------------------------------------------
    def _call(self, messages=None, max_tokens=None, response_format=None, **_kw):
        from systems.mapper.agent.proposer import usage_of

        active = self.grammar is not None and "grammar" not in self.client.dropped
        comp = self.client.complete(messages, seed=None if self.seed is None else self.seed + self._step_n,
                                    grammar_text=self.grammar if active else None)
        self.last_usage, self.last_meta = usage_of(comp)
        self.last_response = comp.text
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=comp.text))])

    def _construct_update_dict(self, suggestion):
        """OptoPrime's update without black (the value is DSL, not Python)."""
        out = {}
        for node in self.optimizer.parameters:
            if node.trainable and node.py_name in suggestion and isinstance(suggestion[node.py_name], str):
                out[node] = suggestion[node.py_name]
                self._suggested = True
        return out

    # -- proposer interface -------------------------------------------------------------------------
    def preflight(self) -> None:
        self.client.check()

    def propose(self, iteration: int) -> Proposal:
        if iteration == 0:
            return Proposal(text=self.param.data, note="start (default mapper)",
                            meta={"grammar": "-"})
        if self.last_error is not None:
            err, self.last_error = self.last_error, None
            return Proposal(text=self.last_response, note="optoprime step failed", malformed=err,
                            usage=dict(self.last_usage), meta=dict(self.last_meta))
        return Proposal(text=self.param.data, note="optoprime" + (
            f" (grammar {self.last_meta.get('grammar')})" if self.last_meta.get("grammar") not in (None, "off") else ""),
            usage=dict(self.last_usage), meta=dict(self.last_meta))

    def observe(self, proposal: Proposal, time_s: float | None, feedback: Feedback) -> None:
        """Build the graph for the evaluated mapper, back-propagate the feedback, let OptoPrime update it."""
        if proposal.malformed is not None:
            # a failed step: keep the parameter, feed the failure back on the current value
            text = self.param.data
            self._outcomes[text] = f"status: {feedback.status}"
        else:
            text = proposal.text
            self._outcomes[text] = feedback.text.split("\n")[0]
        self.param._data = text
        self.last_usage, self.last_meta = {}, {}
        self._suggested = False
        self._step_n += 1
        try:
            out = self._simulate(self.param)
            self.optimizer.zero_feedback()
            self.optimizer.backward(out, feedback.text)
            self.optimizer.step()
        except (LLMUnavailableError, LLMRequestError) as exc:
            self.failures += 1
            if self.failures >= self.max_transport_failures:
                raise
            self.last_error = f"LLM request failed: {exc}"
            return
        self.failures = 0
        if not self._suggested:
            self.last_error = ("OptoPrime produced no update: the reply held no parseable JSON suggestion for "
                               f"{self.param.py_name!r}")
