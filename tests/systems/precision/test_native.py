"""The fast paths give the same bits as the eager rounding: the C++ kernel (per format, mode and tie)
and whole training runs under the native backend. Slow: the kernel is built with g++ on first use."""

import numpy as np
import pytest
import torch

from systems.precision import floatfmt, native
from systems.precision.config import TrainConfig
from systems.precision.data import load
from systems.precision.floatfmt import BF16, FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat, quantize_count
from systems.precision.graph import trace
from systems.precision.models import build_model
from systems.precision.planner import build_assignment
from systems.precision.train import train

from tests.systems.precision.test_floatfmt import _cases, _same

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def built():
    assert native.available(), native.error()


@pytest.mark.parametrize("fmt", [FP_4_3_4, FP_5_2_0, FP_6_9_0, BF16, FloatFormat(8, 2, -3), FloatFormat(3, 1, 0)],
                         ids=str)
def test_native_kernel_bit_identical_to_eager(fmt):
    x = _cases(fmt)
    for rounding in ("away", "even"):
        for overflow in ("saturate", "inf"):
            r0, n0 = quantize_count(x, fmt, overflow, rounding)
            prev = floatfmt.set_backend("native")
            try:
                r1, n1 = quantize_count(x, fmt, overflow, rounding)
            finally:
                floatfmt.set_backend(prev)
            assert _same(r1, r0) and int(n1) == int(n0), (rounding, overflow)
            sizes = [x.numel() // 3, x.numel() // 3, x.numel() - 2 * (x.numel() // 3)]
            r2, counts = native.quant_seg(x, floatfmt.native_args(fmt, overflow, rounding), sizes)
            assert _same(r2, r0)
            parts = torch.split(x, sizes)
            assert counts.tolist() == [int((p.abs() >= fmt.overflow_threshold).sum()) for p in parts]


@pytest.mark.parametrize("method,r", [("unif-lo", None), ("ours", 0.5), ("pi-op", None)])
def test_training_under_the_native_backend_is_bit_identical(method, r):
    data = load("digits", train_size=256, test_size=100)
    out = {}
    for backend in ("eager", "native"):
        prev = floatfmt.set_backend(backend)
        try:
            torch.manual_seed(0)
            net = build_model("resnet18")
            a = build_assignment(method, trace(net, (1, 8, 8), 64), r)
            res = train(net, a, data, TrainConfig(model="resnet18", epochs=2, batch_size=64, lr=0.05, seed=1,
                                                     backend=backend))
        finally:
            floatfmt.set_backend(prev)
        params = torch.cat([p.detach().flatten() for p in net.state_dict().values() if p.is_floating_point()])
        out[backend] = (params, res.loss_per_step, res.accuracy, res.promoted, res.max_overflow_per_epoch)
    a, b = out["eager"], out["native"]
    assert torch.equal(a[0].view(torch.int32), b[0].view(torch.int32))
    assert a[1:] == b[1:]
    assert np.isfinite(a[1]).all()
