"""Strict schema checks of Kubernetes manifests, offline (what `kubectl apply --dry-run=client` checks).

Core kinds are checked against the models of the official Kubernetes Python client (generated from
the Kubernetes OpenAPI spec): every field must exist in the schema (kubectl's strict field
validation), every value must have the schema's type, and every required field must be present
(the models refuse to build without them). ``RayCluster`` (a KubeRay CRD) is checked against
:data:`RAYCLUSTER`, the subset of KubeRay's ``ray.io/v1`` schema that these manifests use (field
names and enums as in KubeRay's ``raycluster_types.go``), with its pod templates checked as core
``PodTemplateSpec``. With ``SYSLAB_KUBERAY_CRD=<path to ray.io_rayclusters.yaml>`` the RayCluster
is also checked against KubeRay's full published CRD schema.
"""

from __future__ import annotations

import re
from typing import Any

KINDS = {
    ("v1", "Service"): "V1Service", ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
    ("v1", "Secret"): "V1Secret", ("v1", "ConfigMap"): "V1ConfigMap", ("apps/v1", "Deployment"): "V1Deployment",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
}

_PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def _model(name: str):
    import kubernetes.client as k

    return getattr(k, name)


def check_model(value: Any, type_name: str, path: str) -> list[str]:
    """Errors of ``value`` against the client type ``type_name`` (``V1Pod``, ``list[V1EnvVar]``, ...)."""
    errors: list[str] = []
    if value is None:
        return errors
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        for i, item in enumerate(value):
            errors += check_model(item, m.group(1), f"{path}[{i}]")
        return errors
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(f"{path}: map key {k!r} is not a string")
            errors += check_model(v, m.group(1), f"{path}.{k}")
        return errors
    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name]) and not (type_name != "bool" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__} {value!r}"]
    if type_name in ("object", "datetime", "date"):
        return []
    cls = _model(type_name)
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({type_name}), got {type(value).__name__}"]
    by_json = {j: a for a, j in cls.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            errors.append(f"{path}: unknown field {key!r} (valid: {', '.join(sorted(by_json))})")
            continue
        errors += check_model(v, cls.openapi_types[by_json[key]], f"{path}.{key}")
    if not errors:  # required fields: the generated model refuses to build without them
        kwargs = {by_json[k]: v for k, v in value.items()}
        try:
            cls(**{a: (v if not isinstance(v, (dict, list)) else _placeholder(cls.openapi_types[a]))
                   for a, v in kwargs.items()})
        except ValueError as exc:
            errors.append(f"{path}: {exc}")
    return errors


def _placeholder(type_name: str):
    """A stand-in for a nested value when building a model only to check its own required fields."""
    if type_name.startswith("list["):
        return []
    if type_name.startswith("dict("):
        return {}
    return object()


def check_core(doc: dict, where: str) -> list[str]:
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key not in KINDS:
        return [f"{where}: no schema here for {key}"]
    body = {k: v for k, v in doc.items()}
    return check_model(body, KINDS[key], f"{where}:{doc['kind']}/{doc.get('metadata', {}).get('name', '?')}")


# --- RayCluster (KubeRay ray.io/v1) --------------------------------------------------------------
_STR_MAP = {"type": "map", "values": {"type": "str"}}
_GROUP_COMMON = {
    "rayStartParams": _STR_MAP,
    "template": {"type": "k8s", "model": "V1PodTemplateSpec", "required": True},
    "serviceType": {"type": "enum", "values": ["ClusterIP", "NodePort", "LoadBalancer"]},
}
RAYCLUSTER = {
    "type": "object",
    "fields": {
        "apiVersion": {"type": "enum", "values": ["ray.io/v1"], "required": True},
        "kind": {"type": "enum", "values": ["RayCluster"], "required": True},
        "metadata": {"type": "k8s", "model": "V1ObjectMeta", "required": True},
        "spec": {"type": "object", "required": True, "fields": {
            "rayVersion": {"type": "str"},
            "enableInTreeAutoscaling": {"type": "bool"},
            "authOptions": {"type": "object", "fields": {
                "mode": {"type": "enum", "values": ["disabled", "token"]},
                "secretName": {"type": "str"},
                "enableK8sTokenAuth": {"type": "bool"},
            }},
            "headGroupSpec": {"type": "object", "required": True, "fields": dict(_GROUP_COMMON)},
            "workerGroupSpecs": {"type": "list", "items": {"type": "object", "fields": {
                **{k: v for k, v in _GROUP_COMMON.items() if k != "serviceType"},
                "groupName": {"type": "str", "required": True},
                "replicas": {"type": "int"}, "minReplicas": {"type": "int"}, "maxReplicas": {"type": "int"},
                "suspend": {"type": "bool"},
            }}},
        }},
    },
}


def check_custom(value: Any, schema: dict, path: str) -> list[str]:
    t = schema["type"]
    if t == "k8s":
        return check_model(value, schema["model"], path)
    if t == "str":
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    if t == "int":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: expected an int"]
    if t == "bool":
        return [] if isinstance(value, bool) else [f"{path}: expected true/false, got {value!r}"]
    if t == "enum":
        return [] if value in schema["values"] else [f"{path}: {value!r} not one of {schema['values']}"]
    if t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [e for k, v in value.items() for e in check_custom(v, schema["values"], f"{path}.{k}")]
    if t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, v in enumerate(value) for e in check_custom(v, schema["items"], f"{path}[{i}]")]
    if t == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        fields = schema["fields"]
        errors = [f"{path}: unknown field {k!r} (valid: {', '.join(sorted(fields))})" for k in value if k not in fields]
        errors += [f"{path}: missing required field {k!r}" for k, f in fields.items() if f.get("required")
                   and k not in value]
        for k, v in value.items():
            if k in fields:
                errors += check_custom(v, fields[k], f"{path}.{k}")
        return errors
    raise ValueError(t)


def check_openapi_v3(value: Any, schema: dict, path: str) -> list[str]:
    """Strict check against a CRD's openAPIV3Schema (unknown fields are errors unless preserved)."""
    errors: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        return [] if isinstance(value, (int, str)) else [f"{path}: expected int or string"]
    if schema.get("x-kubernetes-preserve-unknown-fields") and "properties" not in schema:
        return errors
    t = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if t == "object":
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        props = schema.get("properties")
        if props is None:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                for k, v in value.items():
                    errors += check_openapi_v3(v, extra, f"{path}.{k}")
            return errors
        for k in schema.get("required", []):
            if k not in value:
                errors.append(f"{path}: missing required field {k!r}")
        for k, v in value.items():
            if k not in props:
                if not schema.get("x-kubernetes-preserve-unknown-fields"):
                    errors.append(f"{path}: unknown field {k!r}")
                continue
            errors += check_openapi_v3(v, props[k], f"{path}.{k}")
    elif t == "array":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        for i, v in enumerate(value):
            errors += check_openapi_v3(v, schema.get("items", {}), f"{path}[{i}]")
    elif t == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
    elif t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif t == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true/false, got {value!r}")
    return errors
