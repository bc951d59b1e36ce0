"""GPU trainables (skipped without CUDA): fractional-GPU trials, the automatic packing."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.gpu]


def _resnetish(config):
    from torch import nn

    width = int(config.get("width", 32))
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 10),
    )


def _images(n: int = 4096):
    import torch

    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_four_fractional_gpu_trials_run_at_once(ray_local_gpu, tmp_path):
    from ray import tune

    import raysearch
    from raysearch.trainables import torch_trainable
    from raysearch.trainables.resources import plan_resources

    data = _images(2048)
    trainable = torch_trainable(_resnetish, data, data, max_epochs=2, amp=True)
    plan = plan_resources(0.25, cpu=1)
    assert plan.trials_per_gpu == 4
    result = raysearch.run(
        trainable,
        {"lr": tune.loguniform(1e-3, 1e-1), "batch_size": 128},
        metric="val_loss",
        mode="min",
        num_samples=4,
        resources=plan.resources,
        max_concurrent=plan.max_concurrent,
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert len(result.leaderboard) == 4
    assert all(r.metrics["gpu_mem_mb"] > 0 for r in result.results)


def test_auto_mode_finds_a_packing(ray_local_gpu):
    from raysearch.trainables.resources import plan_resources

    plan = plan_resources(
        "auto",
        cpu=1,
        probe=(_resnetish, _images(), {"batch_size": 128, "width": 32}),
        probe_seconds=3.0,
        amp=True,
    )
    assert plan.trials_per_gpu >= 1
    assert plan.probe and plan.probe[0]["aggregate_samples_per_s"] > 0


@pytest.fixture(scope="module")
def ray_local_gpu():
    import os

    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=min(8, os.cpu_count() or 2), include_dashboard=False)
    yield ray
    if started:
        ray.shutdown()
