"""AutoGuide: turn one evaluation outcome into feedback for the next proposal.

Levels for the ablation (the paper's "Agent-System Interface"), least to most informative:

- ``score``   — the number only (what a scalar tuner such as OpenTuner sees): the simulated time,
  or "failed" without any reason.
- ``raw``     — the system's own output: status, the runtime's message, the failing line (number and
  text), the time.
- ``explain`` — raw + an interpretation of the outcome: what the error class means, the whole
  failing statement (compile errors are localised to the statement that contains the failing
  line, in the spirit of SPoC's compile-error credit assignment); on success, where the time goes
  (time by task, copies by channel, processor busy fractions, peak memory) and what that means.
- ``guide``   — explain + suggest: which *kind* of change addresses the outcome (another layout
  order for the task and region the stride error names, less framebuffer residency after an
  out-of-memory, placement for copy-dominated runs, ...).

``explain`` and ``guide`` are derived from the run's outcome only (its status, message, failing
line and profile, plus the names in the application description the proposer also sees): never
from the optimum, the simulator's lower bound or a known fix. The previous, richer hints — the
lower bound ("N x above it"), exact DSL statements to paste, the launcher that needs the
``InstanceLimit``, "distribute X blockwise over all GPUs" — are kept as a separate ``oracle`` level,
for ablations only.

Suggestions are also returned as structured :class:`Suggestion` objects so that the offline
``evolve`` optimizer can act on them the way an LLM acts on the text.

The outcome is read duck-typed (``status, message, line, column, error_kind, time_s,
lower_bound_s, profile``) as produced by :func:`systems.mapper.evaluate.evaluate_mapper`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

LEVELS: tuple[str, ...] = ("score", "raw", "explain", "guide", "oracle")
"""Feedback levels, least to most informative (``oracle`` knows more than the run's outcome)."""
PAPER_LEVELS: tuple[str, ...] = ("score", "raw", "explain", "guide")
"""The levels derived from the outcome alone (the paper's ablation)."""


@dataclass
class Suggestion:
    """One concrete edit AutoGuide proposes (machine-readable twin of a sentence in the text)."""

    action: str
    """``set_layout`` | ``set_memory`` | ``instance_limit`` | ``collect`` | ``set_proc`` | ``remap`` | ``fix_statement``."""
    task: str | None = None
    """Task the edit concerns (None = the statement at ``line``)."""
    region: str | None = None
    """Region the edit concerns, when any."""
    value: str | None = None
    """New value: a memory kind, a layout constraint, a processor kind, a limit."""
    line: int | None = None
    """Source line of the statement to change (compile / mapping errors)."""
    text: str = ""
    """The sentence shown to the proposer."""


@dataclass
class Feedback:
    """What the proposer sees after one iteration."""

    level: str
    """Feedback level that produced it (one of :data:`LEVELS`)."""
    status: str
    """Outcome status: ``ok`` | ``compile_error`` | ``mapping_error`` | ``runtime_error`` | ``malformed``."""
    time_s: float | None
    """Simulated time when ok."""
    text: str
    """The feedback text handed to the proposer (LLM prompt / evolve)."""
    line: int | None = None
    """Failing source line (None at ``score`` level or when not a source error)."""
    statement: str | None = None
    """The failing statement's text (``explain`` and up)."""
    suggestions: list[Suggestion] = field(default_factory=list)
    """Structured suggestions (``guide`` and ``oracle``)."""
    error_kind: str | None = None
    """The outcome's error class, visible from ``raw`` up."""

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "status": self.status, "time_s": self.time_s, "text": self.text,
                "line": self.line, "error_kind": self.error_kind,
                "suggestions": [s.__dict__ for s in self.suggestions]}


# ----------------------------------------------------------------------------------------------
# helpers

def _fmt_t(t: float | None) -> str:
    if t is None or not math.isfinite(t):
        return "n/a"
    if t >= 1:
        return f"{t:.4f} s"
    return f"{t * 1e3:.4f} ms"


def _fmt_bytes(b: float) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if b >= div:
            return f"{b / div:.2f} {unit}"
    return f"{b:.0f} B"


def statement_at(text: str, line: int | None) -> tuple[str | None, int | None]:
    """The whole statement containing source ``line`` (1-based) and its first line.

    A ``def`` block is one statement (from ``def`` to its closing brace); otherwise a statement
    runs from the line after the previous ``;``/``}`` to the ``;`` that ends it.
    """
    if not line or line < 1:
        return None, None
    lines = text.splitlines()
    if line > len(lines):
        return None, None
    # function blocks: find a def whose braces enclose the line
    depth = 0
    start = None
    for i, raw in enumerate(lines, 1):
        code = raw.split("#", 1)[0].split("//", 1)[0]
        if depth == 0 and re.match(r"\s*def\s", code):
            start = i
        depth += code.count("{") - code.count("}")
        if start is not None and depth <= 0:
            if start <= line <= i:
                return "\n".join(lines[start - 1:i]).strip(), start
            start = None
            depth = 0
    # plain statement: walk back to the previous terminator
    s = line
    while s > 1:
        prev = lines[s - 2].split("#", 1)[0].split("//", 1)[0].rstrip()
        if prev == "" or prev.endswith(";") or prev.endswith("}"):
            break
        s -= 1
    e = line
    while e < len(lines) and not lines[e - 1].split("#", 1)[0].rstrip().endswith(";"):
        e += 1
    return "\n".join(lines[s - 1:e]).strip(), s


_KINDS = ("GPU", "OMP", "CPU")
_MEMS = ("FBMEM", "ZCMEM", "SYSMEM", "SOCKMEM", "RDMEM")


def _names_in(message: str, names) -> list[str]:
    """Known names that occur in ``message`` as whole words, longest first (so task_10 beats task_1)."""
    found = []
    for n in sorted(set(names), key=len, reverse=True):
        if re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", message) and not any(n in f for f in found):
            found.append(n)
    return found


def _app_names(app) -> tuple[list[str], list[str], dict[str, set[str]]]:
    from systems.mapper.agent.space import app_regions, app_tasks, task_region_names

    tasks, regions, variants = [], [], {}
    if app is None:
        return tasks, regions, variants
    for t in app_tasks(app):
        tasks.append(t.name)
        variants[t.name] = set(getattr(t, "variants", ()) or ())
        regions += task_region_names(t)
    regions += list(app_regions(app))
    return tasks, sorted(set(regions)), variants


def _current_layout(mapper: str, task: str | None, region: str | None) -> str | None:
    """The order constraint (C_order/F_order) the mapper's most specific Layout gives (task, region)."""
    best, best_score = None, -1
    for m in re.finditer(r"^\s*Layout\s+(\S+)\s+(\S+)\s+(\S+)\s+([^;]*);", mapper, re.M):
        t, r, _mem, cons = m.groups()
        if t not in ("*", task) or r not in ("*", region):
            continue
        score = (t != "*") * 2 + (r != "*")
        order = "F_order" if "F_order" in cons else ("C_order" if "C_order" in cons else None)
        if order and score >= best_score:
            best, best_score = order, score
    return best


# ----------------------------------------------------------------------------------------------
# the levels

def autoguide(outcome, mapper: str = "", level: str = "guide", app=None,
              best_time_s: float | None = None) -> Feedback:
    """Feedback for ``outcome`` of evaluating ``mapper`` at ``level`` (one of :data:`LEVELS`)."""
    if level not in LEVELS:
        raise ValueError(f"unknown feedback level {level!r}; valid: {', '.join(LEVELS)}")
    status = getattr(outcome, "status", "runtime_error")
    t = getattr(outcome, "time_s", None)
    if level == "score":
        text = f"score: time {_fmt_t(t)}" if status == "ok" else "score: failed (no time)"
        return Feedback(level, status, t if status == "ok" else None, text)
    if level == "oracle":
        return _oracle(outcome, mapper, app, best_time_s)
    msg = str(getattr(outcome, "message", "") or "")
    line = getattr(outcome, "line", None)
    col = getattr(outcome, "column", None)
    kind = getattr(outcome, "error_kind", None)
    if status == "ok":
        raw = f"status: ok; simulated time {_fmt_t(t)}" + (f"; {msg}" if msg else "")
    else:
        loc = f" at line {line}" + (f", column {col}" if col else "") if line else ""
        raw = f"status: {status}{'' if msg.startswith(('line ', 'Error at line')) else loc}: {msg}"
        src = _source_line(mapper, line)
        if src is not None:
            raw += f"\nline {line}: {src}"
    if level == "raw":
        return Feedback(level, status, t if status == "ok" else None, raw, line=line, error_kind=kind)
    if status == "ok":
        expl, tips, sugg = _interpret_ok(outcome, mapper, app, best_time_s)
        stmt = None
    else:
        expl, tips, sugg, stmt = _interpret_failure(outcome, mapper, app)
    parts = [raw] + expl
    if level == "guide":
        parts += [f"Suggestion: {tp}" for tp in tips]
    return Feedback(level, status, t if status == "ok" else None, "\n".join(parts), line=line, statement=stmt,
                    suggestions=sugg if level == "guide" else [], error_kind=kind)


def malformed_feedback(level: str, reason: str) -> Feedback:
    """Feedback for a proposal that was not a mapper at all (e.g. an LLM reply with no DSL)."""
    if level == "score":
        return Feedback(level, "malformed", None, "score: failed (no time)")
    text = f"status: malformed reply: {reason}"
    if level in ("explain", "guide", "oracle"):
        text += "\nExplanation: the reply did not contain a mapper in the DSL, so nothing was compiled or run."
    if level in ("guide", "oracle"):
        text += ("\nSuggestion: answer with the complete mapper inside one ```mapper ... ``` block, "
                 "statements ending in ';', no prose inside the block.")
    return Feedback(level, "malformed", None, text, error_kind="malformed")


def _source_line(mapper: str, line: int | None) -> str | None:
    if not mapper or not line or line < 1:
        return None
    lines = mapper.splitlines()
    return lines[line - 1].strip() if line <= len(lines) else None


def _outcome_names(outcome, app):
    """(task, region, memories, kinds) named in the outcome's message (the message's own 'task X' first)."""
    msg = str(getattr(outcome, "message", "") or "")
    tasks, regions, _variants = _app_names(app)
    mtasks = _names_in(msg, tasks)
    mregions = [r for r in _names_in(msg, regions) if r not in mtasks]
    mt = re.search(r"\btask (\w+)", msg)
    mr = re.search(r"\bregion (\w+)", msg)
    task = mt.group(1) if (mt and (not tasks or mt.group(1) in tasks)) else (mtasks[0] if mtasks else None)
    region = mr.group(1) if (mr and (not regions or mr.group(1) in regions)) else (mregions[0] if mregions else None)
    mems = [m for m in _MEMS if re.search(rf"\b{m}\b", msg)]
    mm = re.search(r"\((SYSMEM|FBMEM|ZCMEM|SOCKMEM|RDMEM)\b", msg)
    if mm:
        mems = [mm.group(1)] + [x for x in mems if x != mm.group(1)]
    kinds = [k for k in _KINDS if re.search(rf"\b{k}\b", msg)]
    return task, region, mems, kinds


def _interpret_failure(outcome, mapper: str, app):
    """``explain`` sentences, ``guide`` tips, structured suggestions and the failing statement of a failure."""
    status = getattr(outcome, "status", "runtime_error")
    msg = str(getattr(outcome, "message", "") or "")
    line = getattr(outcome, "line", None)
    kind = (getattr(outcome, "error_kind", None) or "").lower()
    task, region, mems, kinds = _outcome_names(outcome, app)
    stmt, stmt_line = statement_at(mapper, line)
    expl: list[str] = []
    tips: list[str] = []
    sugg: list[Suggestion] = []
    if stmt:
        expl.append(f"Failing statement (starts at line {stmt_line}):\n    " + stmt.replace("\n", "\n    "))
    if status == "compile_error":
        if kind == "syntax":
            e = ("the DSL parser rejected this statement: the token the message names cannot appear there, "
                 "so the mapper was not compiled and nothing ran.")
            tip = "rewrite this statement in the syntax the DSL reference gives for it; keep the rest of the mapper."
        elif kind == "undefined_name":
            e = ("a name used in this statement (a function, a machine space or a variable) is not defined "
                 "before it, or is not a task/region of the application.")
            tip = "define the name before this statement, or use a name that exists."
        elif kind == "arg_count":
            e = "a function is called with a different number of arguments than its definition declares."
            tip = ("make the call match the definition; functions named in IndexTaskMap/SingleTaskMap take one "
                   "`Task` argument.")
        else:
            e = f"the mapper does not compile ({kind or 'error'}); everything before this statement compiled."
            tip = "change this statement; keep the rest of the mapper."
        expl.append(f"Explanation: {e}")
        tips.append(tip)
        sugg.append(Suggestion("fix_statement", line=stmt_line or line, text=tip))
    elif kind in ("index_out_of_bounds", "not_a_processor", "dimension", "stride_machine"):
        e = ("the mapping function returned a point outside the machine space it indexes"
             if kind == "index_out_of_bounds" else
             "the mapping function did not return a tuple of integers that indexes a machine space")
        expl.append(f"Explanation: {e}" + (f" (task {task})" if task else "") + "; the task could not be placed.")
        tip = ("keep every coordinate the function returns below the size of the dimension it indexes "
               "(check the space's dimensions after any transformation)")
        tips.append(tip + (f", in the function mapped to {task}." if task else "."))
        sugg.append(Suggestion("remap", task=task, line=stmt_line or line, text=tips[-1]))
    elif kind == "no_variant":
        want = kinds[0] if kinds else "that processor kind"
        expl.append(f"Explanation: task {task or '?'} was placed on {want}, for which it has no implementation "
                    "(variant), so it cannot run there.")
        tips.append(f"place {task or 'the task'} on a processor kind it has a variant for (its Task statement), "
                    "and make any mapping function used for it return a processor of that kind.")
        sugg.append(Suggestion("set_proc", task=task, line=line, text=tips[-1]))
    elif kind == "stride" or "stride" in msg.lower():
        expl.append(f"Explanation: task {task or '?'} calls a library kernel that requires a particular layout "
                    f"(dimension order / field layout) for region {region or '?'}; the layout this mapper gives that "
                    "instance is a different one, so the kernel aborts.")
        tips.append(f"change the Layout constraint that applies to task {task or '?'} and region {region or '?'} "
                    "(the other dimension order, C_order vs F_order); other tasks can keep theirs.")
        sugg.append(Suggestion("set_layout", task=task, region=region, text=tips[-1]))
    elif kind == "oom" or "out of memory" in msg.lower():
        mem = mems[0] if mems else "a memory"
        expl.append(f"Explanation: {mem} ran out of capacity" + (f" while mapping task {task}" if task else "")
                    + ": the instances live there at the same time (tasks mapped ahead of their consumers, inputs "
                      "kept after use, large regions) exceed it.")
        if mem == "FBMEM":
            tips.append("reduce what is resident in the GPU framebuffer at once: limit how many instances of the "
                        "tasks that allocate there are mapped ahead (InstanceLimit), let read-only inputs be "
                        "collected after use (CollectMemory), or place a large region in another memory the GPU "
                        "can reach (zero-copy).")
            if task:
                sugg.append(Suggestion("instance_limit", task=task, value="1", text=tips[-1]))
                sugg.append(Suggestion("collect", task=task, text=tips[-1]))
            if region:
                sugg.append(Suggestion("set_memory", task=task, region=region, value="ZCMEM", text=tips[-1]))
        elif mem == "ZCMEM":
            tips.append("zero-copy memory is small: keep only small shared data there and move the regions the "
                        "message lists back to the framebuffer, or limit run-ahead (InstanceLimit).")
            placed = re.findall(r"(\w+) [\d.]+ GB", msg.split("allocated there", 1)[-1])
            _t, regions, _v = _app_names(app)
            for r in dict.fromkeys([x for x in [region, *placed] if x and (not regions or x in regions)]):
                sugg.append(Suggestion("set_memory", task=task, region=r, value="FBMEM", text=tips[-1]))
            if task:
                sugg.append(Suggestion("instance_limit", task=task, value="1", text=tips[-1]))
        else:
            tips.append("reduce what is live in that memory at once: limit run-ahead (InstanceLimit) or collect "
                        "read-only inputs (CollectMemory).")
            if task:
                sugg.append(Suggestion("instance_limit", task=task, value="1", text=tips[-1]))
                sugg.append(Suggestion("collect", task=task, text=tips[-1]))
    else:
        expl.append(f"Explanation: the run failed ({kind or status})" + (f" in task {task}" if task else "") + ".")
        tips.append("change the statement the message points at, or undo the last change.")
        if task:
            sugg.append(Suggestion("set_proc", task=task, line=line, text=tips[-1]))
    return expl, tips, sugg, stmt


def _interpret_ok(outcome, mapper: str, app, best_time_s: float | None):
    """``explain`` sentences, ``guide`` tips and suggestions for a successful run (its profile only)."""
    t = getattr(outcome, "time_s", None)
    profile = getattr(outcome, "profile", None) or {}
    _tasks, _regions, variants = _app_names(app)
    expl: list[str] = []
    tips: list[str] = []
    sugg: list[Suggestion] = []
    if best_time_s is not None and t is not None:
        if t < best_time_s:
            expl.append(f"New best (previous best {_fmt_t(best_time_s)}, {best_time_s / t:.3f}x faster).")
        else:
            expl.append(f"Not better than the best so far ({_fmt_t(best_time_s)}; this one is "
                        f"{t / best_time_s:.3f}x slower).")
    rp = _run_profile(profile)
    task_time, task_proc, gpu_busy, hr = rp.task_time, rp.task_proc, rp.gpu_busy, rp.heavy_regions
    expl += rp.summary()
    if rp.busy:
        expl.append("Busy fraction: " + ", ".join(f"{k} {100 * float(v):.0f}%" for k, v in rp.busy.items()) + ".")
    if rp.peak:
        expl.append("Peak memory: " + ", ".join(f"{k} {_fmt_bytes(float(v))}" for k, v in list(rp.peak.items())[:4])
                    + ".")
    copy_dominated = rp.copy_dominated(t)
    if copy_dominated and hr:
        r = hr[0]
        expl.append(f"Explanation: data movement dominates this run; region(s) {', '.join(hr)} are copied most.")
        size = float(getattr(app_regions_of(app).get(r), "size_bytes", 0) or 0)
        small = 0 < size <= 1e9
        tips.append(f"keep {r} where the tasks that use it run: place the index launches that read or write it so "
                    "that each point's data stays on one GPU and neighbouring points on one node"
                    + (", or put it in a memory all GPUs of a node can read (it is small)." if small else "."))
        users = [tt.name for tt in _index_gpu_tasks(app) if r in (getattr(tt, "regions", []) or [])]
        sugg.append(Suggestion("remap", task=users[0] if users else None, region=r, text=tips[-1]))
        if small:
            sugg.append(Suggestion("set_memory", region=r, value="ZCMEM", text=tips[-1]))
    if task_proc and gpu_busy is not None and float(gpu_busy) < 0.5:
        cpu_tasks = [k for k, v in task_proc.items() if v != "GPU" and "GPU" in variants.get(k, set())]
        expl.append(f"Explanation: the GPUs are busy only {100 * float(gpu_busy):.0f}% of the run"
                    + (f"; tasks {', '.join(cpu_tasks[:3])} have GPU variants but ran on "
                       f"{task_proc[cpu_tasks[0]]}." if cpu_tasks else
                       ": the index launches use few of the GPUs, or wait on each other or on copies."))
        if cpu_tasks:
            tips.append(f"run {', '.join(cpu_tasks[:3])} on GPUs.")
            sugg.append(Suggestion("set_proc", task=cpu_tasks[0], value="GPU", text=tips[-1]))
        else:
            idx = [tt.name for tt in _index_gpu_tasks(app) if tt.name in task_time]
            slow_idx = max(idx, key=lambda k: float(task_time[k])) if idx else None
            if slow_idx:
                tips.append(f"spread the points of {slow_idx} (and of the launches over the same domain) over more "
                            "of the GPUs and nodes.")
                sugg.append(Suggestion("remap", task=slow_idx, text=tips[-1]))
    if task_time and not sugg:
        slow = max(task_time.items(), key=lambda kv: float(kv[1]))[0]
        lay = _current_layout(mapper, slow, None)
        expl.append(f"Explanation: {slow} takes the largest share of the time.")
        if _is_library(app, slow):
            tips.append(f"{slow} is a library task whose layout is fixed: change where it and the tasks feeding it "
                        "run (their index mapping) or the memory of its operands.")
            sugg.append(Suggestion("remap", task=slow, text=tips[-1]))
        else:
            tips.append(f"try another layout, memory or index mapping for {slow}.")
            sugg.append(Suggestion("set_layout", task=slow, value=("F_order" if lay == "C_order" else "C_order"),
                                   text=tips[-1]))
            sugg.append(Suggestion("remap", task=slow, text=tips[-1]))
    return expl, tips, sugg

def _oracle(outcome, mapper: str, app, best_time_s: float | None) -> Feedback:
    """The ``oracle`` level (ablations only): exact statements to paste, the lower bound, launchers."""
    status = getattr(outcome, "status", "runtime_error")
    msg = str(getattr(outcome, "message", "") or "")
    line = getattr(outcome, "line", None)
    kind = (getattr(outcome, "error_kind", None) or "").lower()
    tasks, regions, variants = _app_names(app)
    mtasks = _names_in(msg, tasks)
    mregions = [r for r in _names_in(msg, regions) if r not in mtasks]
    mmems = [m for m in _MEMS if re.search(rf"\b{m}\b", msg)]
    mkinds = [k for k in _KINDS if re.search(rf"\b{k}\b", msg)]
    # the message's own "task X" / "region Y" beat names merely mentioned later in it
    mt = re.search(r"\btask (\w+)", msg)
    mr = re.search(r"\bregion (\w+)", msg)
    task = mt.group(1) if (mt and (not tasks or mt.group(1) in tasks)) else (mtasks[0] if mtasks else None)
    region = mr.group(1) if (mr and (not regions or mr.group(1) in regions)) else (mregions[0] if mregions else None)
    mm = re.search(r"\((SYSMEM|FBMEM|ZCMEM|SOCKMEM|RDMEM)\b", msg)
    if mm:
        mmems = [mm.group(1)] + [x for x in mmems if x != mm.group(1)]
    stmt, stmt_line = statement_at(mapper, line)
    sugg: list[Suggestion] = []
    parts: list[str] = []

    if status == "ok":
        return _oracle_ok(outcome, mapper, app, best_time_s)

    where = f" (line {line})" if line and not msg.startswith("line ") else ""
    parts.append(f"status: {status}{where}: {msg}")
    if stmt:
        parts.append(f"Failing statement (starts at line {stmt_line}):\n    " + stmt.replace("\n", "\n    "))

    if status == "compile_error":
        if kind == "syntax":
            expl = ("the DSL parser rejected this statement. Statements end with ';', function bodies are "
                    "in braces, and keywords are Task, Region, Layout, InstanceLimit, CollectMemory, "
                    "IndexTaskMap, SingleTaskMap.")
            tip = "rewrite only this statement in valid DSL syntax (compare with the reference); keep the rest."
        elif kind == "undefined_name":
            expl = "a name used here is not defined at this point (a function, a machine space or a variable)."
            tip = ("define it before use (e.g. `m = Machine(GPU);` or a `def f(Task task) {...}`), "
                   "or refer to a name that exists; task and region names must match the application's.")
        elif kind == "arg_count":
            expl = "a function is called with the wrong number of arguments."
            tip = ("mapping functions named in IndexTaskMap/SingleTaskMap take exactly one argument "
                   "`(Task task)`; helper calls must pass as many arguments as the def declares.")
        else:
            expl = f"the mapper does not compile ({kind or 'error'})."
            tip = "fix the statement quoted above; the rest of the mapper compiled."
        parts += [f"Explanation: {expl}", f"Suggestion: {tip}"]
        sugg.append(Suggestion("fix_statement", line=stmt_line or line, text=tip))
    elif kind in ("index_out_of_bounds", "not_a_processor", "dimension", "stride_machine"):
        expl = ("the index-launch mapping function returned a point outside the machine space"
                if kind == "index_out_of_bounds" else
                "a mapping function must return a tuple of integers that indexes a machine space")
        tip = ("bound each coordinate: block = `ip[i] * m.size[d] / task.ispace[i]`, cyclic = "
               "`ip[i] % m.size[d]`; a merged space `m.merge(0, 1)` has one coordinate of size nodes*gpus.")
        parts += [f"Explanation: {expl}" + (f" (task {task})" if task else "") + ".", f"Suggestion: {tip}"]
        sugg.append(Suggestion("remap", task=task, line=stmt_line or line, text=tip))
    elif kind == "no_variant":
        have = sorted(variants.get(task, set())) if task else []
        want = mkinds[0] if mkinds else None
        alt = [k for k in _KINDS if k in have and k != want]
        expl = (f"task {task or '?'} was forced onto {want or 'a processor kind'} but has no variant for it"
                + (f"; it has variants for {', '.join(have)}" if have else ""))
        tip = (f"list a kind it supports first, e.g. `Task {task} {','.join(alt) or 'CPU'};`, "
               f"and make its IndexTaskMap/SingleTaskMap return a processor of that kind.") if task else \
            "give the task a processor kind it has a variant for."
        parts += [f"Explanation: {expl}.", f"Suggestion: {tip}"]
        sugg.append(Suggestion("set_proc", task=task, value=(alt[0] if alt else None), line=line, text=tip))
    elif kind == "stride" or "stride" in msg.lower():
        cur = _current_layout(mapper, task, region)
        m = re.search(r"(?:expect\w*|requires?|needs?)\D{0,20}(C_order|F_order|SOA|AOS)", msg)
        want = m.group(1) if m else ("C_order" if cur == "F_order" else "F_order")
        expl = (f"task {task or '?'} calls a library kernel (cuBLAS-style GEMM) that requires a specific "
                f"stride for region {region or '?'}; the instance's layout ({cur or 'default'}) does not match.")
        tip = (f"add a layout for exactly that task and region: `Layout {task or '*'} {region or '*'} * SOA {want};` "
               f"(or change the general Layout rule to {want}).")
        parts += [f"Explanation: {expl}", f"Suggestion: {tip}"]
        sugg.append(Suggestion("set_layout", task=task, region=region, value=want, text=tip))
    elif kind == "oom" or "out of memory" in msg.lower():
        mem = mmems[0] if mmems else "FBMEM"
        tips = []
        if mem == "FBMEM":
            big = region or _largest_region_of(app, task)
            expl = ("a GPU framebuffer (FBMEM) ran out of capacity" + (f" while mapping task {task}" if task else "")
                    + ": too many or too large instances are live at once (tasks run ahead of their consumers, "
                      "or big inputs stay resident).")
            if task:
                lim = launcher_of(app, task) or task
                why = f" ({task} is launched by {lim})" if lim != task else ""
                tips.append(f"cap run-ahead with `InstanceLimit {lim} 1;`{why}")
                sugg.append(Suggestion("instance_limit", task=lim, value="1", text=tips[-1]))
            if big:
                tips.append(f"put the large region {big} in zero-copy memory: `Region * {big} GPU ZCMEM;` "
                            "(slower access, no framebuffer space)")
                sugg.append(Suggestion("set_memory", task=task, region=big, value="ZCMEM", text=tips[-1]))
            if task:
                tips.append(f"let read-only inputs be collected after use: `CollectMemory {task} *;`")
                sugg.append(Suggestion("collect", task=task, text=tips[-1]))
        elif mem == "ZCMEM":
            expl = ("zero-copy memory (ZCMEM, pinned host memory of limited size) ran out"
                    + (f" while mapping task {task}" if task else "") + "; only small shared data fits there.")
            placed = re.findall(r"(\w+) [\d.]+ GB", msg.split("allocated there", 1)[-1])
            regs = [r for r in [region, *placed] if r and (not regions or r in regions)]
            for r in dict.fromkeys(regs):
                tips.append(f"move {r} back to the framebuffer: `Region * {r} GPU FBMEM;`")
                sugg.append(Suggestion("set_memory", task=task, region=r, value="FBMEM", text=tips[-1]))
            if task:
                lim = launcher_of(app, task) or task
                tips.append(f"cap run-ahead: `InstanceLimit {lim} 1;`")
                sugg.append(Suggestion("instance_limit", task=lim, value="1", text=tips[-1]))
        else:
            expl = f"{mem} ran out of capacity" + (f" while mapping task {task}" if task else "") + "."
            if task:
                tips.append(f"cap run-ahead with `InstanceLimit {task} 1;` or collect inputs: `CollectMemory {task} *;`")
                sugg.append(Suggestion("instance_limit", task=task, value="1", text=tips[-1]))
                sugg.append(Suggestion("collect", task=task, text=tips[-1]))
        parts += [f"Explanation: {expl}", "Suggestion: " + "; or ".join(tips or ["use a larger memory"]) + "."]
    else:
        expl = f"the run failed ({kind or status})."
        parts += [f"Explanation: {expl}", "Suggestion: revert the last change or change the statement named in the message."]
        if task:
            sugg.append(Suggestion("set_proc", task=task, line=line, text="change the failing task's placement"))
    return Feedback("oracle", status, None, "\n".join(parts), line=line, statement=stmt,
                    suggestions=sugg, error_kind=kind or None)


def _largest_region_of(app, task: str | None, exclude=()) -> str | None:
    from systems.mapper.agent.space import app_regions, app_tasks, task_region_names

    if app is None:
        return None
    regs = app_regions(app)
    sizes = {n: float(getattr(r, "size_bytes", 0) or 0) for n, r in regs.items()}
    names = list(sizes)
    if task:
        for t in app_tasks(app):
            if t.name == task:
                names = task_region_names(t)
    names = [n for n in names if n not in exclude]
    return max(names, key=lambda n: sizes.get(n, 0.0)) if names else None


def app_regions_of(app) -> dict:
    from systems.mapper.agent.space import app_regions

    return app_regions(app) if app is not None else {}


def _is_library(app, task: str) -> bool:
    from systems.mapper.agent.space import app_tasks

    return any(t.name == task and getattr(t, "library", False) for t in app_tasks(app))


def launcher_of(app, task: str | None) -> str | None:
    """The index task whose points launch ``task`` (a single task), if any: where run-ahead is capped."""
    if app is None or not task:
        return None
    insts = getattr(app, "instances", None) or []
    for inst in insts:
        if inst.tdef.name == task and getattr(inst, "parent", -1) >= 0:
            par = insts[inst.parent].tdef
            return par.name if getattr(par, "index_launch", False) else None
    return None


def _index_gpu_tasks(app) -> list:
    from systems.mapper.agent.space import app_tasks

    return [t for t in app_tasks(app) if getattr(t, "index_launch", False) and "GPU" in (getattr(t, "variants", ()) or ())]


def _pget(profile: dict, *keys, default=None):
    for k in keys:
        if isinstance(profile, dict) and k in profile and profile[k] is not None:
            return profile[k]
    return default


@dataclass
class _RunProfile:
    """What the feedback reads from a successful run's profile (the simulator's keys, with fallbacks)."""

    task_time: dict
    copy_bytes: dict
    copy_time: float | None
    busy: dict
    task_proc: dict
    peak: dict
    heavy_regions: list

    @property
    def total_copy(self) -> float:
        return sum(float(v) for v in self.copy_bytes.values()) if isinstance(self.copy_bytes, dict) else 0.0

    @property
    def gpu_busy(self):
        return self.busy.get("GPU") if isinstance(self.busy, dict) else None

    def summary(self) -> list[str]:
        """``Time by task`` and ``Copies by channel`` sentences (top three of each)."""
        out = []
        if self.task_time:
            total = sum(float(v) for v in self.task_time.values()) or 1.0
            top = sorted(self.task_time.items(), key=lambda kv: -float(kv[1]))[:3]
            out.append("Time by task: " + ", ".join(f"{k} {100 * float(v) / total:.0f}%" for k, v in top) + ".")
        if self.total_copy > 0:
            top = sorted(self.copy_bytes.items(), key=lambda kv: -float(kv[1]))[:3]
            out.append("Copies by channel: " + ", ".join(f"{k} {_fmt_bytes(float(v))}" for k, v in top) + ".")
        return out

    def copy_dominated(self, t: float | None) -> bool:
        """Copies take > 30% of the run, or (no copy time reported) large copies happen while the GPUs idle."""
        gpu_busy = self.gpu_busy
        return bool(self.copy_time and t and float(self.copy_time) > 0.3 * t) or (
            not self.copy_time and self.total_copy > 0 and bool(self.heavy_regions)
            and (gpu_busy is None or float(gpu_busy) < 0.6))


def _run_profile(profile: dict) -> _RunProfile:
    heavy = _pget(profile, "top_copy_regions", "copy_heavy_regions", default=[]) or []
    regions = [h if isinstance(h, str) else (h.get("region") if isinstance(h, dict) else str(h[0])) for h in heavy][:3]
    busy = _pget(profile, "busy_fraction", "busy", "proc_busy_fraction", default={}) or {}
    return _RunProfile(
        task_time=_pget(profile, "task_time_s", "per_task_time_s", "task_time", default={}) or {},
        copy_bytes=_pget(profile, "copy_bytes", "copy_bytes_per_channel", "channel_bytes", default={}) or {},
        copy_time=_pget(profile, "copy_time_s", "total_copy_time_s", default=None),
        busy=busy if isinstance(busy, dict) else {},
        task_proc=_pget(profile, "processor_kind_of_task", "task_proc_kind", default={}) or {},
        peak=_pget(profile, "peak_bytes", "peak_bytes_per_memory", default={}) or {},
        heavy_regions=[r for r in regions if r])


def _oracle_ok(outcome, mapper: str, app, best_time_s: float | None) -> Feedback:
    t = getattr(outcome, "time_s", None)
    lb = getattr(outcome, "lower_bound_s", None)
    profile = getattr(outcome, "profile", None) or {}
    tasks, regions, variants = _app_names(app)
    parts = [f"status: ok; simulated time {_fmt_t(t)}"]
    if best_time_s is not None and t is not None:
        if t < best_time_s:
            parts.append(f"New best (previous best {_fmt_t(best_time_s)}, {best_time_s / t:.3f}x faster).")
        else:
            parts.append(f"Not better than the best so far ({_fmt_t(best_time_s)}; this one is "
                         f"{t / best_time_s:.3f}x slower).")
    if lb and t:
        parts.append(f"Lower bound under the model: {_fmt_t(lb)} (this mapper is {t / lb:.2f}x above it).")
    sugg: list[Suggestion] = []

    rp = _run_profile(profile)
    task_time, task_proc, gpu_busy, hr = rp.task_time, rp.task_proc, rp.gpu_busy, rp.heavy_regions
    parts += rp.summary()
    copy_dominated = rp.copy_dominated(t)
    if copy_dominated and hr:
        r = hr[0]
        size = float(getattr(app_regions_of(app).get(r), "size_bytes", 0) or 0)
        small = 0 < size <= 1e9
        parts.append(f"Explanation: data movement dominates; region(s) {', '.join(hr)} are copied most.")
        tip = (f"keep {r} where its users run: place the index launches that read or write it with a mapping "
               f"that keeps each point's data on one GPU and neighbours on one node (try block vs cyclic, "
               f"node-major vs GPU-major, or an auto_split decomposition)"
               + (f", or place it in ZCMEM (`Region * {r} GPU ZCMEM;`): it is small ({_fmt_bytes(size)}) and "
                  f"shared across GPUs." if small else
                  f"; it is too large ({_fmt_bytes(size)}) for zero-copy memory."))
        parts.append("Suggestion: " + tip)
        users = [t.name for t in _index_gpu_tasks(app) if r in (getattr(t, "regions", []) or [])]
        sugg.append(Suggestion("remap", task=users[0] if users else None, region=r, text=tip))
        if small:
            sugg.append(Suggestion("set_memory", region=r, value="ZCMEM", text=tip))
    # idle accelerators while tasks run on CPUs
    if task_proc and gpu_busy is not None and float(gpu_busy) < 0.5:
        cpu_tasks = [k for k, v in task_proc.items() if v != "GPU" and "GPU" in variants.get(k, set())]
        if cpu_tasks:
            tip = f"tasks {', '.join(cpu_tasks[:3])} have GPU variants but run on {task_proc[cpu_tasks[0]]}: try `Task {cpu_tasks[0]} GPU,CPU;`."
            parts.append(f"Explanation: GPUs are busy only {100 * float(gpu_busy):.0f}% of the time.")
            parts.append("Suggestion: " + tip)
            sugg.append(Suggestion("set_proc", task=cpu_tasks[0], value="GPU", text=tip))
        else:
            idx = [t.name for t in _index_gpu_tasks(app) if t.name in task_time]
            slow_idx = max(idx, key=lambda k: float(task_time[k])) if idx else None
            if slow_idx:
                tip = (f"GPUs are busy only {100 * float(gpu_busy):.0f}% of the time although every task runs on a GPU: "
                       f"the index launches use few GPUs or wait on each other. Distribute {slow_idx} (and the tasks "
                       f"launched over the same domain) blockwise over all GPUs of all nodes, e.g. "
                       f"`m1 = Machine(GPU).merge(0, 1);` and `return m1[linear_point * m1.size[0] / volume];`.")
                parts.append("Suggestion: " + tip)
                sugg.append(Suggestion("remap", task=slow_idx, value="block_lin", text=tip))
    if task_time and not sugg:
        slow = max(task_time.items(), key=lambda kv: float(kv[1]))[0]
        lay = _current_layout(mapper, slow, None)
        if _is_library(app, slow):  # its layout is fixed by the library: only placement can help
            tip = (f"the slowest task is {slow}, a library (cuBLAS) task whose operands must stay C_order: "
                   f"change where it runs instead: the index mapping of the tasks that launch or feed it "
                   f"(block vs cyclic, spread over all GPUs of all nodes) or the memory of its operands.")
            parts.append("Suggestion: " + tip)
            lim = launcher_of(app, slow)
            sugg.append(Suggestion("remap", task=lim or slow, text=tip))
            return Feedback("oracle", "ok", t, "\n".join(parts), suggestions=sugg)
        tip = (f"the slowest task is {slow}: try another layout for its regions (SOA/AOS, "
               f"{'F_order' if lay == 'C_order' else 'C_order'}), another memory (FBMEM vs ZCMEM), or a "
               f"different index mapping (block vs cyclic; spread over all GPUs of all nodes).")
        parts.append("Suggestion: " + tip)
        sugg.append(Suggestion("set_layout", task=slow, value=("F_order" if lay == "C_order" else "C_order"), text=tip))
        sugg.append(Suggestion("remap", task=slow, text=tip))
    if rp.peak:
        tight = [f"{k} {_fmt_bytes(float(v))}" for k, v in list(rp.peak.items())[:4]]
        parts.append("Peak memory: " + ", ".join(tight) + ".")
    return Feedback("oracle", "ok", t, "\n".join(parts), suggestions=sugg)
