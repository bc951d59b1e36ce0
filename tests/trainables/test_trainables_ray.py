"""Trainables on a real local Ray: tabular trials under a searcher + ASHA, pause/resume from
checkpoints, and a DDP trial with 2 gloo workers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def gems():
    from raysearch.data import load_dataset

    ds = load_dataset("gems")
    return ds.frame.sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="module")
def cancer():
    from raysearch.data import load_dataset

    ds = load_dataset("breast_cancer")
    return ds.frame, ds.label


def _pause_once_scheduler(at: int):
    """A FIFO scheduler that pauses every trial once, after its ``at``-th report."""
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class PauseOnce(FIFOScheduler):
        def __init__(self) -> None:
            super().__init__()
            self.paused: set[str] = set()

        def on_trial_result(self, tune_controller, trial, result):  # type: ignore[no-untyped-def]
            if result["training_iteration"] >= at and trial.trial_id not in self.paused:
                self.paused.add(trial.trial_id)
                return TrialScheduler.PAUSE
            return TrialScheduler.CONTINUE

    return PauseOnce()


def _result_recorder():
    """A Tune callback that keeps every result the driver receives, in order. (Reading the
    history back from result.json after a pause is Tune's bookkeeping, and it has been seen
    to lose the rows from before the pause on a slow machine; this records what the trial
    reported.)"""
    from ray.tune import Callback

    class Recorder(Callback):
        def __init__(self) -> None:
            self.results: list[dict] = []

        def on_trial_result(self, iteration, trials, trial, result, **info):  # type: ignore[no-untyped-def]
            self.results.append(dict(result))

    return Recorder()


def test_lightgbm_trial_paused_resumes_from_its_booster(ray_local, gems, tmp_path):
    from ray import tune

    import raysearch
    from raysearch.trainables import tabular_trainable

    trainable = tabular_trainable(
        gems, "price", "lightgbm", metric="rmse", max_units=60, report_every=10
    )
    assert (trainable.metric, trainable.mode, trainable.time_attr) == ("rmse", "min", "rounds")
    recorder = _result_recorder()
    result = raysearch.run(
        trainable,
        {"learning_rate": tune.choice([0.1]), "num_leaves": 15},
        metric="rmse",
        mode="min",
        scheduler=_pause_once_scheduler(at=3),
        num_samples=1,
        storage_path=str(tmp_path),
        loggers="json",
        callbacks=[recorder],
        verbose=0,
    )
    [res] = list(result.results)
    assert res.error is None, res.error
    history = pd.DataFrame(recorder.results)
    seen = history[["rounds", "resumed_from", "training_iteration"]].to_dict("records")
    rounds = history["rounds"].tolist()
    # paused after 30 rounds: the restored trial goes on at 40, not from 10 again
    assert rounds == [10, 20, 30, 40, 50, 60], seen
    assert history["resumed_from"].tolist()[-1] == 30, seen
    assert history["rmse"].iloc[-1] < history["rmse"].iloc[0]


@pytest.mark.parametrize(
    "family", ["lightgbm", "xgboost", "random_forest", "extra_trees", "linear", "knn", "mlp"]
)
def test_each_family_runs_under_a_searcher_and_asha(ray_local, cancer, family, tmp_path):
    import raysearch
    from raysearch.core.registry import SCHEDULERS
    from raysearch.trainables import tabular_trainable

    frame, label = cancer
    small = {"mlp": 6, "random_forest": 50, "extra_trees": 50}
    trainable = tabular_trainable(
        frame,
        label,
        family,
        validation="stratified",
        n_splits=3,
        max_units=small.get(family, 60),
    )
    # raysearch's GP searcher and ASHA (the fidelity is the family's: rounds, trees, epochs)
    from raysearch.tune.scheduler import TuneScheduler

    scheduler: object = None  # one-shot families (max_t=1) have no fidelity to schedule on
    if trainable.max_t > 1:
        core = SCHEDULERS.create(
            "asha", max_t=trainable.max_t, grace_period=1, reduction_factor=3, seed=0
        )
        scheduler = TuneScheduler(core, time_attr=trainable.time_attr)
    searcher = "gp"  # seeded by run(seed=0)
    result = raysearch.run(
        trainable,
        trainable.param_space,
        metric=trainable.metric,
        mode=trainable.mode,
        searcher=searcher,
        scheduler=scheduler,
        num_samples=3,
        seed=0,
        storage_path=str(tmp_path),
        loggers="none",
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 3
    assert board[trainable.metric].max() > 0.9  # roc_auc on breast cancer


def _mlp(config):
    from torch import nn

    width = int(config.get("width", 16))
    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 3))


def _blobs(n: int = 256):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long()


def test_torch_trainable_reports_epochs_and_checkpoints(ray_local, tmp_path):
    from ray import tune

    import raysearch
    from raysearch.trainables import torch_trainable

    data = _blobs()
    trainable = torch_trainable(_mlp, data, data, max_epochs=4)
    recorder = _result_recorder()
    result = raysearch.run(
        trainable,
        {"lr": tune.choice([1e-2]), "width": 16, "seed": 0},
        metric=trainable.metric,
        mode=trainable.mode,
        scheduler=_pause_once_scheduler(at=2),
        num_samples=1,
        storage_path=str(tmp_path),
        callbacks=[recorder],
        verbose=0,
    )
    [res] = list(result.results)
    assert res.error is None
    history = recorder.results
    # paused after epoch 2: the restored trial goes on at epoch 3, not from epoch 1 again
    assert [r["epoch"] for r in history] == [1, 2, 3, 4], history
    assert history[-1]["resumed_from"] == 2
    assert res.checkpoint is not None
    assert res.metrics["epoch"] == 4
    assert history[-1]["val_accuracy"] > 0.5


def test_ddp_trial_with_two_gloo_workers(ray_local, tmp_path):
    from ray import tune

    import raysearch
    from raysearch.trainables import ddp_trainable

    data = _blobs()
    trainable = ddp_trainable(
        _mlp,
        data,
        data,
        num_workers=2,
        resources_per_worker={"CPU": 0.5},
        max_epochs=2,
    )
    assert trainable.max_concurrent(2.0) == 2
    result = raysearch.run(
        trainable,
        {"lr": tune.choice([3e-3]), "seed": 0},
        metric=trainable.metric,
        mode=trainable.mode,
        num_samples=1,
        resources=trainable.resources,
        max_concurrent=1,
        storage_path=str(tmp_path),
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 1
    metrics = result.best_metrics
    assert metrics is not None
    assert metrics["epoch"] == 2 and metrics["workers"] == 2
    assert math.isfinite(metrics["val_loss"])
