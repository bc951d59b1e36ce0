"""`ray job submit --working-dir . -- raysearch run exp.yaml` on a real `ray start` cluster."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers.ray_cluster import BIN, job_env, start_cluster

pytestmark = pytest.mark.ray


@pytest.fixture
def ray_head():
    cluster = start_cluster(head_cpus=2)
    try:
        yield cluster
    finally:
        cluster.shutdown()


def test_raysearch_run_under_ray_job_submit(ray_head, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "mytrain.py").write_text(
        "def objective(config):\n    return {'loss': (config['x'] - 2) ** 2}\n"
    )
    results = tmp_path / "results"
    (project / "exp.yaml").write_text(
        "name: job\ntrainable: mytrain:objective\nmetric: loss\nmode: min\n"
        f"space: {{x: {{float: [0, 4]}}}}\nnum_samples: 5\nseed: 0\nstorage_path: {results}\n"
    )
    out = subprocess.run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--working-dir",
            str(project),
            "--",
            "raysearch",
            "run",
            "exp.yaml",
            "--quiet",
        ],
        env=job_env(ray_head),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "succeeded" in out.stdout + out.stderr
    assert "5 trials, 0 failed" in out.stdout
    assert len((results / "job" / "raysearch_trials.jsonl").read_text().splitlines()) == 5


def test_submit_refuses_a_bad_experiment_before_sending_it(ray_head, tmp_path):
    (tmp_path / "exp.yaml").write_text(
        "trainable: m:f\nmetric: a\nmode: best\nspace: {x: {float: [0, 1]}}\n"
    )
    out = subprocess.run(
        [str(BIN / "raysearch"), "submit", "exp.yaml"],
        cwd=tmp_path,
        env=job_env(ray_head),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "'mode' must be 'min' or 'max'" in out.stderr


def test_submit_keeps_data_and_results_out_of_the_job(ray_head, tmp_path):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "big.bin").write_bytes(b"\0" * 1024)
    (project / "raysearch_results").mkdir()
    (project / "mytrain.py").write_text(
        "import os\n"
        "def objective(config):\n"
        "    shipped = os.path.exists('data/big.bin') or os.path.exists('raysearch_results')\n"
        "    return {'loss': config['x'], 'shipped': float(shipped)}\n"
    )
    (project / "exp.yaml").write_text(
        "name: ex\ntrainable: mytrain:objective\nmetric: loss\nmode: min\n"
        f"space: {{x: {{float: [0, 1]}}}}\nnum_samples: 2\nstorage_path: {tmp_path / 'out'}\n"
    )
    out = subprocess.run(
        [str(BIN / "raysearch"), "submit", "exp.yaml"],
        cwd=project,
        env=job_env(ray_head),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "SUCCEEDED" in out.stdout
    lines = (tmp_path / "out" / "ex" / "raysearch_trials.jsonl").read_text().splitlines()
    import json

    assert [json.loads(x)["metrics"]["shipped"] for x in lines] == [0.0, 0.0]
