"""Planner: build a method's assignment for a model and render the group table.

``plan(model="resnet18", method="ours", r=0.7)`` returns a :class:`Plan` whose ``table()`` lists
the groups (opening op, tensors, elements, share, rank in the order, chosen precision) and whose
``summary()`` gives the assignment's memory against FP32 and against pi_op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from systems.precision import baselines, search
from systems.precision.assign import Assignment
from systems.precision.graph import NetGraph, trace
from systems.precision.models import build_model

DATASET_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "contrast": (1, 16, 16)}
"""Native input shape (C, H, W) per dataset."""


def build_assignment(method: str, graph: NetGraph, r: float | None = None, order_seed: int = 123) -> Assignment:
    """The initial assignment of ``method`` (``r`` for the ``ours*`` methods)."""
    if method == "fp32":
        return baselines.fp32(graph)
    if method == "pi-op":
        return baselines.pi_op(graph)
    if method == "unif-lo":
        return baselines.unif_lo(graph)
    if method == "amp":
        return baselines.amp_style(graph)
    if method in ("ours", "ours-no-promotion", "ours-smallest-first", "ours-random"):
        if r is None:
            raise ValueError(f"method {method!r} needs r in [0, 1]")
        order = {"ours-smallest-first": "smallest", "ours-random": "random"}.get(method, "largest")
        a = search.pi_ours(graph, r, order=order, seed=order_seed)  # type: ignore[arg-type]
        a.label = f"{method}(r={r:g}" + (f",seed={order_seed})" if method == "ours-random" else ")")
        return a
    raise ValueError(f"unknown method {method!r}; valid: fp32, pi-op, unif-lo, amp, ours, ours-no-promotion, "
                     f"ours-smallest-first, ours-random")


def uses_promotion(method: str) -> bool:
    """Promotion is part of pi_ours and its ordering ablations, not of the baselines."""
    return method in ("ours", "ours-smallest-first", "ours-random")


@dataclass
class Plan:
    """An assignment with the references it is compared against."""

    assignment: Assignment
    """The planned assignment (before any promotion)."""
    graph: NetGraph
    """Tensors and groups."""
    model: str
    """Model name."""
    r: float | None
    """r for ours*, else None."""

    def fp32_mb(self) -> float:
        return Assignment.fp32(self.graph).memory_mb()

    def pi_op_mb(self) -> float:
        return baselines.pi_op(self.graph).memory_mb()

    def rows(self, assignment: Assignment | None = None) -> list[dict]:
        a = assignment or self.assignment
        g = self.graph
        rank = {gi: i for i, gi in enumerate(search.group_order(g, "largest"))}
        tot = g.total_numel
        out = []
        for grp in g.groups:
            kinds = {}
            for tid in grp.tensors:
                k = g.tensors[tid].kind
                kinds[k] = kinds.get(k, 0) + g.tensors[tid].numel
            out.append({"group": grp.index, "opener": grp.opener, "op": grp.opener_op, "tensors": len(grp.tensors),
                        "elements": grp.numel, "share": grp.numel / tot, "rank": rank[grp.index] + 1,
                        "P": kinds.get("P", 0), "Y": kinds.get("Y", 0), "precision": a.group_precision(grp.index)})
        return out

    def table(self, assignment: Assignment | None = None) -> str:
        """Markdown table of the groups."""
        lines = ["| group | opened by | op | tensors | elements | share | size rank | precision |",
                 "|---:|---|---|---:|---:|---:|---:|---|"]
        for r in self.rows(assignment):
            lines.append(f"| {r['group']} | `{r['opener']}` | {r['op']} | {r['tensors']} | {r['elements']:,} | "
                         f"{r['share']:.3f} | {r['rank']} | {r['precision']} |")
        return "\n".join(lines)

    def summary(self, assignment: Assignment | None = None) -> str:
        a = assignment or self.assignment
        mb, fp, op = a.memory_mb(), self.fp32_mb(), self.pi_op_mb()
        return (f"{a.label or 'assignment'} on {self.model} (batch {self.graph.batch_size}): "
                f"{len(self.graph.groups)} groups, {len(self.graph.tensors)} tensors, "
                f"low-precision share {a.low_share():.3f}\n"
                f"memory {mb:.3f} MB = {mb / fp:.3f} x FP32 ({fp:.3f} MB) = {mb / op:.3f} x pi_op ({op:.3f} MB); "
                f"reduction vs pi_op {op / mb:.2f}x")

    def to_json(self, assignment: Assignment | None = None) -> str:
        a = assignment or self.assignment
        return json.dumps({"model": self.model, "label": a.label, "r": self.r, "batch_size": self.graph.batch_size,
                           "memory_mb": a.memory_mb(), "fp32_mb": self.fp32_mb(), "pi_op_mb": self.pi_op_mb(),
                           "low_share": a.low_share(), "promoted": a.promoted, "groups": self.rows(a),
                           "tensors": {tid: {"kind": t.kind, "group": t.group, "numel": t.numel,
                                             "format": "fp32" if a.formats[tid] is None else a.formats[tid].name}
                                       for tid, t in self.graph.tensors.items()}}, indent=1)


def plan(model: str = "resnet18", method: str = "ours", r: float | None = 0.7, dataset: str = "digits",
         batch_size: int = 128, width: float | None = None, image_size: int | None = None,
         order_seed: int = 123) -> Plan:
    """Trace ``model`` for ``dataset`` inputs and build ``method``'s assignment."""
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASET_SHAPES)}")
    c, h, w = DATASET_SHAPES[dataset]
    if image_size:
        h = w = image_size
    net = build_model(model, in_ch=c, num_classes=10, width=width)
    graph = trace(net, (c, h, w), batch_size)
    a = build_assignment(method, graph, r if method.startswith("ours") else None, order_seed)
    return Plan(a, graph, model, r if method.startswith("ours") else None)
