"""Offline checks of cluster definitions: Ray cluster-launcher YAMLs and KubeRay manifests.

``raysearch validate-cluster cluster/*.yaml`` runs them; the tests run them on every file in
``cluster/``. No cloud or Kubernetes API is contacted.

* Launcher YAMLs go through Ray's own ``prepare_config`` + ``validate_config`` (the checks
  ``ray up`` does before it touches a cloud: defaults merged, the JSON schema with
  ``additionalProperties: false``, integer resources, head type among the node types),
  plus the node_config keys each provider cannot work without (Ray's schema does not look
  inside node_config, so a misspelt ``InstanceType`` would pass it).
* KubeRay ``RayCluster``/``RayJob`` manifests are checked against the fields of KubeRay's v1
  API types (``ray-operator/apis/ray/v1/raycluster_types.go``, ``rayjob_types.go``): unknown
  keys are errors, required ones must be there, ``rayStartParams`` values must be strings.
  Every pod template is validated as a Kubernetes Pod (``kubernetes-validate``, strict), so
  a typo such as ``resouces`` in a container fails too. The CRDs themselves (~1 MB each) are
  not shipped; these field lists are what they are generated from.

``kubernetes-validate`` (the Kubernetes schemas of every release, ~100 MB) is not a
dependency of raysearch: without it the pod-template check is skipped with a note
(:data:`POD_CHECK_SKIPPED`, a warning from :func:`validate_kuberay`) and everything else is
checked. ``pip install kubernetes-validate`` (in the ``dev`` extra) turns it on.
"""

from __future__ import annotations

import copy
import difflib
import importlib.util
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ClusterConfigError",
    "POD_CHECK_SKIPPED",
    "pod_check_available",
    "validate_cluster_file",
    "validate_launcher",
    "validate_kuberay",
]

#: what a KubeRay check without ``kubernetes-validate`` leaves out
POD_CHECK_SKIPPED = (
    "pod templates not checked against the Kubernetes Pod schema "
    "(pip install kubernetes-validate to check them too)"
)


class ClusterConfigError(ValueError):
    """A cluster definition that `ray up` or KubeRay would reject (or misread)."""


def pod_check_available() -> bool:
    """Whether ``kubernetes-validate`` is installed, so KubeRay pod templates are checked."""
    try:
        return importlib.util.find_spec("kubernetes_validate") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken one
        return False


def _load(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), "<config>"
    path = Path(source)
    with open(path) as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ClusterConfigError(f"{path}: expected a YAML mapping, got {type(data).__name__}")
    return data, str(path)


# ----------------------------------------------------------------------------- launcher
_NODE_CONFIG_REQUIRED = {
    "aws": ("InstanceType", "ImageId"),
    "gcp": ("machineType",),
    "azure": ("azure_arm_parameters",),
}
_NODE_CONFIG_KNOWN = {
    "aws": {
        "InstanceType",
        "ImageId",
        "IamInstanceProfile",
        "BlockDeviceMappings",
        "SubnetIds",
        "SecurityGroupIds",
        "KeyName",
        "InstanceMarketOptions",
        "TagSpecifications",
        "Placement",
        "NetworkInterfaces",
        "UserData",
        "EbsOptimized",
        "LaunchTemplate",
        "CapacityReservationSpecification",
        "MetadataOptions",
    },
    "gcp": {
        "machineType",
        "disks",
        "guestAccelerators",
        "scheduling",
        "serviceAccounts",
        "metadata",
        "networkInterfaces",
        "labels",
        "tags",
        "minCpuPlatform",
        "shieldedInstanceConfig",
        "acceleratorType",
        "runtimeVersion",
    },
}


_PROVIDER_KNOWN = {
    "aws": {
        "type",
        "region",
        "availability_zone",
        "cache_stopped_nodes",
        "use_internal_ips",
        "use_external_head_ip",
        "security_group",
        "vpc_id",
        "controlled_hosted_zone",
        "head_ip",
        "key_pair",
        "disable_node_updaters",
        "disable_launch_config_check",
    },
    "gcp": {
        "type",
        "region",
        "availability_zone",
        "project_id",
        "cache_stopped_nodes",
        "use_internal_ips",
        "use_external_head_ip",
        "disable_node_updaters",
    },
    "local": {"type", "head_ip", "worker_ips", "coordinator_address", "external_head_ip"},
}


def _check_known(keys: Any, known: set[str], where: str) -> None:
    for key in keys:
        if key not in known:
            hint = difflib.get_close_matches(str(key), sorted(known), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ClusterConfigError(f"{where}: unknown key {key!r}{extra}")


def validate_launcher(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Validates a Ray cluster-launcher config; returns it with Ray's defaults filled in.

    Raises:
        ClusterConfigError: naming the problem (schema errors carry the failing path).
    """
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    config, where = _load(source)
    if not isinstance(config.get("provider"), Mapping):
        raise ClusterConfigError(
            f"{where}: a cluster-launcher YAML needs a 'provider' section (type: aws, gcp, "
            f"local, ...), got top-level keys {sorted(map(str, config))}"
        )
    try:
        prepared = prepare_config(config)
        validate_config(prepared)
    except jsonschema.ValidationError as err:
        path = "/".join(str(p) for p in err.absolute_path) or "<root>"
        raise ClusterConfigError(f"{where}: {path}: {err.message}") from None
    except (Exception, SystemExit) as err:  # Ray's cli_logger.abort raises a click exception
        message = getattr(err, "message", None) or str(err)
        raise ClusterConfigError(f"{where}: {message}") from None
    provider = prepared.get("provider", {}).get("type")
    if str(provider) in _PROVIDER_KNOWN:
        _check_known(
            config.get("provider", {}), _PROVIDER_KNOWN[str(provider)], f"{where}: provider"
        )
    required = _NODE_CONFIG_REQUIRED.get(str(provider), ())
    known = _NODE_CONFIG_KNOWN.get(str(provider))
    for name, node_type in prepared.get("available_node_types", {}).items():
        node_config = node_type.get("node_config", {})
        for key in required:
            if key not in node_config:
                raise ClusterConfigError(
                    f"{where}: available_node_types/{name}/node_config lacks {key!r}"
                )
        if known is not None:
            _check_known(node_config, known, f"{where}: available_node_types/{name}/node_config")
    return prepared


# ----------------------------------------------------------------------------- KubeRay
_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_INT: dict[str, Any] = {"type": "integer"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_STR: dict[str, Any] = {"type": "string"}
_POD_TEMPLATE: dict[str, Any] = {
    "type": "object",
    "properties": {"metadata": {"type": "object"}, "spec": {"type": "object"}},
    "required": ["spec"],
    "additionalProperties": False,
}
_AUTOSCALER_OPTIONS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "resources": {"type": "object"},
        "image": _STR,
        "imagePullPolicy": _STR,
        "securityContext": {"type": "object"},
        "idleTimeoutSeconds": _INT,
        "upscalingMode": {"enum": ["Default", "Aggressive", "Conservative"]},
        "env": {"type": "array"},
        "envFrom": {"type": "array"},
        "volumeMounts": {"type": "array"},
    },
    "additionalProperties": False,
}
_HEAD_GROUP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "template": _POD_TEMPLATE,
        "headService": {"type": "object"},
        "enableIngress": _BOOL,
        "rayStartParams": _STR_MAP,
        "serviceType": _STR,
    },
    "required": ["template", "rayStartParams"],
    "additionalProperties": False,
}
_WORKER_GROUP: dict[str, Any] = {
    "type": "object",
    "properties": {
        "suspend": _BOOL,
        "groupName": _STR,
        "replicas": _INT,
        "minReplicas": _INT,
        "maxReplicas": _INT,
        "idleTimeoutSeconds": _INT,
        "rayStartParams": _STR_MAP,
        "template": _POD_TEMPLATE,
        "scaleStrategy": {"type": "object", "properties": {"workersToDelete": {"type": "array"}}},
        "numOfHosts": _INT,
    },
    "required": ["groupName", "template", "rayStartParams"],
    "additionalProperties": False,
}
_RAY_CLUSTER_SPEC: dict[str, Any] = {
    "type": "object",
    "properties": {
        "suspend": _BOOL,
        "managedBy": {"enum": ["ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue"]},
        "autoscalerOptions": _AUTOSCALER_OPTIONS,
        "headServiceAnnotations": _STR_MAP,
        "enableInTreeAutoscaling": _BOOL,
        "gcsFaultToleranceOptions": {"type": "object"},
        "headGroupSpec": _HEAD_GROUP,
        "rayVersion": _STR,
        "workerGroupSpecs": {"type": "array", "items": _WORKER_GROUP},
    },
    "required": ["headGroupSpec"],
    "additionalProperties": False,
}
_RAY_JOB_SPEC: dict[str, Any] = {
    "type": "object",
    "properties": {
        "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
        "backoffLimit": _INT,
        "rayClusterSpec": _RAY_CLUSTER_SPEC,
        "submitterPodTemplate": _POD_TEMPLATE,
        "metadata": _STR_MAP,
        "clusterSelector": _STR_MAP,
        "submitterConfig": {
            "type": "object",
            "properties": {"backoffLimit": _INT},
            "additionalProperties": False,
        },
        "managedBy": {"enum": ["ray.io/kuberay-operator", "kueue.x-k8s.io/multikueue"]},
        "deletionPolicy": {"enum": ["DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone"]},
        "entrypoint": _STR,
        "runtimeEnvYAML": _STR,
        "jobId": _STR,
        "submissionMode": {"enum": ["K8sJobMode", "HTTPMode", "InteractiveMode"]},
        "entrypointResources": _STR,
        "entrypointNumCpus": {"type": "number"},
        "entrypointNumGpus": {"type": "number"},
        "ttlSecondsAfterFinished": _INT,
        "shutdownAfterJobFinishes": _BOOL,
        "suspend": _BOOL,
    },
    "additionalProperties": False,
}


def _resource_schema(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "apiVersion": {"const": "ray.io/v1"},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "properties": {"name": _STR},
                "required": ["name"],
            },
            "spec": spec,
        },
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


_SCHEMAS = {
    "RayCluster": _resource_schema("RayCluster", _RAY_CLUSTER_SPEC),
    "RayJob": _resource_schema("RayJob", _RAY_JOB_SPEC),
}


def _pod_templates(kind: str, spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    cluster = spec.get("rayClusterSpec") if kind == "RayJob" else spec
    out: list[tuple[str, Mapping[str, Any]]] = []
    if kind == "RayJob" and spec.get("submitterPodTemplate"):
        out.append(("spec/submitterPodTemplate", spec["submitterPodTemplate"]))
    if cluster:
        prefix = "spec/rayClusterSpec" if kind == "RayJob" else "spec"
        out.append((f"{prefix}/headGroupSpec/template", cluster["headGroupSpec"]["template"]))
        for i, group in enumerate(cluster.get("workerGroupSpecs", [])):
            out.append((f"{prefix}/workerGroupSpecs/{i}/template", group["template"]))
    return out


def validate_kuberay(
    source: str | os.PathLike[str] | Mapping[str, Any], *, kubernetes_version: str = "1.30"
) -> str:
    """Validates a KubeRay RayCluster or RayJob manifest; returns its kind.

    Raises:
        ClusterConfigError: for unknown or missing fields, wrong types, or an invalid pod
            template (checked as a Kubernetes Pod).
    """
    import jsonschema

    manifest, where = _load(source)
    kind = manifest.get("kind")
    if kind not in _SCHEMAS:
        raise ClusterConfigError(f"{where}: kind must be RayCluster or RayJob, got {kind!r}")
    try:
        jsonschema.validate(manifest, _SCHEMAS[kind])
    except jsonschema.ValidationError as err:
        path = "/".join(str(p) for p in err.absolute_path) or "<root>"
        message = err.message
        if err.validator == "additionalProperties" and isinstance(err.schema, dict):
            known = sorted(err.schema.get("properties", {}))
            extra = (
                [k for k in err.instance if k not in known]
                if isinstance(err.instance, dict)
                else []
            )
            if extra:
                hint = difflib.get_close_matches(str(extra[0]), known, n=1)
                message = f"unknown key {extra[0]!r}" + (
                    f" (did you mean {hint[0]!r}?)" if hint else ""
                )
        raise ClusterConfigError(f"{where}: {path}: {message}") from None
    spec = manifest["spec"]
    if kind == "RayJob" and not spec.get("rayClusterSpec") and not spec.get("clusterSelector"):
        raise ClusterConfigError(
            f"{where}: a RayJob needs spec.rayClusterSpec or spec.clusterSelector"
        )
    if not pod_check_available():
        warnings.warn(f"{where}: {POD_CHECK_SKIPPED}", stacklevel=2)
        return str(kind)
    import kubernetes_validate

    for path, template in _pod_templates(kind, spec):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "template", **dict(template.get("metadata") or {})},
            "spec": template["spec"],
        }
        try:
            kubernetes_validate.validate(pod, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as err:
            at = "/".join(str(p) for p in list(err.absolute_path)[1:])  # drop the Pod's "spec"
            raise ClusterConfigError(f"{where}: {path}/spec/{at}: {err.message}") from None
    return str(kind)


def validate_cluster_file(path: str | os.PathLike[str]) -> str:
    """Validates one file of ``cluster/``: a KubeRay manifest (has ``kind``) or a launcher
    YAML. Returns what it was ("RayCluster", "RayJob" or "launcher:<provider>")."""
    data, where = _load(path)
    if "kind" in data or "apiVersion" in data:
        return validate_kuberay(path)
    if "provider" not in data:
        guess = (
            " (it reads as an experiment file: raysearch run / raysearch submit take those)"
            if "trainable" in data
            else ""
        )
        raise ClusterConfigError(
            f"{where}: not a cluster definition{guess}: a Ray cluster-launcher YAML has a "
            "'provider' section, a KubeRay manifest 'kind: RayCluster' or 'kind: RayJob'"
        )
    prepared = validate_launcher(path)
    return f"launcher:{prepared['provider']['type']}"
