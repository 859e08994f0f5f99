"""The cluster definitions parse, carry the required fields and pin the project's Ray version."""

from pathlib import Path

import ray
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_kuberay_raycluster():
    doc = yaml.safe_load((ROOT / "clusters/kuberay/raycluster.yaml").read_text())
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayCluster"
    spec = doc["spec"]
    assert spec["rayVersion"] == ray.__version__
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert ray.__version__ in head["image"]
    assert {p["containerPort"] for p in head["ports"]} >= {6379, 8265, 10001}
    gpu = [g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu"]
    assert gpu, "needs a GPU worker group"
    c = gpu[0]["template"]["spec"]["containers"][0]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1" and ray.__version__ in c["image"]
    for container in (head, c):
        assert "requirements/lock.txt" in " ".join(container["args"]), "image must install syslab's pins"


def test_ray_up_cluster_yaml():
    doc = yaml.safe_load((ROOT / "clusters/ray-up/gpu-cluster.yaml").read_text())
    for key in ("cluster_name", "max_workers", "provider", "auth", "available_node_types", "head_node_type",
                "setup_commands", "docker"):
        assert key in doc, key
    assert ray.__version__ in doc["docker"]["image"]
    assert doc["head_node_type"] in doc["available_node_types"]
    assert any("GPU" in t or "g5" in str(t.get("node_config")) for t in doc["available_node_types"].values())
    assert any("requirements/lock.txt" in c for c in doc["setup_commands"])


def test_lock_pins_the_same_ray():
    lock = (ROOT / "requirements/lock.txt").read_text().splitlines()
    assert f"ray=={ray.__version__}" in lock
