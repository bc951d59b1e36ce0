"""``python -m raysearch.bench gpu``: the dry run (CI, CPU) and the real one (GPU only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PARTS = ("packing", "ddp", "supernet", "supernet_ddp", "xgboost")


def _run(tmp_path: Path, *args: str, timeout: float) -> dict:
    out = tmp_path / "gpu.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_DEDUP_LOGS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "raysearch.bench", "gpu", *args, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_dry_run_measures_every_part_on_the_cpu(tmp_path: Path) -> None:
    result = _run(tmp_path, "--dry-run", timeout=600)
    assert result["dry_run"] is True
    for part in PARTS:
        rows = result[part]
        assert rows and not any("error" in r for r in rows), (part, rows)
    packing = result["packing"]
    assert [r["trials"] for r in packing] == [1, 2]
    assert all(r["errors"] == 0 and r["aggregate_samples_per_s"] > 0 for r in packing)
    ddp = result["ddp"][0]
    assert ddp["workers"] == 2 and ddp["epochs"] == 1 and ddp["trial_error"] == ""
    assert all(r["samples_per_s"] > 0 for r in result["supernet"])
    supernet_ddp = result["supernet_ddp"][0]
    assert supernet_ddp["workers"] == 2 and supernet_ddp["epochs"] == 1
    assert result["xgboost"][0]["train_acc"] > 0.2


def test_without_a_gpu_the_real_run_says_so(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the real run is the gpu-marked test")
    proc = subprocess.run(
        [sys.executable, "-m", "raysearch.bench", "gpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "--dry-run" in proc.stdout


@pytest.mark.gpu
def test_real_run_on_a_gpu(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    result = _run(tmp_path, timeout=600)
    assert [r["trials"] for r in result["packing"]] == [1, 2, 4, 8]
    assert sum(bool(r.get("auto_pick")) for r in result["packing"]) == 1
    assert [r["device"] for r in result["xgboost"]] == ["cpu", "cuda"]
    assert result["total_s"] < 8 * 60
