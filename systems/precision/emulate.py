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
    """Latest overflow counts per tensor id (tensors, no host sync until read)."""

    def __init__(self, gradients: bool = False) -> None:
        self.gradients = gradients
        """Also count GY/GP overflows (P/Y, the promotion candidates, are always counted)."""
        self.counts: dict[str, torch.Tensor] = {}
        self.numels: dict[str, int] = {}
        self.batched: list[tuple[list[str], torch.Tensor, list[int]]] = []

    def put(self, tid: str, n_over: torch.Tensor, numel: int) -> None:
        self.counts[tid] = n_over
        self.numels[tid] = numel

    def put_many(self, tids: list[str], n_over: torch.Tensor, numels: list[int]) -> None:
        """Counts of several tensors rounded together (one 1-d count tensor)."""
        self.batched.append((tids, n_over, numels))

    def clear(self) -> None:
        self.counts.clear()
        self.batched.clear()


def _round(x: torch.Tensor, fmt: FloatFormat | None, overflow: str, rec: _Recorder | None, tid: str) -> torch.Tensor:
    if fmt is None:
        return x
    want = rec is not None and (tid[0] in "PY" or rec.gradients)
    y, n = quantize_count(x, fmt, overflow, count=want)  # type: ignore[arg-type]
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


def _round_flat(ps: list[torch.Tensor], fmt: FloatFormat | None, overflow: str, rec: _Recorder | None,
                tids: list[str]) -> list[torch.Tensor]:
    """Round several tensors with one format as one flat tensor (far fewer kernel launches)."""
    if fmt is None:
        return list(ps)
    sizes = [p.numel() for p in ps]
    flat = torch.cat([p.reshape(-1) for p in ps])
    r, _ = quantize_count(flat, fmt, overflow, count=False)  # type: ignore[arg-type]
    if rec is not None:
        over = flat.abs() >= fmt.overflow_threshold  # rounds beyond the largest finite value
        counts = torch.segment_reduce(over.to(torch.float32), "sum", lengths=torch.tensor(sizes, device=flat.device))
        rec.put_many(tids, counts, sizes)
    return [c.view_as(p) for c, p in zip(torch.split(r, sizes), ps)]


class _RoundParams(torch.autograd.Function):
    """Forward: rounded copies of several P (same format); backward: their GP rounded."""

    @staticmethod
    def forward(ctx, fp, fgp, rec, tids_p, tids_gp, *ps):  # noqa: D102
        ctx.fgp, ctx.rec, ctx.tids_gp = fgp, rec, tids_gp
        outs = _round_flat(list(ps), fp, OVERFLOW["P"], rec, tids_p)
        return tuple(o.view_as(o) for o in outs)

    @staticmethod
    def backward(ctx, *gs):  # noqa: D102
        gs = list(gs)
        if ctx.fgp is not None:
            live = [i for i, g in enumerate(gs) if g is not None]
            rec = ctx.rec if (ctx.rec is not None and ctx.rec.gradients) else None
            rounded = _round_flat([gs[i] for i in live], ctx.fgp, OVERFLOW["GP"], rec,
                                  [ctx.tids_gp[i] for i in live])
            for i, g in zip(live, rounded):
                gs[i] = g
        return (None, None, None, None, None, *gs)


class Emulator:
    """Installs the rounding of an :class:`Assignment` on a model."""

    def __init__(self, model: nn.Module, assignment: Assignment, record: bool = True,
                 record_gradients: bool = False) -> None:
        self.model = model
        self.assignment = assignment
        self.rec = _Recorder(record_gradients) if record else None
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
        """Parameter name -> tensor to run the forward with (rounded copies where not FP32).

        Parameters that share a (P format, GP format) pair are rounded together as one flat
        tensor, which gives the same values as rounding them one by one."""
        fm = self.assignment.formats
        out: dict[str, torch.Tensor] = {}
        buckets: dict[tuple, list[tuple[str, torch.Tensor]]] = {}
        for name, p in self.model.named_parameters():
            fp, fgp = fm.get(f"P:{name}"), fm.get(f"GP:{name}")
            if fp is None and fgp is None:
                out[name] = p
            else:
                buckets.setdefault((fp, fgp), []).append((name, p))
        for (fp, fgp), items in buckets.items():
            names = [n for n, _ in items]
            ps = [p for _, p in items]
            tids_p = [f"P:{n}" for n in names]
            if torch.is_grad_enabled():
                rounded = _RoundParams.apply(fp, fgp, self.rec, tids_p, [f"GP:{n}" for n in names], *ps)
            else:
                rounded = _round_flat([p.detach() for p in ps], fp, OVERFLOW["P"], self.rec, tids_p)
            out.update(zip(names, rounded))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model with rounded parameters (activations are rounded by the hooks)."""
        if all(f is None for f in self.assignment.formats.values()):
            return self.model(x)
        return torch.func.functional_call(self.model, self.params(), (x,))

    def overflow_ratios(self) -> dict[str, float]:
        """Latest overflow ratio per recorded tensor id (one host sync)."""
        if self.rec is None or not (self.rec.counts or self.rec.batched):
            return {}
        tids = list(self.rec.counts)
        numels = [self.rec.numels[t] for t in tids]
        parts = [torch.stack([self.rec.counts[t] for t in tids]).to(torch.float32)] if tids else []
        for bt, bc, bn in self.rec.batched:
            tids += bt
            numels += bn
            parts.append(bc)
        counts = torch.cat(parts).tolist()
        return {t: c / max(1, n) for t, c, n in zip(tids, counts, numels)}

    def clear(self) -> None:
        if self.rec is not None:
            self.rec.clear()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
