"""The mapping DSL: parsing round-trips, machine-space index semantics, located errors of every class."""

from __future__ import annotations

import itertools

import pytest

from systems.mapper.dsl import MapperCompileError, MappingError, compile_mapper
from systems.mapper.dsl.format import format_mapper
from systems.mapper.dsl.mspace import MSpace, auto_factors, balanced_factors
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper
from systems.mapper.machine import MachineLayout, get_machine
from systems.mapper.workloads import ALL_APPS


def _space(shape):
    """A machine space whose processors are their own original coordinates (easy to check)."""
    return MSpace("GPU", shape, tuple(itertools.product(*[range(s) for s in shape])))


def _all(space):
    return {idx: space.point(idx) for idx in itertools.product(*[range(s) for s in space.shape])}


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("app", ALL_APPS)
def test_expert_round_trip(app):
    text = expert_mapper(app)
    m = compile_mapper(text)
    assert m.functions or m.task_rules
    canon = format_mapper(text)
    assert format_mapper(canon) == canon
    m2 = compile_mapper(canon)
    assert [(r.tasks, r.args["kinds"]) for r in m.task_rules] == [(r.tasks, r.args["kinds"]) for r in m2.task_rules]
    assert [(r.tasks, r.args["func"]) for r in m.index_maps] == [(r.tasks, r.args["func"]) for r in m2.index_maps]
    assert sorted(m.functions) == sorted(m2.functions)


@pytest.mark.parametrize("app", ["circuit", "cannon", "solomonik"])
def test_formatted_expert_scores_identically(app):
    text = expert_mapper(app)
    a = evaluate_mapper(text, app, "1x4" if app != "circuit" else None, **({"n": 4096} if app != "circuit" else {"loops": 2}))
    b = evaluate_mapper(format_mapper(text), app, "1x4" if app != "circuit" else None,
                        **({"n": 4096} if app != "circuit" else {"loops": 2}))
    assert a.ok and b.ok and a.time_s == b.time_s


def test_grammar_accepts_every_statement_kind():
    text = """
    # comment
    // another comment
    Task * GPU,OMP,CPU;
    Task foo,bar CPU;
    Region * * GPU FBMEM,ZCMEM;
    Region foo 0 CPU SYSMEM;
    Layout * * * SOA C_order Align == 128 Compact;
    Layout foo r FBMEM AOS F_order Exact;
    InstanceLimit foo 2;
    InstanceLimit bar GPU 1;
    CollectMemory foo *;
    GarbageCollect * r;
    ControlReplicate foo;
    m = Machine(GPU);
    def f(Task task) { x = task.ipoint; y = -x[0] * 2 / 3 % 4 - 1; z = x[:-1];
                       w = tuple(x[i] for i in (0,)); print("{} {}", y, z); return y > 0 && !(y == 1) || False ? m[0, 0] : m[*w, *]; }
    IndexTaskMap foo,bar f;
    SingleTaskMap * f;
    IndexTaskMap GPU f;
    """
    m = compile_mapper(text)
    assert len(m.task_rules) == 2 and len(m.region_rules) == 2 and len(m.layout_rules) == 2
    assert len(m.limits) == 2 and m.limits[1].args["proc"] == "GPU" and len(m.collects) == 2
    assert m.layout_rules[0].args["constraints"] == {"fields": "SOA", "order": "C_order", "align": ("==", 128),
                                                     "compact": True}


def test_expressions_evaluate_like_c():
    m = compile_mapper("""
    def f(int a, int b) { return (a / b, a % b, -a / b, (-a) % b, a > b ? 1 : 2); }
    def g(IPoint p) { return tuple(p[i] * 2 for i in (0, 1)); }
    def h(IPoint p) { return p / (2, 3) + 1; }
    """)
    m.bind(MachineLayout(get_machine("2x4")))
    assert m.call("f", [7, 2]) == (3, 1, -3, -1, 1)
    assert m.call("g", [(3, 4)]) == (6, 8)
    assert m.call("h", [(4, 9)]) == (3, 4)


# -- machine-space transformations ---------------------------------------------------------------
def test_merge_semantics():
    s = _space((2, 4))
    m = s.merge(0, 1)
    assert m.shape == (8,)
    for i in range(8):
        assert m.point((i,)) == (i // 4, i % 4)  # new[i] = old[i / size[1], i % size[1]]
    s3 = _space((2, 3, 4))
    m3 = s3.merge(1, 2)
    assert m3.shape == (2, 12)
    for a in range(2):
        for i in range(12):
            assert m3.point((a, i)) == (a, i // 4, i % 4)


def test_split_semantics():
    s = _space((8, 2))
    m = s.split(0, 2)
    assert m.shape == (2, 4, 2)
    for i in range(2):
        for j in range(4):
            for k in range(2):
                assert m.point((i, j, k)) == (i + j * 2, k)  # new[i, j] = old[i + j*f]
    with pytest.raises(Exception):
        s.split(0, 3)


def test_swap_slice_reverse_semantics():
    s = _space((2, 3))
    sw = s.swap(0, 1)
    assert sw.shape == (3, 2)
    assert all(sw.point((j, i)) == (i, j) for i in range(2) for j in range(3))
    sl = _space((6, 2)).slice(0, 2, 4)  # both ends inclusive
    assert sl.shape == (3, 2)
    assert [sl.point((i, 0)) for i in range(3)] == [(2, 0), (3, 0), (4, 0)]
    rv = _space((4,)).reverse(0)
    assert [rv.point((i,)) for i in range(4)] == [(3,), (2,), (1,), (0,)]


def test_balance_split_semantics():
    assert balanced_factors(6, 2) == (3, 2)
    assert balanced_factors(8, 3) == (2, 2, 2)
    assert balanced_factors(12, 2) == (4, 3)
    m = _space((6,)).balance_split(0, 2)
    assert m.shape == (3, 2)
    assert all(m.point((i, j)) == (i + 3 * j,) for i in range(3) for j in range(2))


def test_auto_split_semantics():
    # 4 processors over a (4, 4) launch: a 2x2 grid keeps blocks square
    assert auto_factors(4, (4, 4)) == (2, 2)
    # 8 processors over a (8, 8, 8) launch: 2x2x2 minimises the pairwise products of the block extents
    assert auto_factors(8, (8, 8, 8)) == (2, 2, 2)
    # long launch dimension gets the processors
    assert auto_factors(4, (16, 1)) == (4, 1)
    m = _space((2, 4)).auto_split(1, (4, 4))
    assert m.shape == (2, 2, 2)
    assert all(m.point((a, i, j)) == (a, i + 2 * j) for a in range(2) for i in range(2) for j in range(2))


def test_machine_index_wraps_and_wildcard():
    s = _space((2, 4))
    assert s.point((3, 5)) == (1, 1)
    assert s.points([1, None]) == tuple((1, j) for j in range(4))


def test_transform_chain_in_dsl():
    m = compile_mapper("g = Machine(GPU); h = g.merge(0, 1).split(0, 2).swap(0, 1).reverse(0).slice(0, 1, 2);")
    lay = MachineLayout(get_machine("2x4"))
    m.bind(lay)
    h = m.globals["h"]
    assert h.shape == (2, 2)
    # merge: i -> (i/4, i%4); split(0,2): (a,b) -> a + 2b; swap; reverse(0) over size 4; slice 1..2
    for x in range(2):
        for y in range(2):
            b = 3 - (x + 1)
            i = y + 2 * b
            assert (h.point((x, y)).node, h.point((x, y)).local) == (i // 4, i % 4)


# -- errors, each with its line ------------------------------------------------------------------
def _compile_error(text):
    with pytest.raises(MapperCompileError) as ei:
        compile_mapper(text)
    return ei.value


def test_syntax_error_line():
    e = _compile_error("Task * GPU;\nRegion * * GPU FBMEM\nLayout * * * SOA;\n")
    assert e.kind == "syntax" and e.line == 3 and "syntax error" in e.message


def test_syntax_error_at_end_of_file_points_at_last_statement():
    e = _compile_error("Task * GPU;\nTask foo CPU\n\n# trailing comment\n")
    assert e.kind == "syntax" and e.line == 2


def test_undefined_name_line():
    e = _compile_error("Task * GPU;\nm = Machine(GPU);\ndef f(Task task) {\n  return q[0, 0];\n}\n")
    assert e.kind == "undefined_name" and e.line == 4 and "q" in e.message
    e2 = _compile_error("Task * GPU;\nIndexTaskMap foo nofunc;\n")
    assert e2.kind == "undefined_name" and e2.line == 2
    e3 = _compile_error("Task * TPU;\n")
    assert e3.kind == "undefined_name" and e3.line == 1


def test_arg_count_line():
    e = _compile_error("def g(int a, int b) { return a; }\ndef f(Task task) {\n  return g(1);\n}\n")
    assert e.kind == "arg_count" and e.line == 3 and "argument number mismatch" in e.message
    e2 = _compile_error("m = Machine(GPU);\nn = m.merge(0);\n")
    assert e2.kind == "arg_count" and e2.line == 2
    e3 = _compile_error("def f(Task task, int x) { return 0; }\nIndexTaskMap foo f;\n")
    assert e3.kind == "arg_count" and e3.line == 2


def test_index_out_of_bounds_line():
    text = ("Task * GPU,CPU;\nm = Machine(GPU);\n"
            "def f(Task task) {\n  return m[task.ipoint[3], 0];\n}\n"
            "IndexTaskMap calculate_new_currents f;\n")
    o = evaluate_mapper(text, "circuit", loops=1)
    assert o.status == "mapping_error" and o.error_kind == "index_out_of_bounds" and o.line == 4
    o2 = evaluate_mapper("m = Machine(GPU);\nn = m.merge(0, 7);\n", "circuit", loops=1)
    assert o2.status == "compile_error" and o2.error_kind == "index_out_of_bounds" and o2.line == 2


def test_not_a_processor_line():
    text = "Task * GPU,CPU;\ndef f(Task task) {\n  return task.ipoint;\n}\nIndexTaskMap update_voltages f;\n"
    o = evaluate_mapper(text, "circuit", loops=1)
    assert o.status == "mapping_error" and o.error_kind == "not_a_processor" and o.line == 5
    assert "Must return" in o.message


def test_no_variant_line():
    # calc_global_dt has only a CPU variant
    o = evaluate_mapper("Task * GPU,CPU;\nTask calc_global_dt GPU;\n", "pennant", cycles=1)
    assert o.status == "compile_error" and o.error_kind == "no_variant" and o.line == 2
    # a mapping function that puts a CPU-only task on a GPU
    text = "m = Machine(GPU);\ndef f(Task task) { return m[0, 0]; }\nSingleTaskMap calc_global_dt f;\n"
    o2 = evaluate_mapper(text, "pennant", cycles=1)
    assert o2.status == "mapping_error" and o2.error_kind == "no_variant" and o2.line == 3


def test_unknown_task_and_region_names_are_located():
    o = evaluate_mapper("Task * GPU;\nRegion calculate_new_currentz * GPU FBMEM;\n", "circuit", loops=1)
    assert o.status == "compile_error" and o.error_kind == "undefined_name" and o.line == 2
    assert "calculate_new_currents" in o.message  # suggestion
    o2 = evaluate_mapper("Region update_voltages rw GPU FBMEM;\n", "circuit", loops=1)
    assert o2.status == "compile_error" and o2.line == 1 and "rp_private" in o2.message


def test_runtime_type_errors_are_located():
    o = evaluate_mapper("m = Machine(GPU);\ndef f(Task task) {\n  return m[(1, 2) + (1, 2, 3)];\n}\n"
                        "IndexTaskMap update_voltages f;\n", "circuit", loops=1)
    assert o.status == "mapping_error" and o.line == 3 and o.error_kind == "dimension_mismatch"


def test_machine_without_kind_is_bad_processor():
    o = evaluate_mapper("m = Machine(OMP);\n", "circuit", get_machine("2x4").with_(name="no-omp", omps_per_node=0), loops=1)
    assert o.status == "compile_error" and o.error_kind == "bad_processor" and o.line == 1


# -- properties of the transformations -----------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=40, derandomize=True, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_transformation_identities(shape, data):
    shape = tuple(shape)
    s = _space(shape)
    d = data.draw(st.integers(0, len(shape) - 1))
    size = shape[d]
    f = data.draw(st.sampled_from([x for x in range(1, size + 1) if size % x == 0]))
    # split then merge back (fastest dimension first) is the identity
    assert _all(s.split(d, f).merge(d + 1, d)) == _all(s)
    assert _all(s.reverse(d).reverse(d)) == _all(s)
    e = data.draw(st.integers(0, len(shape) - 1))
    assert _all(s.swap(d, e).swap(d, e)) == _all(s)
    # every transformation is a permutation of the processors
    for t in (s.split(d, f), s.balance_split(d, 2), s.auto_split(d, (3, 5)), s.reverse(d)):
        assert sorted(t.procs) == sorted(s.procs)


def test_debug_config_runs_fast():
    import time

    from systems.mapper.config import mapper_debug_cpu

    cfg = mapper_debug_cpu()
    t0 = time.perf_counter()
    o = evaluate_mapper(expert_mapper(cfg.app), cfg.app, cfg.machine, **cfg.sizes)
    assert o.ok and time.perf_counter() - t0 < 5
