"""AutoGuide levels on synthetic outcomes (duck-typed like evaluate_mapper's Outcome)."""

from types import SimpleNamespace as NS

import pytest

from systems.mapper.agent.feedback import LEVELS, autoguide, malformed_feedback, statement_at

APP = NS(name="toy", tasks=[NS(name="task_1", variants={"GPU", "CPU"}, regions=["A", "B"]),
                            NS(name="task_10", variants={"CPU"}, regions=["C"])],
         regions=[NS(name="A", size_bytes=10e9), NS(name="B", size_bytes=1e6), NS(name="C", size_bytes=5e6)])

MAPPER = """Task * GPU,CPU;
Region * * GPU FBMEM;
Layout * * * SOA C_order;
m = Machine(GPU);
def f(Task task) {
  return m[task.ipoint[0] % m.size[0],
           0];
}
IndexTaskMap task_1 f;
"""


def out(status, message="", line=None, kind=None, time_s=None, profile=None):
    return NS(status=status, message=message, line=line, column=3 if line else None, error_kind=kind,
              time_s=time_s, lower_bound_s=0.5, profile=profile or {})


def test_levels_are_nested_in_information():
    o = out("runtime_error", "stride does not match for region A of task_1 (expects F_order)", line=9, kind="stride")
    s, r, e, g, o_ = (autoguide(o, MAPPER, lvl, app=APP) for lvl in LEVELS)
    assert s.text == "score: failed (no time)" and not s.suggestions and s.line is None
    assert "stride does not match" in r.text and "line 9: IndexTaskMap task_1 f;" in r.text and not r.suggestions
    assert e.text.startswith(r.text) and "Explanation:" in e.text and "Suggestion" not in e.text and not e.suggestions
    assert g.text.startswith(e.text) and "Suggestion:" in g.text and g.suggestions
    assert o_.level == "oracle" and o_.suggestions


@pytest.mark.parametrize("o", [
    out("runtime_error", "stride does not match for region A of task_1 (expects F_order)", kind="stride"),
    out("runtime_error", "Out of memory: failed to allocate an instance of region A for task task_1 in node0.fb1 "
        "(FBMEM, capacity 2.15 GB): peak demand 3.00 GB (instances allocated there: A 2.00 GB)", kind="oom"),
    out("ok", time_s=1.0, profile={"task_time_s": {"task_1": 0.8}, "busy_fraction": {"GPU": 0.3},
                                   "processor_kind_of_task": {"task_1": "GPU"}}),
])
def test_paper_levels_hold_no_lower_bound_and_no_ready_made_statement(o):
    """explain/guide come from the outcome: no lower bound, no DSL statement to paste (that is `oracle`)."""
    for lvl in ("raw", "explain", "guide"):
        t = autoguide(o, MAPPER, lvl, app=APP).text
        assert "lower bound" not in t.lower() and "above it" not in t
        assert "`Layout" not in t and "`Region" not in t and "`InstanceLimit" not in t and "merge(0, 1)" not in t
    if o.status == "ok":
        assert "Lower bound" in autoguide(o, MAPPER, "oracle", app=APP).text


def test_stride_suggests_the_layout_for_that_task_and_region():
    o = out("runtime_error", "stride does not match for region A of task_1 (expects F_order)", kind="stride")
    g = autoguide(o, MAPPER, "guide", app=APP)
    s = g.suggestions[0]
    assert (s.action, s.task, s.region, s.value) == ("set_layout", "task_1", "A", None)  # evolve flips the order
    assert "task task_1" in g.text and "region A" in g.text and "C_order vs F_order" in g.text
    o_ = autoguide(o, MAPPER, "oracle", app=APP)  # the oracle hands over the exact statement
    assert (o_.suggestions[0].value, "Layout task_1 A * SOA F_order;" in o_.text) == ("F_order", True)


def test_oracle_stride_without_hint_flips_the_current_order():
    o = out("runtime_error", "cuBLAS: stride mismatch on region B in task_1", kind="stride")
    g = autoguide(o, MAPPER, "oracle", app=APP)
    assert g.suggestions[0].value == "F_order"  # current is C_order


def test_oom_in_fbmem_suggests_less_residency_for_the_named_task_and_region():
    o = out("runtime_error", "Out of memory: failed to allocate an instance of region A for task task_1 in node0.fb1 "
            "(FBMEM, capacity 2.15 GB): peak demand 3.00 GB (instances allocated there: A 2.00 GB, B 0.50 GB)", kind="oom")
    g = autoguide(o, MAPPER, "guide", app=APP)
    acts = {(s.action, s.task, s.region, s.value) for s in g.suggestions}
    assert {("instance_limit", "task_1", None, "1"), ("collect", "task_1", None, None),
            ("set_memory", "task_1", "A", "ZCMEM")} == acts
    assert "InstanceLimit" in g.text and "CollectMemory" in g.text and "FBMEM ran out" in g.text
    o_ = autoguide(o, MAPPER, "oracle", app=APP)
    assert "InstanceLimit task_1 1;" in o_.text and "Region * A GPU ZCMEM;" in o_.text


def test_oom_in_zcmem_moves_regions_back_to_fbmem():
    o = out("runtime_error", "Out of memory: failed to allocate an instance of region B for task task_1 in node0.zcmem "
            "(ZCMEM, capacity 2.15 GB): peak demand 3.22 GB (instances allocated there: B 2.15 GB, A 1.07 GB)", kind="oom")
    for lvl in ("guide", "oracle"):
        g = autoguide(o, MAPPER, lvl, app=APP)
        mems = [(s.region, s.value) for s in g.suggestions if s.action == "set_memory"]
        assert mems == [("B", "FBMEM"), ("A", "FBMEM")] and "SYSMEM" not in g.text


def test_longest_task_name_wins():
    o = out("mapping_error", "task task_10 has no variant for GPU", kind="no_variant")
    g = autoguide(o, MAPPER, "guide", app=APP)
    assert g.suggestions[0].task == "task_10" and g.suggestions[0].action == "set_proc"
    assert autoguide(o, MAPPER, "oracle", app=APP).suggestions[0].value == "CPU"


def test_compile_error_is_localised_to_the_whole_statement():
    o = out("compile_error", "Error at line 7: syntax error, unexpected ']'", line=7, kind="syntax")
    g = autoguide(o, MAPPER, "guide", app=APP)
    assert g.statement.startswith("def f(Task task)") and g.statement.endswith("}")
    assert g.suggestions[0].action == "fix_statement" and g.suggestions[0].line == 5
    assert "line 7" in autoguide(o, MAPPER, "raw").text


def test_statement_at_plain_and_multiline():
    assert statement_at(MAPPER, 2) == ("Region * * GPU FBMEM;", 2)
    assert statement_at(MAPPER, 9) == ("IndexTaskMap task_1 f;", 9)
    assert statement_at(MAPPER, None) == (None, None)
    assert statement_at(MAPPER, 99) == (None, None)


def test_ok_profile_copy_dominated_suggests_placement():
    prof = {"task_time_s": {"task_1": 0.8, "task_10": 0.2}, "copy_bytes": {"inter-node": 4e9},
            "copy_time_s": 0.6, "copy_heavy_regions": ["B"]}
    g = autoguide(out("ok", time_s=1.0, profile=prof), MAPPER, "guide", app=APP, best_time_s=0.9)
    assert "data movement dominates" in g.text and "Not better" in g.text and "above it" not in g.text
    assert any(s.action == "set_memory" and s.region == "B" and s.value == "ZCMEM" for s in g.suggestions)
    assert "2.00x above" in autoguide(out("ok", time_s=1.0, profile=prof), MAPPER, "oracle", app=APP).text
    assert autoguide(out("ok", time_s=1.0), MAPPER, "score").text.startswith("score: time")


def test_malformed_and_bad_level():
    assert malformed_feedback("score", "x").text == "score: failed (no time)"
    assert "```mapper" in malformed_feedback("guide", "no mapper").text
    assert "```mapper" not in malformed_feedback("explain", "no mapper").text
    with pytest.raises(ValueError, match="score, raw, explain, guide, oracle"):
        autoguide(out("ok", time_s=1.0), MAPPER, "verbose")
