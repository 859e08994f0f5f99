"""Instrumented training tensors: rounding hooks for P, Y, GY and GP with overflow statistics.

* ``P``: :meth:`Emulator.params` returns, per parameter, a rounded *copy* (an autograd function
  whose backward rounds the weight gradient ``GP``); the model runs on the copies through
  ``torch.func.functional_call`` while the optimizer updates the FP32 master parameters.
* ``Y`` / ``GY``: a forward hook on every leaf module replaces its output by an autograd function
  that rounds the output in forward and the incoming gradient (``GY``) in backward (inf allowed,
  so the loss scaler sees overflows). Inputs ``X``/``GX`` of the next module alias these.
* Tensors whose format is FP32 (``None``) are not touched at all, so an all-FP32 assignment runs
  exactly the plain torch computation.

Every rounding of a P or Y tensor (the promotion candidates) records, without a host sync, how
many elements overflowed; :meth:`Emulator.
overflow_ratios` turns the latest counts into ratios once per step.
"""

from __future__ import annotations

import torch
from torch import nn

from systems.precision.assign import OVERFLOW, Assignment
from systems.precision.floatfmt import FloatFormat, quantize_count


class _Recorder:
    """Latest overflow count and element count per tensor id (0-d tensors, no sync)."""

    def __init__(self) -> None:
        self.counts: dict[str, torch.Tensor] = {}
        self.numels: dict[str, int] = {}

    def put(self, tid: str, n_over: torch.Tensor, numel: int) -> None:
        self.counts[tid] = n_over
        self.numels[tid] = numel


def _round(x: torch.Tensor, fmt: FloatFormat | None, overflow: str, rec: _Recorder | None, tid: str) -> torch.Tensor:
    if fmt is None:
        return x
    y, n = quantize_count(x, fmt, overflow, count=rec is not None and tid[0] in "PY")  # type: ignore[arg-type]
    if n is not None:
        rec.put(tid, n, x.numel())  # type: ignore[union-attr]
    return y


class _RoundAct(torch.autograd.Function):
    """Forward: round Y; backward: round GY."""

    @staticmethod
    def forward(ctx, y, fy, fgy, rec, tid_y, tid_gy):  # noqa: D102
        ctx.fgy, ctx.rec, ctx.tid_gy = fgy, rec, tid_gy
        out = _round(y, fy, OVERFLOW["Y"], rec, tid_y)
        return out.view_as(out) if out is y else out

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        if g is None:
            return None, None, None, None, None, None
        return _round(g, ctx.fgy, OVERFLOW["GY"], ctx.rec, ctx.tid_gy), None, None, None, None, None


class _RoundParam(torch.autograd.Function):
    """Forward: a rounded copy of P; backward: round GP into the master's gradient."""

    @staticmethod
    def forward(ctx, p, fp, fgp, rec, tid_p, tid_gp):  # noqa: D102
        ctx.fgp, ctx.rec, ctx.tid_gp = fgp, rec, tid_gp
        out = _round(p, fp, OVERFLOW["P"], rec, tid_p)
        return out.view_as(out) if out is p else out

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        if g is None:
            return None, None, None, None, None, None
        return _round(g, ctx.fgp, OVERFLOW["GP"], ctx.rec, ctx.tid_gp), None, None, None, None, None


class Emulator:
    """Installs the rounding of an :class:`Assignment` on a model."""

    def __init__(self, model: nn.Module, assignment: Assignment, record: bool = True) -> None:
        self.model = model
        self.assignment = assignment
        self.rec = _Recorder() if record else None
        self.handles: list = []
        nodes = assignment.graph.node_by_name()
        for name, mod in model.named_modules():
            if name in nodes:
                self.handles.append(mod.register_forward_hook(self._make_hook(name)))
        self.param_names = [n for n, _ in model.named_parameters()]

    def _make_hook(self, name: str):
        tid_y, tid_gy = f"Y:{name}", f"GY:{name}"
        fm = self.assignment.formats

        def hook(mod, args, out):
            fy, fgy = fm[tid_y], fm[tid_gy]
            if fy is None and fgy is None:
                return None
            if torch.is_grad_enabled() and out.requires_grad:
                return _RoundAct.apply(out, fy, fgy, self.rec, tid_y, tid_gy)
            return _round(out, fy, OVERFLOW["Y"], self.rec, tid_y)
        return hook

    def params(self) -> dict[str, torch.Tensor]:
        """Parameter name -> tensor to run the forward with (rounded copies where not FP32)."""
        fm = self.assignment.formats
        out: dict[str, torch.Tensor] = {}
        for name, p in self.model.named_parameters():
            fp, fgp = fm.get(f"P:{name}"), fm.get(f"GP:{name}")
            if fp is None and fgp is None:
                out[name] = p
            elif torch.is_grad_enabled():
                out[name] = _RoundParam.apply(p, fp, fgp, self.rec, f"P:{name}", f"GP:{name}")
            else:
                out[name] = _round(p.detach(), fp, OVERFLOW["P"], self.rec, f"P:{name}")
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model with rounded parameters (activations are rounded by the hooks)."""
        if all(f is None for f in self.assignment.formats.values()):
            return self.model(x)
        return torch.func.functional_call(self.model, self.params(), (x,))

    def overflow_ratios(self) -> dict[str, float]:
        """Latest overflow ratio per recorded tensor id (one host sync)."""
        if self.rec is None or not self.rec.counts:
            return {}
        tids = list(self.rec.counts)
        counts = torch.stack([self.rec.counts[t] for t in tids]).tolist()
        return {t: c / max(1, self.rec.numels[t]) for t, c in zip(tids, counts)}

    def clear(self) -> None:
        if self.rec is not None:
            self.rec.counts.clear()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
