"""Real 8-bit storage of saved activations: lossless (bit-identical gradients), smaller measured peak."""


import pytest
import torch

from systems.precision.assign import Assignment
from systems.precision.baselines import unif_lo
from systems.precision.floatfmt import FP_4_3_4, FP_5_2_0, quantize_fmt
from systems.precision.graph import trace
from systems.precision.models import build_model
from systems.precision.storage import _decode, _encode, step_peaks


def test_encoding_is_exact_or_refused():
    x = quantize_fmt(torch.randn(1000) * 4, FP_4_3_4)
    enc = _encode(x, "e4m3x16")
    assert enc is not None and enc.dtype == torch.float8_e4m3fn and torch.equal(_decode(enc, "e4m3x16"), x)
    assert _encode(torch.tensor([30.0, 1.0]), "e4m3x16") is None  # 30 = 480/16 is e4m3fn's NaN code
    assert _encode(torch.tensor([float("nan"), 1.0]), "e4m3x16") is None
    assert _encode(torch.tensor([1.1, 1.0]), "e4m3x16") is None  # not a 1-4-3 b4 value
    g = quantize_fmt(torch.randn(1000) * 1e3, FP_5_2_0, "inf")
    assert torch.equal(_decode(_encode(g, "e5m2"), "e5m2"), g)
    assert _encode(torch.tensor([98304.0]), "e5m2") is None  # the paper's 1-5-2 extra binade


@pytest.mark.parametrize("assign", ["unif-lo", "fp32"])
def test_saved_activations_in_8_bits_train_bit_identically_and_use_less_memory(assign):
    torch.manual_seed(0)
    net = build_model("tiny", width=2.0)
    g = trace(net, (1, 16, 16), 64)
    a = unif_lo(g) if assign == "unif-lo" else Assignment.fp32(g)
    x, y = torch.randn(64, 1, 16, 16), torch.randint(0, 10, (64,))
    res = step_peaks(net, a, x, y)
    assert torch.equal(res[False][2].view(torch.int32), res[True][2].view(torch.int32))
    st = res[True][1]
    assert res[False][0] > 0 and res[True][0] > 0
    if assign == "unif-lo":
        assert st.packed >= 5 and st.bytes_stored < 0.4 * st.bytes_fp32
        # measured by the CPU allocator's reports; on this toy net the step's peak is set by backward
        # transients, so it drops by less than the saved bytes (the benchmark measures a 28x28 ResNet)
        assert res[True][0] < res[False][0]
    else:
        assert st.bytes_stored > 0.95 * st.bytes_fp32  # FP32 values are (almost all) not 8-bit values
