import json

import pytest

from systems.layerwise import graph as G


def test_full_network_shapes():
    a = G.alexnet(4)
    assert a.by_name["pool5"].out_shape == (4, 256, 6, 6)
    assert a.by_name["fc6"].in_shapes[0] == (4, 256, 6, 6)
    assert a.by_name["softmax"].out_shape == (4, 1000)
    v = G.vgg16(2)
    assert v.by_name["pool5"].out_shape == (2, 512, 7, 7)
    assert len([ly for ly in v.layers if ly.op == "conv2d"]) == 13
    assert 138e6 < v.n_params() < 139e6  # VGG-16 has ~138.4M parameters
    inc = G.inception_v3(2)
    assert inc.by_name["stem_pool2"].out_shape == (2, 192, 35, 35)
    assert inc.by_name["mixed5d_concat"].out_shape == (2, 288, 35, 35)
    assert inc.by_name["mixed6e_concat"].out_shape == (2, 768, 17, 17)
    assert inc.by_name["mixed7c_concat"].out_shape == (2, 2048, 8, 8)
    assert inc.by_name["fc"].out_shape == (2, 1000)


def test_tiny_networks_build():
    for name in G.TINY_NETWORKS + ("micro_cnn",):
        g = G.build(name, 8)
        assert g.layers[-1].op == "softmax"
        assert g.batch == 8


def test_json_roundtrip():
    g = G.tiny_inception(4)
    g2 = G.from_dict(json.loads(json.dumps(g.to_json())), name="x")
    assert [ly.out_shape for ly in g2.layers] == [ly.out_shape for ly in g.layers]


def _graph(layers, inp=(2, 3, 8, 8)):
    return {"input": list(inp), "layers": layers}


def test_issue_example_format():
    g = G.from_dict(_graph([
        {"name": "c1", "op": "conv2d", "out_channels": 64, "kernel": 3, "stride": 1, "padding": 1, "inputs": ["input"]},
        {"name": "f1", "op": "linear", "out_features": 10, "inputs": ["c1"]}]))
    assert g.by_name["c1"].out_shape == (2, 64, 8, 8)
    assert g.by_name["f1"].out_shape == (2, 10)


@pytest.mark.parametrize("layers, needle", [
    ([{"name": "c1", "op": "conv2d", "out_channels": 4, "kernel": 3, "inputs": ["nope"]}], "'c1' (#0): input 'nope' is not defined"),
    ([{"name": "c1", "op": "conv2d", "out_channels": 4, "kernel": 3, "inputs": ["c2"]},
      {"name": "c2", "op": "conv2d", "out_channels": 4, "kernel": 3, "inputs": ["input"]}], "listed after their inputs"),
    ([{"name": "c1", "op": "conv2d", "kernel": 3, "inputs": ["input"]}], "'c1' (#0): missing required field 'out_channels'"),
    ([{"name": "c1", "op": "conv2d", "out_channels": 4, "kernel": 30, "inputs": ["input"]}], "kernel [30, 30] larger than the padded input"),
    ([{"name": "c1", "op": "conv2d", "out_channels": -4, "kernel": 3, "inputs": ["input"]}], "'out_channels' must be a positive integer"),
    ([{"name": "x", "op": "matmul", "inputs": ["input"]}], "'x' (#0): unknown op 'matmul'"),
    ([{"name": "p", "op": "pool2d", "kernel": 2, "inputs": ["input"]},
      {"name": "a", "op": "add", "inputs": ["p", "input"]}], "'a' (#1): add inputs must have equal shapes"),
    ([{"name": "p", "op": "pool2d", "kernel": 2, "inputs": ["input"]},
      {"name": "a", "op": "concat", "inputs": ["p", "input"]}], "'a' (#1): concat (channel axis) inputs must agree"),
    ([{"name": "s", "op": "softmax", "inputs": ["input"]}], "'s' (#0): softmax needs a 2-D"),
    ([{"name": "f", "op": "linear", "out_features": 3, "inputs": ["input"]},
      {"name": "c", "op": "conv2d", "out_channels": 3, "kernel": 1, "inputs": ["f"]}], "'c' (#1): conv2d needs a 4-D"),
    ([{"name": "f", "op": "linear", "out_features": 3, "inputs": ["input"]},
      {"name": "f", "op": "linear", "out_features": 3, "inputs": ["input"]}], "duplicate layer name 'f'"),
    ([{"name": "f", "op": "linear", "out_features": 3, "kernel": 3, "inputs": ["input"]}], "unknown field(s) ['kernel']"),
    ([{"name": "f", "op": "linear", "out_features": 3, "inputs": ["input", "input"]}], "takes exactly one input"),
    ([{"name": "p", "op": "pool2d", "kernel": 2, "mode": "min", "inputs": ["input"]}], "'mode' must be 'max' or 'avg'"),
    ([{"name": "c", "op": "conv2d", "out_channels": 3, "kernel": [3], "inputs": ["input"]}], "'kernel' must be an int or [h, w]"),
])
def test_malformed_graphs_name_layer_and_problem(layers, needle):
    with pytest.raises(G.GraphError) as ei:
        G.from_dict(_graph(layers))
    assert needle in str(ei.value)


def test_bad_input_and_file_errors(tmp_path):
    with pytest.raises(G.GraphError, match="'input' must be"):
        G.from_dict({"input": [1, 2, 3], "layers": []})
    with pytest.raises(G.GraphError, match="'layers' must be a non-empty list"):
        G.from_dict({"input": [1, 2, 3, 4], "layers": []})
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": [1, 3, 4, 4],\n "layers": [}')
    with pytest.raises(G.GraphError, match=r"bad.json:2:\d+: invalid JSON"):
        G.load(bad)
    with pytest.raises(G.GraphError, match="cannot read graph file"):
        G.load(tmp_path / "missing.json")
    with pytest.raises(G.GraphError, match="unknown network"):
        G.build("resnet", 4)
