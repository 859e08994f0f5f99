"""The runtime simulator: determinism, layouts, memory limits, back-pressure, collection, monotonicity."""

from __future__ import annotations

import pytest

from systems.mapper.apps import get_app
from systems.mapper.dsl import compile_mapper
from systems.mapper.evaluate import evaluate_mapper
from systems.mapper.experts import expert_mapper
from systems.mapper.machine import get_machine
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


@pytest.mark.parametrize("app", ["circuit", "pennant", "cannon", "solomonik"])
def test_deterministic(app):
    text = expert_mapper(app)
    a = evaluate_mapper(text, app, **_small(app))
    b = evaluate_mapper(text, app, **_small(app))
    assert a.time_s == b.time_s and a.profile == b.profile
    # a fresh compile and a fresh app graph give the same number too
    m = get_machine()
    app_obj = get_app(app, m, **_small(app))
    assert simulate(app_obj, compile_mapper(text), m).time_s == a.time_s


def test_gemm_on_wrong_layout_fails_with_stride_error():
    text = expert_mapper("cannon") + "\nLayout task_4 A * SOA F_order;\n"
    o = evaluate_mapper(text, "cannon", n=4096)
    assert o.status == "runtime_error" and o.error_kind == "stride"
    assert "stride does not match" in o.message and "task_4" in o.message
    assert o.line == text.count("\n")  # the Layout statement that asked for it


def test_wrong_order_on_plain_kernel_is_slower_not_an_error():
    base = expert_mapper("stencil")
    ok = evaluate_mapper(base, "stencil", tsteps=2)
    slow = evaluate_mapper(base.replace("SOA C_order", "SOA F_order"), "stencil", tsteps=2)
    assert ok.ok and slow.ok and slow.time_s > ok.time_s * 1.5


def test_aos_slows_multi_field_gpu_kernels():
    base = expert_mapper("pennant")
    a = evaluate_mapper(base, "pennant", cycles=1)
    b = evaluate_mapper(base.replace("SOA C_order", "AOS C_order"), "pennant", cycles=1)
    assert b.time_s > a.time_s


def test_fbmem_oom_names_the_memory():
    # 2 GB framebuffers cannot hold the tiles of a 32768^2 Cannon
    o = evaluate_mapper(expert_mapper("cannon"), "cannon", "2x4-small-fb")
    assert o.status == "runtime_error" and o.error_kind == "oom"
    assert "FBMEM" in o.message and ".fb" in o.message


def test_zcmem_oom():
    text = expert_mapper("cannon").replace("Region * * GPU FBMEM,ZCMEM;", "Region * * GPU ZCMEM;")
    o = evaluate_mapper(text, "cannon", n=16384)
    assert o.status == "runtime_error" and o.error_kind == "oom" and "ZCMEM" in o.message


def _peak_fb(o):
    return max(v for k, v in o.profile["peak_bytes"].items() if ".fb" in k)


def test_collect_memory_frees_instances():
    base = expert_mapper("summa").replace("InstanceLimit task_5 GPU 1;", "InstanceLimit task_5 GPU 2;")
    with_collect = evaluate_mapper(base, "summa", n=8192)
    without = evaluate_mapper(base.replace("CollectMemory task_4 *;", ""), "summa", n=8192)
    assert with_collect.ok and without.ok
    assert _peak_fb(with_collect) < _peak_fb(without)


def test_instance_limit_back_pressure_caps_memory_and_costs_overlap():
    base = expert_mapper("summa")
    limited = evaluate_mapper(base, "summa", n=8192)
    free = evaluate_mapper(base.replace("InstanceLimit task_5 GPU 1;", ""), "summa", n=8192)
    assert limited.ok and free.ok
    assert _peak_fb(limited) < _peak_fb(free)
    assert limited.time_s > free.time_s  # no prefetch of the next step's tiles


def test_instance_limit_prevents_oom_on_a_big_problem():
    # without back-pressure every step's tiles are mapped at once and the framebuffer overflows
    base = expert_mapper("summa")
    free = evaluate_mapper(base.replace("InstanceLimit task_5 GPU 1;", ""), "summa", n=49152)
    limited = evaluate_mapper(base, "summa", n=49152)
    assert free.status == "runtime_error" and free.error_kind == "oom"
    assert limited.ok


def test_zero_copy_avoids_copies_but_slows_kernels():
    base = expert_mapper("circuit")
    zc = evaluate_mapper(base, "circuit", loops=2)
    fb = evaluate_mapper("\n".join(l for l in base.splitlines() if "ZCMEM" not in l), "circuit", loops=2)
    assert zc.ok and fb.ok
    assert sum(fb.profile["copy_bytes"].values()) > sum(zc.profile["copy_bytes"].values())


def test_processor_fallback_skips_kinds_without_variant():
    # task_7 has no GPU variant: "GPU,OMP" falls back to OMP
    o = evaluate_mapper("Task * GPU,OMP,CPU;\nLayout * * * C_order;\n", "cannon", n=4096)
    assert o.ok and o.profile["processor_kind_of_task"]["task_7"] == "OMP"
    assert o.profile["processor_kind_of_task"]["task_4"] == "GPU"


def test_cpu_mapping_is_much_slower_for_gpu_friendly_app():
    text = "Task * CPU;\nRegion * * CPU SYSMEM;\nLayout * * * SOA C_order;\n"
    cpu = evaluate_mapper(text, "stencil", tsteps=2)
    gpu = evaluate_mapper(expert_mapper("stencil"), "stencil", tsteps=2)
    assert cpu.ok and cpu.time_s > 5 * gpu.time_s


BLOCK = """Task * GPU;
Region * * GPU FBMEM;
Layout * * * SOA C_order;
m = Machine(GPU);
def block(Task task) {
    ip = task.ipoint[0] * task.ispace[1] + task.ipoint[1];
    g = ip * m.size[0] * m.size[1] / (task.ispace[0] * task.ispace[1]);
    return m[g / m.size[1], g % m.size[1]];
}
IndexTaskMap stencil,increment block;
"""


def test_more_gpus_never_slower_for_embarrassingly_parallel_block_mapping():
    sizes = dict(nx=8000, ny=8000, tiles=(4, 4), tsteps=3, radius=0)  # no halo: embarrassingly parallel
    times = []
    for name in ("1x1", "1x2", "1x4", "2x4", "4x4"):
        o = evaluate_mapper(BLOCK, "stencil", name, **sizes)
        assert o.ok, o.message
        times.append(o.time_s)
    assert all(b <= a * (1 + 1e-9) for a, b in zip(times, times[1:])), times
    assert times[-1] < times[0] / 8


def test_lower_bound_is_below_expert_and_positive():
    m = get_machine()
    for app in ("stencil", "cannon"):
        lb = lower_bound(get_app(app, m), m)
        assert 0 < lb["critical_path_s"] <= lb["lower_bound_s"] or 0 < lb["work_bound_s"] <= lb["lower_bound_s"]


def test_round_robin_over_a_set():
    text = BLOCK.replace("return m[g / m.size[1], g % m.size[1]];", "return m[0, *];")
    o = evaluate_mapper(text, "stencil", "1x4", nx=4000, ny=4000, tiles=(2, 2), tsteps=1, radius=0)
    assert o.ok and o.profile["busy_fraction"]["GPU"] > 0.5  # all four GPUs used


def test_single_task_map_uses_parent_processor():
    o = evaluate_mapper(expert_mapper("cannon"), "cannon", n=4096)
    assert o.ok and o.profile["copy_bytes"]
