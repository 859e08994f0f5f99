"""pi_op (HFP8), the AMP-style reconstruction and the uniform assignments on TinyCNN."""

from systems.precision.baselines import amp_style, fp32, pi_op, unif_lo
from systems.precision.graph import trace
from systems.precision.models import TinyCNN, build_model


def _g():
    return trace(TinyCNN(), (1, 8, 8), batch_size=4)


def test_pi_op_lowers_gemm_operands_except_first_and_last():
    a = pi_op(_g())
    # only the middle conv (body.3): its weights, its input (relu body.2) and its output gradient
    assert a.low == {"P:body.3.weight", "Y:body.2", "GY:body.3"}


def test_amp_style_lowers_every_gemm_operand():
    a = amp_style(_g())
    assert a.low == {"P:body.0.weight", "Y:inp", "GY:body.0", "P:body.3.weight", "Y:body.2", "GY:body.3",
                     "P:head.fc.weight", "P:head.fc.bias", "Y:head.pool", "GY:head.fc"}


def test_uniform_assignments_and_memory_order():
    g = trace(build_model("resnet18"), (1, 8, 8), batch_size=32)
    lo, op, amp, f = unif_lo(g), pi_op(g), amp_style(g), fp32(g)
    assert lo.low == set(g.tensors) and f.low == set()
    assert lo.memory_bits() < amp.memory_bits() <= op.memory_bits() < f.memory_bits()
    # pi_op keeps BN/ReLU outputs high: a minority of elements is low
    assert 0.1 < op.low_share() < 0.5
