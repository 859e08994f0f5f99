import numpy as np
import pytest

from systems.layerwise import graph as G
from systems.layerwise.config import CostConfig, DeviceSpec, h100_8, p100_4x4
from systems.layerwise.cost import CostModel, TorchProfiler, task_work
from systems.layerwise.parallel import enumerate_configs, find_config


def _spec(**kw):
    base = dict(name="t", gpus_per_node=2, max_nodes=2, peak_flops=1e12, mem_bw=1e11, eff_winograd=1.0,
                eff_conv=1.0, eff_mem=1.0, kernel_overhead_s=0.0, bw_intra=1e9, bw_nic=1e8,
                latency_intra=0.0, latency_inter=0.0, roofline_flops=1e12)
    base.update(kw)
    return DeviceSpec(**base)


def _chain():
    return G.from_dict({"input": [8, 4, 8, 8], "layers": [
        {"name": "c1", "op": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1, "inputs": ["input"]},
        {"name": "c2", "op": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1, "inputs": ["c1"]},
        {"name": "f", "op": "linear", "out_features": 4, "inputs": ["c2"]}]})


def _idx(m, layer, **deg):
    return find_config(m.configs[layer], deg)


def test_conv_flops_and_splitting_reduce_compute():
    g = _chain()
    c1, c2 = g.by_name["c1"], g.by_name["c2"]
    flops, _, kernels = task_work(c2, enumerate_configs(c2, 4)[0])
    assert flops == 3 * 2 * 8 * 8 * 8 * 8 * 8 * 9 and kernels == 3
    # the first layer reads the graph input: no data gradient
    flops, _, kernels = task_work(c1, enumerate_configs(c1, 4)[0])
    assert flops == 2 * 2 * 8 * 8 * 8 * 8 * 4 * 9 and kernels == 2
    for mode in ("calibrated", "roofline"):
        m = CostModel(g, 4, _spec(kernel_overhead_s=1e-6), CostConfig(compute=mode))
        t = m.t_c["c1"]
        assert t[_idx(m, "c1", n=4)] < t[_idx(m, "c1", n=2)] < t[_idx(m, "c1")]


def test_calibrated_compute_by_op_class():
    from systems.layerwise.compute import layer_time, op_class

    g = G.from_dict({"input": [8, 16, 8, 8], "layers": [
        {"name": "w3", "op": "conv2d", "out_channels": 16, "kernel": 3, "padding": 1, "inputs": ["input"]},
        {"name": "w5", "op": "conv2d", "out_channels": 16, "kernel": 5, "padding": 2, "inputs": ["w3"]},
        {"name": "s2", "op": "conv2d", "out_channels": 16, "kernel": 3, "stride": 2, "padding": 1,
         "inputs": ["w5"]},
        {"name": "p1", "op": "conv2d", "out_channels": 16, "kernel": 1, "inputs": ["s2"]},
        {"name": "pool", "op": "pool2d", "kernel": 2, "inputs": ["p1"]},
        {"name": "fc", "op": "linear", "out_features": 8, "inputs": ["pool"]}]})
    assert [op_class(ly) for ly in g.layers] == ["winograd", "winograd", "conv", "conv", "memory", "gemm"]
    one = {ly.name: enumerate_configs(ly, 1)[0] for ly in g.layers}
    fast = _spec(eff_winograd=4.0, eff_conv=0.5, mem_bw=1e15)
    slow = fast.with_(eff_winograd=1.0)
    assert layer_time(g.by_name["w5"], one["w5"], slow) > layer_time(g.by_name["w5"], one["w5"], fast)
    assert layer_time(g.by_name["p1"], one["p1"], slow) == layer_time(g.by_name["p1"], one["p1"], fast)
    # the weight update shrinks with the channel split (each task updates its shard only)
    m = CostModel(g, 4, _spec(peak_flops=1e30, mem_bw=1e6))
    assert m.t_c["fc"][_idx(m, "fc", c=4)] < m.t_c["fc"][_idx(m, "fc", n=4)]
    with pytest.raises(ValueError, match="unknown DeviceSpec field"):
        fast.with_(flops=1.0)


def test_same_sample_split_needs_no_transfer_but_spatial_split_has_halo():
    g = _chain()
    m = CostModel(g, 4, _spec())
    e = ("c1", "c2", 0)
    n4 = _idx(m, "c1", n=4)
    assert m.x_bytes[e][n4, _idx(m, "c2", n=4)] == 0
    h2 = _idx(m, "c1", h=2)
    # each half needs one halo row (8 samples x 8 channels x 8 wide) from the other: both ways, fwd+bwd
    assert m.x_bytes[e][h2, _idx(m, "c2", h=2)] == 2 * 2 * 8 * 8 * 8 * 4
    # unsplit producer on device 0, 4-way sample-split consumer: devices 1..3 get 3/4 of the tensor
    assert m.x_bytes[e][0, n4] == pytest.approx(2 * 0.75 * 8 * 8 * 8 * 8 * 4)


def test_transfer_time_sum_is_the_papers_formula_and_parallel_shares_the_nic():
    g = _chain()
    par = CostModel(g, 4, _spec(), CostConfig(transfer="parallel", backward_transfers=False))
    tot = CostModel(g, 4, _spec(), CostConfig(transfer="sum", backward_transfers=False))
    assert CostConfig().transfer == "sum"  # the paper's formula is the default
    e = ("c1", "c2", 0)
    n4 = _idx(par, "c1", n=4)
    quarter = 8 * 8 * 8 * 8 * 4 / 4
    # device 0 sends a quarter to device 1 (same node) and to devices 2, 3 (other node)
    assert tot.x_time[e][0, n4] == pytest.approx(quarter / 1e9 + 2 * quarter / 1e8)
    # parallel: both inter-node pieces leave through node 0's one NIC
    assert par.x_time[e][0, n4] == pytest.approx(2 * quarter / 1e8)
    assert np.all(par.x_time[e] <= tot.x_time[e] + 1e-15)


def test_concurrent_senders_of_one_node_contend_for_its_nic():
    # producer: 2-way sample split on devices 0, 1 (node 0); consumer: 4-way channel-split linear,
    # every task reads the whole input, so devices 2 and 3 (node 1) each receive it from 0 and 1
    g = _chain()
    m = CostModel(g, 4, _spec(), CostConfig(transfer="parallel", backward_transfers=False))
    e = ("c2", "f", 0)
    full = 8 * 8 * 8 * 8 * 4
    a, b = _idx(m, "c2", n=2), _idx(m, "f", c=4)
    # node 0 egress = 2 full tensors; per-device links would have said 1
    assert m.x_time[e][a, b] == pytest.approx(2 * full / 1e8)
    assert m.x_bytes[e][a, b] == pytest.approx(full * 3)
    # a fast NIC leaves the intra-node link as the bottleneck (device 0 -> 1 moves half a tensor)
    fast = CostModel(g, 4, _spec(bw_nic=1e12), CostConfig(transfer="parallel", backward_transfers=False))
    assert fast.x_time[e][a, b] == pytest.approx(full / 2 / 1e9)


def test_latency_counts_per_message():
    g = _chain()
    m = CostModel(g, 4, _spec(latency_intra=1e-3, latency_inter=1e-2, bw_intra=1e30, bw_nic=1e30),
                  CostConfig(transfer="sum", backward_transfers=False))
    e = ("c1", "c2", 0)
    assert m.x_time[e][0, _idx(m, "c2", n=4)] == pytest.approx(1e-3 + 2e-2)
    assert m.x_time[e][_idx(m, "c1", n=4), _idx(m, "c2", n=4)] == 0.0


def test_parameter_sync_ps_and_ring_on_the_node_topology():
    g = _chain()
    w = g.by_name["f"].n_params() * 4
    m = CostModel(g, 4, _spec(), CostConfig(sync="ps"))
    n4 = _idx(m, "f", n=4)
    # 4 replicas, 2 per node on 2 nodes; the paper's code: W*(2-1)/intra + W*(2-1)/inter
    assert m.t_s["f"][n4] == pytest.approx(w * 1 / 1e9 + w * 1 / 1e8)
    assert m.s_bytes["f"][n4] == pytest.approx(2 * w * 2 + w * 2 * 1)
    assert m.t_s["f"][_idx(m, "f", c=4)] == 0  # pure channel split: nothing replicated
    # n=2 x c=2, row-major tasks: shard c0 on devices 0 and 2, shard c1 on 1 and 3; both shards cross
    # the nodes at once, so node 0's NIC carries both halves: W, not W/2
    assert m.t_s["f"][_idx(m, "f", n=2, c=2)] == pytest.approx(w / 1e8)
    r = CostModel(g, 4, _spec(), CostConfig(sync="ring"))
    # ring 0 -> 1 -> 2 -> 3 -> 0: hops 1->2 and 3->0 cross nodes, 2(r-1)/r*W each
    assert r.t_s["f"][n4] == pytest.approx(1.5 * w / 1e8)
    assert r.s_bytes["f"][n4] == pytest.approx(4 * 1.5 * w)
    one_node = CostModel(g, 2, _spec(), CostConfig(sync="ring"))
    assert one_node.t_s["f"][_idx(one_node, "f", n=2)] == pytest.approx(w / 1e9)


def test_ceiling_bounds_every_strategy():
    from systems.layerwise.evaluate import plan

    p = plan(G.tiny_alexnet(32), 4, "layerwise-dp")
    m = p.model
    floor = m.min_compute_s()
    assert floor == pytest.approx(sum(v.min() for v in m.t_c.values()))
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = {n: int(rng.integers(len(c))) for n, c in m.configs.items()}
        assert m.total(s) >= floor
    assert p.breakdown.total_s >= floor and p.metrics()["min_compute_s"] == pytest.approx(floor)


def test_compute_slots_serialise_tasks_on_a_small_cpu():
    g = _chain()
    free = CostModel(g, 4, _spec())
    two = CostModel(g, 4, _spec(compute_slots=2))
    i1, i2, i4 = _idx(free, "c1"), _idx(free, "c1", n=2), _idx(free, "c1", n=4)
    assert two.t_c["c1"][i1] == free.t_c["c1"][i1] and two.t_c["c1"][i2] == free.t_c["c1"][i2]
    assert two.t_c["c1"][i4] == pytest.approx(2 * free.t_c["c1"][i4])


def test_alexnet_data_parallel_sync_dominated_by_fc_layers():
    g = G.alexnet(32 * 16)
    m = CostModel(g, 16, p100_4x4())
    from systems.layerwise.baselines import data_parallel, owt

    dp = m.breakdown(data_parallel(g, m.configs, 16))
    fc_sync = sum(dp.per_layer[n]["sync_s"] for n in ("fc6", "fc7", "fc8"))
    assert fc_sync > 0.8 * dp.sync_s
    assert m.breakdown(owt(g, m.configs, 16)).sync_s < dp.sync_s / 5


def test_cost_model_is_deterministic_and_checks_cluster_size_and_modes():
    g = G.tiny_vgg(8)
    a = CostModel(g, 8, h100_8())
    b = CostModel(g, 8, h100_8())
    for e in a.edges:
        assert np.array_equal(a.x_time[e], b.x_time[e])
    with pytest.raises(ValueError, match="cluster 'h100_8' has 16"):
        CostModel(g, 32, h100_8())
    for bad, msg in ((dict(compute="analytic"), "unknown compute mode"), (dict(transfer="all"), "transfer mode"),
                     (dict(sync="tree"), "sync mode")):
        with pytest.raises(ValueError, match=msg):
            CostModel(g, 2, _spec(), CostConfig(**bad))


def test_profiled_compute_is_cached_per_sub_shape():
    g = G.micro_cnn(8)
    prof = TorchProfiler(repeats=3, warmup=1)
    m = CostModel(g, 2, _spec(), CostConfig(compute="profiled"), profiler=prof)
    n_first = prof.n_profiled
    assert n_first > 0 and all(np.all(m.t_c[n] >= 0) for n in m.t_c)
    CostModel(g, 2, _spec(), CostConfig(compute="profiled"), profiler=prof)
    assert prof.n_profiled == n_first  # everything came from the cache


@pytest.mark.gpu
def test_profiled_compute_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    g = G.tiny_vgg(8)
    prof = TorchProfiler(repeats=3, warmup=1, device="cuda")
    m = CostModel(g, 2, _spec(), CostConfig(compute="profiled"), profiler=prof)
    assert prof.n_profiled > 0 and all(np.all(m.t_c[n] >= 0) for n in m.t_c)
