"""GPU section of precision: emulated step vs FP32, real 8-bit activation storage, pi_ours(r) vs pi_op.

Imports only stdlib, torch and ``systems.precision`` (its data helpers use numpy). Three parts, each
stops adding rows when the section's budget runs low:

1. overhead: one training step of a ResNet-18 (width 0.25, 32x32 inputs, batch 256) in FP32 and
   emulated (pi_unif(lo), pi_op) with the eager rounding and the ``torch.compile``'d rounding
   (Triton on CUDA); medians of interleaved rounds; the compiled rounding is checked bit-identical
   to eager on the device.
2. memory: peak memory of one step (``torch.cuda.max_memory_allocated`` above the pre-step level)
   with float32 saved activations vs real 8-bit ones (``storage.Fp8SavedTensors``), gradients
   checked bit-identical, beside the memory model's activation figure.
3. accuracy: a short run on the synthetic ``contrast`` task (numpy-generated, so no dataset package
   is needed on the device) with a ResNet-18 at width 0.25: FP32, pi_op, pi_unif(lo) and
   pi_ours(r) for a few r, one seed each, accuracy and low-precision share.
"""

from __future__ import annotations

import copy
import time

TITLE = "precision: emulated 8-bit training on the GPU (overhead, real 8-bit storage, pi_ours vs pi_op)"
BUDGET_S = 90


def _model_and_graph(side: int, batch: int, width: float, device: str, model: str = "resnet18"):
    import torch

    from systems.precision.graph import trace
    from systems.precision.models import build_model

    torch.manual_seed(0)
    net = build_model(model, in_ch=1, num_classes=10, width=width)
    g = trace(net, (1, side, side), batch)
    return net.to(device), g


def _overhead(ctx, side: int, batch: int, width: float, rounds: int, compiled: bool, model: str = "resnet18") -> None:
    import torch
    import torch.nn.functional as F

    from systems.precision import floatfmt
    from systems.precision.assign import Assignment
    from systems.precision.baselines import pi_op, unif_lo
    from systems.precision.emulate import Emulator

    dev = ctx.device
    net, g = _model_and_graph(side, batch, width, dev, model)
    x = torch.randn(batch, 1, side, side, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    variants = [("fp32", Assignment.fp32(g), "eager"), ("pi_unif(lo) eager", unif_lo(g), "eager")]
    if not ctx.tiny:
        variants.append(("pi_op eager", pi_op(g), "eager"))
    if compiled:
        variants += [("pi_unif(lo) compiled", unif_lo(g), "compiled"), ("pi_op compiled", pi_op(g), "compiled")]
    steps = {}
    for label, a, backend in variants:
        m = copy.deepcopy(net)
        emu = Emulator(m, a, record=label != "fp32")
        opt = torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9)

        def step(emu=emu, opt=opt, backend=backend):
            floatfmt.set_backend(backend)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(emu.forward(x), y).backward()
            opt.step()
            emu.overflow_ratios()
            emu.clear()
        t0 = time.perf_counter()
        step()
        step()
        ctx.sync()
        warm = time.perf_counter() - t0
        steps[label] = (step, warm)
        if ctx.time_left() < 20:
            break
    samples: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        if ctx.time_left() < 15:
            break
        for label, (step, _) in steps.items():
            ctx.sync()
            t0 = time.perf_counter()
            step()
            ctx.sync()
            samples[label].append(time.perf_counter() - t0)
    floatfmt.set_backend("eager")
    med = {k: sorted(v)[len(v) // 2] for k, v in samples.items() if v}
    base = med.get("fp32")
    rows = [[k, f"{v * 1e3:.2f}", f"{v / base:.2f}x" if base else "-", len(samples[k]), f"{steps[k][1]:.1f}"]
            for k, v in med.items()]
    ctx.table(f"Training step, {model} width {width}, {side}x{side}, batch {batch} (median of interleaved rounds)",
              ["variant", "ms / step", "x FP32", "rounds", "warm-up s (incl. compile)"], rows,
              note="The eager rounding is ~10 elementwise kernels per tensor; 'compiled' is one torch.compile'd "
                   "(Triton) kernel per tensor. The C++ 'native' kernel is CPU-only.")
    if not compiled:
        return
    # the compiled rounding gives the same bits on the device
    xs = torch.randn(1 << 20, device=dev) * 8
    for fmt, ov in ((floatfmt.FP_4_3_4, "saturate"), (floatfmt.FP_5_2_0, "inf")):
        r0, n0 = floatfmt.quantize_count(xs, fmt, ov)
        floatfmt.set_backend("compiled")
        r1, n1 = floatfmt.quantize_count(xs, fmt, ov)
        info = floatfmt.backend_info()
        floatfmt.set_backend("eager")
        ctx.check(f"compiled rounding bit-identical to eager on {dev} ({fmt.name}, {ov})",
                  bool(torch.equal(r0.view(torch.int32), r1.view(torch.int32)) and int(n0) == int(n1)), info)


def _memory(ctx, side: int, batch: int, width: float, model: str = "resnet18") -> None:
    import torch

    from systems.precision import floatfmt
    from systems.precision.assign import Assignment
    from systems.precision.baselines import pi_op, unif_lo
    from systems.precision.storage import step_peaks

    floatfmt.set_backend("eager")
    dev = ctx.device
    net, g = _model_and_graph(side, batch, width, dev, model)
    x = torch.randn(batch, 1, side, side, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    rows = []
    assignments = [("pi_unif(lo)", unif_lo(g))] if ctx.tiny else \
        [("fp32", Assignment.fp32(g)), ("pi_op", pi_op(g)), ("pi_unif(lo)", unif_lo(g))]
    for label, a in assignments:
        if ctx.time_left() < 10:
            break
        out = step_peaks(net, a, x, y, dev)
        st = out[True][1]
        same = bool(torch.equal(out[False][2].view(torch.int32), out[True][2].view(torch.int32)))
        ctx.check(f"8-bit saved activations leave the gradients bit-identical ({label})", same)
        rows.append([label, f"{out[False][0] / 1e6:.1f}", f"{out[True][0] / 1e6:.1f}",
                     f"{st.bytes_fp32 / 1e6:.1f}", f"{st.bytes_stored / 1e6:.1f}", f"{st.packed}/{st.saved}",
                     f"{a.activation_memory_mb():.1f}", f"{Assignment.fp32(g).activation_memory_mb():.1f}"])
    ctx.table(f"Peak memory of one step, {model} width {width}, {side}x{side}, batch {batch} "
              f"(measured: torch.cuda.max_memory_allocated above the pre-step level)",
              ["assignment", "peak MB, float32 saved", "peak MB, 8-bit saved", "saved MB as float32",
               "saved MB as stored", "tensors in 8 bits", "model: activations MB at assigned bits",
               "model: activations MB in FP32"], rows,
              note="Only tensors whose values are 8-bit values are stored in 8 bits (1-4-3 b4 as e4m3fn x16, "
                   "1-5-2 as e5m2); 16-bit (1-6-9) tensors stay float32 (no torch dtype holds 1-6-9), so pi_op "
                   "saves less than its model figure.")


def _accuracy(ctx, width: float, epochs: int, train_size: int, rs: tuple[float, ...], model: str = "resnet18") -> None:
    import torch

    from systems.precision import floatfmt
    from systems.precision.config import TrainConfig
    from systems.precision.data import load
    from systems.precision.graph import trace
    from systems.precision.models import build_model
    from systems.precision.planner import build_assignment, uses_promotion
    from systems.precision.train import train

    dev = ctx.device
    data = load("contrast", train_size=train_size, test_size=min(1000, train_size))
    data = tuple(t.to(dev) for t in data)
    runs = ([("fp32", None)] if ctx.tiny else [("fp32", None), ("pi-op", None), ("unif-lo", None)]) + \
        [("ours", r) for r in rs]
    rows = []
    backend = "compiled" if dev.startswith("cuda") and not ctx.tiny else "eager"
    for method, r in runs:
        if ctx.time_left() < 12:
            ctx.note(f"accuracy part stopped early at {method} (section budget)")
            break
        torch.manual_seed(0)
        net = build_model(model, 1, 10, width)
        a = build_assignment(method, trace(net, (1, 16, 16), 128), r)
        share = a.low_share()
        net.to(dev)
        cfg = TrainConfig(dataset="contrast", model=model, width=width, epochs=epochs, batch_size=128, lr=0.05,
                          seed=0, backend=backend)
        t0 = time.perf_counter()
        res = train(net, a, data, cfg, promotion=uses_promotion(method))
        rows.append([method, "" if r is None else f"{r:g}", f"{share:.3f}", f"{a.low_share():.3f}",
                     f"{res.accuracy:.4f}", res.promotions, f"{time.perf_counter() - t0:.1f}"])
    floatfmt.set_backend("eager")
    ctx.table(f"contrast task (synthetic, 16x16, 10 classes), {model} width {width}, {epochs} epochs, seed 0",
              ["method", "r", "low share planned", "low share after promotion", "test accuracy", "promotions",
               "wall s"], rows,
              note="One seed: a smoke-level check of the accuracy ordering on the device; the CPU benchmark "
                   "(docs/results/precision.md) has the paired-seed statistics.")


def run(ctx) -> None:
    if ctx.tiny:
        _overhead(ctx, side=8, batch=8, width=1.0, rounds=1, compiled=False, model="tiny")
        _memory(ctx, side=8, batch=8, width=1.0, model="tiny")
        _accuracy(ctx, width=1.0, epochs=1, train_size=64, rs=(0.5,), model="tiny")
        return
    _overhead(ctx, side=32, batch=256, width=0.25, rounds=15, compiled=ctx.device.startswith("cuda"))
    _memory(ctx, side=32, batch=256, width=0.25)
    _accuracy(ctx, width=0.25, epochs=6, train_size=4000, rs=(0.4, 0.7, 1.0))
