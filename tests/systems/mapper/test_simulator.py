"""The runtime simulator: determinism, layouts, memory limits, back-pressure, collection, weak scaling."""

from __future__ import annotations

import pytest

from systems.mapper.apps import app_machine, get_app
from systems.mapper.dsl import compile_mapper
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper
from systems.mapper.sim import lower_bound, simulate
from systems.mapper.workloads import ALL_APPS

SMALL = {"circuit": {"loops": 2}, "stencil": {"tsteps": 2}, "pennant": {"cycles": 1}}
"""Small sizes for fast tests; matmuls use n=4096."""


def _small(app):
    return SMALL.get(app, {"n": 4096})


@pytest.mark.parametrize("app", ALL_APPS)
def test_experts_run_at_default_size_within_bounds(app):
    o = evaluate_mapper(expert_mapper(app), app)
    assert o.ok, o.message
    assert o.time_s > 0 and o.lower_bound_s > 0
    assert o.time_s >= o.lower_bound_s * (1 - 1e-9)  # the bound is a bound
    assert set(o.profile) >= {"task_time_s", "copy_bytes", "peak_bytes", "busy_fraction", "top_copy_regions"}
    assert not o.profile["warnings"]


@pytest.mark.parametrize("app", ["circuit", "pennant", "cannon", "solomonik"])
def test_deterministic(app):
    text = expert_mapper(app)
    a = evaluate_mapper(text, app, **_small(app))
    b = evaluate_mapper(text, app, **_small(app))
    assert a.time_s == b.time_s and a.profile == b.profile
    m = app_machine(app)
    assert simulate(get_app(app, m, **_small(app)), compile_mapper(text), m).time_s == a.time_s


@pytest.mark.parametrize("app", ["circuit", "stencil", "pennant"])
def test_regent_apps_weak_scale(app):
    # fixed work per GPU: the expert's simulated time may grow at most 1.3x from 2 to 8 nodes
    t2 = evaluate_mapper(expert_mapper(app), app, "2n4g")
    t8 = evaluate_mapper(expert_mapper(app), app, "8n4g")
    assert t2.ok and t8.ok
    assert t8.time_s <= 1.3 * t2.time_s, (t2.time_s, t8.time_s)
    assert t8.profile["busy_fraction"]["GPU"] > 0.5


def test_gemm_on_wrong_layout_fails_with_stride_error():
    text = expert_mapper("cannon") + "Layout task_4 * * SOA F_order;\n"
    o = evaluate_mapper(text, "cannon", n=4096)
    assert o.status == "runtime_error" and o.error_kind == "stride"
    assert "stride does not match" in o.message and "task_4" in o.message
    assert o.line == text.count("\n")  # the Layout statement that asked for it


def test_layout_cost_follows_the_kernels_walk():
    expert = expert_mapper("stencil")  # SOA F_order: stencil kernels walk dimension 0 fastest
    f = evaluate_mapper(expert, "stencil", tsteps=2)
    default = evaluate_mapper(expert.replace("Layout * * * SOA F_order;\n", ""), "stencil", tsteps=2)
    c = evaluate_mapper(expert.replace("SOA F_order", "SOA C_order"), "stencil", tsteps=2)
    assert f.ok and default.ok and c.ok
    assert f.time_s == default.time_s        # Legion's default layout is F order too: no penalty
    assert c.time_s > 2 * f.time_s           # uncoalesced: 4x memory traffic on the GPU kernels
    assert f.bound_ratio < 1.2


def test_aos_slows_multi_field_gpu_kernels():
    base = expert_mapper("pennant")
    a = evaluate_mapper(base, "pennant", cycles=1)
    b = evaluate_mapper(base.replace("SOA C_order", "AOS C_order"), "pennant", cycles=1)
    assert b.time_s > a.time_s


def test_fbmem_oom_names_the_memory():
    o = evaluate_mapper(expert_mapper("cannon"), "cannon", "2x4-small-fb")
    assert o.status == "runtime_error" and o.error_kind == "oom"
    assert "FBMEM" in o.message and ".fb" in o.message


def test_zcmem_oom():
    # DISTAL runs with Realm's default 64 MB of zero-copy memory
    text = expert_mapper("cannon").replace("Region * * GPU FBMEM,ZCMEM;", "Region * * GPU ZCMEM;")
    o = evaluate_mapper(text, "cannon", n=8192)
    assert o.status == "runtime_error" and o.error_kind == "oom" and "ZCMEM" in o.message


def _peak_fb(o):
    return max(v for k, v in o.profile["peak_bytes"].items() if ".fb" in k)


def test_collect_memory_frees_instances():
    base = expert_mapper("summa")
    with_collect = evaluate_mapper(base, "summa", n=8192)
    without = evaluate_mapper(base.replace("CollectMemory task_4 *;", ""), "summa", n=8192)
    assert with_collect.ok and without.ok
    assert _peak_fb(with_collect) < _peak_fb(without)


def test_instance_limit_is_back_pressure():
    # InstanceLimit task_4 1: a GEMM is mapped (its instances made, its copies issued) only when the
    # previous GEMM on that GPU has finished, so memory peaks lower and copies no longer overlap compute
    base = expert_mapper("cannon")
    limited = evaluate_mapper(base, "cannon", n=16384)
    free = evaluate_mapper(base.replace("InstanceLimit task_4 1;", ""), "cannon", n=16384)
    assert limited.ok and free.ok
    assert _peak_fb(limited) < _peak_fb(free)
    assert limited.time_s > free.time_s


def test_processor_fallback_skips_kinds_without_variant():
    o = evaluate_mapper("Task * GPU,OMP,CPU;\nLayout * * * C_order;\n", "cannon", n=4096)
    assert o.ok and o.profile["processor_kind_of_task"]["task_7"] == "OMP"
    assert o.profile["processor_kind_of_task"]["task_4"] == "GPU"


def test_cpu_mapping_is_much_slower_for_gpu_friendly_app():
    text = "Task * CPU;\nRegion * * CPU SYSMEM;\n"
    cpu = evaluate_mapper(text, "stencil", tsteps=2)
    gpu = evaluate_mapper(expert_mapper("stencil"), "stencil", tsteps=2)
    assert cpu.ok and cpu.time_s > 5 * gpu.time_s


def test_a_set_of_processors_runs_on_its_first_processor():
    # DSLMapper chooses the instances' memories for target_procs[0]
    text = ("Task * GPU,CPU;\nm = Machine(GPU);\ndef any_gpu(Task task) { return m[0, *]; }\n"
            "IndexTaskMap stencil,increment any_gpu;\n")
    o = evaluate_mapper(text, "stencil", "1n4g", tsteps=2)
    one = evaluate_mapper(text.replace("m[0, *]", "m[0, 0]"), "stencil", "1n4g", tsteps=2)
    assert o.ok and one.ok and o.time_s == one.time_s


def test_lower_bound_is_below_expert_and_positive():
    for app in ("stencil", "cannon"):
        m = app_machine(app)
        lb = lower_bound(get_app(app, m), m)
        assert 0 < lb["critical_path_s"] <= lb["lower_bound_s"] or 0 < lb["work_bound_s"] <= lb["lower_bound_s"]


def test_single_task_map_puts_gemms_on_their_parents_gpu():
    o = evaluate_mapper(expert_mapper("cannon"), "cannon", n=4096)
    assert o.ok
    no_map = evaluate_mapper(expert_mapper("cannon").replace("SingleTaskMap task_4 parent_gpu;", ""), "cannon", n=4096)
    assert no_map.ok and no_map.time_s == o.time_s  # Legion's default for a GPU child of a GPU task is the parent's GPU


def test_johnson_mapper_needs_one_gpu_per_rank():
    # the public Johnson mapper puts init_cublas point i on rank i: with 4 GPUs per rank there are 8 points
    # but 2 ranks, and the real runtime aborts with "Sharding node index out of bound!"
    own = evaluate_mapper(expert_mapper("johnson"), "johnson", n=8192)
    multi = evaluate_mapper(expert_mapper("johnson"), "johnson", "2n4g", n=8192)
    assert own.ok
    assert multi.status == "mapping_error" and multi.error_kind == "index_out_of_bounds"
    assert "Sharding node index out of bound! 2 >= 2" in multi.message
