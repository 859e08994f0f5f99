"""The GPU script's CPU dry run: every section's code path at toy sizes, the doc and its JSON twin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_cpu_tiny_dry_run_writes_the_doc(tmp_path):
    from benchmarks.gpu import sections

    p = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--device", "cpu", "--tiny", "--out", str(tmp_path)],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    run = json.loads((tmp_path / "gpu.json").read_text())
    doc = (tmp_path / "gpu.md").read_text()
    assert "dry run on the CPU" in doc and run["device"]["device"] == "cpu"
    assert [s["name"] for s in run["sections"]] == sections()
    for s in run["sections"]:
        assert s["status"] == "ok", (s["name"], s.get("error"))
        assert s["tables"], f"section {s['name']} produced no table"
        assert all(c["ok"] for c in s["checks"]), (s["name"], s["checks"])
        assert s["budget_s"] <= 90


def test_failing_section_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    from benchmarks import gpu

    monkeypatch.setattr(gpu, "run_isolated", lambda name, device, tiny, timeout_s: {
        "name": name, "title": name, "status": "failed", "error": "Traceback...\nRuntimeError: boom", "wall_s": 0.1,
        "budget_s": 90, "tables": [], "notes": [], "checks": []})
    monkeypatch.setattr(gpu, "sections", lambda: ["a", "b"])
    monkeypatch.setattr(gpu.importlib, "import_module", lambda name: type("M", (), {"BUDGET_S": 30}))
    assert gpu.main(["--device", "cpu", "--tiny", "--out", str(tmp_path)]) == 0
    doc = (tmp_path / "gpu.md").read_text()
    assert doc.count("**failed**: `RuntimeError: boom`") == 2


def test_unknown_section_is_a_clear_error(capsys):
    from benchmarks import gpu

    assert gpu.main(["--device", "cpu", "--only", "nosuch"]) == 2
    assert "unknown section(s) nosuch" in capsys.readouterr().err


def test_context_checks_table_shape():
    import pytest

    from benchmarks.gpu import Context

    ctx = Context("cpu", True, 10.0)
    with pytest.raises(ValueError, match="do not have 2 cells"):
        ctx.table("t", ["a", "b"], [[1]])
    ctx.table("t", ["a", "b"], [[1, "x"]])
    ctx.check("same", True)
    assert ctx.time_left() <= 10.0 and ctx.peak_mb() is None and ctx.to_dict()["tables"][0]["rows"] == [[1, "x"]]
