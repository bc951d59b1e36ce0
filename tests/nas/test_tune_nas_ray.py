"""A tiny MNIST-1D macro search through Ray Tune with ASHA (real local Ray)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mnist1d")

from ray import tune

from raysearch.nas import macro_chain
from raysearch.nas.datasets import mnist1d_task
from raysearch.nas.trainable import train_arch
from raysearch.tune import ASHAScheduler
from raysearch.tune.nas import EvolutionSearch, nas_trainable

pytestmark = pytest.mark.ray


def test_mnist1d_macro_search(ray_local, tmp_path) -> None:
    task = mnist1d_task(max_epochs=2, n_train=400, n_val=200, batch_size=64)
    trainable = nas_trainable(
        task.train_data,
        task.val_data,
        input_shape=(40,),
        num_classes=10,
        max_epochs=2,
        training={"batch_size": 64},
        latency_repeats=2,
    )
    search = EvolutionSearch(
        macro_chain(max_blocks=2, widths=(4, 8)),
        seed=0,
        objectives=[("val_acc", "max"), ("latency_ms", "min")],
        population_size=2,
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=search,
            scheduler=ASHAScheduler("epoch", max_t=2, grace_period=1, reduction_factor=2, seed=0),
            metric="val_acc",
            mode="max",
            num_samples=3,
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert len(grid) == 3 and not grid.errors
    for r in grid:
        for key in ("val_acc", "params", "flops", "latency_ms", "epoch"):
            assert key in r.metrics
    assert search.core.pareto_front()
    best = max(grid, key=lambda r: (r.metrics["epoch"], r.metrics["val_acc"]))
    config = json.loads(json.dumps(best.config))
    _, again = train_arch(config, task, epochs=int(best.metrics["epoch"]), device="cpu")
    assert again["params"] == best.metrics["params"]
    assert abs(again["val_acc"] - best.metrics["val_acc"]) <= 0.02
