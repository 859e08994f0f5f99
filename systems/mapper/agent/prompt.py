"""Prompt building and reply parsing for the LLM proposer.

The prompt carries: the DSL reference, the benchmark's task/region description, the best
mappers found so far (with their simulated times), and the feedback history of the recent
iterations. The reply is *parsed* as DSL text: we take the content of a fenced code block (or
the whole reply when it already looks like DSL). Nothing in the reply is ever executed as
Python — it only goes to the DSL compiler.
"""

from __future__ import annotations

import re

DSL_REFERENCE = """\
# Mapper DSL reference (Legion-style mapping language)
A mapper decides, for a task-based parallel program, which processor runs each task, which memory
holds each region argument, the data layout of each instance, and where each point of an index
launch runs. Statements end with ';'. Comments start with '#'. '*' is a wildcard for task/region names.

Processor kinds: CPU, GPU, OMP.  Memory kinds: SYSMEM (CPU memory), FBMEM (GPU framebuffer, fast,
small), ZCMEM (zero-copy: pinned host memory visible to CPU and GPU; no copies but slow access).

Task <task|*|t1,t2> <Kind>(,<Kind>)*;          processor kinds by priority (kinds without a variant are skipped)
Region <task|*> <region|*> <Kind|*> <Mem>(,<Mem>)*;   memory for a region argument when the task runs on Kind
Layout <task|*> <region|*> <Mem|*> <Constraint>*;     constraints: SOA | AOS | C_order | F_order | Align==N | Compact | Exact
InstanceLimit <task> <int>;                    at most N instances of the task in flight per processor (caps memory)
CollectMemory <task|*> <region|*>;             read-only region instance may be garbage-collected after use
m = Machine(GPU);                              2-D processor space (node, processor-in-node); m.size is its shape
IndexTaskMap <task list|GPU|CPU|OMP> <function>;  index-launch point -> processor (GPU: every index task on GPUs)
SingleTaskMap <task list|GPU|CPU|OMP> <function>; single task -> processor

Functions: def name(Task task) { ...; return m[a, b]; }  with int arithmetic + - * / %, comparisons,
c ? a : b, tuples (a, b), indexing t[i], slicing t[:-1], unpacking m[*t].
task.ipoint = the launch point (tuple), task.ispace = the launch domain sizes (tuple),
task.parent.processor(m) = the parent's coordinates in space m.
Machine-space transforms (return a new space): m.merge(d1, d2) (one dim of size s1*s2, d2 fastest),
m.split(d, f), m.swap(d1, d2), m.slice(d, lo, hi), m.reverse(d), m.balance_split(d, k), m.auto_split(d, shape).
A mapping function must return a point inside the space: block = ip * size / extent, cyclic = ip % size.

Example:
Task * GPU,CPU;
Region * * GPU FBMEM;
Region * * CPU SYSMEM;
Layout * * * SOA C_order;
m = Machine(GPU);
def cyclic1d(Task task) { return m[task.ipoint[0] % m.size[0], task.ipoint[0] / m.size[0] % m.size[1]]; }
IndexTaskMap GPU cyclic1d;
"""

SYSTEM_PROMPT = (
    "You are an expert in mapping task-based parallel programs (Legion) onto heterogeneous machines. "
    "You write mappers in the mapper DSL described by the user. Your goal is the lowest execution time. "
    "Always answer with ONE complete mapper inside a single ```mapper fenced block; a short reasoning "
    "sentence before the block is allowed.")


def build_messages(app_description: str, machine_description: str, best: list[tuple[float, str]],
                   history: list[tuple[int, str, str]], reference: str = DSL_REFERENCE,
                   max_history: int = 6) -> list[dict[str, str]]:
    """Chat messages for one proposal.

    ``best``: (time_s, mapper) of the best mappers so far, best first.
    ``history``: (iteration, mapper, feedback text) of past iterations, oldest first; the last
    ``max_history`` are included so the prompt stays bounded.
    """
    parts = [reference, "# Application\n" + app_description.strip()]
    if machine_description:
        parts.append("# Machine\n" + machine_description.strip())
    if best:
        lines = ["# Best mappers so far (simulated time, lower is better)"]
        for t, text in best:
            lines.append(f"## time {t:.6g} s\n```mapper\n{text.strip()}\n```")
        parts.append("\n".join(lines))
    if history:
        lines = ["# Feedback on your recent attempts (oldest first)"]
        for it, text, fb in history[-max_history:]:
            lines.append(f"## iteration {it}\n```mapper\n{text.strip()}\n```\nFeedback:\n{fb.strip()}")
        parts.append("\n".join(lines))
    parts.append("# Task\nWrite an improved mapper for this application. Use the feedback: fix errors in the "
                 "statement it points at, follow its suggestions, and keep what made the best mapper fast. "
                 "Reply with the complete mapper in one ```mapper block.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]


class MalformedReply(ValueError):
    """The LLM reply did not contain a mapper."""


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
_STMT = re.compile(r"^\s*(Task|Region|Layout|InstanceLimit|CollectMemory|GarbageCollect|IndexTaskMap|"
                   r"SingleTaskMap|ControlReplicate|TaskSteal|def)\b", re.M)


def extract_dsl(reply: str) -> str:
    """The mapper text in an LLM reply; raises :class:`MalformedReply` when there is none.

    Prefers a ```mapper block, then any fenced block that contains DSL statements, then the
    whole reply if it consists of DSL statements. The text is returned as-is for the compiler.
    """
    if not reply or not reply.strip():
        raise MalformedReply("empty reply")
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
