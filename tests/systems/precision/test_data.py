"""Offline datasets: shapes, fixed stratified split, normalisation."""

import pytest
import torch

from systems.precision.config import TrainConfig, precision_debug_cpu
from systems.precision.data import load


def test_digits_split_and_normalisation():
    xt, yt, xe, ye = load("digits")
    assert xt.shape[1:] == (1, 8, 8) and len(xt) + len(xe) == 1797
    assert abs(len(xe) - 360) <= 10 and set(ye.tolist()) == set(range(10))
    assert abs(float(xt.mean())) < 1e-4 and abs(float(xt.std()) - 1) < 1e-3
    xt2, yt2, _, _ = load("digits")
    assert torch.equal(yt, yt2)  # the split does not depend on anything but SPLIT_SEED


def test_mnist5k_resized_subset():
    xt, yt, xe, ye = load("mnist", image_size=14, train_size=500, test_size=200)
    assert xt.shape == (500, 1, 14, 14) and xe.shape == (200, 1, 14, 14)
    assert yt.dtype == torch.int64 and int(yt.max()) == 9


def test_bad_dataset_and_config():
    with pytest.raises(ValueError, match="valid: digits, mnist"):
        load("cifar10")
    with pytest.raises(ValueError, match="TrainConfig.dataset"):
        TrainConfig(dataset="cifar10")
    with pytest.raises(ValueError, match="epochs"):
        precision_debug_cpu().with_(epochs=0)
