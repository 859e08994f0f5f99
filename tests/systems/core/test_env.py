import random

from systems.core import Timer, git_sha, hardware_description, median_time, seed_everything, syslab_home


def test_seed_everything_repeats():
    seed_everything(7)
    a = random.random()
    import torch

    t = torch.rand(3)
    seed_everything(7)
    assert random.random() == a and torch.equal(torch.rand(3), t)


def test_machine_facts(tmp_path, monkeypatch):
    assert "CPU" in hardware_description()
    assert git_sha()
    monkeypatch.setenv("SYSLAB_HOME", str(tmp_path / "h"))
    assert syslab_home() == (tmp_path / "h").resolve() and (tmp_path / "h").is_dir()


def test_timers():
    with Timer() as t:
        sum(range(1000))
    assert t.seconds >= 0
    assert median_time(lambda: None, repeats=3) >= 0
