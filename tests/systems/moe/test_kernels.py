"""Grouped expert GEMMs against a per-expert loop, no host synchronisation in the hot path, fused Adam."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from systems.moe.config import LayerConfig
from systems.moe.controller import Pending, pack_stats
from systems.moe.kernels import (grouped_linear, grouped_mm_supported, resolve_impl, segments_from_sizes,
                                 segments_from_sorted)
from systems.moe.layer import MoEModel, make_layout
from systems.moe.train import forward_loss, make_optimizer

IMPLS = ["padded_bmm", "loop"] + (["grouped_mm"] if grouped_mm_supported("cpu", torch.float32) else [])


def _reference(x, w, b, sizes):
    out, off = [], 0
    for e, s in enumerate(sizes):
        out.append(x[off:off + s] @ w[e] + b[e, 0])
        off += s
    return torch.cat(out)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("sizes", [(5, 0, 7, 3), (4, 4, 4, 4), (0, 0, 9, 0), (1, 2, 3, 17)])
def test_grouped_linear_matches_per_expert_matmuls_forward_and_backward(impl, sizes):
    g = torch.Generator().manual_seed(sum(sizes))
    x = torch.randn(sum(sizes), 8, generator=g, requires_grad=True)  # rows of 16-byte multiples (grouped_mm)
    w = torch.randn(4, 8, 12, generator=g, requires_grad=True)
    b = torch.randn(4, 1, 12, generator=g, requires_grad=True)
    gy = torch.randn(sum(sizes), 12, generator=g)
    seg = segments_from_sizes(sizes, "cpu")
    y = grouped_linear(x, w, b, seg, impl)
    grads = torch.autograd.grad(y, (x, w, b), gy)
    ref = _reference(x, w, b, sizes)
    ref_grads = torch.autograd.grad(ref, (x, w, b), gy)
    assert torch.allclose(y, ref, atol=1e-5)
    for got, want in zip(grads, ref_grads):
        assert torch.allclose(got, want, atol=1e-5)


def test_segments_from_sorted_equal_segments_from_sizes():
    sorted_e = torch.tensor([0, 0, 2, 2, 2, 3])
    a, b = segments_from_sorted(sorted_e, 5), segments_from_sizes((2, 0, 3, 1, 0), "cpu")
    assert torch.equal(a.offs, b.offs) and torch.equal(a.row_expert, b.row_expert) and a.rows == b.rows == 6


def test_resolve_impl_and_bad_names():
    assert resolve_impl("auto", "cpu", torch.float32) in ("grouped_mm", "padded_bmm")
    assert resolve_impl("auto", "cpu", torch.float32, dims=(6, 12)) == "padded_bmm"  # 24-byte rows: no grouped_mm
    assert resolve_impl("loop", "cpu", torch.float32) == "loop"
    with pytest.raises(ValueError, match="unknown grouped GEMM"):
        resolve_impl("cutlass", "cpu", torch.float32)


@pytest.mark.parametrize("impl", IMPLS)
def test_every_backend_equals_the_dense_reference_in_float64(impl):
    if impl == "grouped_mm" and not grouped_mm_supported("cpu", torch.float64):
        pytest.skip("torch._grouped_mm has no float64 CPU kernel here")
    torch.manual_seed(0)
    model = MoEModel(16, 16, LayerConfig(d_model=16, d_hidden=24, n_experts=4, top_k=2), impl).double()
    x = torch.randn(40, 16, dtype=torch.float64)
    layer = model.moe
    ref = layer.dense_reference(x)
    for kw in ({"layout": make_layout((40,) * 4)}, {"layout": make_layout((40, 45, 50, 41))},
               {"backend": "dropless"}, {"backend": "tutel", "tutel_cf": 0.0}):
        y, aux = layer(x, **kw)
        assert torch.allclose(y, ref, atol=1e-12), kw
        assert int(aux["dropped"]) == 0


class _HostReads(TorchDispatchMode):
    """Counts reads of device values on the host: ``aten._local_scalar_dense`` (``.item()``, ``int()``,
    ``bool()`` of a tensor) plus Python-level ``Tensor.tolist`` calls (which dispatch nothing on CPU)."""

    def __init__(self):
        super().__init__()
        self.reads = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads.append("item")
        return func(*args, **(kwargs or {}))


def _count_host_reads(monkeypatch, fn):
    orig = torch.Tensor.tolist
    with _HostReads() as mode:
        def tolist(t):
            mode.reads.append("tolist")
            return orig(t)

        monkeypatch.setattr(torch.Tensor, "tolist", tolist)
        fn()
        monkeypatch.setattr(torch.Tensor, "tolist", orig)
    return mode.reads


@pytest.mark.parametrize("backend", ["padded", "dropless"])
def test_training_step_reads_nothing_back_to_the_host(monkeypatch, backend):
    torch.manual_seed(0)
    model = MoEModel(16, 16, LayerConfig(d_model=16, d_hidden=24, n_experts=4, top_k=2))
    model.moe.experts.resolve_kernel()
    opt, _ = make_optimizer(model.parameters(), 1e-3, "fused", torch.device("cpu"))
    x, y = torch.randn(32, 16), torch.randn(32, 16)
    layout = make_layout((12, 20, 16, 16)) if backend == "padded" else None  # built once per configuration

    def step():
        opt.zero_grad(set_to_none=True)
        loss, _, counts, dropped, _, _ = forward_loss(model, x, y, "regress", 0.01, layout, backend, 0.0)
        loss.backward()
        opt.step()
        pack_stats(counts, dropped, None)  # the statistics leave as a pending copy

    step()
    assert _count_host_reads(monkeypatch, step) == []


def test_tutel_reads_the_max_load_on_the_host(monkeypatch):
    model = MoEModel(16, 16, LayerConfig(d_model=16, d_hidden=24, n_experts=4, top_k=2))
    model.moe.experts.resolve_kernel()
    reads = _count_host_reads(monkeypatch, lambda: forward_loss(
        model, torch.randn(32, 16), torch.randn(32, 16), "regress", 0.01, None, "tutel", 0.0))
    assert reads  # Tutel's cf=0 sizes its buffers from this step's maximum load


def test_fused_adam_is_used_and_matches_the_loop_version():
    torch.manual_seed(0)
    p1 = torch.nn.Parameter(torch.randn(50, 7))
    p2 = torch.nn.Parameter(p1.detach().clone())
    o1, kind = make_optimizer([p1], 1e-2, "fused", torch.device("cpu"))
    o2, _ = make_optimizer([p2], 1e-2, "loop", torch.device("cpu"))
    assert kind == "fused"
    for _ in range(3):
        for p, o in ((p1, o1), (p2, o2)):
            o.zero_grad()
            (p ** 2).sum().backward()
            o.step()
    assert torch.allclose(p1, p2, atol=1e-6)
    with pytest.raises(ValueError, match="adam must be"):
        make_optimizer([p1], 1e-2, "lion", torch.device("cpu"))


def test_pending_statistics_pack_and_read_back():
    counts, dropped = torch.tensor([3, 1, 4]), torch.tensor(2)
    assert pack_stats(counts, dropped, None).values() == [3.0, 1.0, 4.0, 2.0, -1.0]
    assert pack_stats(counts, dropped, torch.tensor(0.5)).values()[-1] == 0.5
    assert Pending(torch.tensor([1.0, 2.0])).values() == [1.0, 2.0]


@pytest.mark.gpu
def test_gpu_grouped_mm_bf16_and_no_sync():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    torch.manual_seed(0)
    model = MoEModel(64, 64, LayerConfig(d_model=64, d_hidden=128, n_experts=8, top_k=2)).cuda().bfloat16()
    impl = model.moe.experts.resolve_kernel()
    x, y = torch.randn(512, 64, device="cuda", dtype=torch.bfloat16), torch.randn(512, 64, device="cuda")
    layout = make_layout((128,) * 8, "cuda")
    forward_loss(model, x, y, "regress", 0.01, layout, "padded", 0.0)[0].backward()  # warm-up
    torch.cuda.set_sync_debug_mode("error")
    try:
        for backend in ("padded", "dropless"):
            loss = forward_loss(model, x, y, "regress", 0.01, layout, backend, 0.0)[0]
            loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    ref = model.moe.dense_reference(x.float().bfloat16())
    out, _ = model.moe(x, layout=make_layout((512,) * 8, "cuda"))
    assert impl in ("grouped_mm", "padded_bmm")
    assert torch.allclose(out.float(), ref.float(), atol=0.1, rtol=0.05)
