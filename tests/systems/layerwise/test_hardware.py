import pytest

from systems.layerwise import hardware as H


@pytest.mark.parametrize("device", ["p100", "k80"])
def test_stored_efficiencies_are_what_the_calibration_fit_gives(device):
    fit = H.calibrate(device)
    spec = H.DEVICE_PRESET[device]()
    for k in ("eff_winograd", "eff_conv", "kernel_overhead_s"):
        assert getattr(spec, k) == pytest.approx(fit[k], rel=2e-3), k
    assert fit["rms_rel_error"] < 0.05


def test_calibrated_model_reproduces_the_fitted_published_numbers():
    rows = H.calibration_table()
    assert {(r["device"], r["use"]) for r in rows} >= {("p100", "fit"), ("p100", "held-out"), ("k80", "held-out")}
    for r in rows:
        if r["use"] == "fit":
            assert r["ratio"] == pytest.approx(1.0, abs=0.05), r
        assert r["modelled"] > 0
    # the calibration matters: the uniform roofline is > 2x off on VGG-16 (3x3 convs run Winograd)
    vgg = next(r for r in rows if r["device"] == "p100" and r["network"] == "vgg16" and r["batch"] == 32)
    assert vgg["published"] / vgg["roofline"] > 2.0


def test_presets_describe_their_assumptions_and_paper_network():
    s = H.cluster("p100_4x4")
    assert s.max_devices == 16 and s.gpus_per_node == 4
    assert s.bw_nic == pytest.approx(12.5e9)  # one 100 Gb/s link per node
    assert "12.5 GB/s" in H.describe(s) and "fitted" in s.calibration
    assert "uncalibrated" in H.h100_8().source
    with pytest.raises(ValueError, match="unknown cluster 'tpu'"):
        H.cluster("tpu")
    with pytest.raises(ValueError, match="no published measurements"):
        H.calibrate("h100")
