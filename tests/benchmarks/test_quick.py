"""Every benchmark's ``--quick`` mode runs end to end and writes its doc (slow: ``make test-slow``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = ["platform", "hag", "mapper", "precision", "layerwise", "moe"]


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_quick_benchmark_writes_its_doc(name, tmp_path):
    p = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--quick", "--out", str(tmp_path)], cwd=REPO,
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = (tmp_path / f"{name}.md").read_text()
    assert "--quick" in doc and "Produced by" in doc
