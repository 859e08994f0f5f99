"""The baseline assignments: pi_unif(FP32), pi_op (HFP8), pi_unif(lo) and an AMP-style pi_op'.

* ``fp32``: every tensor FP32, no loss scaling.
* ``pi-op`` (the expert, HFP8 of Sun et al. 2019 as the paper's ``std`` option): for every
  Conv2d/Linear, its weights ``P``, its input activation (the producer's ``Y``) and its output
  gradient ``GY`` are low; everything else (BN, ReLU, pooling, add, concat) stays 1-6-9; the
  first GEMM layer and the last group are kept high (``--pa-upd-no-end``).
* ``unif-lo``: every tensor low (= pi_ours(1.0) without promotion).
* ``amp``: **our reconstruction** of the paper's ``ste`` baseline ("FP16+FP8 (torch.amp)"),
  which is absent from the release: like torch.amp's autocast, only GEMM operands are cast down
  (P, input Y -> 1-4-3 b4, GY -> 1-5-2) and *every* GEMM is cast, the first and last layers
  included; all other tensors 16-bit.
"""

from __future__ import annotations

from systems.precision.assign import Assignment
from systems.precision.graph import NetGraph


def _gemm_operands(graph: NetGraph, skip_ends: bool) -> set[str]:
    nodes = graph.nodes
    gemms = graph.gemm_nodes()
    last_group = graph.groups[-1].index if graph.groups else -1
    low: set[str] = set()
    for i, n in enumerate(gemms):
        if skip_ends and (i == 0 or n.group == last_group):
            continue
        for pn, _ in n.params:
            low.add(f"P:{n.name}.{pn}")
        for p in n.producers:
            low.add(f"Y:{nodes[p].name}")
        low.add(f"GY:{n.name}")
    if skip_ends:  # nothing of the last group stays low (e.g. an input Y shared with the last GEMM)
        low -= set(graph.groups[-1].tensors)
    return low


def pi_op(graph: NetGraph) -> Assignment:
    """The HFP8 operator-based assignment (expert baseline)."""
    return Assignment.from_low(graph, _gemm_operands(graph, skip_ends=True), label="pi-op")


def amp_style(graph: NetGraph) -> Assignment:
    """AMP-style pi_op' (our reconstruction): all GEMM operands low, ends included."""
    return Assignment.from_low(graph, _gemm_operands(graph, skip_ends=False), label="amp")


def unif_lo(graph: NetGraph) -> Assignment:
    """Every tensor in its low format."""
    return Assignment.from_low(graph, set(graph.tensors), label="unif-lo")


def fp32(graph: NetGraph) -> Assignment:
    """Every tensor FP32."""
    return Assignment.fp32(graph)
