"""Precision assignments: which tensor gets which format, and what that costs in memory.

An :class:`Assignment` maps every tensor id of a :class:`~systems.precision.graph.NetGraph` to
a :class:`~systems.precision.floatfmt.FloatFormat`, or to ``None`` for FP32. Assignments are
built from a set of *low* tensors: a low tensor gets its kind's low format
(``P, Y -> 1-4-3 bias 4``, ``GY -> 1-5-2``, ``GP -> 1-6-9`` — weight gradients stay 16 bits even
in "low"), every other tensor the high format 1-6-9.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from systems.precision.floatfmt import FP_4_3_4, FP_5_2_0, FP_6_9_0, FloatFormat
from systems.precision.graph import NetGraph

LOW: dict[str, FloatFormat] = {"P": FP_4_3_4, "Y": FP_4_3_4, "GY": FP_5_2_0, "GP": FP_6_9_0}
"""Low-precision format per tensor kind (the paper's ``--pa-upd-dts``)."""
HIGH: dict[str, FloatFormat] = {k: FP_6_9_0 for k in LOW}
"""High-precision format per tensor kind."""
OVERFLOW: dict[str, str] = {"P": "saturate", "Y": "saturate", "GY": "inf", "GP": "inf"}
"""Overflow behaviour per kind: weights/activations saturate, gradients go to inf."""
FP32_BITS = 32
HIGH_BITS = 16
"""Bits of the high format (1-6-9): the reference of the low-precision share."""
LOW_BITS = 8
"""Bits of the low formats (1-4-3 b4, 1-5-2)."""


@dataclass
class Assignment:
    """A precision per tensor (``None`` = FP32) with the bookkeeping promotion needs."""

    graph: NetGraph
    """The tensors being assigned."""
    formats: dict[str, FloatFormat | None]
    """Tensor id -> format (``None`` = FP32, not rounded)."""
    low: set[str] = field(default_factory=set)
    """Tensor ids currently in low precision."""
    promoted: list[str] = field(default_factory=list)
    """Tensor ids promoted to high precision during training, in order."""
    label: str = ""
    """Human name (method and knob)."""

    @classmethod
    def fp32(cls, graph: NetGraph) -> "Assignment":
        """pi_unif(FP32): nothing is rounded."""
        return cls(graph, {t: None for t in graph.tensors}, set(), label="fp32")

    @classmethod
    def from_low(cls, graph: NetGraph, low: set[str], label: str = "") -> "Assignment":
        """Low formats for ``low``, 1-6-9 for every other tensor."""
        unknown = set(low) - set(graph.tensors)
        if unknown:
            raise ValueError(f"assignment: unknown tensor ids {sorted(unknown)[:5]}")
        fm = {tid: (LOW if tid in low else HIGH)[t.kind] for tid, t in graph.tensors.items()}
        return cls(graph, fm, set(low), label=label)

    def promote(self, tid: str) -> None:
        """Move ``tid`` to high precision for the rest of training."""
        if tid in self.low:
            self.low.discard(tid)
            self.formats[tid] = HIGH[self.graph.tensors[tid].kind]
            self.promoted.append(tid)

    def bits(self, tid: str) -> int:
        f = self.formats[tid]
        return FP32_BITS if f is None else f.bits

    def memory_bits(self) -> int:
        """Memory model: sum over tensors of numel * bits."""
        return sum(t.numel * self.bits(tid) for tid, t in self.graph.tensors.items())

    def memory_mb(self) -> float:
        """Memory in MB (10^6 bytes)."""
        return self.memory_bits() / 8 / 1e6

    def low_share(self) -> float:
        """The paper's measure: share of tensor elements held in low precision, computed from bits as
        the authors' code logs it (``pasn_upd(r%) = (all_bits - cur_bits) / all_bits * 2`` with
        ``all_bits`` = every tensor in the 16-bit high format). A tensor saves ``16 - bits`` of 8
        possible bits, so weight gradients, which stay 16-bit even in "low", count 0. FP32 = 0."""
        tot = self.graph.total_numel
        if not tot or any(f is None for f in self.formats.values()):
            return 0.0
        saved = sum(t.numel * (HIGH_BITS - self.bits(tid)) for tid, t in self.graph.tensors.items())
        return saved / (tot * (HIGH_BITS - LOW_BITS))

    def low_elements_share(self) -> float:
        """Share of tensor elements marked low (GP included): the share the r-window is checked on
        (the authors' ``get_ids_chosen`` ratio over group sizes)."""
        tot = self.graph.total_numel
        return sum(self.graph.tensors[t].numel for t in self.low) / tot if tot else 0.0

    def activation_memory_mb(self, bits_override: dict[str, int] | None = None) -> float:
        """Memory of the saved activations alone (the ``Y`` tensors), in MB: what 8-bit storage saves."""
        b = 0
        for tid, t in self.graph.tensors.items():
            if t.kind == "Y":
                b += t.numel * (bits_override or {}).get(tid, self.bits(tid))
        return b / 8 / 1e6

    def group_precision(self, g: int) -> str:
        """``low``, ``high``, ``fp32`` or ``mixed`` for group ``g``."""
        kinds = set()
        for tid in self.graph.groups[g].tensors:
            f = self.formats[tid]
            kinds.add("fp32" if f is None else ("low" if tid in self.low else "high"))
        return kinds.pop() if len(kinds) == 1 else "mixed"


def memory_fp32_bits(graph: NetGraph) -> int:
    return graph.total_numel * FP32_BITS
