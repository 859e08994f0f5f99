"""The cluster definitions: schema-valid, consistent with each other, pinned to the project's Ray.

The KubeRay manifests are checked the way `kubectl apply --dry-run=client` would (strict fields,
types, required fields; see tests/clusters/k8s_schema.py), rendered through `kubectl kustomize`
when kubectl is installed. No cluster is started here (no container engine on the dev machine).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import ray
import yaml

from tests.clusters import k8s_schema

ROOT = Path(__file__).resolve().parents[2]
KUBERAY = ROOT / "clusters" / "kuberay"
SECRET, SECRET_KEY = "syslab-ray-token", "auth_token"


def _docs() -> list[tuple[str, dict]]:
    """Every object of the kustomization, rendered by kubectl when present, else read file by file."""
    kz = yaml.safe_load((KUBERAY / "kustomization.yaml").read_text())
    kubectl = shutil.which("kubectl")
    if kubectl:
        r = subprocess.run([kubectl, "kustomize", str(KUBERAY)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return [("kustomize", d) for d in yaml.safe_load_all(r.stdout) if d]
    return [(f, d) for f in kz["resources"] for d in yaml.safe_load_all((KUBERAY / f).read_text()) if d]


DOCS = _docs()


def _by_kind(kind: str) -> list[dict]:
    return [d for _, d in DOCS if d["kind"] == kind]


def _containers(doc: dict) -> list[dict]:
    if doc["kind"] == "RayCluster":
        groups = [doc["spec"]["headGroupSpec"], *doc["spec"]["workerGroupSpecs"]]
        return [c for g in groups for c in g["template"]["spec"]["containers"]]
    if doc["kind"] == "Deployment":
        return doc["spec"]["template"]["spec"]["containers"]
    return []


def test_every_file_is_in_the_kustomization():
    kz = yaml.safe_load((KUBERAY / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERAY.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kz["resources"]) == files


@pytest.mark.parametrize("where, doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for _, d in DOCS])
def test_manifest_is_schema_valid(where, doc):
    if doc["kind"] == "RayCluster":
        errors = k8s_schema.check_custom(doc, k8s_schema.RAYCLUSTER, "RayCluster")
    else:
        errors = k8s_schema.check_core(doc, where)
    assert not errors, "\n".join(errors)


def test_the_schema_check_catches_mistakes():
    """The checker is not a rubber stamp: a typo, a wrong type and a missing required field fail."""
    ray_cluster = _by_kind("RayCluster")[0]
    import copy

    bad = copy.deepcopy(ray_cluster)
    bad["spec"]["authOptions"]["mode"] = "tokens"
    bad["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    bad["spec"]["workerGroupSpecs"][0]["replica"] = 2
    errs = "\n".join(k8s_schema.check_custom(bad, k8s_schema.RAYCLUSTER, "RayCluster"))
    assert "'tokens' not one of" in errs and "imagePullPolicy: expected str" in errs and "unknown field 'replica'" in errs
    dep = copy.deepcopy(_by_kind("Deployment")[0])
    del dep["spec"]["template"]["spec"]["containers"][0]["name"]
    dep["spec"]["template"]["spec"]["volumes"] = [{"name": "x", "configmap": {"name": "y"}}]
    errs = "\n".join(k8s_schema.check_core(dep, "test"))
    assert "name" in errs and "unknown field 'configmap'" in errs


@pytest.mark.skipif(not os.environ.get("SYSLAB_KUBERAY_CRD"), reason="set SYSLAB_KUBERAY_CRD=<ray.io_rayclusters.yaml>")
def test_raycluster_against_kuberays_published_crd():
    crd = yaml.safe_load(Path(os.environ["SYSLAB_KUBERAY_CRD"]).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema = version["schema"]["openAPIV3Schema"]
    doc = _by_kind("RayCluster")[0]
    errors = k8s_schema.check_openapi_v3(doc, schema, "RayCluster")
    assert not errors, "\n".join(errors)


def test_raycluster_runs_the_syslab_image_with_token_auth():
    rc = _by_kind("RayCluster")[0]
    spec = rc["spec"]
    assert spec["rayVersion"] == ray.__version__
    assert spec["authOptions"] == {"mode": "token", "secretName": SECRET}
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert {p["containerPort"] for p in head["template"]["spec"]["containers"][0]["ports"]} >= {6379, 8265, 10001}
    gpu = next(g for g in spec["workerGroupSpecs"] if g["groupName"] == "gpu")
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    for c in _containers(rc):
        # the code is baked into the image: no ConfigMap source mount, no pip install at start
        assert c["image"].split("/")[-1].startswith("syslab-worker:"), c["image"]
        assert "command" not in c and "args" not in c and not c.get("volumeMounts")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "cuda" in gpu["template"]["spec"]["containers"][0]["image"]
    groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    assert not any(g["template"]["spec"].get("volumes") for g in groups)


def test_services_match_their_deployments_and_urls():
    services = {s["metadata"]["name"]: s for s in _by_kind("Service")}
    deployments = _by_kind("Deployment")
    for name, svc in services.items():
        sel = svc["spec"]["selector"]
        matching = [d for d in deployments
                    if sel.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, f"Service {name} selects {len(matching)} deployments"
        ports = {p["containerPort"] for c in _containers(matching[0]) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= ports
    for d in deployments:
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    # every URL a container is given points at a Service defined here, on its port
    urls = [e["value"] for doc in [*_by_kind("RayCluster"), *deployments] for c in _containers(doc)
            for e in c.get("env", []) if e["name"] in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")]
    assert urls
    for url in urls:
        host, port = url.split("//")[1].split("/")[0].split(":")
        assert host in services and int(port) in {p["port"] for p in services[host]["spec"]["ports"]}, url


def test_driver_joins_ray_with_the_token_and_runs_the_prefect_worker():
    drv = next(d for d in _by_kind("Deployment") if d["metadata"]["name"] == "syslab-driver")
    c = drv["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["RAY_AUTH_MODE"]["value"] == "token" and env["RAY_ADDRESS"]["value"] == "auto"
    assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": SECRET, "key": SECRET_KEY}
    script = " ".join(c["args"])
    assert "ray start --address=syslab-head-svc:6379 --num-cpus=0 --num-gpus=0" in script
    pool = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"][0]["work_pool"]["name"]
    assert f"prefect worker start --pool {pool}" in script


def test_images_come_from_the_worker_dockerfile():
    kz = yaml.safe_load((KUBERAY / "kustomization.yaml").read_text())
    assert [i["name"] for i in kz["images"]] == ["syslab-worker"]
    images = {c["image"].rsplit(":", 1)[1] for doc in DOCS for c in _containers(doc[1])}
    assert images == {"cpu", "cuda"}
    readme = (ROOT / "clusters" / "README.md").read_text()
    for tag in images:
        assert f"syslab-worker:{tag}" in readme, f"README does not say how to build :{tag}"
    assert f"kubectl create secret generic {SECRET}" in readme and SECRET_KEY in readme


def test_ray_up_cluster_yaml():
    doc = yaml.safe_load((ROOT / "clusters/ray-up/gpu-cluster.yaml").read_text())
    for key in ("cluster_name", "max_workers", "provider", "auth", "available_node_types", "head_node_type",
                "docker"):
        assert key in doc, key
    assert doc["docker"]["image"].split("/")[-1].startswith("syslab-worker:")
    assert doc["head_node_type"] in doc["available_node_types"]
    starts = " ".join(doc["head_start_ray_commands"] + doc["worker_start_ray_commands"])
    assert starts.count("RAY_AUTH_MODE=token") == 2


def test_lock_pins_the_same_ray():
    lock = (ROOT / "requirements/lock.txt").read_text().splitlines()
    assert f"ray=={ray.__version__}" in lock
