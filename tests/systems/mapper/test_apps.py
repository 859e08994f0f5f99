"""The nine benchmarks: names, task/region interface (the contract with the search agent), sizes."""

from __future__ import annotations

import pytest

from systems.mapper.apps import APPS, get_app
from systems.mapper.apps.base import RED
from systems.mapper.machine import get_machine
from systems.mapper.workloads import ALL_APPS


def test_nine_apps():
    assert list(APPS) == ["circuit", "stencil", "pennant", "cannon", "summa", "pumma", "johnson", "solomonik", "cosma"]
    assert tuple(APPS) == ALL_APPS


@pytest.mark.parametrize("name", ALL_APPS)
def test_app_interface(name):
    app = get_app(name)
    assert app.name == name
    text = app.describe()
    for t in app.tasks.values():
        assert t.name in text
        assert t.variants <= {"CPU", "GPU", "OMP"} and t.variants
        assert isinstance(t.index_launch, bool)
        assert (t.launch_shape is None) == (not t.index_launch)
        assert isinstance(t.regions, list)
    for r in app.regions.values():
        assert r.name in text and r.size_bytes > 0
    assert 50 <= len(app.instances) <= 3000  # keeps evaluation fast


def test_real_task_names():
    assert {"calculate_new_currents", "distribute_charge", "update_voltages"} <= set(get_app("circuit").tasks)
    assert {"stencil", "increment"} <= set(get_app("stencil").tasks)
    assert {"adv_pos_half", "sum_point_force", "calc_global_dt"} <= set(get_app("pennant").tasks)
    for mm in ("cannon", "summa", "pumma", "johnson", "solomonik", "cosma"):
        assert {"task_1", "task_2", "task_3", "task_4", "task_5", "init_cublas", "taco_fill",
                "taco_validate"} <= set(get_app(mm).tasks)
        assert get_app(mm).tasks["task_4"].library


def test_three_d_algorithms_reduce_into_c():
    for mm in ("johnson", "solomonik", "cosma"):
        app = get_app(mm)
        assert any(rq.priv == RED for i in app.instances if i.tdef.name == "task_4" for rq in i.reqs)


def test_sizes_and_machines_change_the_graph():
    small = get_app("circuit", loops=2)
    big = get_app("circuit", loops=4)
    assert len(big.instances) == 2 * len(small.instances)
    assert get_app("cannon", get_machine("1x4")).params["grid"] == 2
    assert get_app("cannon", get_machine("2x4")).params["grid"] == 4


def test_bad_names_and_sizes_fail_clearly():
    with pytest.raises(ValueError, match="unknown app 'cirquit'.*circuit"):
        get_app("cirquit")
    with pytest.raises(ValueError, match="bad size parameters"):
        get_app("circuit", nonsense=3)
