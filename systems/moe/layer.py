"""The MoE layer as dataflow operators: top-k gate -> GroupBy -> experts -> Aggregate.

Dispatch back-ends, side by side:

* ``padded`` capacity (GShard/Switch, DynaMoE): expert e gets a buffer of ``caps[e]`` rows,
  ``ceil(alpha * k / n * B)`` for a global alpha; assignments past capacity are dropped (first choices
  have priority over second choices). Equal capacities run as one batched matmul over an
  ``(n, C, d)`` buffer; per-expert (local) capacities run each expert on its own slice.
* ``tutel``: Tutel's capacity-factor semantics, decided per step: cf > 0 static
  ``k * int(cf * ceil(B / n))``, cf = 0 the step's maximum expert load (dropless, padded to the max),
  cf < 0 that maximum capped at ``k * int(|cf| * ceil(B / n))``.
* ``dropless``: sort assignments by expert and run each expert on its exact segment (no padding,
  no drops; data-dependent shapes).

Capacities are Python ints so that ``torch.compile(dynamic=False)`` specialises a graph to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from systems.moe.config import LayerConfig


def capacity_for(alpha: float, k: int, n: int, batch: int) -> int:
    """Rows of one expert buffer for capacity factor ``alpha``: ``ceil(alpha * k / n * B)``, in [1, B]."""
    if alpha <= 0:
        raise ValueError(f"capacity factor must be > 0, got {alpha}")
    return max(1, min(batch, math.ceil(alpha * k * batch / n - 1e-9)))


def tutel_capacity(cf: float, counts: torch.Tensor, k: int, batch: int) -> int:
    """Tutel capacity for capacity factor ``cf`` given this step's per-expert loads ``counts``."""
    n = counts.numel()
    static = k * int(abs(cf) * ((batch + n - 1) // n))
    if cf > 0:
        return max(1, min(batch, static))
    need = int(counts.max().item())
    if cf == 0:
        return max(1, need)
    return max(1, min(need, static))


@dataclass
class Plan:
    """Where each (token, choice) assignment goes: the GroupBy/Aggregate index maps."""

    topi: torch.Tensor
    """(B, k) expert of each token's choices."""
    slot: torch.Tensor
    """(k*B,) buffer row of each assignment (rank-major), ``R`` (the zero row) when dropped."""
    src: torch.Tensor
    """(R,) token feeding each buffer row, ``B`` (a zero row) for padding."""
    keep: torch.Tensor
    """(k*B,) bool: assignment fits its expert's capacity."""
    counts: torch.Tensor
    """(n,) demand per expert before capacity (assignments routed to it)."""
    caps: tuple[int, ...]
    """Capacity of each expert the plan was made for."""


def make_plan(topi: torch.Tensor, caps: tuple[int, ...]) -> Plan:
    """GroupBy index maps for assignments ``topi`` under per-expert capacities ``caps``."""
    batch, k = topi.shape
    n = len(caps)
    dev = topi.device
    flat_e = topi.t().reshape(-1)  # rank-major: every first choice outranks every second choice
    tok = torch.arange(batch, device=dev).repeat(k)
    onehot = F.one_hot(flat_e, n)
    pos = (onehot.cumsum(0) * onehot).sum(1) - 1  # position of the assignment inside its expert
    counts = onehot.sum(0)
    cap_t = torch.tensor(caps, device=dev)
    offsets = torch.tensor([0, *itertools_accumulate(caps)][:-1], device=dev)
    keep = pos < cap_t[flat_e]
    rows = sum(caps)
    slot = torch.where(keep, offsets[flat_e] + pos, torch.full_like(pos, rows))
    src = torch.full((rows + 1,), batch, dtype=torch.long, device=dev)
    src = src.scatter(0, slot, tok)[:rows]
    return Plan(topi=topi, slot=slot, src=src, keep=keep, counts=counts, caps=tuple(caps))


def itertools_accumulate(xs) -> list[int]:
    out, s = [], 0
    for x in xs:
        s += int(x)
        out.append(s)
    return out


class GroupedLinear(torch.autograd.Function):
    """``y[seg_e] = x[seg_e] @ W[e] + b[e]`` for consecutive row segments of sizes ``sizes``."""

    @staticmethod
    def forward(ctx, x, w, b, sizes):
        out = x.new_empty(x.shape[0], w.shape[2])
        off = 0
        for e, s in enumerate(sizes):
            if s:
                torch.addmm(b[e, 0], x[off:off + s], w[e], out=out[off:off + s])
                off += s
        ctx.save_for_backward(x, w)
        ctx.sizes = sizes
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        dx = torch.empty_like(x) if ctx.needs_input_grad[0] else None
        dw = torch.zeros_like(w)
        db = g.new_zeros(w.shape[0], 1, w.shape[2])
        off = 0
        for e, s in enumerate(ctx.sizes):
            if s:
                gs = g[off:off + s]
                if dx is not None:
                    torch.mm(gs, w[e].t(), out=dx[off:off + s])
                torch.mm(x[off:off + s].t(), gs, out=dw[e])
                torch.sum(gs, 0, keepdim=True, out=db[e])
                off += s
        return dx, dw, db, None


class Experts(nn.Module):
    """n independent two-layer FFNs stored as stacked weights."""

    def __init__(self, n: int, d: int, h: int, activation: str = "gelu") -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {activation!r}")
        self.w1 = nn.Parameter(torch.randn(n, d, h) / math.sqrt(d))
        self.b1 = nn.Parameter(torch.zeros(n, 1, h))
        self.w2 = nn.Parameter(torch.randn(n, h, d) / math.sqrt(h))
        self.b2 = nn.Parameter(torch.zeros(n, 1, d))
        self.act = F.gelu if activation == "gelu" else F.relu

    def padded(self, buf: torch.Tensor) -> torch.Tensor:
        """(n, C, d) -> (n, C, d) with one batched matmul per FFN layer."""
        return torch.baddbmm(self.b2, self.act(torch.baddbmm(self.b1, buf, self.w1)), self.w2)

    def one(self, e: int, x: torch.Tensor) -> torch.Tensor:
        """Expert ``e`` on rows ``x`` (m, d)."""
        return torch.addmm(self.b2[e, 0], self.act(torch.addmm(self.b1[e, 0], x, self.w1[e])), self.w2[e])

    def ragged(self, x: torch.Tensor, sizes: tuple[int, ...] | list[int]) -> torch.Tensor:
        """Rows ``x`` (sum(sizes), d) in consecutive per-expert segments of the given sizes.

        A grouped GEMM (:class:`GroupedLinear`): each expert multiplies only its own segment, and
        backward writes every gradient into one tensor (no per-expert full-size zero tensors).
        """
        sizes = tuple(int(s) for s in sizes)
        h = self.act(GroupedLinear.apply(x, self.w1, self.b1, sizes))
        return GroupedLinear.apply(h, self.w2, self.b2, sizes)

    def dense_one(self, e_idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Reference: expert ``e_idx[i]`` applied to ``x[i]`` for every row, no buffers."""
        h = self.act(torch.einsum("bd,bdh->bh", x, self.w1[e_idx]) + self.b1[e_idx, 0])
        return torch.einsum("bh,bhd->bd", h, self.w2[e_idx]) + self.b2[e_idx, 0]


class MoELayer(nn.Module):
    """Top-k gate, GroupBy with capacities, experts, Aggregate with a load-balance loss."""

    def __init__(self, cfg: LayerConfig) -> None:
        super().__init__()
        if not 1 <= cfg.top_k <= cfg.n_experts:
            raise ValueError(f"top_k must be in [1, n_experts={cfg.n_experts}], got {cfg.top_k}")
        self.cfg = cfg
        self.gate = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = Experts(cfg.n_experts, cfg.d_model, cfg.d_hidden, cfg.activation)

    # -- gate ---------------------------------------------------------------------------------
    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate probabilities (B, n) and this step's top-k experts (B, k)."""
        probs = torch.softmax(self.gate(x).float(), dim=-1)
        topi = probs.topk(self.cfg.top_k, dim=-1).indices
        return probs, topi

    def weights(self, probs: torch.Tensor, topi: torch.Tensor) -> torch.Tensor:
        """Combine weights (B, k) of the chosen experts."""
        w = probs.gather(1, topi)
        if self.cfg.normalize_topk and self.cfg.top_k > 1:
            w = w / w.sum(-1, keepdim=True)
        return w

    def balance_loss(self, probs: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        n = self.cfg.n_experts
        f = counts.float() / counts.sum().clamp_min(1)
        return n * (f * probs.mean(0)).sum()

    # -- back-ends ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, caps: tuple[int, ...] | None = None, backend: str = "padded",
                tutel_cf: float = 0.0, plan: Plan | None = None) -> tuple[torch.Tensor, dict]:
        """Returns ``(y, aux)``; ``aux`` holds ``balance_loss``, ``counts``, ``dropped``, ``topi``.

        ``caps``: per-expert capacities (``padded``); ``plan``: a cached GroupBy plan whose
        assignments replace this step's top-k (assignment caching); ``backend``: see module doc.
        """
        probs, topi = self.route(x)
        if backend == "dropless":
            return self._dropless(x, probs, topi)
        if plan is None:
            if backend == "tutel":
                counts = torch.bincount(topi.reshape(-1), minlength=self.cfg.n_experts)
                c = tutel_capacity(tutel_cf, counts, self.cfg.top_k, x.shape[0])
                caps = (c,) * self.cfg.n_experts
            elif backend != "padded":
                raise ValueError(f"unknown dispatch backend {backend!r}; valid: padded, tutel, dropless")
            if caps is None or len(caps) != self.cfg.n_experts:
                raise ValueError(f"padded dispatch needs {self.cfg.n_experts} capacities, got {caps}")
            plan = make_plan(topi, tuple(caps))
        y = self._grouped(x, probs, plan)
        aux = {"balance_loss": self.balance_loss(probs, plan.counts), "counts": plan.counts,
               "dropped": (~plan.keep).sum(), "topi": topi, "rows": sum(plan.caps)}
        return y, aux

    def _grouped(self, x: torch.Tensor, probs: torch.Tensor, plan: Plan) -> torch.Tensor:
        batch, d = x.shape
        k = plan.topi.shape[1]
        caps = plan.caps
        x_pad = torch.cat([x, x.new_zeros(1, d)])
        buf = x_pad[plan.src]  # GroupBy: (R, d)
        if len(set(caps)) == 1:
            out = self.experts.padded(buf.view(len(caps), caps[0], d)).reshape(-1, d)
        else:
            out = self.experts.ragged(buf, caps)
        out_pad = torch.cat([out, out.new_zeros(1, d)])
        y_assign = out_pad[plan.slot]  # Aggregate: dropped assignments read the zero row
        w = self.weights(probs, plan.topi).t().reshape(-1) * plan.keep
        return (y_assign * w.unsqueeze(1).to(y_assign.dtype)).view(k, batch, d).sum(0)

    def _dropless(self, x: torch.Tensor, probs: torch.Tensor, topi: torch.Tensor) -> tuple[torch.Tensor, dict]:
        batch, d = x.shape
        k = topi.shape[1]
        flat_e = topi.t().reshape(-1)
        tok = torch.arange(batch, device=x.device).repeat(k)
        order = torch.argsort(flat_e, stable=True)
        counts = torch.bincount(flat_e, minlength=self.cfg.n_experts)
        out_sorted = self.experts.ragged(x[tok[order]], counts.tolist())
        inv = torch.empty_like(order)
        inv[order] = torch.arange(order.numel(), device=x.device)
        y_assign = out_sorted[inv]
        w = self.weights(probs, topi).t().reshape(-1)
        y = (y_assign * w.unsqueeze(1)).view(k, batch, d).sum(0)
        aux = {"balance_loss": self.balance_loss(probs, counts), "counts": counts,
               "dropped": torch.zeros((), dtype=torch.long, device=x.device), "topi": topi,
               "rows": int(flat_e.numel())}
        return y, aux

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Every token through its k experts directly, no capacity: the semantics GroupBy must match."""
        probs, topi = self.route(x)
        w = self.weights(probs, topi)
        y = torch.zeros_like(x)
        for j in range(topi.shape[1]):
            y = y + w[:, j:j + 1] * self.experts.dense_one(topi[:, j], x)
        return y


class MoEModel(nn.Module):
    """Input projection -> pre-norm residual MoE block -> output head."""

    def __init__(self, d_in: int, d_out: int, cfg: LayerConfig) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.moe = MoELayer(cfg)
        self.head = nn.Linear(cfg.d_model, d_out)

    def forward(self, x: torch.Tensor, **moe_kwargs) -> tuple[torch.Tensor, dict]:
        h = self.inp(x)
        y, aux = self.moe(self.norm(h), **moe_kwargs)
        return self.head(h + y), aux
