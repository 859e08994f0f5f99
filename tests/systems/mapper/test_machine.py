"""Machine model."""

from __future__ import annotations

import pytest

from systems.mapper.machine import MachineLayout, default_machine, get_machine


def test_default_machine_matches_run_settings():
    m = default_machine()
    assert (m.nodes, m.gpus_per_node) == (2, 4)
    assert 14e9 < m.fb_bytes < 17e9 and 2e9 < m.zc_bytes < 2.3e9 and m.sys_bytes > 100e9


def test_named_and_pattern_machines():
    assert get_machine("1x4").nodes == 1
    assert get_machine("3x2").gpus_per_node == 2
    with pytest.raises(ValueError, match="unknown machine"):
        get_machine("bogus")


def test_memory_visibility_and_best_memory():
    lay = MachineLayout(default_machine())
    gpu = lay.by_kind["GPU"][5]
    cpu = lay.by_kind["CPU"][0]
    assert lay.mems[lay.best_memory(gpu, "FBMEM")].local == gpu.local
    assert lay.best_memory(gpu, "SYSMEM") is None  # a GPU cannot address system memory
    assert lay.best_memory(cpu, "FBMEM") is None
    zc = lay.best_memory(gpu, "ZCMEM")
    assert lay.access_bw(gpu, lay.mems[zc]) < lay.access_bw(gpu, lay.mems[lay.best_memory(gpu, "FBMEM")])
