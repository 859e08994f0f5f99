"""The layerwise GPU section's CPU dry run (same code paths as on the GPU, toy sizes)."""

import time

import pytest


class _Ctx:
    def __init__(self, budget_s=60.0):
        self.device, self.tiny, self.budget_s, self.t0 = "cpu", True, budget_s, time.perf_counter()
        self.tables, self.notes, self.checks = [], [], []

    def time_left(self):
        return self.budget_s - (time.perf_counter() - self.t0)

    def table(self, title, columns, rows, note=None):
        assert all(len(r) == len(columns) for r in rows), title
        self.tables.append((title, columns, rows, note))

    def note(self, text):
        self.notes.append(text)

    def check(self, name, ok, detail=""):
        self.checks.append((name, ok))

    def sync(self):
        pass


def test_layerwise_gpu_section_dry_run_on_cpu():
    torch = pytest.importorskip("torch")
    from benchmarks.gpu_sections import layerwise as sec

    prev = torch.get_num_threads()
    try:
        ctx = _Ctx()
        sec.run(ctx)
    finally:
        torch.set_num_threads(prev)
    assert sec.BUDGET_S <= 90 and sec.TITLE
    titles = [t[0] for t in ctx.tables]
    assert any("One device" in t for t in titles) and any("Partitionings" in t for t in titles)
    part = next(t for t in ctx.tables if "Partitionings" in t[0])
    assert len(part[2]) >= 2  # tiny networks at least at one device count
    assert ctx.checks and all(ok for _, ok in ctx.checks), ctx.checks
