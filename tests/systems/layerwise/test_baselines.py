from systems.layerwise import graph as G
from systems.layerwise.baselines import BASELINES, data_parallel, model_parallel, owt
from systems.layerwise.parallel import layer_configs


def test_data_parallel_splits_only_samples():
    g = G.alexnet(32 * 8)
    cfgs = layer_configs(g, 8)
    s = data_parallel(g, cfgs, 8)
    for ly in g.layers:
        c = cfgs[ly.name][s[ly.name]]
        assert c.degrees[0] == 8 and all(d == 1 for d in c.degrees[1:])


def test_model_parallel_splits_channels_where_possible():
    g = G.alexnet(32 * 16)
    cfgs = layer_configs(g, 16)
    s = model_parallel(g, cfgs, 16)
    assert cfgs["conv1"][s["conv1"]].degrees == (1, 16, 1, 1)
    assert cfgs["fc8"][s["fc8"]].degrees == (1, 8)  # 1000 = 8 x 125 classes
    assert cfgs["softmax"][s["softmax"]].degrees == (1, 1)


def test_owt_is_data_parallel_conv_and_model_parallel_fc():
    g = G.vgg16(32 * 4)
    cfgs = layer_configs(g, 4)
    s = owt(g, cfgs, 4)
    for ly in g.layers:
        c = cfgs[ly.name][s[ly.name]]
        if ly.op == "linear":
            assert c.degrees == (1, 4)
        else:
            assert c.degrees[0] == 4 and all(d == 1 for d in c.degrees[1:])


def test_baselines_cover_every_layer_on_every_network():
    for name in ("inception_v3", "tiny_inception", "micro_cnn"):
        g = G.build(name, 16)
        cfgs = layer_configs(g, 16)
        for fn in BASELINES.values():
            s = fn(g, cfgs, 16)
            assert set(s) == {ly.name for ly in g.layers}
