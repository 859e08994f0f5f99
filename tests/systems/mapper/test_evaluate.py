"""evaluate_mapper's Outcome contract and run(job)."""

from __future__ import annotations

import json

from systems.core import Job, get_system
from systems.core.execute import execute
from systems.mapper.evaluate import STATUSES, Outcome, evaluate_mapper
from systems.mapper.runner import run
from systems.mapper.experts import expert_mapper


def test_outcome_ok_fields():
    o = evaluate_mapper(expert_mapper("stencil"), "stencil", tsteps=2)
    assert isinstance(o, Outcome) and o.status == "ok" and o.line is None and o.error_kind is None
    d = o.to_dict()
    json.dumps(d)
    for k in ("status", "message", "line", "column", "error_kind", "time_s", "lower_bound_s", "profile", "bound_ratio"):
        assert k in d
    assert d["bound_ratio"] >= 1.0
    prof = o.profile
    assert prof["busy_fraction"]["GPU"] > 0
    assert all("->" in k for k in prof["copy_bytes"])


def test_outcome_failure_fields():
    o = evaluate_mapper("Task * GPU\n", "stencil")
    assert o.status == "compile_error" and o.time_s is None and o.line == 2 and o.lower_bound_s > 0
    assert o.message.startswith("Error at line 2: syntax error, unexpected $end")
    assert o.status in STATUSES


def test_run_expert_job():
    job = Job(system="mapper", workload="circuit", method="expert", suite="smoke", config="debug_cpu")
    r = run(job, get_system("mapper").resolve(job))
    assert r.ok and r.metrics["time_s"] > 0 and r.metrics["bound_ratio"] >= 1.0
    assert r.artifacts["mapper.dsl"] == expert_mapper("circuit") and r.simulated


def test_execute_expert_job_through_the_registry():
    spec = get_system("mapper")
    assert spec.primary_metric == "time_s" and spec.direction == "min" and spec.simulated
    job = [j for j in spec.jobs("smoke", methods=["expert"]) if j.workload == "cannon"][0]
    r = execute(job)
    assert r.ok, r.error
    assert r.is_baseline and r.metrics["time_s"] > 0


def test_expert_time_reproduces_exactly():
    job = Job(system="mapper", workload="stencil", method="expert", suite="smoke", config="debug_cpu")
    a = run(job, get_system("mapper").resolve(job))
    o = evaluate_mapper(a.artifacts["mapper.dsl"], "stencil", **a.params["sizes"])
    assert o.time_s == a.metrics["time_s"]


from hypothesis import given, settings, strategies as st  # noqa: E402

_APPS_SMALL = {"circuit": {"loops": 1}, "stencil": {"tsteps": 1}, "cannon": {"n": 4096}, "johnson": {"n": 4096}}
_WORDS = ["Task", "Region", "*", "GPU", "CPU", "OMP", "FBMEM", "ZCMEM", ";", ",", "(", ")", "[", "]", "0", "1", "-1",
          "m", "task", "ipoint", ".", "size", "merge", "split", "auto_split", "IndexTaskMap", "Layout", "AOS",
          "F_order", "InstanceLimit", "def", "return", "{", "}", "?", ":", "/", "%", "tuple", "VIRTUAL", "3"]


@settings(max_examples=30, derandomize=True, deadline=None)
@given(st.sampled_from(sorted(_APPS_SMALL)), st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10_000),
                                                                  st.sampled_from(_WORDS)), min_size=1, max_size=4))
def test_evaluate_never_raises_on_mutated_mappers(app, edits):
    toks = expert_mapper(app).replace("(", " ( ").replace(")", " ) ").replace(";", " ; ").split(" ")
    for op, pos, word in edits:
        i = pos % len(toks)
        if op == 0:
            del toks[i]
        elif op == 1:
            toks.insert(i, word)
        else:
            toks[i] = word
    o = evaluate_mapper(" ".join(toks), app, **_APPS_SMALL[app])
    assert o.status in STATUSES
    if o.status in ("compile_error", "mapping_error"):
        assert o.line is not None and o.error_kind
    if o.status == "ok":
        assert o.time_s > 0
