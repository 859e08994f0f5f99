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
many elements overflowed; :meth:`Emulator.overflow_ratios` turns the latest counts into ratios
once per step. The counts of the ``Y``/``GY`` tensors share one buffer (one slot per tensor), as
the ``P`` tensors of one bucket share one count tensor, so a step reads them in one go.

Backends (:func:`systems.precision.floatfmt.set_backend`): with ``native`` on a CPU the ``Y``/``GY``
rounding is one C++ autograd function per module output (one vectorised pass forward, one
backward, the counts written straight into the buffer); otherwise a Python autograd function
calls the eager or ``torch.compile``'d rounding. The bits are the same in every backend.
"""

from __future__ import annotations

import torch
from torch import nn

from systems.precision import floatfmt
from systems.precision.assign import OVERFLOW, Assignment
from systems.precision.floatfmt import DEFAULT_ROUNDING, FloatFormat, quantize_count


class _Recorder:
    """Latest overflow counts per tensor id (tensors, no host sync until read)."""

    def __init__(self, gradients: bool = False, slot_tids: list[str] | None = None,
                 slot_numels: list[int] | None = None) -> None:
        self.gradients = gradients
        """Also count GY/GP overflows (P/Y, the promotion candidates, are always counted)."""
        self.counts: dict[str, torch.Tensor] = {}
        self.numels: dict[str, int] = {}
        self.batched: list[tuple[list[str], torch.Tensor, list[int]]] = []
        self.slot_tids = list(slot_tids or [])
        """Y/GY tensor ids with a slot in :attr:`buf`."""
        self.slot = {t: i for i, t in enumerate(self.slot_tids)}
        self.slot_numels = list(slot_numels or [])
        self.buf = torch.full((len(self.slot_tids),), -1, dtype=torch.int64)
        """One overflow count per Y/GY tensor (-1: not rounded since the last clear)."""

    def put(self, tid: str, n_over: torch.Tensor, numel: int) -> None:
        self.counts[tid] = n_over
        self.numels[tid] = numel

    def put_many(self, tids: list[str], n_over: torch.Tensor, numels: list[int]) -> None:
        """Counts of several tensors rounded together (one 1-d count tensor)."""
        self.batched.append((tids, n_over, numels))

    def clear(self) -> None:
        self.counts.clear()
        self.batched.clear()
        self.buf.fill_(-1)


def _round(x: torch.Tensor, fmt: FloatFormat | None, overflow: str, rec: _Recorder | None, tid: str,
           rounding: str = DEFAULT_ROUNDING) -> torch.Tensor:
    if fmt is None:
        return x
    want = rec is not None and (tid[0] in "PY" or rec.gradients)
    y, n = quantize_count(x, fmt, overflow, rounding, count=want)  # type: ignore[arg-type]
    if n is not None:
        rec.put(tid, n, x.numel())  # type: ignore[union-attr]
    return y


class _RoundAct(torch.autograd.Function):
    """Forward: round Y; backward: round GY."""

    @staticmethod
    def forward(ctx, y, fy, fgy, rec, tid_y, tid_gy, rounding):  # noqa: D102
        ctx.fgy, ctx.rec, ctx.tid_gy, ctx.rounding = fgy, rec, tid_gy, rounding
        out = _round(y, fy, OVERFLOW["Y"], rec, tid_y, rounding)
        return out.view_as(out) if out is y else out

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        if g is None:
            return None, None, None, None, None, None, None
        return _round(g, ctx.fgy, OVERFLOW["GY"], ctx.rec, ctx.tid_gy, ctx.rounding), None, None, None, None, None, None


def _round_flat(ps: list[torch.Tensor], fmt: FloatFormat | None, overflow: str, rec: _Recorder | None,
                tids: list[str], rounding: str = DEFAULT_ROUNDING) -> list[torch.Tensor]:
    """Round several tensors with one format as one flat tensor (far fewer kernel launches)."""
    if fmt is None:
        return list(ps)
    sizes = [p.numel() for p in ps]
    flat = torch.cat([p.reshape(-1) for p in ps])
    if floatfmt.get_backend() == "native" and flat.dtype == torch.float32 and flat.device.type == "cpu" \
            and _native_ok():
        from systems.precision import native

        r, counts = native.quant_seg(flat, floatfmt.native_args(fmt, overflow, rounding), sizes)  # type: ignore
        if rec is not None:
            rec.put_many(tids, counts, sizes)
        return [c.view_as(p) for c, p in zip(torch.split(r, sizes), ps)]
    r, _ = quantize_count(flat, fmt, overflow, rounding, count=False)  # type: ignore[arg-type]
    if rec is not None:
        over = flat.abs() >= fmt.overflow_threshold  # rounds beyond the largest finite value
        counts = torch.segment_reduce(over.to(torch.float32), "sum", lengths=torch.tensor(sizes, device=flat.device))
        rec.put_many(tids, counts, sizes)
    return [c.view_as(p) for c, p in zip(torch.split(r, sizes), ps)]


class _RoundParams(torch.autograd.Function):
    """Forward: rounded copies of several P (same format); backward: their GP rounded."""

    @staticmethod
    def forward(ctx, fp, fgp, rec, tids_p, tids_gp, rounding, *ps):  # noqa: D102
        ctx.fgp, ctx.rec, ctx.tids_gp, ctx.rounding = fgp, rec, tids_gp, rounding
        outs = _round_flat(list(ps), fp, OVERFLOW["P"], rec, tids_p, rounding)
        return tuple(o.view_as(o) for o in outs)

    @staticmethod
    def backward(ctx, *gs):  # noqa: D102
        gs = list(gs)
        if ctx.fgp is not None:
            live = [i for i, g in enumerate(gs) if g is not None]
            rec = ctx.rec if (ctx.rec is not None and ctx.rec.gradients) else None
            rounded = _round_flat([gs[i] for i in live], ctx.fgp, OVERFLOW["GP"], rec,
                                  [ctx.tids_gp[i] for i in live], ctx.rounding)
            for i, g in zip(live, rounded):
                gs[i] = g
        return (None, None, None, None, None, None, *gs)


def _native_ok() -> bool:
    from systems.precision import native

    return native._MOD is not None or native.available()


class Emulator:
    """Installs the rounding of an :class:`Assignment` on a model."""

    def __init__(self, model: nn.Module, assignment: Assignment, record: bool = True,
                 record_gradients: bool = False, rounding: str = DEFAULT_ROUNDING) -> None:
        self.model = model
        self.assignment = assignment
        self.rounding = rounding
        floatfmt._check_args("saturate", rounding)
        g = assignment.graph
        slots = [tid for tid, t in g.tensors.items() if t.kind == "Y" or (t.kind == "GY" and record_gradients)]
        self.rec = _Recorder(record_gradients, slots, [g.tensors[t].numel // g.batch_size for t in slots]) \
            if record else None
        self.handles: list = []
        self._batch = g.batch_size
        nodes = assignment.graph.node_by_name()
        for name, mod in model.named_modules():
            if name in nodes:
                self.handles.append(mod.register_forward_hook(self._make_hook(name)))
        self.param_names = [n for n, _ in model.named_parameters()]

    def _make_hook(self, name: str):
        tid_y, tid_gy = f"Y:{name}", f"GY:{name}"
        fm = self.assignment.formats
        rec, rounding = self.rec, self.rounding
        slot_y = rec.slot.get(tid_y, -1) if rec is not None else -1
        slot_gy = rec.slot.get(tid_gy, -1) if rec is not None else -1
        buf = rec.buf if rec is not None else torch.zeros(0, dtype=torch.int64)

        def hook(mod, args, out):
            fy, fgy = fm[tid_y], fm[tid_gy]
            if fy is None and fgy is None:
                return None
            if floatfmt.get_backend() == "native" and out.dtype == torch.float32 and out.device.type == "cpu" \
                    and _native_ok():
                from systems.precision import native

                ay = floatfmt.native_args(fy, OVERFLOW["Y"], rounding) if fy is not None else []  # type: ignore
                agy = floatfmt.native_args(fgy, OVERFLOW["GY"], rounding) if fgy is not None else []  # type: ignore
                sy = slot_y if fy is not None else -1
                sgy = slot_gy if fgy is not None else -1
                if torch.is_grad_enabled() and out.requires_grad:
                    return native.round_act(out, ay, agy, buf, sy, sgy)
                return native.quant(out, ay, buf, sy) if fy is not None else None
            if torch.is_grad_enabled() and out.requires_grad:
                return _RoundAct.apply(out, fy, fgy, rec, tid_y, tid_gy, rounding)
            return _round(out, fy, OVERFLOW["Y"], rec, tid_y, rounding)
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
                rounded = _RoundParams.apply(fp, fgp, self.rec, tids_p, [f"GP:{n}" for n in names], self.rounding,
                                             *ps)
            else:
                rounded = _round_flat([p.detach() for p in ps], fp, OVERFLOW["P"], self.rec, tids_p, self.rounding)
            out.update(zip(names, rounded))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the model with rounded parameters (activations are rounded by the hooks)."""
        self._batch = x.shape[0]
        if all(f is None for f in self.assignment.formats.values()):
            return self.model(x)
        return torch.func.functional_call(self.model, self.params(), (x,))

    def overflow_ratios(self) -> dict[str, float]:
        """Latest overflow ratio per recorded tensor id (one host sync)."""
        rec = self.rec
        if rec is None:
            return {}
        tids = list(rec.counts)
        numels = [rec.numels[t] for t in tids]
        parts = [torch.stack([rec.counts[t] for t in tids]).to(torch.float32)] if tids else []
        for bt, bc, bn in rec.batched:
            tids += bt
            numels += bn
            parts.append(bc.to(torch.float32))
        out = {}
        if parts:
            counts = torch.cat(parts).tolist()
            out = {t: c / max(1, n) for t, c, n in zip(tids, counts, numels)}
        if rec.slot_tids:
            bufv = rec.buf.tolist()
            for t, c, per in zip(rec.slot_tids, bufv, rec.slot_numels):
                if c >= 0:  # written by the native kernel this step; numel is per sample x the batch seen
                    out[t] = c / max(1, per * self._batch)
        return out

    def clear(self) -> None:
        if self.rec is not None:
            self.rec.clear()

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []
