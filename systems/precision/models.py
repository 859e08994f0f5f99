"""Narrow CIFAR-style CNNs written in plain torch, one module per operation.

Every operation whose output is a new tensor (conv, BN, ReLU, pooling, add, concat, linear)
is its own ``nn.Module`` instance used exactly once, so forward hooks see each activation
tensor once (the paper's ``ext3.nn`` does the same). Views (flatten, channel split) are
functional and not counted, as in kuangliu's ``pytorch-cifar`` models the paper uses.
The first module of every model is :class:`InputNode` (the paper's ``Input``), so the input
batch is a tensor of the first group.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class InputNode(nn.Module):
    """Identity that marks the network input (opens the first group)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0  # a new tensor, so hooks can round it without touching the caller's batch


class Add(nn.Module):
    """Residual addition."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class Concat(nn.Module):
    """Channel concatenation, optionally followed by a channel shuffle (ShuffleNet)."""

    def __init__(self, shuffle_groups: int = 0) -> None:
        super().__init__()
        self.shuffle_groups = shuffle_groups

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        y = torch.cat(xs, dim=1)
        g = self.shuffle_groups
        if g:
            n, c, h, w = y.shape
            y = y.view(n, g, c // g, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return y


def _ch(base: int, width: float, multiple: int = 1, minimum: int = 4) -> int:
    c = max(minimum, int(round(base * width)))
    return max(multiple, (c + multiple - 1) // multiple * multiple)


def conv_bn_relu(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, relu: bool = True) -> list[nn.Module]:
    mods: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        mods.append(nn.ReLU())
    return mods


class Head(nn.Module):
    """Global average pool + flatten + linear classifier."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))


class TinyCNN(nn.Module):
    """Two conv-BN-ReLU layers and a linear head (the smoke/debug model)."""

    def __init__(self, in_ch: int = 1, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        c1, c2 = _ch(8, width), _ch(16, width)
        self.inp = InputNode()
        self.body = nn.Sequential(*conv_bn_relu(in_ch, c1), *conv_bn_relu(c1, c2, stride=2))
        self.head = Head(c2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.inp(x)))


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs, identity or 1x1-conv shortcut)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(*conv_bn_relu(cin, cout, 3, stride), *conv_bn_relu(cout, cout, 3, 1, relu=False))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else None)
        self.add = Add()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        sc = self.shortcut(x) if self.shortcut is not None else x
        return self.relu(self.add(out, sc))


class ResNet18(nn.Module):
    """ResNet-18 (CIFAR stem) with widths 64/128/256/512 scaled by ``width``."""

    def __init__(self, in_ch: int = 1, num_classes: int = 10, width: float = 0.125) -> None:
        super().__init__()
        cs = [_ch(c, width) for c in (64, 128, 256, 512)]
        self.inp = InputNode()
        self.stem = nn.Sequential(*conv_bn_relu(in_ch, cs[0]))
        layers: list[nn.Module] = []
        cin = cs[0]
        for i, c in enumerate(cs):
            for j in range(2):
                layers.append(BasicBlock(cin, c, 2 if (i > 0 and j == 0) else 1))
                cin = c
        self.layers = nn.Sequential(*layers)
        self.head = Head(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(self.inp(x))))


class InvertedResidual(nn.Module):
    """MobileNet-v2 block: 1x1 expand, 3x3 depthwise, 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.body = nn.Sequential(*conv_bn_relu(cin, mid, 1), *conv_bn_relu(mid, mid, 3, stride, groups=mid),
                                  *conv_bn_relu(mid, cout, 1, relu=False))
        self.residual = stride == 1 and cin == cout
        self.add = Add() if self.residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.add(out, x) if self.add is not None else out


class MobileNetV2(nn.Module):
    """MobileNet-v2 (kuangliu CIFAR variant: stride-1 stem) with channels scaled by ``width``."""

    CFG = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, in_ch: int = 1, num_classes: int = 10, width: float = 0.25) -> None:
        super().__init__()
        self.inp = InputNode()
        c0 = _ch(32, width)
        self.stem = nn.Sequential(*conv_bn_relu(in_ch, c0))
        blocks: list[nn.Module] = []
        cin = c0
        for t, c, n, s in self.CFG:
            cout = _ch(c, width)
            for i in range(n):
                blocks.append(InvertedResidual(cin, cout, t, s if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        clast = _ch(1280, width)
        self.last = nn.Sequential(*conv_bn_relu(cin, clast, 1))
        self.head = Head(clast, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.last(self.blocks(self.stem(self.inp(x)))))


class ShuffleUnit(nn.Module):
    """ShuffleNet-v2 basic unit: split channels, transform one half, concat, shuffle."""

    def __init__(self, c: int) -> None:
        super().__init__()
        h = c // 2
        self.half = h
        self.branch = nn.Sequential(*conv_bn_relu(h, h, 1), *conv_bn_relu(h, h, 3, groups=h, relu=False),
                                    *conv_bn_relu(h, h, 1))
        self.cat = Concat(shuffle_groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, :self.half], x[:, self.half:]
        return self.cat(x1, self.branch(x2))


class ShuffleDown(nn.Module):
    """ShuffleNet-v2 down-sampling unit (both branches stride 2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 2
        self.left = nn.Sequential(*conv_bn_relu(cin, cin, 3, 2, groups=cin, relu=False), *conv_bn_relu(cin, mid, 1))
        self.right = nn.Sequential(*conv_bn_relu(cin, mid, 1), *conv_bn_relu(mid, mid, 3, 2, groups=mid, relu=False),
                                   *conv_bn_relu(mid, mid, 1))
        self.cat = Concat(shuffle_groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cat(self.left(x), self.right(x))


class ShuffleNetV2(nn.Module):
    """ShuffleNet-v2 (1.0x stage widths 116/232/464, last 1024) scaled by ``width``."""

    def __init__(self, in_ch: int = 1, num_classes: int = 10, width: float = 0.25) -> None:
        super().__init__()
        self.inp = InputNode()
        c0 = _ch(24, width)
        self.stem = nn.Sequential(*conv_bn_relu(in_ch, c0))
        units: list[nn.Module] = []
        cin = c0
        for base, n in ((116, 3), (232, 7), (464, 3)):
            cout = _ch(base, width, multiple=2)
            units.append(ShuffleDown(cin, cout))
            units += [ShuffleUnit(cout) for _ in range(n)]
            cin = cout
        self.units = nn.Sequential(*units)
        clast = _ch(1024, width)
        self.last = nn.Sequential(*conv_bn_relu(cin, clast, 1))
        self.head = Head(clast, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.last(self.units(self.stem(self.inp(x)))))


class Fire(nn.Module):
    """SqueezeNet fire module: 1x1 squeeze, then concat of 1x1 and 3x3 expands."""

    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Sequential(*conv_bn_relu(cin, squeeze, 1))
        self.e1 = nn.Sequential(*conv_bn_relu(squeeze, expand, 1))
        self.e3 = nn.Sequential(*conv_bn_relu(squeeze, expand, 3))
        self.cat = Concat()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return self.cat(self.e1(s), self.e3(s))


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1-style (CIFAR stem, 1x1-conv classifier) scaled by ``width``.

    Unlike the original, every conv is followed by BatchNorm (as in the kuangliu CIFAR models the
    paper uses for its other nets): the BN-free narrow version stayed at chance on digits."""

    FIRES = [(16, 64), (16, 64), "pool", (32, 128), (32, 128), "pool", (48, 192), (48, 192), (64, 256), (64, 256)]

    def __init__(self, in_ch: int = 1, num_classes: int = 10, width: float = 0.25) -> None:
        super().__init__()
        self.inp = InputNode()
        c0 = _ch(64, width)
        self.stem = nn.Sequential(*conv_bn_relu(in_ch, c0))
        mods: list[nn.Module] = []
        cin = c0
        for f in self.FIRES:
            if f == "pool":
                mods.append(nn.MaxPool2d(2, ceil_mode=True))
                continue
            s, e = _ch(f[0], width, minimum=2), _ch(f[1], width)
            mods.append(Fire(cin, s, e))
            cin = 2 * e
        self.fires = nn.Sequential(*mods)
        # 1x1-conv classifier then global pooling; no ReLU on the logits (it leaves a narrow net stuck at chance)
        self.classifier = nn.Sequential(nn.Conv2d(cin, num_classes, 1), nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.fires(self.stem(self.inp(x)))), 1)


MODELS: dict[str, Callable[..., nn.Module]] = {
    "tiny": TinyCNN,
    "resnet18": ResNet18,
    "mobilenetv2": MobileNetV2,
    "shufflenetv2": ShuffleNetV2,
    "squeezenet": SqueezeNet,
}
"""Model name -> constructor ``(in_ch, num_classes, width)``."""

DEFAULT_WIDTH = {"tiny": 1.0, "resnet18": 0.125, "mobilenetv2": 0.25, "shufflenetv2": 0.25, "squeezenet": 0.25}
"""Width multiplier per model used by the workloads (0.1-0.25 as in the paper's narrowest runs)."""


def build_model(name: str, in_ch: int = 1, num_classes: int = 10, width: float | None = None) -> nn.Module:
    """Construct a model by name; unknown names fail listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(MODELS)}")
    w = DEFAULT_WIDTH[name] if width is None else width
    if not (0 < w <= 4):
        raise ValueError(f"model {name}: width must be in (0, 4], got {w}")
    return MODELS[name](in_ch=in_ch, num_classes=num_classes, width=w)
