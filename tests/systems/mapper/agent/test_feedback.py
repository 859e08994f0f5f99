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
    o = out("runtime_error", "stride does not match for region A of task_1 (expects F_order)", kind="stride")
    s, r, g = (autoguide(o, MAPPER, lvl, app=APP) for lvl in LEVELS)
    assert s.text == "score: failed (no time)" and not s.suggestions and s.line is None
    assert "stride does not match" in r.text and not r.suggestions
    assert "Suggestion" in g.text and g.suggestions


def test_stride_suggests_the_layout_for_that_task_and_region():
    o = out("runtime_error", "stride does not match for region A of task_1 (expects F_order)", kind="stride")
    g = autoguide(o, MAPPER, "guide", app=APP)
    s = g.suggestions[0]
    assert (s.action, s.task, s.region, s.value) == ("set_layout", "task_1", "A", "F_order")
    assert "Layout task_1 A * SOA F_order;" in g.text


def test_stride_without_hint_flips_the_current_order():
    o = out("runtime_error", "cuBLAS: stride mismatch on region B in task_1", kind="stride")
    g = autoguide(o, MAPPER, "guide", app=APP)
    assert g.suggestions[0].value == "F_order"  # current is C_order


def test_oom_in_fbmem_suggests_zcmem_and_instance_limit():
    o = out("runtime_error", "Out of memory: failed to allocate an instance of region A for task task_1 in node0.fb1 "
            "(FBMEM, capacity 2.15 GB): peak demand 3.00 GB (instances allocated there: A 2.00 GB, B 0.50 GB)", kind="oom")
    g = autoguide(o, MAPPER, "guide", app=APP)
    acts = {(s.action, s.value) for s in g.suggestions}
    assert ("instance_limit", "1") in acts and ("set_memory", "ZCMEM") in acts
    mem = next(s for s in g.suggestions if s.action == "set_memory")
    assert mem.region == "A"
    assert "InstanceLimit task_1 1;" in g.text and "Region * A GPU ZCMEM;" in g.text


def test_oom_in_zcmem_moves_regions_back_to_fbmem():
    o = out("runtime_error", "Out of memory: failed to allocate an instance of region B for task task_1 in node0.zcmem "
            "(ZCMEM, capacity 2.15 GB): peak demand 3.22 GB (instances allocated there: B 2.15 GB, A 1.07 GB)", kind="oom")
    g = autoguide(o, MAPPER, "guide", app=APP)
    mems = [(s.region, s.value) for s in g.suggestions if s.action == "set_memory"]
    assert mems == [("B", "FBMEM"), ("A", "FBMEM")] and "SYSMEM" not in g.text


def test_longest_task_name_wins():
    o = out("mapping_error", "task task_10 has no variant for GPU", kind="no_variant")
    g = autoguide(o, MAPPER, "guide", app=APP)
    assert g.suggestions[0].task == "task_10" and g.suggestions[0].value == "CPU"


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
    assert "data movement dominates" in g.text and "Not better" in g.text and "2.00x above" in g.text
    assert any(s.action == "set_memory" and s.region == "B" and s.value == "ZCMEM" for s in g.suggestions)
    assert autoguide(out("ok", time_s=1.0), MAPPER, "score").text.startswith("score: time")


def test_malformed_and_bad_level():
    assert malformed_feedback("score", "x").text == "score: failed (no time)"
    assert "```mapper" in malformed_feedback("guide", "no mapper").text
    with pytest.raises(ValueError, match="score, raw, guide"):
        autoguide(out("ok", time_s=1.0), MAPPER, "verbose")
