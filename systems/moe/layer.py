"""The MoE layer as dataflow operators: top-k gate -> GroupBy -> experts -> Aggregate.

Dispatch back-ends, side by side, all running the experts through the same grouped GEMM
(:mod:`systems.moe.kernels`), so a method that routes fewer rows does proportionally less work:

* ``padded`` capacity (GShard/Switch, DynaMoE): expert e gets a buffer segment of ``caps[e]`` rows,
  ``ceil(alpha * k / n * B)`` for a global alpha; assignments past capacity are dropped (first choices
  have priority over second choices). Equal (static or dynamic alpha) and per-expert (local)
  capacities use the same layout: consecutive segments of ``sum(caps)`` rows.
* ``tutel``: Tutel's capacity-factor semantics, decided per step: cf > 0 static
  ``k * int(cf * ceil(B / n))``, cf = 0 the step's maximum expert load (dropless, padded to the max),
  cf < 0 that maximum capped at ``k * int(|cf| * ceil(B / n))``. Reading the maximum load is a host
  synchronisation every step (Tutel's own design: it all-reduces the max and sizes the buffers).
* ``dropless``: sort assignments by expert and run each expert on its exact segment (no padding,
  no drops): ``k * B`` rows with segment ends computed on the device, so no host synchronisation.

Capacities are Python ints held in a :class:`Layout` built once per configuration, so
``torch.compile(dynamic=False)`` specialises a graph to them and a capacity change recompiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from systems.moe.config import LayerConfig
from systems.moe.kernels import Segments, grouped_linear, resolve_impl, segments_from_sizes, segments_from_sorted


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
    need = int(counts.max().item())  # host sync (Tutel's dynamic capacity)
    if cf == 0:
        return max(1, need)
    return max(1, min(need, static))


@dataclass(frozen=True)
class Layout:
    """A capacity configuration and its device index tensors (rebuilt on every recompile only)."""

    caps: tuple[int, ...]
    """Capacity (buffer rows) of every expert."""
    seg: Segments
    """Grouped-GEMM segments of the ``sum(caps)``-row buffer."""
    cap_t: torch.Tensor
    """(n,) capacities on the device."""
    starts: torch.Tensor
    """(n,) first buffer row of every expert's segment."""


def make_layout(caps, device: torch.device | str = "cpu") -> Layout:
    """The layout of per-expert capacities ``caps`` on ``device``."""
    caps = tuple(int(c) for c in caps)
    if not caps or min(caps) < 1:
        raise ValueError(f"capacities must be >= 1, got {caps}")
    seg = segments_from_sizes(caps, device)
    starts = torch.tensor([0, *_accumulate(caps)[:-1]], dtype=torch.long, device=device)
    return Layout(caps, seg, torch.tensor(caps, dtype=torch.long, device=device), starts)


def _accumulate(xs) -> list[int]:
    out, s = [], 0
    for x in xs:
        s += int(x)
        out.append(s)
    return out


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
    layout: Layout
    """The capacities the plan was made for."""

    @property
    def caps(self) -> tuple[int, ...]:
        return self.layout.caps


def make_plan(topi: torch.Tensor, layout: Layout | tuple[int, ...]) -> Plan:
    """GroupBy index maps for assignments ``topi`` under the capacities of ``layout`` (no host sync)."""
    if not isinstance(layout, Layout):
        layout = make_layout(layout, topi.device)
    batch, k = topi.shape
    n = len(layout.caps)
    dev = topi.device
    flat_e = topi.t().reshape(-1)  # rank-major: every first choice outranks every second choice
    tok = torch.arange(batch, device=dev).repeat(k)
    onehot = (flat_e.unsqueeze(1) == torch.arange(n, device=dev)).long()
    pos = (onehot.cumsum(0) * onehot).sum(1) - 1  # position of the assignment inside its expert
    counts = onehot.sum(0)
    keep = pos < layout.cap_t[flat_e]
    rows = layout.seg.rows
    slot = torch.where(keep, layout.starts[flat_e] + pos, torch.full_like(pos, rows))
    src = torch.full((rows + 1,), batch, dtype=torch.long, device=dev)
    src = src.scatter(0, slot, tok)[:rows]
    return Plan(topi=topi, slot=slot, src=src, keep=keep, counts=counts, layout=layout)


class Experts(nn.Module):
    """n independent two-layer FFNs stored as stacked weights, run as grouped GEMMs."""

    def __init__(self, n: int, d: int, h: int, activation: str = "gelu", kernel: str = "auto") -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {activation!r}")
        self.w1 = nn.Parameter(torch.randn(n, d, h) / math.sqrt(d))
        self.b1 = nn.Parameter(torch.zeros(n, 1, h))
        self.w2 = nn.Parameter(torch.randn(n, h, d) / math.sqrt(h))
        self.b2 = nn.Parameter(torch.zeros(n, 1, d))
        self.act = F.gelu if activation == "gelu" else F.relu
        self.kernel = kernel
        """Grouped GEMM implementation (``systems.moe.kernels.IMPLS``); ``auto`` is resolved on first use."""

    def resolve_kernel(self) -> str:
        """Fix ``auto`` to the implementation for this module's device and dtype (call before compiling)."""
        self.kernel = resolve_impl(self.kernel, self.w1.device, self.w1.dtype, tuple(self.w1.shape[1:]))
        return self.kernel

    def grouped(self, x: torch.Tensor, seg: Segments) -> torch.Tensor:
        """Rows ``x`` (seg.rows, d) in consecutive per-expert segments -> (seg.rows, d)."""
        impl = self.kernel if self.kernel != "auto" else self.resolve_kernel()
        h = self.act(grouped_linear(x, self.w1, self.b1, seg, impl))
        return grouped_linear(h, self.w2, self.b2, seg, impl)

    def dense_one(self, e_idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Reference: expert ``e_idx[i]`` applied to ``x[i]`` for every row, no buffers."""
        h = self.act(torch.einsum("bd,bdh->bh", x, self.w1[e_idx]) + self.b1[e_idx, 0])
        return torch.einsum("bh,bhd->bd", h, self.w2[e_idx]) + self.b2[e_idx, 0]


class MoELayer(nn.Module):
    """Top-k gate, GroupBy with capacities, experts, Aggregate with a load-balance loss."""

    def __init__(self, cfg: LayerConfig, kernel: str = "auto") -> None:
        super().__init__()
        if not 1 <= cfg.top_k <= cfg.n_experts:
            raise ValueError(f"top_k must be in [1, n_experts={cfg.n_experts}], got {cfg.top_k}")
        self.cfg = cfg
        self.gate = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = Experts(cfg.n_experts, cfg.d_model, cfg.d_hidden, cfg.activation, kernel)

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
                tutel_cf: float = 0.0, plan: Plan | None = None,
                layout: Layout | None = None) -> tuple[torch.Tensor, dict]:
        """Returns ``(y, aux)``; ``aux`` holds ``balance_loss``, ``counts``, ``dropped``, ``topi``, ``rows``.

        ``layout`` (or ``caps``, turned into a layout on the fly): per-expert capacities (``padded``);
        ``plan``: a cached GroupBy plan whose assignments replace this step's top-k (assignment
        caching); ``backend``: see module doc.
        """
        probs, topi = self.route(x)
        if backend == "dropless":
            return self._dropless(x, probs, topi)
        if plan is None:
            if backend == "tutel":
                counts = torch.zeros(self.cfg.n_experts, dtype=torch.long, device=x.device)
                counts.index_add_(0, topi.reshape(-1), torch.ones_like(topi.reshape(-1)))
                c = tutel_capacity(tutel_cf, counts, self.cfg.top_k, x.shape[0])
                layout = make_layout((c,) * self.cfg.n_experts, x.device)
            elif backend != "padded":
                raise ValueError(f"unknown dispatch backend {backend!r}; valid: padded, tutel, dropless")
            elif layout is None:
                if caps is None or len(caps) != self.cfg.n_experts:
                    raise ValueError(f"padded dispatch needs {self.cfg.n_experts} capacities, got {caps}")
                layout = make_layout(caps, x.device)
            if len(layout.caps) != self.cfg.n_experts:
                raise ValueError(f"padded dispatch needs {self.cfg.n_experts} capacities, got {layout.caps}")
            plan = make_plan(topi, layout)
        y = self._grouped(x, probs, plan)
        aux = {"balance_loss": self.balance_loss(probs, plan.counts), "counts": plan.counts,
               "dropped": (~plan.keep).sum(), "topi": topi, "rows": plan.layout.seg.rows}
        return y, aux

    def _grouped(self, x: torch.Tensor, probs: torch.Tensor, plan: Plan) -> torch.Tensor:
        batch, d = x.shape
        k = plan.topi.shape[1]
        x_pad = torch.cat([x, x.new_zeros(1, d)])
        buf = x_pad[plan.src]  # GroupBy: (R, d)
        out = self.experts.grouped(buf, plan.layout.seg)
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
        seg = segments_from_sorted(flat_e[order], self.cfg.n_experts)
        out_sorted = self.experts.grouped(x[tok[order]], seg)
        inv = torch.empty_like(order).scatter_(0, order, torch.arange(order.numel(), device=x.device))
        y_assign = out_sorted[inv]
        w = self.weights(probs, topi).t().reshape(-1)
        y = (y_assign * w.unsqueeze(1).to(y_assign.dtype)).view(k, batch, d).sum(0)
        counts = torch.diff(seg.offs.long(), prepend=seg.offs.new_zeros(1).long())
        aux = {"balance_loss": self.balance_loss(probs, counts), "counts": counts,
               "dropped": torch.zeros((), dtype=torch.long, device=x.device), "topi": topi,
               "rows": seg.rows}
        return y, aux

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Every token through its k experts directly, no capacity: the semantics GroupBy must match."""
        probs, topi = self.route(x)
        w = self.weights(probs, topi)
        y = torch.zeros_like(x)
        for j in range(topi.shape[1]):
            y = y + w[:, j:j + 1].to(x.dtype) * self.experts.dense_one(topi[:, j], x)
        return y


class MoEModel(nn.Module):
    """Input projection -> pre-norm residual MoE block -> output head."""

    def __init__(self, d_in: int, d_out: int, cfg: LayerConfig, kernel: str = "auto") -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, cfg.d_model)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.moe = MoELayer(cfg, kernel)
        self.head = nn.Linear(cfg.d_model, d_out)

    def forward(self, x: torch.Tensor, **moe_kwargs) -> tuple[torch.Tensor, dict]:
        h = self.inp(x)
        y, aux = self.moe(self.norm(h), **moe_kwargs)
        return self.head(h + y), aux
