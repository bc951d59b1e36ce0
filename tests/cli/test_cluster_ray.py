"""Ray jobs on a real two-node local cluster: submission, a lost worker node, a killed driver.

Uses the example project of cluster/README.md (cluster/example) and the commands it gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.ray_cluster import BIN, LocalCluster, job_env, start_cluster

pytestmark = pytest.mark.ray
EXAMPLE = Path(__file__).resolve().parents[2] / "cluster" / "example"


@pytest.fixture(scope="module")
def cluster():
    c = start_cluster(head_cpus=1)
    try:
        c.add_worker(num_cpus=1)
        yield c
    finally:
        c.shutdown()


@pytest.fixture
def project(tmp_path):
    """A copy of the example project, with data and results that must not travel with the job."""
    dest = tmp_path / "project"
    shutil.copytree(EXAMPLE, dest)
    (dest / "data").mkdir()
    (dest / "data" / "big.bin").write_bytes(b"\0" * (2 << 20))
    return dest


def _records(storage: Path, name: str) -> list[dict]:
    log = storage / name / "raysearch_trials.jsonl"
    if not log.exists():
        return []
    out = {}
    for line in log.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["trial_id"]] = rec
    return list(out.values())


def _submit(
    cluster: LocalCluster, project: Path, *args: str, wait: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "raysearch"), "submit", "experiment.yaml", "--working-dir", ".", *args]
    if not wait:
        cmd.append("--no-wait")
    return subprocess.run(
        cmd, cwd=project, env=job_env(cluster), capture_output=True, text=True, timeout=600
    )


def _job_status(cluster: LocalCluster, job_id: str) -> str:
    code = (
        "from ray.job_submission import JobSubmissionClient; "
        f"print(JobSubmissionClient({cluster.dashboard!r}).get_job_status({job_id!r}).value)"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=job_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (
        out.stdout.strip().splitlines()[-1]
        if out.returncode == 0 and out.stdout.strip()
        else "UNKNOWN"
    )


def _worker_node_id(cluster: LocalCluster) -> str:
    code = (
        f"import ray; ray.init(address={cluster.gcs_address!r}, logging_level='ERROR'); "
        "print([n['NodeID'] for n in ray.nodes() if n['Alive'] and "
        "'node:__internal_head__' not in n['Resources']][0])"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code],
        env=job_env(cluster),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]


def _mid_trial_on(storage: Path, node: str, below: int) -> bool:
    """A trial on ``node`` has reported (and checkpointed) 3 to ``below - 1`` steps, as far
    as the storage shows (the driver syncs trial results with its experiment snapshots)."""
    for result in (storage / "example").glob("*/result.json"):
        lines = [json.loads(x) for x in result.read_text().splitlines() if x.strip()]
        if (
            lines
            and lines[-1].get("node") == node
            and 3 <= lines[-1]["training_iteration"] < below
        ):
            return True
    return False


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_ray_job_submit_runs_trials_on_both_nodes(cluster, project, tmp_path):
    storage = tmp_path / "results"
    start = time.monotonic()
    out = subprocess.run(
        [
            str(BIN / "ray"),
            "job",
            "submit",
            "--working-dir",
            ".",
            "--",
            "raysearch",
            "run",
            "experiment.yaml",
            "--quiet",
            "--storage-path",
            str(storage),
        ],
        cwd=project,
        env=job_env(cluster),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "succeeded" in out.stdout + out.stderr
    records = _records(storage, "example")
    assert len(records) == 6 and all(r["status"] == "TERMINATED" for r in records)
    nodes = {r["metrics"]["node"] for r in records}
    assert len(nodes) == 2, f"trials ran on {len(nodes)} node(s)"
    print(f"job on 2 nodes: {time.monotonic() - start:.1f} s")


def test_killed_driver_resumes_with_the_same_trial_count(cluster, project, tmp_path):
    storage = tmp_path / "results"
    args = ("--storage-path", str(storage), "--num-samples", "12")
    sub = _submit(cluster, project, *args, "--submission-id", "rs-driver-kill", wait=False)
    assert sub.returncode == 0, sub.stderr[-3000:]
    _wait_for(lambda: len(_records(storage, "example")) >= 2, 300, "two finished trials")
    stop = subprocess.run(
        [str(BIN / "ray"), "job", "stop", "rs-driver-kill"],
        env=job_env(cluster),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert stop.returncode == 0, stop.stderr[-2000:]
    _wait_for(
        lambda: _job_status(cluster, "rs-driver-kill") in ("STOPPED", "SUCCEEDED", "FAILED"),
        120,
        "the job to end",
    )
    assert _job_status(cluster, "rs-driver-kill") == "STOPPED"
    done_before = {
        r["trial_id"] for r in _records(storage, "example") if r["status"] == "TERMINATED"
    }
    assert 2 <= len(done_before) < 12

    resumed = _submit(cluster, project, *args, "--resume")
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
    assert "12 trials, 0 failed" in resumed.stdout
    records = _records(storage, "example")
    finished = {r["trial_id"] for r in records if r["status"] == "TERMINATED"}
    assert len(finished) == 12, (
        "the resumed run did not end with the uninterrupted run's trial count"
    )
    assert done_before <= finished


def test_lost_worker_node_trials_retry_from_checkpoints(cluster, project, tmp_path):
    storage = tmp_path / "results"
    # Long trials (16 s): the kill must land mid-trial even when the driver lags behind its
    # trials, and the storage shows their progress only at each experiment snapshot (every
    # 5 s, and when a trial ends: trials that start together are seen ~5 s in, step ~12).
    experiment = project / "experiment.yaml"
    experiment.write_text(experiment.read_text().replace("iterations: 8", "iterations: 40"))
    sub = _submit(
        cluster,
        project,
        "--storage-path",
        str(storage),
        "--submission-id",
        "rs-node-kill",
        wait=False,
    )
    assert sub.returncode == 0, sub.stderr[-3000:]
    worker_node = _worker_node_id(cluster)
    # Kill the node while one of its trials is half way (checkpointed, not finished).
    _wait_for(
        lambda: _mid_trial_on(storage, worker_node, below=20),
        300,
        "a trial half way on the worker node",
    )
    cluster.kill_worker(cluster.workers[-1])
    _wait_for(
        lambda: _job_status(cluster, "rs-node-kill") in ("SUCCEEDED", "FAILED", "STOPPED"),
        420,
        "the job",
    )
    assert _job_status(cluster, "rs-node-kill") == "SUCCEEDED"
    records = _records(storage, "example")
    assert len(records) == 6 and all(r["status"] == "TERMINATED" for r in records), records
    assert all(r["metrics"]["training_iteration"] == 40 for r in records)
    retried = [r for r in records if r["metrics"]["restored_from"] > 0]
    assert retried, "no trial continued from a checkpoint after the node was lost"
