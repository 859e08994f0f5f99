"""Instrumented training: FP32 equals plain torch; promotion on forced overflow; loss scaling; rounding applied."""

import math

import pytest
import torch
import torch.nn.functional as F

from systems.precision.assign import Assignment
from systems.precision.baselines import unif_lo
from systems.precision.config import TrainConfig
from systems.precision.data import load
from systems.precision.emulate import Emulator
from systems.precision.floatfmt import FP_4_3_4, FP_5_2_0, FP_6_9_0, quantize_fmt
from systems.precision.graph import trace
from systems.precision.models import TinyCNN
from systems.precision.train import LossScaler, train


@pytest.fixture(scope="module")
def digits():
    return load("digits", train_size=256, test_size=128)


def _cfg(**kw):
    base = dict(dataset="digits", model="tiny", epochs=2, batch_size=64, lr=0.05, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def _plain_torch(model, data, cfg):
    x, y = data[0], data[1]
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    spe = math.ceil(len(x) / cfg.batch_size)
    total = spe * cfg.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(x), generator=gen)
        for s in range(spe):
            idx = perm[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()


def test_fp32_assignment_equals_plain_torch_training(digits):
    cfg = _cfg()
    torch.manual_seed(0)
    a, b = TinyCNN(), TinyCNN()
    b.load_state_dict(a.state_dict())
    res = train(a, Assignment.fp32(trace(a, (1, 8, 8), 64)), digits, cfg)
    _plain_torch(b, digits, cfg)
    for (n, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), n
    assert res.skipped_steps == 0 and res.promotions == 0 and len(res.loss_per_step) == res.steps == 8


def test_all_high_assignment_is_close_but_not_identical(digits):
    cfg = _cfg()
    torch.manual_seed(0)
    a, b = TinyCNN(), TinyCNN()
    b.load_state_dict(a.state_dict())
    train(a, Assignment.from_low(trace(a, (1, 8, 8), 64), set()), digits, cfg)  # 1-6-9 everywhere
    _plain_torch(b, digits, cfg)
    wa, wb = a.body[0].weight, b.body[0].weight
    assert not torch.equal(wa, wb)
    assert torch.allclose(wa, wb, atol=5e-2)


def test_promotion_triggers_on_forced_overflow(digits):
    big = (digits[0] * 100.0, digits[1], digits[2] * 100.0, digits[3])  # inputs far above 1-4-3 b4's max (30)
    torch.manual_seed(0)
    net = TinyCNN()
    with torch.no_grad():
        net.body[0].weight.mul_(500.0)  # first-conv weights overflow too
    a = unif_lo(trace(net, (1, 8, 8), 64))
    res = train(net, a, big, _cfg(epochs=1))
    assert "Y:inp" in res.promoted and "P:body.0.weight" in res.promoted
    assert a.formats["Y:inp"] == FP_6_9_0 and "Y:inp" not in a.low
    assert res.promotions == len(a.promoted) >= 2
    assert a.memory_bits() > unif_lo(a.graph).memory_bits()  # promotion costs memory
    # without promotion the same run keeps everything low
    torch.manual_seed(0)
    net2 = TinyCNN()
    a2 = unif_lo(trace(net2, (1, 8, 8), 64))
    res2 = train(net2, a2, big, _cfg(epochs=1), promotion=False)
    assert res2.promotions == 0 and a2.low == set(a2.graph.tensors)


def test_no_promotion_without_overflow(digits):
    torch.manual_seed(0)
    net = TinyCNN()
    a = unif_lo(trace(net, (1, 8, 8), 64))
    res = train(net, a, digits, _cfg(epochs=1, theta=0.5))
    assert res.promotions == 0


def test_loss_scaler_backoff_skip_and_growth():
    p = torch.nn.Parameter(torch.ones(3))
    s = LossScaler(init=2.0**16, growth_epochs=1)
    p.grad = torch.tensor([1.0, float("inf"), 0.0])
    assert s.unscale_or_skip([p]) is False and s.scale == 2.0**15 and s.skipped == 1
    p.grad = torch.tensor([2.0**15, 0.0, -2.0**16])
    assert s.unscale_or_skip([p]) is True and p.grad.tolist() == [1.0, 0.0, -2.0]
    s.end_epoch(0)
    assert s.scale == 2.0**16


def test_emulator_rounds_y_gy_p_gp():
    torch.manual_seed(0)
    net = TinyCNN()
    g = trace(net, (1, 8, 8), 4)
    a = unif_lo(g)
    emu = Emulator(net, a)
    seen = {}
    def grab(mod, inp, out):
        seen["relu_in"] = inp[0].detach()

    net.body[2].register_forward_hook(grab)
    x = torch.randn(4, 1, 8, 8) * 3
    out = emu.forward(x)
    (out.sum() * 1000).backward()
    emu.remove()
    q = lambda t, f: quantize_fmt(t, f)  # noqa: E731
    assert torch.equal(out, q(out, FP_4_3_4))  # Y of the last Linear is 1-4-3 b4
    assert torch.equal(seen["relu_in"], q(seen["relu_in"], FP_4_3_4))  # BN output rounded before ReLU reads it
    w = net.body[0].weight.grad
    assert torch.equal(w, q(w, FP_6_9_0))  # GP stays 16-bit (1-6-9)
    ratios = emu.overflow_ratios()
    assert "P:body.0.weight" in ratios and "Y:inp" in ratios and not any(k.startswith("G") for k in ratios)
    # the gradient reaching conv 2's output was rounded to 1-5-2
    gy = torch.autograd.grad(emu.forward(x).sum(), [net.body[0].weight])[0]
    assert torch.isfinite(gy).all()
    assert FP_5_2_0.bits == 8


def test_gradient_overflow_recorded_and_loss_scaler_skips(digits):
    torch.manual_seed(0)
    net = TinyCNN()
    a = unif_lo(trace(net, (1, 8, 8), 64))
    cfg = _cfg(epochs=1, loss_scale_init=2.0**40, record_gradient_overflow=True)  # GY overflows 1-5-2 -> inf
    res = train(net, a, digits, cfg)
    assert res.skipped_steps >= 1
    assert res.max_grad_overflow_per_epoch and res.max_grad_overflow_per_epoch[0] > 0
    assert res.loss_scale_per_epoch[0] < 2.0**41  # backed off before growing at the epoch end
    emu = Emulator(net, a, record_gradients=True)
    F.cross_entropy(emu.forward(digits[0][:8]), digits[1][:8]).backward()
    kinds = {t.split(":")[0] for t in emu.overflow_ratios()}
    emu.remove()
    assert kinds == {"P", "Y", "GY", "GP"}
