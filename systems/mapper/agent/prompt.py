"""Prompt building and reply parsing for the LLM proposer.

The prompt carries: the DSL reference, the benchmark's task/region description, the best
mappers found so far (with their simulated times), and the feedback history of the recent
iterations. The reply is *parsed* as DSL text: we take the content of a fenced code block (or
the whole reply when it already looks like DSL). Nothing in the reply is ever executed as
Python — it only goes to the DSL compiler.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

REFERENCE_FILE = Path(__file__).with_name("dsl_reference.md")
"""The DSL reference given to the LLM (our own text, from the DSLMapper README's facts)."""
DSL_REFERENCE = REFERENCE_FILE.read_text()
REFERENCE_VERSION = re.search(r"\((v\d+)\)", DSL_REFERENCE.splitlines()[0]).group(1)
"""Version in the document's title; bump it when the text changes."""
REFERENCE_SHA = hashlib.sha256(DSL_REFERENCE.encode()).hexdigest()[:12]
"""Hash of the exact text (recorded in every LLM run's params)."""

SYSTEM_PROMPT = (
    "You are an expert in mapping task-based parallel programs (Legion) onto heterogeneous machines. "
    "You write mappers in the mapper DSL described by the user. Your goal is the lowest execution time. "
    "Always answer with ONE complete mapper inside a single ```mapper fenced block; a short reasoning "
    "sentence before the block is allowed.")
SYSTEM_PROMPT_GRAMMAR = (
    "You are an expert in mapping task-based parallel programs (Legion) onto heterogeneous machines. "
    "You write mappers in the mapper DSL described by the user. Your goal is the lowest execution time. "
    "Answer with ONE complete mapper and nothing else: no prose, no code fence.")


def build_messages(app_description: str, machine_description: str, best: list[tuple[float, str]],
                   history: list[tuple[int, str, str]], reference: str = DSL_REFERENCE,
                   max_history: int = 6, grammar: bool = False,
                   max_chars: int | None = None) -> list[dict[str, str]]:
    """Chat messages for one proposal.

    ``best``: (time_s, mapper) of the best mappers so far, best first.
    ``history``: (iteration, mapper, feedback text) of past iterations, oldest first; the last
    ``max_history`` are included, and older ones are dropped further while the user message is
    longer than ``max_chars`` (a small model's context). The reference and the application come
    first, so a server that reuses a cached prompt prefix evaluates only what changed.
    ``grammar``: the reply is grammar-constrained to the DSL (no fence asked for).
    """
    head = [reference.strip(), "# Application\n" + app_description.strip()]
    if machine_description:
        head.append("# Machine\n" + machine_description.strip())
    fence = "" if grammar else "mapper"
    task = ("# Task\nWrite an improved mapper for this application. Use the feedback: fix errors in the "
            "statement it points at, follow its suggestions, and keep what made the best mapper fast. "
            + ("Reply with the complete mapper only." if grammar else
               "Reply with the complete mapper in one ```mapper block."))

    def render(best_, hist_):
        parts = list(head)
        if best_:
            lines = ["# Best mappers so far (simulated time, lower is better)"]
            for t, text in best_:
                lines.append(f"## time {t:.6g} s\n```{fence}\n{text.strip()}\n```")
            parts.append("\n".join(lines))
        if hist_:
            lines = ["# Feedback on your recent attempts (oldest first)"]
            for it, text, fb in hist_:
                lines.append(f"## iteration {it}\n```{fence}\n{text.strip()}\n```\nFeedback:\n{fb.strip()}")
            parts.append("\n".join(lines))
        parts.append(task)
        return "\n\n".join(parts)

    hist = list(history[-max_history:]) if max_history > 0 else []
    best = list(best)
    user = render(best, hist)
    while max_chars and len(user) > max_chars and (hist or len(best) > 1):
        if hist:
            hist.pop(0)
        else:
            best.pop()
        user = render(best, hist)
    system = SYSTEM_PROMPT_GRAMMAR if grammar else SYSTEM_PROMPT
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class MalformedReply(ValueError):
    """The LLM reply did not contain a mapper."""


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
_STMT = re.compile(r"^\s*(Task|Region|Layout|InstanceLimit|CollectMemory|GarbageCollect|IndexTaskMap|"
                   r"SingleTaskMap|ControlReplicate|TaskSteal|def)\b", re.M)


def extract_dsl(reply: str, bare: bool = False) -> str:
    """The mapper text in an LLM reply; raises :class:`MalformedReply` when there is none.

    ``bare``: the reply was grammar-constrained to the DSL, so the whole reply is the mapper.
    Otherwise prefers a ```mapper block, then any fenced block that contains DSL statements,
    then the whole reply if it consists of DSL statements. The text is returned as-is for the
    compiler (it is data: parsed as DSL, never executed).
    """
    if not reply or not reply.strip():
        raise MalformedReply("empty reply")
    if bare:
        return reply.strip() + "\n"
    blocks = _FENCE.findall(reply)
    for lang, body in blocks:
        if lang.lower() in ("mapper", "dsl") and _STMT.search(body):
            return body.strip() + "\n"
    for _lang, body in blocks:
        if _STMT.search(body):
            return body.strip() + "\n"
    if not blocks and _STMT.search(reply):
        # a bare mapper: accept when (nearly) every non-empty line belongs to DSL statements
        lines = [ln for ln in reply.strip().splitlines() if ln.strip()]
        dslish = sum(bool(re.search(r"[;{}]\s*(#.*)?$|^\s*#|^\s*def\b", ln)) for ln in lines)
        if dslish >= 0.8 * len(lines):
            return reply.strip() + "\n"
    raise MalformedReply("no mapper found in the reply (expected a ```mapper fenced block with DSL statements)"
                         if blocks or not _STMT.search(reply) else
                         "the reply mixes prose with DSL; put the mapper alone in a ```mapper block")
