import pytest

from systems.core import SYSTEMS, UnknownSystemError, get_system


def test_lookup_names_known_systems_on_typo():
    with pytest.raises(UnknownSystemError) as e:
        get_system("hagg")
    msg = str(e.value)
    assert "unknown system 'hagg'" in msg and "known systems:" in msg
    for name in SYSTEMS:
        assert name in msg


def test_registered_specs_are_consistent():
    assert SYSTEMS, "no system registered"
    for name, spec in SYSTEMS.items():
        assert spec.name == name
        assert set(spec.baselines) <= set(spec.method_names), name
        assert spec.direction in ("min", "max")
        assert ":" in spec.runner
        if spec.reference_baseline:
            assert spec.reference_baseline in spec.baselines


def test_every_system_has_a_cheap_smoke_suite():
    for name, spec in SYSTEMS.items():
        jobs = spec.jobs("smoke")
        assert jobs, f"{name} smoke suite is empty"
        assert all(j.system == name and j.method in spec.method_names for j in jobs)
        assert len({j.key for j in jobs}) == len(jobs), f"{name}: duplicate job keys"


def test_mapper_status_line_says_offline_without_llm(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    line = get_system("mapper").status_line()
    assert "offline optimizers only" in line
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SYSLAB_LLM_MODEL", "m")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    line = get_system("mapper").status_line()
    assert "configured" in line and "sk-secret-value" not in line
