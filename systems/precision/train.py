"""Training under a precision assignment: loss scaling, promotion, metrics.

The loop is plain SGD (momentum, weight decay, cosine schedule) on FP32 master weights. For a
non-FP32 assignment the forward runs through :class:`~systems.precision.emulate.Emulator`, the
loss is multiplied by a dynamic loss scale (:class:`LossScaler`), a step whose gradients hold
inf/NaN is skipped and halves the scale, and after every optimizer step every low ``P``/``Y``
tensor whose overflow ratio reached ``theta`` is promoted to high precision for the rest of
training (paper §3, step 4).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from systems.precision import floatfmt
from systems.precision.analysis import plateaued
from systems.precision.assign import Assignment
from systems.precision.config import TrainConfig
from systems.precision.emulate import Emulator


class LossScaler:
    """Dynamic loss scale: starts at ``init``, x2 every ``growth_epochs`` epochs, x0.5 and skip on inf/NaN."""

    def __init__(self, init: float = 65536.0, growth_epochs: int = 1, min_scale: float = 2.0 ** -24) -> None:
        self.scale = float(init)
        self.growth_epochs = max(1, growth_epochs)
        self.min_scale = min_scale
        self.skipped = 0

    def unscale_or_skip(self, params: list[nn.Parameter]) -> bool:
        """Divide gradients by the scale; return False (and back off) when any is inf/NaN."""
        grads = [p.grad for p in params if p.grad is not None]
        finite = bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()) if grads else True
        if not finite:
            self.scale = max(self.min_scale, self.scale * 0.5)
            self.skipped += 1
            return False
        inv = 1.0 / self.scale
        for g in grads:
            g.mul_(inv)
        return True

    def end_epoch(self, epoch: int) -> None:
        if (epoch + 1) % self.growth_epochs == 0:
            self.scale *= 2.0


@dataclass
class TrainResult:
    """What one training run produced."""

    accuracy: float
    """Final test accuracy (fraction), evaluated with the assignment's rounding."""
    final_loss: float
    """Mean training loss over the last epoch (nan if it diverged to nan)."""
    diverged: bool
    """Training loss became non-finite, or the final accuracy is below twice chance."""
    promotions: int
    """Tensors promoted to high precision during training."""
    skipped_steps: int
    """Optimizer steps skipped by the loss scaler."""
    step_s: float
    """Median wall time of one training step (forward + backward + update)."""
    steps: int
    """Optimizer steps attempted."""
    loss_per_step: list[float] = field(default_factory=list)
    """Training loss of every step."""
    loss_per_epoch: list[float] = field(default_factory=list)
    """Mean training loss per epoch."""
    accuracy_per_epoch: list[float] = field(default_factory=list)
    """Test accuracy after every epoch."""
    max_overflow_per_epoch: list[float] = field(default_factory=list)
    """Largest overflow ratio over low P/Y tensors seen in each epoch."""
    max_grad_overflow_per_epoch: list[float] = field(default_factory=list)
    """Largest GY/GP overflow ratio per epoch (only with ``record_gradient_overflow``)."""
    loss_scale_per_epoch: list[float] = field(default_factory=list)
    """Loss scale at the end of every epoch."""
    promoted: list[str] = field(default_factory=list)
    """Promoted tensor ids in order."""
    converged: bool = False
    """The plateau criterion of :func:`systems.precision.analysis.plateaued` holds at the end."""
    backend: str = ""
    """How the roundings ran (``native`` / ``compiled`` / ``eager`` / a fallback with its reason)."""


def evaluate_accuracy(emu: Emulator | None, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      batch_size: int = 500) -> float:
    """Test accuracy with the assignment's rounding applied (eval mode, no grad)."""
    was = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out = emu.forward(x[i:i + batch_size]) if emu is not None else model(x[i:i + batch_size])
            correct += int((out.argmax(1) == y[i:i + batch_size]).sum())
    model.train(was)
    return correct / max(1, len(x))


def train(model: nn.Module, assignment: Assignment, data, cfg: TrainConfig,
          promotion: bool = True, num_classes: int = 10) -> TrainResult:
    """Train ``model`` in place under ``assignment`` (mutated by promotion) and report."""
    prev = floatfmt.set_backend(floatfmt.get_backend() if cfg.backend == "auto" else cfg.backend)  # type: ignore
    try:
        res = _train(model, assignment, data, cfg, promotion, num_classes)
        res.backend = floatfmt.backend_info()
        return res
    finally:
        floatfmt.set_backend(prev)


def _train(model: nn.Module, assignment: Assignment, data, cfg: TrainConfig, promotion: bool,
           num_classes: int) -> TrainResult:
    x_tr, y_tr, x_te, y_te = data
    is_fp32 = all(f is None for f in assignment.formats.values())
    emu = Emulator(model, assignment, record=(cfg.record_overflow or cfg.record_gradient_overflow) and not is_fp32,
                   record_gradients=cfg.record_gradient_overflow, rounding=cfg.rounding)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    n = len(x_tr)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    scaler = None if is_fp32 else LossScaler(cfg.loss_scale_init, cfg.loss_scale_growth_epochs)
    theta = cfg.theta if (promotion and cfg.theta >= 0) else None
    gen = torch.Generator().manual_seed(cfg.seed)
    res = TrainResult(accuracy=0.0, final_loss=float("nan"), diverged=False, promotions=0, skipped_steps=0,
                      step_s=0.0, steps=0)
    step_times: list[float] = []
    nonfinite = False
    model.train()
    try:
        for epoch in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen)
            ep_losses: list[float] = []
            ep_over = ep_gover = 0.0
            for s in range(steps_per_epoch):
                idx = perm[s * cfg.batch_size:(s + 1) * cfg.batch_size]
                xb, yb = x_tr[idx], y_tr[idx]
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                out = emu.forward(xb)
                loss = F.cross_entropy(out, yb)
                if scaler is None:
                    loss.backward()
                    opt.step()
                else:
                    (loss * scaler.scale).backward()
                    if scaler.unscale_or_skip(params):
                        opt.step()
                with warnings.catch_warnings():  # a skipped first step makes torch warn about the order
                    warnings.simplefilter("ignore", UserWarning)
                    sched.step()
                if theta is not None or emu.rec is not None:
                    ratios = emu.overflow_ratios()
                    low_py = [(t, r) for t, r in ratios.items()
                              if t in assignment.low and assignment.graph.tensors[t].kind in ("P", "Y")]
                    if low_py:
                        ep_over = max(ep_over, max(r for _, r in low_py))
                    grads = [r for t, r in ratios.items() if t[0] == "G"]
                    if grads:
                        ep_gover = max(ep_gover, max(grads))
                    if theta is not None:
                        for t, r in low_py:
                            if r >= theta:
                                assignment.promote(t)
                    emu.clear()
                step_times.append(time.perf_counter() - t0)
                lv = float(loss.detach())
                res.loss_per_step.append(lv)
                ep_losses.append(lv)
                if not math.isfinite(lv):
                    nonfinite = True
            if scaler is not None:
                scaler.end_epoch(epoch)
                res.loss_scale_per_epoch.append(scaler.scale)
            res.loss_per_epoch.append(sum(ep_losses) / len(ep_losses))
            res.max_overflow_per_epoch.append(ep_over)
            if cfg.record_gradient_overflow:
                res.max_grad_overflow_per_epoch.append(ep_gover)
            res.accuracy_per_epoch.append(evaluate_accuracy(emu, model, x_te, y_te))
    finally:
        emu.remove()
    res.steps = len(step_times)
    res.accuracy = res.accuracy_per_epoch[-1]
    res.final_loss = res.loss_per_epoch[-1]
    res.promoted = list(assignment.promoted)
    res.promotions = len(assignment.promoted)
    res.skipped_steps = scaler.skipped if scaler else 0
    res.step_s = sorted(step_times)[len(step_times) // 2]
    res.diverged = nonfinite or not math.isfinite(res.final_loss) or res.accuracy < 2.0 / num_classes
    res.converged = not res.diverged and plateaued(res.accuracy_per_epoch, res.loss_per_epoch)
    return res
