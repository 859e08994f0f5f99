"""Grouping and the memory model on small known networks."""

import pytest
import torch
from torch import nn

from systems.precision.assign import Assignment
from systems.precision.graph import trace
from systems.precision.models import Add, Concat, InputNode, TinyCNN, build_model


def test_tiny_cnn_groups_exactly():
    net = TinyCNN(in_ch=1, num_classes=10, width=1.0)  # c1=8, c2=16
    g = trace(net, (1, 8, 8), batch_size=4)
    assert [n.name for n in g.nodes] == ["inp", "body.0", "body.1", "body.2", "body.3", "body.4", "body.5",
                                         "head.pool", "head.fc"]
    assert [(grp.opener, grp.opener_op) for grp in g.groups] == [
        ("inp", "InputNode"), ("body.0", "Conv2d"), ("body.3", "Conv2d"), ("head.fc", "Linear")]
    grp_of = {n.name: n.group for n in g.nodes}
    assert grp_of == {"inp": 0, "body.0": 1, "body.1": 1, "body.2": 1, "body.3": 2, "body.4": 2, "body.5": 2,
                      "head.pool": 2, "head.fc": 3}
    t = g.tensors
    # P/GP join the predecessor's group: the first conv's weights sit with the input
    assert t["P:body.0.weight"].group == 0 and t["GP:body.0.weight"].group == 0
    assert t["P:body.1.weight"].group == 1  # BN after conv 1
    assert t["P:body.3.weight"].group == 1  # conv 2 reads relu 1 (group 1)
    assert t["P:head.fc.weight"].group == 2 and t["P:head.fc.bias"].group == 2
    assert t["Y:head.fc"].group == 3 and t["GY:head.fc"].group == 3
    # sizes: activations scaled to the batch, parameters not
    assert t["Y:inp"].numel == 4 * 64
    assert t["Y:body.0"].numel == 4 * 8 * 64 and t["GY:body.0"].numel == 4 * 8 * 64
    assert t["Y:body.3"].numel == 4 * 16 * 16
    assert t["P:body.3.weight"].numel == 16 * 8 * 9
    assert t["Y:head.pool"].numel == 4 * 16
    # every parameter and every leaf output is counted exactly once
    n_params = sum(1 for _ in net.parameters())
    assert len(g.tensors) == 2 * n_params + 2 * len(g.nodes)
    assert sum(grp.numel for grp in g.groups) == g.total_numel


def test_memory_model_is_numel_times_bits():
    g = trace(TinyCNN(), (1, 8, 8), batch_size=2)
    fp32 = Assignment.fp32(g)
    assert fp32.memory_bits() == 32 * g.total_numel
    lo = Assignment.from_low(g, set(g.tensors))
    expect = sum(t.numel * (16 if t.kind == "GP" else 8) for t in g.tensors.values())
    assert lo.memory_bits() == expect
    hi = Assignment.from_low(g, set())
    assert hi.memory_bits() == 16 * g.total_numel
    assert fp32.memory_mb() == pytest.approx(g.total_numel * 4 / 1e6)


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = InputNode()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.r1 = nn.ReLU()
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.sc = nn.Conv2d(4, 4, 1)  # shortcut reads r1's output, not c2's
        self.add = Add()
        self.cat = Concat()
        self.fc = nn.Linear(6 * 16, 3)

    def forward(self, x):
        a = self.r1(self.c1(self.inp(x)))
        b = self.add(self.c2(a), self.sc(a))
        c = self.cat(b, a[:, :2])  # a channel-split view of a
        return self.fc(torch.flatten(c, 1))


def test_residual_and_view_predecessors():
    g = trace(_Residual(), (1, 4, 4), batch_size=1)
    nodes = g.node_by_name()
    assert [n.name for n in g.nodes] == ["inp", "c1", "r1", "c2", "sc", "add", "cat", "fc"]
    assert [grp.opener for grp in g.groups] == ["inp", "c1", "c2", "sc", "fc"]
    # the shortcut conv's weights go with r1's group (its data predecessor), not with c2's group
    assert g.tensors["P:sc.weight"].group == nodes["r1"].group == 1
    assert g.tensors["P:c2.weight"].group == 1
    assert nodes["add"].producers == [nodes["c2"].index, nodes["sc"].index]
    assert nodes["cat"].producers == [nodes["add"].index, nodes["r1"].index]  # the view resolves to r1
    assert g.tensors["P:fc.weight"].group == nodes["cat"].group == 3


def test_reused_module_is_rejected():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = InputNode()
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.relu(self.inp(x)))

    with pytest.raises(ValueError, match="runs twice"):
        trace(Bad(), (1, 2, 2), 1)


@pytest.mark.parametrize("name", ["resnet18", "mobilenetv2", "shufflenetv2", "squeezenet"])
def test_every_model_traces_and_runs(name):
    net = build_model(name)
    g = trace(net, (1, 8, 8), batch_size=8)
    assert g.nodes[0].op == "InputNode" and len(g.groups) > 10
    assert sum(p.numel() for p in net.parameters()) == sum(t.numel for t in g.tensors.values() if t.kind == "P")
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
