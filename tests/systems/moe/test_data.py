"""Workload data: fixed order, drift, shuffling, validation."""

import pytest
import torch

from systems.moe.config import WorkloadConfig
from systems.moe.data import make_data


@pytest.mark.parametrize("kind", ["micro", "classify", "drift"])
def test_fixed_order_replays_each_epoch(kind):
    cfg = WorkloadConfig(kind=kind, batch_size=32, n_batches=3, drift=0.0)
    d = make_data(cfg, seed=1)
    for s in range(3):
        x0, y0 = d.batch(s)
        x1, y1 = d.batch(s + 3)
        assert torch.equal(x0, x1) and torch.equal(y0, y1)
    assert not torch.equal(d.batch(0)[0], d.batch(1)[0])


def test_shuffle_changes_the_order():
    d = make_data(WorkloadConfig(kind="micro", batch_size=32, n_batches=3, shuffle=True))
    assert not torch.equal(d.batch(0)[0], d.batch(3)[0])


def test_drift_moves_cluster_popularity():
    cfg = WorkloadConfig(kind="drift", batch_size=256, n_batches=2, drift=0.05, skew=3.0)
    d = make_data(cfg)
    x0, _ = d.batch(0)
    x10, _ = d.batch(10)  # same position, 10 steps later: the bump moved half a ring
    assert not torch.equal(x0, x10)
    same = make_data(WorkloadConfig(kind="drift", batch_size=256, n_batches=2, drift=0.0)).batch
    assert torch.equal(same(0)[0], same(10)[0])


def test_regression_targets_have_unit_scale_and_classification_labels():
    x, y = make_data(WorkloadConfig(kind="micro", batch_size=256, n_batches=2)).batch(0)
    assert 0.7 < float(y.var()) < 1.3
    d = make_data(WorkloadConfig(kind="classify", dataset="digits", batch_size=64, n_batches=2))
    x, y = d.batch(0)
    assert x.shape == (64, 64) and y.dtype == torch.long and d.d_out == 10 and d.task == "classify"


def test_bad_workloads_fail_clearly():
    with pytest.raises(ValueError, match="workload kind"):
        make_data(WorkloadConfig(kind="images"))
    with pytest.raises(ValueError, match="classify dataset"):
        make_data(WorkloadConfig(kind="classify", dataset="cifar"))
    with pytest.raises(ValueError, match="1797 samples"):
        make_data(WorkloadConfig(kind="classify", dataset="digits", batch_size=512, n_batches=4))
