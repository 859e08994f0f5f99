"""Training tensors of a network, their groups, and the memory model (paper §3.1, notes §1/§3).

:func:`trace` runs one forward pass with hooks on every leaf module and records, in execution
order, each operation (a *node*), which nodes produced its inputs, its output size and its
parameters. From that:

* tensors: per node ``Y:<node>`` (output activation) and ``GY:<node>`` (its gradient), and per
  parameter ``P:<node>.<param>`` and ``GP:<node>.<param>``. Inputs ``X``/``GX`` alias the
  producer's ``Y``/``GY`` and are not counted again. Activation sizes are scaled to the batch.
* groups: walk nodes in execution order, open a new group at every ``InputNode``, ``Conv2d``
  and ``Linear``; every other node joins the current group. ``Y``/``GY`` of a node belong to the
  node's group; ``P``/``GP`` belong to the group of the node's *predecessor* (the producer of its
  input), so both operands of every GEMM share a group and hence a precision.
* memory of an assignment: ``sum(numel * bits)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from systems.precision.models import InputNode

KINDS = ("P", "Y", "GY", "GP")
"""Tensor kinds: parameters, output activations, activation gradients, parameter gradients."""

OPENERS = (InputNode, nn.Conv2d, nn.Linear)
"""Module types that open a new group."""


@dataclass
class Node:
    """One executed leaf module."""

    index: int
    """Position in execution order."""
    name: str
    """Module path in the model (``layers.0.branch.0``)."""
    op: str
    """Module class name (``Conv2d``, ``BatchNorm2d``, ...)."""
    out_numel: int
    """Output elements per sample."""
    params: list[tuple[str, int]]
    """(parameter name, numel) of the module's own parameters."""
    producers: list[int]
    """Indices of the nodes whose outputs this node reads (empty for the input node)."""
    group: int = -1
    """Group of the node (its ``Y`` and ``GY``)."""
    param_group: int = -1
    """Group of the node's parameters (its predecessor's group)."""

    @property
    def is_gemm(self) -> bool:
        return self.op in ("Conv2d", "Linear")


@dataclass
class TensorInfo:
    """One training tensor counted by the memory model."""

    tid: str
    """Identifier ``KIND:node[.param]``."""
    kind: str
    """``P``, ``Y``, ``GY`` or ``GP``."""
    node: int
    """Index of the node it belongs to."""
    group: int
    """Group index."""
    numel: int
    """Elements (activations and their gradients scaled to the batch size)."""
    param: str = ""
    """Full parameter name (``layers.0.branch.0.weight``) for P/GP, else empty."""


@dataclass
class Group:
    """A set of tensors that always share one precision."""

    index: int
    """Group index (execution order of the opening node)."""
    opener: str
    """Name of the node that opened the group."""
    opener_op: str
    """Op of the opening node."""
    tensors: list[str] = field(default_factory=list)
    """Tensor ids in the group."""
    numel: int = 0
    """Total elements of its tensors."""


@dataclass
class NetGraph:
    """Nodes, tensors and groups of one model at one batch size."""

    nodes: list[Node]
    """Executed leaf modules in order."""
    tensors: dict[str, TensorInfo]
    """Tensor id -> info."""
    groups: list[Group]
    """Groups in execution order."""
    batch_size: int
    """Batch size activation sizes are scaled to."""

    @property
    def total_numel(self) -> int:
        return sum(t.numel for t in self.tensors.values())

    def gemm_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.is_gemm]

    def node_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}


def _leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if n and not list(m.children())]


def trace(model: nn.Module, input_shape: tuple[int, ...], batch_size: int) -> NetGraph:
    """Run one forward pass on zeros of ``(1, *input_shape)`` and build the :class:`NetGraph`."""
    leaves = _leaf_modules(model)
    nodes: list[Node] = []
    producer_of: dict[int, int] = {}
    keep: list[torch.Tensor] = []  # keep outputs alive so ids are not reused during the trace
    pending: dict[int, list[int]] = {}
    seen: set[str] = set()
    handles = []

    def lookup(t: torch.Tensor) -> int | None:
        while t is not None:
            if id(t) in producer_of:
                return producer_of[id(t)]
            t = t._base  # a view (channel split, flatten) reads its base's producer
        return None

    def make_pre(name: str):
        def pre(mod, args):
            prods = []
            for a in args:
                if isinstance(a, torch.Tensor):
                    p = lookup(a)
                    if p is not None and p not in prods:
                        prods.append(p)
            pending[id(mod)] = prods
        return pre

    def make_post(name: str):
        def post(mod, args, out):
            if name in seen:
                raise ValueError(f"trace: module {name!r} runs twice in one forward; the memory model "
                                 f"needs one module instance per operation")
            seen.add(name)
            if not isinstance(out, torch.Tensor):
                raise ValueError(f"trace: module {name!r} returns {type(out).__name__}, expected one tensor")
            params = [(pn, p.numel()) for pn, p in mod.named_parameters(recurse=False)]
            node = Node(len(nodes), name, type(mod).__name__, out[0].numel(), params, pending.pop(id(mod), []))
            nodes.append(node)
            producer_of[id(out)] = node.index
            keep.append(out)
        return post

    for name, mod in leaves:
        handles.append(mod.register_forward_pre_hook(make_pre(name)))
        handles.append(mod.register_forward_hook(make_post(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if not nodes or nodes[0].op != "InputNode":
        raise ValueError("trace: the model's first operation must be an InputNode")
    return build_graph(nodes, batch_size)


def build_graph(nodes: list[Node], batch_size: int) -> NetGraph:
    """Assign groups and create tensors for traced ``nodes`` (exposed for tests)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    groups: list[Group] = []
    opener_types = tuple(t.__name__ for t in OPENERS)
    for n in nodes:
        if n.op in opener_types or not groups:
            groups.append(Group(len(groups), n.name, n.op))
        n.group = groups[-1].index
    tensors: dict[str, TensorInfo] = {}

    def add(t: TensorInfo) -> None:
        tensors[t.tid] = t
        g = groups[t.group]
        g.tensors.append(t.tid)
        g.numel += t.numel

    for n in nodes:
        n.param_group = nodes[n.producers[0]].group if n.producers else n.group
        for pn, numel in n.params:
            full = f"{n.name}.{pn}"
            add(TensorInfo(f"P:{full}", "P", n.index, n.param_group, numel, full))
        add(TensorInfo(f"Y:{n.name}", "Y", n.index, n.group, n.out_numel * batch_size))
        add(TensorInfo(f"GY:{n.name}", "GY", n.index, n.group, n.out_numel * batch_size))
        for pn, numel in n.params:
            full = f"{n.name}.{pn}"
            add(TensorInfo(f"GP:{full}", "GP", n.index, n.param_group, numel, full))
    return NetGraph(nodes, tensors, groups, batch_size)
