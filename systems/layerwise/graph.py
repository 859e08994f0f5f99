"""Graph IR for layer-wise parallelism: layers, shape inference, a JSON format, network builders.

A :class:`Graph` is a DAG of :class:`Layer` s in topological order. Tensors are either 4-D
``(N, C, H, W)`` (conv / pool outputs) or 2-D ``(N, F)`` (linear / flatten / softmax outputs).
The graph input is the pseudo-layer ``"input"``.

JSON format (what ``syslab layerwise search --graph FILE.json`` reads)::

    {"input": [N, C, H, W],
     "layers": [
       {"name": "c1", "op": "conv2d", "out_channels": 64, "kernel": 3, "stride": 1, "padding": 1,
        "inputs": ["input"], "relu": true},
       {"name": "p1", "op": "pool2d", "kernel": 2, "stride": 2, "mode": "max", "inputs": ["c1"]},
       {"name": "f1", "op": "linear", "out_features": 10, "inputs": ["p1"]},
       {"name": "s",  "op": "softmax", "inputs": ["f1"]}]}

``kernel``/``stride``/``padding`` take an int or ``[h, w]``; ``pool2d`` defaults to ``stride =
kernel``, ``padding = 0``, ``mode = "max"``; ``concat`` (channel axis) and ``add`` take several
inputs; ``linear`` flattens a 4-D input. Malformed graphs raise :class:`GraphError` naming the
layer and what is wrong.

Batch norm and dropout are left out (they do not change the parallelization choices the cost
model sees); builders put a ReLU inside conv/linear layers (``relu`` flag).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPS = ("conv2d", "pool2d", "linear", "concat", "add", "flatten", "softmax")
INPUT = "input"


class GraphError(ValueError):
    """A malformed graph; the message names the layer (and file) and the problem."""


@dataclass
class Layer:
    """One node of the graph."""

    name: str
    """Unique layer name."""
    op: str
    """One of :data:`OPS`."""
    inputs: list[str]
    """Names of producer layers (or ``"input"``)."""
    attrs: dict[str, Any] = field(default_factory=dict)
    """Op attributes, normalised: kernel/stride/padding as (h, w) tuples, out_channels, ..."""
    out_shape: tuple[int, ...] = ()
    """Inferred output shape."""
    in_shapes: list[tuple[int, ...]] = field(default_factory=list)
    """Shapes of the inputs, in order."""

    @property
    def rank(self) -> int:
        return len(self.out_shape)

    def n_params(self) -> int:
        """Number of trainable parameters (weights + bias)."""
        if self.op == "conv2d":
            kh, kw = self.attrs["kernel"]
            return self.attrs["out_channels"] * (self.in_shapes[0][1] * kh * kw + 1)
        if self.op == "linear":
            fin = _numel(self.in_shapes[0][1:])
            return self.attrs["out_features"] * (fin + 1)
        return 0


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


@dataclass
class Graph:
    """A CNN as a DAG of layers in topological order."""

    name: str
    """Network name (``alexnet``, ``tiny_vgg``, a file name, ...)."""
    input_shape: tuple[int, ...]
    """Shape of the graph input, ``(N, C, H, W)`` or ``(N, F)``."""
    layers: list[Layer]
    """Layers in topological order (inputs listed before their consumers)."""

    def __post_init__(self) -> None:
        self.by_name = {ly.name: ly for ly in self.layers}

    @property
    def batch(self) -> int:
        return self.input_shape[0]

    def consumers(self) -> dict[str, list[str]]:
        """Producer name → consumer names (a consumer reading a producer twice is listed twice)."""
        out: dict[str, list[str]] = {ly.name: [] for ly in self.layers}
        for ly in self.layers:
            for i in ly.inputs:
                if i != INPUT:
                    out[i].append(ly.name)
        return out

    def edges(self) -> list[tuple[str, str, int]]:
        """``(producer, consumer, input_index)`` for every layer-to-layer edge."""
        return [(i, ly.name, k) for ly in self.layers for k, i in enumerate(ly.inputs) if i != INPUT]

    def n_params(self) -> int:
        return sum(ly.n_params() for ly in self.layers)

    def to_json(self) -> dict[str, Any]:
        layers = []
        for ly in self.layers:
            d: dict[str, Any] = {"name": ly.name, "op": ly.op, "inputs": list(ly.inputs)}
            for k, v in ly.attrs.items():
                d[k] = list(v) if isinstance(v, tuple) else v
            layers.append(d)
        return {"input": list(self.input_shape), "layers": layers}


# ----------------------------------------------------------------------------- parsing / inference

def _pair(v: Any, where: str, key: str, minimum: int) -> tuple[int, int]:
    if isinstance(v, bool):
        raise GraphError(f"{where}: '{key}' must be an int or [h, w], got {v!r}")
    if isinstance(v, int):
        v = [v, v]
    if (not isinstance(v, (list, tuple)) or len(v) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)):
        raise GraphError(f"{where}: '{key}' must be an int or [h, w], got {v!r}")
    if min(v) < minimum:
        raise GraphError(f"{where}: '{key}' must be >= {minimum}, got {list(v)}")
    return int(v[0]), int(v[1])


def _posint(d: dict, key: str, where: str) -> int:
    if key not in d:
        raise GraphError(f"{where}: missing required field '{key}'")
    v = d[key]
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise GraphError(f"{where}: '{key}' must be a positive integer, got {v!r}")
    return v


_KNOWN_KEYS = {
    "conv2d": {"out_channels", "kernel", "stride", "padding", "relu"},
    "pool2d": {"kernel", "stride", "padding", "mode"},
    "linear": {"out_features", "relu"},
    "concat": set(), "add": set(), "flatten": set(), "softmax": set(),
}


def infer(layer: Layer, shapes: dict[str, tuple[int, ...]], where: str) -> None:
    """Normalise ``layer.attrs`` and set ``in_shapes``/``out_shape``; raise :class:`GraphError`."""
    op, a = layer.op, layer.attrs
    ins = [shapes[i] for i in layer.inputs]
    layer.in_shapes = ins
    n_in = {"concat": None, "add": None}.get(op, 1)
    if n_in == 1 and len(ins) != 1:
        raise GraphError(f"{where}: op '{op}' takes exactly one input, got {len(ins)}")
    if n_in is None and len(ins) < 2:
        raise GraphError(f"{where}: op '{op}' needs at least two inputs, got {len(ins)}")
    if op in ("conv2d", "pool2d"):
        x = ins[0]
        if len(x) != 4:
            raise GraphError(f"{where}: {op} needs a 4-D (N, C, H, W) input but '{layer.inputs[0]}' "
                             f"has shape {list(x)}")
        k = _pair(a.get("kernel"), where, "kernel", 1) if "kernel" in a else None
        if k is None:
            raise GraphError(f"{where}: missing required field 'kernel'")
        s = _pair(a.get("stride", 1 if op == "conv2d" else list(k)), where, "stride", 1)
        p = _pair(a.get("padding", 0), where, "padding", 0)
        if p[0] * 2 >= k[0] + 1 and p[0] > 0 or p[1] * 2 >= k[1] + 1 and p[1] > 0:
            raise GraphError(f"{where}: padding {list(p)} must be at most half the kernel {list(k)}")
        hp, wp = x[2] + 2 * p[0], x[3] + 2 * p[1]
        if hp < k[0] or wp < k[1]:
            raise GraphError(f"{where}: kernel {list(k)} larger than the padded input {hp}x{wp} "
                             f"(input '{layer.inputs[0]}' is {list(x)})")
        ho, wo = (hp - k[0]) // s[0] + 1, (wp - k[1]) // s[1] + 1
        a["kernel"], a["stride"], a["padding"] = k, s, p
        if op == "conv2d":
            co = _posint(a, "out_channels", where)
            a["relu"] = bool(a.get("relu", False))
            layer.out_shape = (x[0], co, ho, wo)
        else:
            mode = a.get("mode", "max")
            if mode not in ("max", "avg"):
                raise GraphError(f"{where}: pool2d 'mode' must be 'max' or 'avg', got {mode!r}")
            a["mode"] = mode
            layer.out_shape = (x[0], x[1], ho, wo)
    elif op == "linear":
        x = ins[0]
        fo = _posint(a, "out_features", where)
        a["relu"] = bool(a.get("relu", False))
        layer.out_shape = (x[0], fo)
    elif op == "flatten":
        x = ins[0]
        layer.out_shape = (x[0], _numel(x[1:]))
    elif op == "softmax":
        x = ins[0]
        if len(x) != 2:
            raise GraphError(f"{where}: softmax needs a 2-D (N, F) input but '{layer.inputs[0]}' has "
                             f"shape {list(x)} (add a linear or flatten layer first)")
        layer.out_shape = tuple(x)
    elif op == "add":
        for i, s in zip(layer.inputs[1:], ins[1:]):
            if s != ins[0]:
                raise GraphError(f"{where}: add inputs must have equal shapes; '{layer.inputs[0]}' is "
                                 f"{list(ins[0])} but '{i}' is {list(s)}")
        layer.out_shape = tuple(ins[0])
    elif op == "concat":
        r = len(ins[0])
        for i, s in zip(layer.inputs[1:], ins[1:]):
            if len(s) != r or s[0] != ins[0][0] or tuple(s[2:]) != tuple(ins[0][2:]):
                raise GraphError(f"{where}: concat (channel axis) inputs must agree except in dim 1; "
                                 f"'{layer.inputs[0]}' is {list(ins[0])} but '{i}' is {list(s)}")
        layer.out_shape = (ins[0][0], sum(s[1] for s in ins), *ins[0][2:])
    else:  # pragma: no cover - checked by the caller
        raise GraphError(f"{where}: unknown op {op!r}")


def from_dict(data: Any, name: str = "graph", source: str = "") -> Graph:
    """Parse and shape-check the JSON format; errors say ``source: layer 'x' (#i): problem``."""
    pre = f"{source}: " if source else ""
    if not isinstance(data, dict):
        raise GraphError(f"{pre}graph must be a JSON object with 'input' and 'layers'")
    inp = data.get("input")
    if (not isinstance(inp, list) or len(inp) not in (2, 4)
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in inp)):
        raise GraphError(f"{pre}'input' must be [N, C, H, W] or [N, F] of positive ints, got {inp!r}")
    raw = data.get("layers")
    if not isinstance(raw, list) or not raw:
        raise GraphError(f"{pre}'layers' must be a non-empty list")
    shapes: dict[str, tuple[int, ...]] = {INPUT: tuple(inp)}
    layers: list[Layer] = []
    for idx, d in enumerate(raw):
        if not isinstance(d, dict):
            raise GraphError(f"{pre}layer #{idx}: must be an object, got {d!r}")
        lname = d.get("name")
        where = f"{pre}layer {lname!r} (#{idx})" if isinstance(lname, str) else f"{pre}layer #{idx}"
        if not isinstance(lname, str) or not lname:
            raise GraphError(f"{where}: missing or non-string 'name'")
        if lname in shapes:
            raise GraphError(f"{where}: duplicate layer name {lname!r}")
        op = d.get("op")
        if op not in OPS:
            raise GraphError(f"{where}: unknown op {op!r}; valid ops: {', '.join(OPS)}")
        inputs = d.get("inputs")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise GraphError(f"{where}: 'inputs' must be a non-empty list of layer names")
        for i in inputs:
            if i not in shapes:
                later = any(isinstance(x, dict) and x.get("name") == i for x in raw[idx:])
                hint = " (layers must be listed after their inputs)" if later else ""
                raise GraphError(f"{where}: input {i!r} is not defined{hint}")
        extra = set(d) - {"name", "op", "inputs"} - _KNOWN_KEYS[op]
        if extra:
            raise GraphError(f"{where}: unknown field(s) {sorted(extra)} for op '{op}'")
        attrs = {k: v for k, v in d.items() if k not in ("name", "op", "inputs")}
        ly = Layer(name=lname, op=op, inputs=list(inputs), attrs=attrs)
        infer(ly, shapes, where)
        shapes[lname] = ly.out_shape
        layers.append(ly)
    return Graph(name=name, input_shape=tuple(inp), layers=layers)


def load(path: str | Path) -> Graph:
    """Read a JSON graph file (errors name the file)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise GraphError(f"{p}: cannot read graph file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"{p}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    return from_dict(data, name=p.stem, source=str(p))


# ----------------------------------------------------------------------------- builders

class _B:
    """Small helper to write builders: ``b.conv('c1', 64, 3, inp='input', p=1)``."""

    def __init__(self, name: str, input_shape: tuple[int, ...]):
        self.name = name
        self.input_shape = input_shape
        self.raw: list[dict[str, Any]] = []
        self.last = INPUT

    def add(self, name: str, op: str, inputs: list[str] | str | None = None, **attrs) -> str:
        ins = [self.last] if inputs is None else ([inputs] if isinstance(inputs, str) else list(inputs))
        self.raw.append({"name": name, "op": op, "inputs": ins, **attrs})
        self.last = name
        return name

    def conv(self, name, co, k, s=1, p=0, inp=None, relu=True) -> str:
        return self.add(name, "conv2d", inp, out_channels=co, kernel=k, stride=s, padding=p, relu=relu)

    def pool(self, name, k, s=None, p=0, mode="max", inp=None) -> str:
        return self.add(name, "pool2d", inp, kernel=k, stride=s if s is not None else k, padding=p, mode=mode)

    def fc(self, name, fo, inp=None, relu=True) -> str:
        return self.add(name, "linear", inp, out_features=fo, relu=relu)

    def graph(self) -> Graph:
        return from_dict({"input": list(self.input_shape), "layers": self.raw}, name=self.name)


def alexnet(batch: int = 128) -> Graph:
    """AlexNet (torchvision layout, 224x224, 1000 classes)."""
    b = _B("alexnet", (batch, 3, 224, 224))
    b.conv("conv1", 64, 11, 4, 2); b.pool("pool1", 3, 2)
    b.conv("conv2", 192, 5, 1, 2); b.pool("pool2", 3, 2)
    b.conv("conv3", 384, 3, 1, 1); b.conv("conv4", 256, 3, 1, 1); b.conv("conv5", 256, 3, 1, 1)
    b.pool("pool5", 3, 2)
    b.fc("fc6", 4096); b.fc("fc7", 4096); b.fc("fc8", 1000, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def vgg16(batch: int = 64) -> Graph:
    """VGG-16 (configuration D, 224x224, 1000 classes)."""
    b = _B("vgg16", (batch, 3, 224, 224))
    cfg = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
    for s, block in enumerate(cfg, 1):
        for j, co in enumerate(block, 1):
            b.conv(f"conv{s}_{j}", co, 3, 1, 1)
        b.pool(f"pool{s}", 2, 2)
    b.fc("fc6", 4096); b.fc("fc7", 4096); b.fc("fc8", 1000, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def inception_v3(batch: int = 64) -> Graph:
    """Inception-v3 (Szegedy et al. 2016; torchvision layout without aux head / BN), 299x299."""
    b = _B("inception_v3", (batch, 3, 299, 299))
    b.conv("stem1", 32, 3, 2); b.conv("stem2", 32, 3); b.conv("stem3", 64, 3, 1, 1)
    b.pool("stem_pool1", 3, 2); b.conv("stem4", 80, 1); b.conv("stem5", 192, 3)
    x = b.pool("stem_pool2", 3, 2)

    def module_a(m: str, x: str, pool_f: int) -> str:
        b1 = b.conv(f"{m}_1x1", 64, 1, inp=x)
        b.conv(f"{m}_5x5a", 48, 1, inp=x); b5 = b.conv(f"{m}_5x5b", 64, 5, 1, 2)
        b.conv(f"{m}_3x3a", 64, 1, inp=x); b.conv(f"{m}_3x3b", 96, 3, 1, 1); b3 = b.conv(f"{m}_3x3c", 96, 3, 1, 1)
        b.pool(f"{m}_pool", 3, 1, 1, "avg", inp=x); bp = b.conv(f"{m}_poolproj", pool_f, 1)
        return b.add(f"{m}_concat", "concat", [b1, b5, b3, bp])

    def module_b(m: str, x: str) -> str:
        b3 = b.conv(f"{m}_3x3", 384, 3, 2, inp=x)
        b.conv(f"{m}_dbl_a", 64, 1, inp=x); b.conv(f"{m}_dbl_b", 96, 3, 1, 1); bd = b.conv(f"{m}_dbl_c", 96, 3, 2)
        bp = b.pool(f"{m}_pool", 3, 2, inp=x)
        return b.add(f"{m}_concat", "concat", [b3, bd, bp])

    def module_c(m: str, x: str, c7: int) -> str:
        b1 = b.conv(f"{m}_1x1", 192, 1, inp=x)
        b.conv(f"{m}_7a", c7, 1, inp=x); b.conv(f"{m}_7b", c7, (1, 7), 1, (0, 3))
        b7 = b.conv(f"{m}_7c", 192, (7, 1), 1, (3, 0))
        b.conv(f"{m}_dbl_a", c7, 1, inp=x); b.conv(f"{m}_dbl_b", c7, (7, 1), 1, (3, 0))
        b.conv(f"{m}_dbl_c", c7, (1, 7), 1, (0, 3)); b.conv(f"{m}_dbl_d", c7, (7, 1), 1, (3, 0))
        bd = b.conv(f"{m}_dbl_e", 192, (1, 7), 1, (0, 3))
        b.pool(f"{m}_pool", 3, 1, 1, "avg", inp=x); bp = b.conv(f"{m}_poolproj", 192, 1)
        return b.add(f"{m}_concat", "concat", [b1, b7, bd, bp])

    def module_d(m: str, x: str) -> str:
        b.conv(f"{m}_3x3a", 192, 1, inp=x); b3 = b.conv(f"{m}_3x3b", 320, 3, 2)
        b.conv(f"{m}_7a", 192, 1, inp=x); b.conv(f"{m}_7b", 192, (1, 7), 1, (0, 3))
        b.conv(f"{m}_7c", 192, (7, 1), 1, (3, 0)); b7 = b.conv(f"{m}_7d", 192, 3, 2)
        bp = b.pool(f"{m}_pool", 3, 2, inp=x)
        return b.add(f"{m}_concat", "concat", [b3, b7, bp])

    def module_e(m: str, x: str) -> str:
        b1 = b.conv(f"{m}_1x1", 320, 1, inp=x)
        a = b.conv(f"{m}_3x3a", 384, 1, inp=x)
        a1 = b.conv(f"{m}_3x3b1", 384, (1, 3), 1, (0, 1), inp=a)
        a2 = b.conv(f"{m}_3x3b2", 384, (3, 1), 1, (1, 0), inp=a)
        b3 = b.add(f"{m}_3x3cat", "concat", [a1, a2])
        d = b.conv(f"{m}_dbl_a", 448, 1, inp=x); d = b.conv(f"{m}_dbl_b", 384, 3, 1, 1, inp=d)
        d1 = b.conv(f"{m}_dbl_c1", 384, (1, 3), 1, (0, 1), inp=d)
        d2 = b.conv(f"{m}_dbl_c2", 384, (3, 1), 1, (1, 0), inp=d)
        bd = b.add(f"{m}_dblcat", "concat", [d1, d2])
        b.pool(f"{m}_pool", 3, 1, 1, "avg", inp=x); bp = b.conv(f"{m}_poolproj", 192, 1)
        return b.add(f"{m}_concat", "concat", [b1, b3, bd, bp])

    x = module_a("mixed5b", x, 32); x = module_a("mixed5c", x, 64); x = module_a("mixed5d", x, 64)
    x = module_b("mixed6a", x)
    for m, c7 in (("mixed6b", 128), ("mixed6c", 160), ("mixed6d", 160), ("mixed6e", 192)):
        x = module_c(m, x, c7)
    x = module_d("mixed7a", x)
    x = module_e("mixed7b", x); x = module_e("mixed7c", x)
    b.pool("avgpool", 8, 8, 0, "avg", inp=x)
    b.fc("fc", 1000, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def alexnet_tf(batch: int = 512) -> Graph:
    """AlexNet as in tf_cnn_benchmarks (227x227, conv 64-192-384-384-256): the network of TensorFlow's
    published AlexNet throughput, used to check the compute calibration (not a search workload)."""
    b = _B("alexnet_tf", (batch, 3, 227, 227))
    b.conv("conv1", 64, 11, 4, 0); b.pool("pool1", 3, 2)
    b.conv("conv2", 192, 5, 1, 2); b.pool("pool2", 3, 2)
    b.conv("conv3", 384, 3, 1, 1); b.conv("conv4", 384, 3, 1, 1); b.conv("conv5", 256, 3, 1, 1)
    b.pool("pool5", 3, 2)
    b.fc("fc6", 4096); b.fc("fc7", 4096); b.fc("fc8", 1000, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def densenet_block(batch: int = 8, layers: int = 6, growth: int = 32, c0: int = 64, hw: int = 28,
                   classes: int = 16) -> Graph:
    """A DenseNet-BC dense block (Huang et al. 2017) between a stem and a classifier: layer i reads
    the concatenation of the stem and every earlier layer's output (1x1 bottleneck to 4*growth, then
    3x3 to growth). Each concatenation is its own node, so the graph is not series-parallel."""
    b = _B(f"densenet_block{layers}", (batch, 3, hw, hw))
    feats = [b.conv("stem", c0, 3, 1, 1)]
    for i in range(1, layers + 1):
        inp = feats[0] if len(feats) == 1 else b.add(f"cat{i}", "concat", list(feats))
        b.conv(f"bottleneck{i}", 4 * growth, 1, inp=inp)
        feats.append(b.conv(f"dense{i}", growth, 3, 1, 1))
    b.add("cat_out", "concat", list(feats))
    b.conv("transition", c0, 1)
    b.pool("avgpool", hw, hw, 0, "avg")
    b.fc("fc", classes, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def random_dag_edges(nodes: int, kind: str, seed: int, k: int = 4, p: float = 0.75, m: int = 2) -> list[tuple[int, int]]:
    """Edges ``(i, j)``, ``i < j``, of a random undirected graph oriented by node index, as in
    randomly wired networks (Xie et al. 2019): ``ws`` Watts-Strogatz(nodes, k, p), ``er``
    Erdos-Renyi(nodes, p), ``ba`` Barabasi-Albert(nodes, m). Seeded (numpy)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    edges: set[tuple[int, int]] = set()
    if kind == "ws":
        for i in range(nodes):
            for d in range(1, k // 2 + 1):
                edges.add(tuple(sorted((i, (i + d) % nodes))))
        for e in sorted(edges):
            if rng.random() < p:
                i = e[0]
                choices = [j for j in range(nodes) if j != i and tuple(sorted((i, j))) not in edges]
                if choices:
                    edges.discard(e)
                    edges.add(tuple(sorted((i, int(rng.choice(choices))))))
    elif kind == "er":
        for i in range(nodes):
            for j in range(i + 1, nodes):
                if rng.random() < p:
                    edges.add((i, j))
    elif kind == "ba":
        deg = [0] * nodes
        for j in range(m, nodes):
            targets: set[int] = set()
            while len(targets) < min(m, j):
                w = np.array([deg[i] + 1 for i in range(j)], dtype=float)
                targets.add(int(rng.choice(j, p=w / w.sum())))
            for i in targets:
                edges.add((i, j))
                deg[i] += 1
                deg[j] += 1
    else:
        raise GraphError(f"unknown random graph kind {kind!r}; valid: ws, er, ba")
    return sorted(edges)


def randwire(batch: int = 8, nodes: int = 16, kind: str = "ws", seed: int = 0, channels: int = 32,
             hw: int = 16, classes: int = 16, **graph_kw) -> Graph:
    """A randomly wired network: a stem, then one 3x3 conv (ReLU) per random-graph node fed by the sum
    (``add``) of its predecessors' outputs, nodes without predecessors reading the stem, and the sum
    of the nodes without successors feeding pooling + classifier. Not series-parallel in general."""
    edges = random_dag_edges(nodes, kind, seed, **graph_kw)
    preds = {j: sorted(i for i, jj in edges if jj == j) for j in range(nodes)}
    succs = {i: [j for ii, j in edges if ii == i] for i in range(nodes)}
    b = _B(f"randwire_{kind}{nodes}_s{seed}", (batch, 3, hw, hw))
    stem = b.conv("stem", channels, 3, 1, 1)
    for j in range(nodes):
        ins = [f"n{i}" for i in preds[j]] or [stem]
        inp = ins[0] if len(ins) == 1 else b.add(f"n{j}_sum", "add", ins)
        b.conv(f"n{j}", channels, 3, 1, 1, inp=inp)
    outs = [f"n{i}" for i in range(nodes) if not succs[i]]
    last = outs[0] if len(outs) == 1 else b.add("out_sum", "add", outs)
    b.pool("avgpool", hw, hw, 0, "avg", inp=last)
    b.fc("fc", classes, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def tiny_alexnet(batch: int = 8) -> Graph:
    """A small AlexNet-shaped network (32x32, 10 classes) that runs in milliseconds on CPU."""
    b = _B("tiny_alexnet", (batch, 3, 32, 32))
    b.conv("conv1", 16, 5, 1, 2); b.pool("pool1", 2, 2)
    b.conv("conv2", 32, 3, 1, 1); b.pool("pool2", 2, 2)
    b.conv("conv3", 32, 3, 1, 1); b.pool("pool3", 2, 2)
    b.fc("fc1", 64); b.fc("fc2", 32); b.fc("fc3", 16, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def tiny_vgg(batch: int = 8) -> Graph:
    """A small VGG-shaped network (16x16, 16 classes)."""
    b = _B("tiny_vgg", (batch, 3, 16, 16))
    b.conv("conv1_1", 16, 3, 1, 1); b.conv("conv1_2", 16, 3, 1, 1); b.pool("pool1", 2, 2)
    b.conv("conv2_1", 32, 3, 1, 1); b.conv("conv2_2", 32, 3, 1, 1); b.pool("pool2", 2, 2)
    b.fc("fc1", 64); b.fc("fc2", 16, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def tiny_inception(batch: int = 8) -> Graph:
    """A small Inception-shaped network: an A-like, a reduction and an E-like module (16x16)."""
    b = _B("tiny_inception", (batch, 3, 16, 16))
    x = b.conv("stem", 16, 3, 1, 1)
    b1 = b.conv("a_1x1", 8, 1, inp=x)
    b.conv("a_3x3a", 8, 1, inp=x); b3 = b.conv("a_3x3b", 8, 3, 1, 1)
    b.conv("a_7a", 8, 1, inp=x); b.conv("a_7b", 8, (1, 3), 1, (0, 1)); b7 = b.conv("a_7c", 8, (3, 1), 1, (1, 0))
    b.pool("a_pool", 3, 1, 1, "avg", inp=x); bp = b.conv("a_poolproj", 8, 1)
    x = b.add("a_concat", "concat", [b1, b3, b7, bp])
    r1 = b.conv("r_3x3", 16, 3, 2, 1, inp=x)
    r2 = b.pool("r_pool", 2, 2, inp=x)
    x = b.add("r_concat", "concat", [r1, r2])
    e = b.conv("e_a", 16, 1, inp=x)
    e1 = b.conv("e_b1", 16, (1, 3), 1, (0, 1), inp=e)
    e2 = b.conv("e_b2", 16, (3, 1), 1, (1, 0), inp=e)
    ec = b.add("e_cat", "concat", [e1, e2])
    s = b.conv("e_skip", 32, 1, inp=x)
    x = b.add("e_add", "add", [ec, s])
    b.pool("avgpool", 8, 8, 0, "avg", inp=x)
    b.fc("fc", 16, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def micro_cnn(batch: int = 8) -> Graph:
    """Four layers (conv, pool, linear, softmax): small enough for the brute-force oracle."""
    b = _B("micro_cnn", (batch, 3, 8, 8))
    b.conv("conv", 16, 3, 1, 1); b.pool("pool", 2, 2); b.fc("fc", 16, relu=False)
    b.add("softmax", "softmax")
    return b.graph()


def tiny_densenet(batch: int = 8) -> Graph:
    """A 3-layer dense block at 8x8 (non-series-parallel, small enough to execute and brute-force-check)."""
    return densenet_block(batch, layers=3, growth=4, c0=8, hw=8, classes=8)


def tiny_randwire(batch: int = 8) -> Graph:
    """A 6-node Watts-Strogatz randomly wired network at 8x8 (non-series-parallel, executable)."""
    g = randwire(batch, nodes=6, kind="ws", seed=1, channels=8, hw=8, classes=8)
    g.name = "tiny_randwire"
    return g


BUILDERS = {"alexnet": alexnet, "vgg16": vgg16, "inception_v3": inception_v3,
            "tiny_alexnet": tiny_alexnet, "tiny_vgg": tiny_vgg, "tiny_inception": tiny_inception,
            "micro_cnn": micro_cnn, "alexnet_tf": alexnet_tf,
            "densenet_block": densenet_block,
            "randwire_ws": lambda batch=8: randwire(batch, kind="ws", seed=0),
            "randwire_er": lambda batch=8: randwire(batch, kind="er", seed=0, p=0.25),
            "tiny_densenet": tiny_densenet, "tiny_randwire": tiny_randwire}
NON_SERIES_PARALLEL = ("densenet_block", "randwire_ws", "randwire_er", "tiny_densenet", "tiny_randwire")
FULL_NETWORKS = ("alexnet", "vgg16", "inception_v3")
TINY_NETWORKS = ("tiny_alexnet", "tiny_vgg", "tiny_inception")


def build(name: str, batch: int) -> Graph:
    """Build a named network with the given (global) batch size."""
    if name not in BUILDERS:
        raise GraphError(f"unknown network {name!r}; known: {', '.join(BUILDERS)}")
    return BUILDERS[name](batch)
