"""The mapping DSL's semantics, as DSLMapper's tree.cpp / MSpace.cpp / dsl_mapper.cc define them (c13b92e).

Hand-computed cases; optional comparison of the factorisations with a table produced by the real C++
(``SYSLAB_MSPACE_REFERENCE``: lines ``A n l0 l1 : o0 o1 : g0 g1``, ``B ...`` for 3-D launches, ``C n k : f...``).
"""

from __future__ import annotations

import itertools
import os

import pytest

from systems.mapper.dsl import MapperCompileError, MappingError, compile_mapper
from systems.mapper.dsl.compiler import Point, ProcSet, TaskView
from systems.mapper.dsl.format import format_mapper
from systems.mapper.dsl.mspace import DSLRuntimeError, MSpace, auto_factors, balanced_factors, greedy_factors
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper
from systems.mapper.machine import Machine, MachineLayout, get_machine
from systems.mapper.workloads import ALL_APPS


def _prog(text: str, machine: str | Machine = "2n4g"):
    m = machine if isinstance(machine, Machine) else get_machine(machine)
    return compile_mapper(text).bind(MachineLayout(m))


def _call(prog, fname, *args):
    from systems.mapper.dsl.compiler import _invoke

    fn = prog.globals[fname]
    return _invoke(fn, {p: a for (_, p), a in zip(fn.params, args)}, prog)


def _roots(space: MSpace) -> dict:
    return {idx: space.root_point(idx) for idx in itertools.product(*[range(s) for s in space.shape])}


# -- experts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("app", ALL_APPS)
def test_expert_round_trip(app):
    text = expert_mapper(app)
    m = compile_mapper(text)
    assert m.functions and not m.warnings
    canon = format_mapper(text)
    assert format_mapper(canon) == canon
    assert [(s.kind, s.line > 0) for s in compile_mapper(canon).stmts] == [(s.kind, True) for s in m.stmts]


@pytest.mark.parametrize("app", ["circuit", "cannon", "solomonik"])
def test_formatted_expert_scores_identically(app):
    size = {"loops": 1} if app == "circuit" else {"n": 4096}
    a = evaluate_mapper(expert_mapper(app), app, **size)
    b = evaluate_mapper(format_mapper(expert_mapper(app)), app, **size)
    assert a.ok and b.ok and a.time_s == b.time_s


# -- policy tables: the first statement for a key wins (unordered_map::insert) ---------------------
def test_first_statement_wins_and_lookup_order():
    p = _prog("""
Task * GPU,CPU;
Task * CPU;
Task foo OMP,CPU;
Region * * GPU FBMEM;
Region * * GPU ZCMEM;
Region * * * SYSMEM;
Region foo r GPU ZCMEM;
Region * r GPU SOCKMEM;
Layout * * * SOA C_order;
Layout foo * FBMEM AOS;
InstanceLimit foo 2;
InstanceLimit foo 5;
""")
    assert p.kind_list("bar") == ("GPU", "CPU") and p.kind_list("foo") == ("OMP", "CPU")
    # exact (task, region), (task, *), (*, region), (*, *): lists concatenated in that order
    assert p.memory_list("foo", ["r"], "GPU") == ["ZCMEM", "SOCKMEM", "FBMEM"]
    assert p.memory_list("bar", ["q"], "GPU") == ["FBMEM"]
    assert p.memory_list("bar", ["q"], "CPU") == ["SYSMEM"]      # the any-processor rule
    assert p.constraint("foo", ["q"], "FBMEM").aos and not p.constraint("foo", ["q"], "FBMEM").reverse
    assert p.constraint("foo", ["q"], "SYSMEM").reverse             # falls through to * * *
    assert p.max_instance("foo") == 2 and p.max_instance("bar") == 0


def test_index_task_map_by_name_then_kind_and_star_never_matches():
    p = _prog("m = Machine(GPU);\ndef f(Task t) { return m[0, 0]; }\ndef g(Task t) { return m[0, 1]; }\n"
              "IndexTaskMap * f;\nIndexTaskMap GPU g;\nIndexTaskMap foo f;\n")
    assert p.mapping_function("foo", True, "GPU").name == "f"
    assert p.mapping_function("bar", True, "GPU").name == "g"
    assert p.mapping_function("bar", True, "CPU") is None   # "*" is stored but no query looks it up
    assert p.mapping_function("bar", False, "GPU") is None  # SingleTaskMap is a separate table


def test_collect_memory_lookup():
    p = _prog("CollectMemory task_4 *;\nCollectMemory * r;\n")
    assert p.should_collect("task_4", ["0"]) and p.should_collect("x", ["r"]) and not p.should_collect("x", ["q"])


# -- expressions -----------------------------------------------------------------------------------
def test_expressions_follow_the_cpp_node_types():
    p = _prog("""
def f(int a, int b) { return (a / b, a % b, (0 - a) / b, (0 - a) % b, a > b ? 1 : 2); }
def lit() { return (-7 / 2, -(1, 2)); }
def g(IPoint p) { return tuple(p[i] * 2 for i in (0, 1)); }
def h(IPoint p) { return p / (2, 3) + (1, 1); }
def first(int a) { x = a; x = 99; return x; }
def sl(IPoint p) { return (p[0:0], p[1:], p[:-1], p.len, p.volume, p.size); }
def mix(IPoint p) { return p + 1; }
def neg(int a) { return -a; }
""")
    assert _call(p, "f", 7, 2) == (3, 1, -3, -1, 1)
    assert _call(p, "lit") == (-3, (-1, -2))
    assert _call(p, "g", (3, 4)) == (6, 8)
    assert _call(p, "h", (4, 9)) == (3, 4)
    assert _call(p, "first", 5) == 5          # a local keeps its first value (insert, not assign)
    assert _call(p, "sl", (2, 3, 4)) == ((2, 3, 4), (3, 4), (2, 3), 3, 24, (2, 3, 4))  # [0:0] is the whole tuple
    with pytest.raises(MappingError, match="type mismatch"):
        _call(p, "mix", (1, 2))               # no scalar broadcast
    with pytest.raises(MappingError, match="Negating node"):
        _call(p, "neg", 3)                    # unary minus works on literals only


def test_runtime_tuples_are_not_ipoints():
    p = _prog("def takes(IPoint p) { return p; }\ndef f(int a) { return takes((a, a)); }\n"
              "def g(int a) { return takes((1, 2)); }\n")
    assert _call(p, "g", 0) == (1, 2)         # a literal tuple is a TupleIntNode at parse time
    with pytest.raises(MappingError, match="IPoint"):
        _call(p, "f", 1)                      # (a, a) is a TupleExprNode


def test_top_level_comprehension_and_has_fail_like_the_real_runtime():
    with pytest.raises(MapperCompileError, match="For expr should only happen"):
        _prog("t = tuple(i for i in (0, 1));\n")
    with pytest.raises(MapperCompileError, match="has"):
        _prog("m = Machine(GPU);\nb = m[0].has(FBMEM);\n")


# -- machine spaces ----------------------------------------------------------------------------------
def test_split_merge_swap_slice_reverse_inverse_maps():
    m = MSpace.root("GPU", 2, 4)
    sp = m.split(1, 2)                                        # sizes (f, size/f)
    assert sp.shape == (2, 2, 2)
    assert all(sp.root_point((a, i, j)) == (a, i + 2 * j) for a in range(2) for i in range(2) for j in range(2))
    mg = m.merge(0, 1)
    assert mg.shape == (8,) and [mg.root_point((i,)) for i in range(8)] == [(i // 4, i % 4) for i in range(8)]
    sw = m.swap(0, 1)
    assert sw.shape == (4, 2) and sw.root_point((3, 1)) == (1, 3)
    sl = m.slice(1, 1, 2)                                     # both ends inclusive
    assert sl.shape == (2, 2) and sl.root_point((0, 0)) == (0, 1) and sl.root_point((1, 1)) == (1, 2)
    rv = m.reverse(1)
    assert rv.root_point((0, 0)) == (0, 3)
    # coordinates are only checked at the root: (0, 3, 0) of a (2, 2, 2) split space is processor 3
    assert sp.root_point((0, 3, 0)) == (0, 3)


def test_out_of_range_machine_index_is_the_real_error():
    m = MSpace.root("GPU", 2, 4)
    with pytest.raises(DSLRuntimeError, match="Sharding node index out of bound! 2 >= 2"):
        m.root_point((2, 0))
    with pytest.raises(DSLRuntimeError, match="Slice processor index out of bound! 4 >= 4"):
        m.root_point((0, 4))
    with pytest.raises(DSLRuntimeError, match="Slice processor index out of bound! 5 >= 4"):
        m.split(1, 2).root_point((0, 1, 2))  # 1 + 2*2 = 5: no wrap-around


def test_balance_split_is_mspace_cpp():
    # prime factors ascending, each multiplies the currently smallest factor; then sorted decreasing
    assert balanced_factors(12, 2) == (6, 2)    # 2 -> [2,1], 2 -> [2,2], 3 -> [6,2]
    assert balanced_factors(6, 2) == (3, 2)
    assert balanced_factors(8, 3) == (2, 2, 2)
    assert balanced_factors(12, 3) == (3, 2, 2)
    assert balanced_factors(18, 2) == (6, 3)
    assert balanced_factors(30, 2) == (10, 3)
    b = MSpace.root("GPU", 1, 12).balance_split(1, 2)
    assert b.shape == (1, 6, 2)
    assert all(b.root_point((0, i, j)) == (0, i + 6 * j) for i in range(6) for j in range(2))
    with pytest.raises(DSLRuntimeError, match="Unsupported Balanced Split Dimension"):
        MSpace.root("GPU", 2, 4).balance_split(1, 4)
    with pytest.raises(DSLRuntimeError, match="above 17"):
        balanced_factors(19, 2)


def test_auto_split_is_precise_enumerate_and_greedy_split_is_greedy():
    # 12 = 2*2*3 over L = (1, 2): sum O/L ties between (2, 6) and (3, 4); greedy picks (2, 6)
    assert auto_factors(12, (1, 2)) == (2, 6)
    assert greedy_factors(12, (1, 2)) == (2, 6)
    assert auto_factors(4, (4, 4)) == (2, 2)
    assert auto_factors(8, (8, 8, 8)) == (2, 2, 2)
    assert auto_factors(4, (16, 1)) == (4, 1)
    assert auto_factors(2, (4, 2)) == (2, 1)     # 2/4 + 1/2 < 1/4 + 2/2
    assert greedy_factors(8, (8, 8, 8)) == (2, 2, 2)
    assert greedy_factors(6, (1, 9)) == (1, 6)
    a = MSpace.root("GPU", 12, 1).auto_split(0, (1, 2))
    assert a.shape == (2, 6, 1)
    assert all(a.root_point((i, j, 0)) == (i + 2 * j, 0) for i in range(2) for j in range(6))


@pytest.mark.skipif(not os.environ.get("SYSLAB_MSPACE_REFERENCE"), reason="set SYSLAB_MSPACE_REFERENCE to a table "
                    "produced by MSpace.cpp/myalgorithm.h")
def test_factorisations_match_a_reference_table():
    bad = []
    for line in open(os.environ["SYSLAB_MSPACE_REFERENCE"]):
        p = line.split()
        if p[0] == "A":
            n, l0, l1 = map(int, p[1:4])
            if (auto_factors(n, (l0, l1)), greedy_factors(n, (l0, l1))) != ((int(p[5]), int(p[6])), (int(p[8]), int(p[9]))):
                bad.append(line)
        elif p[0] == "B":
            n, *lv = map(int, p[1:5])
            if (auto_factors(n, tuple(lv)), greedy_factors(n, tuple(lv))) != (tuple(map(int, p[6:9])),
                                                                             tuple(map(int, p[10:13]))):
                bad.append(line)
        elif p[0] == "C" and balanced_factors(int(p[1]), int(p[2])) != tuple(map(int, p[4:])):
            bad.append(line)
    assert not bad, bad[:5]


def test_star_index_and_minus_one_give_a_set():
    p = _prog("m = Machine(GPU);\ndef f(int a) { return m[1, *]; }\ndef g(int a) { return m[-1, 2]; }\n")
    s = _call(p, "f", 0)
    assert isinstance(s, ProcSet) and list(s) == [(1, j) for j in range(4)] and s.kind == "GPU"
    assert list(_call(p, "g", 0)) == [(0, 2), (1, 2)]  # -1 is how the real runtime encodes '*'


def test_parent_processor_and_transform_chain_in_dsl():
    p = _prog("m = Machine(GPU);\nh = m.merge(0, 1).split(0, 2).swap(0, 1);\n"
              "def same(Task task) { return m[*task.parent.processor(m)]; }\n"
              "def via(Task task) { return h[*task.parent.processor(h)]; }\n")
    parent = TaskView("task_5", False, proc=(1, 2))
    t = TaskView("task_4", False, parent=parent, proc=(1, 2))
    assert _call(p, "same", t) == (1, 2) and isinstance(_call(p, "same", t), Point)
    assert _call(p, "via", t) == (1, 2)


# -- errors, each with its class and line ------------------------------------------------------------
def _compile_error(text):
    with pytest.raises(MapperCompileError) as ei:
        compile_mapper(text)
    return ei.value


def test_static_errors_are_located():
    e = _compile_error("m = Machine(GPU);\ndef f(Task task) {\n  return q[0, 0];\n}\nIndexTaskMap foo f;\n")
    assert e.kind == "undefined_name" and e.line == 3 and "q not found" in e.message
    e = _compile_error("Task * GPU;\nIndexTaskMap foo nofunc;\n")
    assert e.kind == "undefined_name" and e.line == 2 and "function undefined" in e.message
    e = _compile_error("IndexTaskMap foo f;\ndef f(Task task) { return 0; }\n")
    assert e.kind == "undefined_name" and e.line == 1 and "defined later" in e.message
    e = _compile_error("def g(int a, int b) { return a; }\ndef f(Task task) {\n  return g(1);\n}\nIndexTaskMap x f;\n")
    assert e.kind == "arg_count" and e.line == 3 and "argument number mismatch" in e.message
    e = _compile_error("m = Machine(GPU);\nn = m.merge(0);\n")
    assert e.kind == "arg_count" and e.line == 2
    e = _compile_error("def f(Task task, int x) { return 0; }\nIndexTaskMap foo f;\n")
    assert e.kind == "arg_count" and e.line == 2 and "func(Task t)" in e.message
    e = _compile_error("m = Machine(GPU);\nm = Machine(CPU);\n")
    assert e.kind == "redefined_name" and e.line == 2 and "AssignNode multiple m" in e.message
    e = _compile_error("x = y + 1;\n")
    assert e.kind == "undefined_name" and e.line == 1


def test_unused_function_problems_are_warnings():
    m = compile_mapper("def helper(Task task) { return nowhere[0]; }\nTask * GPU;\n")
    assert m.warnings and "nowhere" in m.warnings[0]


def test_load_time_errors_carry_the_statement_line():
    o = evaluate_mapper("m = Machine(GPU);\nn = m.merge(0, 7);\n", "circuit", loops=1)
    assert o.status == "compile_error" and o.error_kind == "index_out_of_bounds" and o.line == 2


def test_mapping_errors_are_located():
    base = "Task * GPU,CPU;\nm = Machine(GPU);\n"
    o = evaluate_mapper(base + "def f(Task task) {\n  return m[task.ipoint[0], 0];\n}\n"
                        "IndexTaskMap calculate_new_currents f;\n", "circuit", loops=1)
    assert o.status == "mapping_error" and o.error_kind == "index_out_of_bounds" and o.line == 4
    assert "Sharding node index out of bound! 2 >= 2" in o.message
    o = evaluate_mapper(base + "def f(Task task) {\n  return task.ipoint;\n}\nIndexTaskMap update_voltages f;\n",
                        "circuit", loops=1)
    assert o.status == "mapping_error" and o.error_kind == "not_a_processor" and o.line == 3
    # calc_global_dt is a CPU-only single task: a GPU point is a kind it has no variant for
    o = evaluate_mapper("m = Machine(GPU);\ndef f(Task task) { return m[0, 0]; }\nSingleTaskMap calc_global_dt f;\n",
                        "pennant", cycles=1)
    assert o.status == "mapping_error" and o.error_kind == "no_variant" and o.line == 2
    assert "is actually mapped to CPU, but machine model is for GPU" in o.message
    o = evaluate_mapper(base + "def f(Task task) {\n  return m[(1, 2) + (1, 2, 3)];\n}\n"
                        "IndexTaskMap update_voltages f;\n", "circuit", loops=1)
    assert o.status == "mapping_error" and o.line == 4 and o.error_kind == "dimension_mismatch"


def test_unknown_names_are_ignored_with_a_warning():
    o = evaluate_mapper("Task * GPU,CPU;\nRegion calculate_new_currentz * GPU FBMEM;\nRegion * rp_wirez GPU ZCMEM;\n",
                        "circuit", loops=1)
    assert o.ok
    warn = " ".join(o.profile["warnings"])
    assert "line 2" in warn and "calculate_new_currentz" in warn and "rp_wirez" in warn


def test_machine_without_the_kind_has_no_processors():
    m = get_machine("2n4g").with_(omps_per_node=0)
    p = _prog("m = Machine(OMP);\n", m)
    assert p.globals["m"].shape == (2, 0)
    with pytest.raises(DSLRuntimeError, match="Slice processor index out of bound"):
        p.globals["m"].root_point((0, 0))


# -- properties of the transformations -------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.integers(1, 4), st.integers(1, 6), st.data())
def test_transformations_permute_the_processors(nodes, per, data):
    s = MSpace.root("GPU", nodes, per)
    d = data.draw(st.integers(0, 1))
    size = s.shape[d]
    f = data.draw(st.sampled_from([x for x in range(1, size + 1) if size % x == 0]))
    every = sorted(_roots(s).values())
    for t in (s.split(d, f), s.merge(0, 1), s.merge(1, 0), s.swap(0, 1), s.reverse(d),
              s.auto_split(d, (3, 5)), s.greedy_split(d, (2, 7))):
        assert sorted(_roots(t).values()) == every
    assert _roots(s.split(d, f).merge(d + 1, d)) == _roots(s)  # split then merge back is the identity
    sp = s.split(d, f)
    assert all(sp.coords_of_root(*r) == c for c, r in _roots(sp).items())  # legion2mspace inverts get_node_proc
