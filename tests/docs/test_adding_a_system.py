"""docs/adding-a-system.md stays true: its example system is built from the page and run end to end."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "adding-a-system.md"


@pytest.fixture
def echo_package(tmp_path, monkeypatch):
    """The page's code blocks written as a package ``echo_doc`` (``systems.echo`` renamed)."""
    blocks = re.findall(r"```python\n# systems/echo/(\w+\.py)\n(.*?)```", DOC.read_text(), re.S)
    assert {name for name, _ in blocks} == {"__init__.py", "config.py", "workloads.py", "evaluate.py"}
    pkg = tmp_path / "echo_doc"
    pkg.mkdir()
    for name, code in blocks:
        (pkg / name).write_text(code.replace("systems.echo", "echo_doc"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "echo_doc"
    for mod in [m for m in sys.modules if m == "echo_doc" or m.startswith("echo_doc.")]:
        del sys.modules[mod]


def test_example_system_runs_its_smoke_suite(echo_package, monkeypatch):
    from systems.core import SYSTEMS
    from systems.core.compare import compare
    from systems.core.execute import execute

    monkeypatch.setenv("SYSLAB_EXTRA_SYSTEMS", echo_package)
    SYSTEMS.reload()
    try:
        spec = SYSTEMS["echo"]
        results = [execute(j) for j in spec.jobs("smoke")]
        assert all(r.ok for r in results), [r.error for r in results]
        rows = {r.method: r for r in compare(spec, results)}
        assert rows["fast"].ratio == pytest.approx(2.0) and rows["expert"].is_baseline
        assert results[0].config == {"size": 4, "scale": 1.0, "seed": 0}
        bad = execute(spec.jobs("smoke")[0].__class__("echo", "small", "fast", params={"scal": 2}))
        assert not bad.ok and "unknown key 'scal'" in bad.error and "valid keys: scale, seed, size" in bad.error
    finally:
        monkeypatch.delenv("SYSLAB_EXTRA_SYSTEMS")
        SYSTEMS.reload()
