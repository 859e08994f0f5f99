"""The nine benchmarks: the real programs' task names, region names, launch shapes, sizes and machines."""

from __future__ import annotations

import pytest

from systems.mapper.apps import APPS, app_machine, get_app
from systems.mapper.apps.base import RED
from systems.mapper.apps.matmul import getgx, problem_size
from systems.mapper.apps.scientific import factorize_nodes
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
        assert (t.launch_shape is None) == (not t.index_launch)
        assert len(t.paths) == len(t.regions)
    for r in app.regions.values():
        assert r.name in text and r.size_bytes > 0
    assert app.sources, "every benchmark documents where its numbers come from"
    assert 40 <= len(app.instances) <= 1500  # keeps evaluation fast


def test_scientific_task_and_region_names():
    c = get_app("circuit")
    assert {"init_piece", "init_pointers", "calculate_new_currents", "distribute_charge", "update_voltages",
            "print_summary"} <= set(c.tasks)
    assert c.semantic_names and c.tasks["calculate_new_currents"].paths[1][0] == "rp_shared"
    assert c.tasks["init_piece"].variants == {"CPU"}
    assert c.tasks["calculate_new_currents"].launch_shape == (8,)   # -p 40*nodes / -pps 10 on 2 nodes
    s = get_app("stencil")
    assert s.tasks["stencil"].launch_shape == (8,) and not s.semantic_names   # ispace(int1d, ntx*nty)
    assert {"check", "print_time", "increment"} <= set(s.tasks)
    p = get_app("pennant")
    names = {n for t in p.tasks.values() for path in t.paths for n in path}
    assert {"rp_all_ghost_p", "rz_all_p", "rs_all_p", "rp_all_private_p"} <= names
    assert any(rq.names and rq.names[0] == "rp_all_shared_p" for i in p.instances for rq in i.reqs)
    assert p.tasks["calc_global_dt"].variants == {"CPU"} and not p.tasks["calc_global_dt"].index_launch


def test_distal_structure():
    for mm in ("cannon", "summa", "pumma"):
        app = get_app(mm)
        assert app.tasks["task_7"].variants == {"OMP"} and app.tasks["task_7"].inner
        assert app.tasks["task_6"].variants == {"OMP"} and not app.tasks["task_6"].index_launch
        assert app.tasks["task_5"].launch_shape == (2, 2) and app.tasks["task_5"].local
        assert not app.tasks["task_4"].index_launch and app.tasks["task_4"].library
    for mm in ("johnson", "cosma"):
        app = get_app(mm)
        assert app.tasks["task_4"].launch_shape == (2, 2, 2) and app.tasks["task_4"].index_launch
        assert (app.tasks["task_1"].launch_shape, app.tasks["task_2"].launch_shape,
                app.tasks["task_3"].launch_shape) == ((2, 2, 1), (2, 1, 2), (1, 2, 2))
        assert any(rq.priv == RED for i in app.instances if i.tdef.name == "task_4" for rq in i.reqs)
    sol = get_app("solomonik")
    assert sol.tasks["task_5"].launch_shape == (2, 2, 2) and sol.tasks["task_5"].inner
    assert sol.tasks["task_1"].launch_shape == (2, 2, 1)


def test_harness_sizes_and_grids():
    assert problem_size(1) == 20000 and problem_size(2) == 28284 and problem_size(4) == 40000
    assert getgx(2) == 1 and getgx(4) == 2 and getgx(8) == 2 and getgx(16) == 4
    assert factorize_nodes(2) == (1, 2) and factorize_nodes(8) == (2, 4)
    assert get_app("cannon").params == {"n": 28284, "gx": 2, "gy": 1}   # Cannon swaps gx and gy
    assert get_app("summa").params == {"n": 28284, "gx": 1, "gy": 2}
    assert get_app("stencil").params["nx"] == 10000 and get_app("stencil").params["ny"] == 20000


def test_machines_are_the_authors_run_shapes():
    assert app_machine("johnson").name == "8n1g4r" and app_machine("johnson").physical_nodes == 2
    assert app_machine("cosma").gpus_per_node == 1 and app_machine("cannon").name == "2n4g"
    assert app_machine("circuit").cpus_per_node == 4 and app_machine("circuit").omps_per_node == 0
    assert app_machine("cannon").omps_per_node == 1
    m = app_machine("circuit", "4n4g")
    assert m.nodes == 4 and m.cpus_per_node == 4   # the shape changes, the per-rank settings stay
    assert app_machine("johnson", "2n4g").gpus_per_node == 4
    assert get_app("johnson", "2n4g").params["grid"] == (2, 2, 2)


def test_sizes_change_the_graph():
    small = get_app("circuit", loops=2)
    big = get_app("circuit", loops=4)
    per_loop = (len(big.instances) - len(small.instances)) // 2
    assert per_loop == 3 * 8


def test_bad_names_and_sizes_fail_clearly():
    with pytest.raises(ValueError, match="unknown app 'cirquit'.*circuit"):
        get_app("cirquit")
    with pytest.raises(ValueError, match="bad size parameters"):
        get_app("circuit", nonsense=3)
    with pytest.raises(ValueError, match="unknown machine"):
        get_app("circuit", "bogus")
