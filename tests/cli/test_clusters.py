"""Every cluster definition in cluster/ validates offline; broken copies fail."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import yaml

from raysearch.cli.clusters import (
    ClusterConfigError,
    validate_cluster_file,
    validate_kuberay,
    validate_launcher,
)

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
FILES = sorted(CLUSTER.glob("*.yaml"))


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


def test_the_expected_files_exist():
    names = {p.name for p in FILES}
    assert {
        "aws.yaml",
        "gcp.yaml",
        "local.yaml",
        "kuberay-raycluster.yaml",
        "kuberay-rayjob.yaml",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_file_validates(path):
    kind = validate_cluster_file(path)
    assert kind in ("launcher:aws", "launcher:gcp", "launcher:local", "RayCluster", "RayJob")


def test_every_file_pins_the_same_raysearch_and_ray():
    texts = {p.name: p.read_text() for p in FILES}
    for name in ("aws.yaml", "gcp.yaml", "local.yaml"):
        assert (
            '"raysearch==0.1.0"' in texts[name]
            and "ray[default,tune,train]==2.60.0" in texts[name]
        )
    assert "raysearch==0.1.0" in (CLUSTER / "Dockerfile").read_text()
    for name in ("kuberay-raycluster.yaml", "kuberay-rayjob.yaml"):
        assert "raysearch:0.1.0" in texts[name] and 'rayVersion: "2.60.0"' in texts[name]


def _set(d: dict, path: list, value) -> dict:
    d = copy.deepcopy(d)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return d


def _rename(d: dict, path: list, new_key: str) -> dict:
    d = copy.deepcopy(d)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[new_key] = node.pop(path[-1])
    return d


@pytest.mark.parametrize(
    ("name", "break_it", "message"),
    [
        ("aws.yaml", lambda c: _rename(c, ["max_workers"], "max_worker"), "max_worker"),
        (
            "aws.yaml",
            lambda c: _rename(c, ["available_node_types", "gpu_4x", "min_workers"], "min_worker"),
            "min_worker",
        ),
        (
            "aws.yaml",
            lambda c: _set(c, ["available_node_types", "gpu_4x", "resources", "CPU"], 0.5),
            "0.5",
        ),
        ("aws.yaml", lambda c: _set(c, ["head_node_type"], "headd"), "head_node_type"),
        (
            "aws.yaml",
            lambda c: _rename(
                c, ["available_node_types", "gpu_8x", "node_config", "InstanceType"], "InstanceTyp"
            ),
            "InstanceTyp",
        ),
        (
            "aws.yaml",
            lambda c: _rename(c, ["provider", "cache_stopped_nodes"], "cache_stoped_nodes"),
            "did you mean 'cache_stopped_nodes'",
        ),
        (
            "gcp.yaml",
            lambda c: _rename(c, ["provider", "availability_zone"], "availabilty_zone"),
            "availabilty_zone",
        ),
        (
            "gcp.yaml",
            lambda c: _rename(
                c,
                ["available_node_types", "gpu_l4", "node_config", "guestAccelerators"],
                "guestAccelerator",
            ),
            "guestAccelerator",
        ),
        ("local.yaml", lambda c: _rename(c, ["provider", "head_ip"], "head"), "head"),
        ("local.yaml", lambda c: _rename(c, ["setup_commands"], "setup_command"), "setup_command"),
    ],
)
def test_broken_launcher_configs_fail(name, break_it, message):
    with pytest.raises(ClusterConfigError, match=message):
        validate_launcher(break_it(load(name)))


GPU_WORKER = ["spec", "workerGroupSpecs", 0]
JOB_GPU_WORKER = ["spec", "rayClusterSpec", "workerGroupSpecs", 0]


@pytest.mark.parametrize(
    ("name", "break_it", "message"),
    [
        (
            "kuberay-raycluster.yaml",
            lambda m: _rename(m, ["spec", "workerGroupSpecs"], "workerGroupSpec"),
            "did you mean 'workerGroupSpecs'",
        ),
        (
            "kuberay-raycluster.yaml",
            lambda m: _rename(m, [*GPU_WORKER, "maxReplicas"], "maxReplica"),
            "maxReplica",
        ),
        (
            "kuberay-raycluster.yaml",
            lambda m: _set(m, [*GPU_WORKER, "rayStartParams"], {"num-gpus": 4}),
            "is not of type 'string'",
        ),
        (
            "kuberay-raycluster.yaml",
            lambda m: _rename(
                m, [*GPU_WORKER, "template", "spec", "containers", 0, "resources"], "resouces"
            ),
            "resouces",
        ),
        (
            "kuberay-raycluster.yaml",
            lambda m: _set(
                m, ["spec", "headGroupSpec", "template", "spec", "containers", 0, "image"], 5
            ),
            "containers/0/image",
        ),
        (
            "kuberay-raycluster.yaml",
            lambda m: _set(m, ["apiVersion"], "ray.io/v1alpha"),
            "ray.io/v1",
        ),
        (
            "kuberay-rayjob.yaml",
            lambda m: _rename(m, ["spec", "shutdownAfterJobFinishes"], "shutdownAfterJobFinish"),
            "shutdownAfterJobFinish",
        ),
        (
            "kuberay-rayjob.yaml",
            lambda m: _set(m, ["spec", "submissionMode"], "K8sMode"),
            "K8sMode",
        ),
        (
            "kuberay-rayjob.yaml",
            lambda m: _rename(m, [*JOB_GPU_WORKER, "groupName"], "group"),
            "group",
        ),
        (
            "kuberay-rayjob.yaml",
            lambda m: _rename(
                m, [*JOB_GPU_WORKER, "template", "spec", "tolerations"], "toleration"
            ),
            "toleration",
        ),
    ],
)
def test_broken_kuberay_manifests_fail(name, break_it, message):
    with pytest.raises(ClusterConfigError, match=message):
        validate_kuberay(break_it(load(name)))


def test_rayjob_needs_a_cluster():
    manifest = load("kuberay-rayjob.yaml")
    del manifest["spec"]["rayClusterSpec"]
    with pytest.raises(ClusterConfigError, match="rayClusterSpec or spec.clusterSelector"):
        validate_kuberay(manifest)


def test_without_kubernetes_validate_kuberay_files_pass_with_a_note(monkeypatch, capsys):
    """kubernetes-validate is a dev extra: the plain install checks everything but the pod
    templates, and says so (the command in the README used to raise ImportError)."""
    from raysearch.cli.main import main

    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # import fails
    assert main(["validate-cluster", *map(str, FILES)]) == 0
    out, err = capsys.readouterr()
    assert out.count("ok ") == len(FILES) and "(RayCluster)" in out and "(RayJob)" in out
    assert err.count("note: pod templates not checked") == 1
    with pytest.warns(UserWarning, match="pod templates not checked"):
        assert validate_kuberay(load("kuberay-raycluster.yaml")) == "RayCluster"
    # the KubeRay fields are still checked
    broken = _rename(load("kuberay-raycluster.yaml"), ["spec", "workerGroupSpecs"], "workers")
    with pytest.raises(ClusterConfigError, match="unknown key 'workers'"):
        validate_kuberay(broken)


def test_a_yaml_that_is_no_cluster_definition_gets_a_clear_error(tmp_path, capsys):
    from raysearch.cli.main import main

    (tmp_path / "good.yaml").write_text("a: 1\n")
    (tmp_path / "exp.yaml").write_text("trainable: m:f\nmetric: a\nmode: max\nspace: {}\n")
    assert main(["validate-cluster", str(tmp_path / "good.yaml"), str(tmp_path / "exp.yaml")]) == 1
    err = capsys.readouterr().err
    assert (
        "good.yaml: not a cluster definition: a Ray cluster-launcher YAML has a 'provider'" in err
    )
    assert "exp.yaml: not a cluster definition (it reads as an experiment file" in err
    assert "'provider'\n" not in err
    with pytest.raises(ClusterConfigError, match="needs a 'provider' section.*\\['a'\\]"):
        validate_launcher({"a": 1})
