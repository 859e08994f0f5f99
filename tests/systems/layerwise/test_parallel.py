import itertools

from hypothesis import given, settings, strategies as st

from systems.layerwise import graph as G
from systems.layerwise.parallel import enumerate_configs, find_config, needed_box, task_boxes


def _conv_layer(n, c, h, w):
    g = G.from_dict({"input": [n, 3, h, w], "layers": [
        {"name": "c", "op": "conv2d", "out_channels": c, "kernel": 3, "padding": 1, "inputs": ["input"]}]})
    return g.by_name["c"]


@settings(max_examples=60, derandomize=True, deadline=None)
@given(n=st.integers(1, 48), c=st.integers(1, 48), h=st.integers(1, 20), w=st.integers(1, 20),
       p=st.sampled_from([1, 2, 4, 8, 16]))
def test_configs_respect_divisibility_power_of_two_and_device_count(n, c, h, w, p):
    ly = _conv_layer(n, c, h, w)
    cfgs = enumerate_configs(ly, p)
    assert cfgs[0].degrees == (1, 1, 1, 1)
    assert len(set(cfgs)) == len(cfgs)
    for cfg in cfgs:
        assert cfg.size <= p
        for d, size in zip(cfg.degrees, ly.out_shape):
            assert d & (d - 1) == 0 and size % d == 0
    # completeness: every valid power-of-two tuple is present
    pows = [[d for d in (1, 2, 4, 8, 16) if d <= p and s % d == 0] for s in ly.out_shape]
    want = {t for t in itertools.product(*pows) if t[0] * t[1] * t[2] * t[3] <= p}
    assert {cfg.degrees for cfg in cfgs} == want


def test_config_counts_and_dims_per_op():
    v = G.vgg16(32 * 16)
    assert len(enumerate_configs(v.by_name["conv1_1"], 16)) == 70  # 4 dims, sum of exponents <= 4
    assert len(enumerate_configs(v.by_name["fc6"], 16)) == 15  # sample x channel
    assert len(enumerate_configs(v.by_name["softmax"], 16)) == 5  # sample only
    assert all(c.degrees[1] == 1 for c in enumerate_configs(v.by_name["softmax"], 16))
    a = G.alexnet(64)
    # 55x55 cannot be split evenly: no spatial splits for conv1
    assert all(c.degrees[2] == c.degrees[3] == 1 for c in enumerate_configs(a.by_name["conv1"], 16))
    with_offsets = enumerate_configs(a.by_name["fc6"], 4, offsets=True)
    assert {c.offset for c in with_offsets if c.size == 1} == {0, 1, 2, 3}


def test_task_boxes_partition_the_tensor():
    ly = _conv_layer(8, 16, 8, 8)
    for cfg in enumerate_configs(ly, 8):
        boxes = task_boxes(ly.out_shape, cfg)
        assert len(boxes) == cfg.size
        vol = sum((b[0][1] - b[0][0]) * (b[1][1] - b[1][0]) * (b[2][1] - b[2][0]) * (b[3][1] - b[3][0]) for b in boxes)
        assert vol == 8 * 16 * 8 * 8


def test_needed_box_has_conv_halo_and_padding():
    ly = _conv_layer(2, 4, 8, 8)
    cfg = enumerate_configs(ly, 2)[find_config(enumerate_configs(ly, 2), {"h": 2})]
    top, bottom = task_boxes(ly.out_shape, cfg)
    nb, pad = needed_box(ly, 0, top)
    assert nb == ((0, 2), (0, 3), (0, 5), (0, 8)) and pad == ((0, 0), (0, 0), (1, 0), (1, 1))
    nb, pad = needed_box(ly, 0, bottom)
    assert nb == ((0, 2), (0, 3), (3, 8), (0, 8)) and pad == ((0, 0), (0, 0), (0, 1), (1, 1))


def test_concat_channel_split_reads_only_its_inputs():
    g = G.tiny_inception(4)
    cat = g.by_name["a_concat"]  # four 8-channel inputs
    cfg = find_config(enumerate_configs(cat, 4), {"c": 4})
    box = task_boxes(cat.out_shape, enumerate_configs(cat, 4)[cfg])[1]  # channels 8..16 = input 1
    assert needed_box(cat, 0, box)[0] is None
    assert needed_box(cat, 1, box)[0][1] == (0, 8)
    assert needed_box(cat, 2, box)[0] is None
