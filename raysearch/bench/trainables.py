"""Trainables: trials per second and per-trial overhead, raysearch vs a hand-written trainable.

LightGBM on diamonds (53,940 rows, 3 categoricals; regression, rmse on a 20% holdout), the
same search space and the same work per trial (``--rounds`` boosting rounds, a report every
10, no early stopping), side by side in one Ray instance:

* **hand-written, Tune defaults**: the function trainable a Tune user writes (categoricals to
  ``category``, ``lgb.train`` with a callback calling ``tune.report`` every 10 rounds, data
  through ``tune.with_parameters``), run by ``tune.Tuner`` with only metric/mode/num_samples;
* **hand-written, reuse_actors=True**;
* **raysearch**: ``tabular_trainable`` (a checkpoint at every report, so trials can be paused
  and resumed) run by ``raysearch.run``; and with ``checkpoint_every=10`` (checkpoint at
  the end only).

Per-trial overhead = (wall time x concurrent slots - time spent inside the trials) / trials.
With ``--gpu`` (default when CUDA is present): samples/s of the torch trainable's loop
(a small ResNet-like CNN, width 32, 32x32 inputs, batch 128, bf16) at 1, 2 and 4 trials per
GPU, each a Ray task with a GPU fraction.

Run: ``python -m raysearch.bench trainables [--trials 20] [--rounds 100] [--cpus N]``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from raysearch.bench.common import add_cpus_option, add_json_option, bench_parser, init_local_ray
from raysearch.bench.report import format_table, machine, write_json

__all__ = ["main", "hand_written"]

ROUNDS_PER_REPORT = 10


def hand_written(config: dict[str, Any], frame: pd.DataFrame, rounds: int) -> None:
    """The LightGBM function trainable a Tune user writes by hand."""
    import lightgbm as lgb
    from ray import tune
    from sklearn.model_selection import train_test_split

    X = frame.drop(columns=["price"])
    for col in X.columns:
        if not pd.api.types.is_numeric_dtype(X[col]):
            X[col] = X[col].astype("category")
    y = frame["price"].to_numpy(dtype=float)
    X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.2, random_state=0)
    params = {"objective": "regression", "verbose": -1, "num_threads": 1, **config}
    train = lgb.Dataset(X_tr, y_tr)

    def report(env: Any) -> None:
        if (env.iteration + 1) % ROUNDS_PER_REPORT == 0:
            pred = env.model.predict(X_va)
            rmse = float(np.sqrt(np.mean((pred - y_va) ** 2)))
            tune.report({"rmse": rmse, "rounds": env.iteration + 1})

    lgb.train(params, train, num_boost_round=rounds, callbacks=[report])


SPACE_BOUNDS = {"learning_rate": (0.02, 0.3), "num_leaves": (15, 63)}


def _space() -> dict[str, Any]:
    from ray import tune

    return {
        "learning_rate": tune.loguniform(*SPACE_BOUNDS["learning_rate"]),
        "num_leaves": tune.randint(SPACE_BOUNDS["num_leaves"][0], SPACE_BOUNDS["num_leaves"][1]),
    }


def _inside_s(grid: Any) -> float:
    return float(sum(r.metrics.get("time_total_s", 0.0) for r in grid))


def _tune_arm(frame: pd.DataFrame, n: int, rounds: int, storage: str, reuse: bool) -> Any:
    from ray import tune

    trainable = tune.with_parameters(hand_written, frame=frame, rounds=rounds)
    tuner = tune.Tuner(
        trainable,
        param_space=_space(),
        tune_config=tune.TuneConfig(num_samples=n, metric="rmse", mode="min", reuse_actors=reuse),
        run_config=tune.RunConfig(storage_path=storage, verbose=0),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    wall = time.perf_counter() - start
    assert len(grid) == n and not grid.errors, f"Tune trials failed: {grid.errors}"
    best = grid.get_best_result().metrics["rmse"]
    return wall, 0.0, _inside_s(grid), best


def _raysearch_arm(
    frame: pd.DataFrame, n: int, rounds: int, storage: str, checkpoint_every: int
) -> Any:
    import raysearch
    from raysearch.trainables import tabular_trainable

    start = time.perf_counter()
    trainable = tabular_trainable(
        frame,
        "price",
        "lightgbm",
        metric="rmse",
        max_units=rounds,
        report_every=ROUNDS_PER_REPORT,
        early_stopping=None,
        checkpoint_every=checkpoint_every,
        threads=1,
    )
    prep = time.perf_counter() - start
    result = raysearch.run(
        trainable,
        _space(),
        metric="rmse",
        mode="min",
        num_samples=n,
        seed=0,
        storage_path=storage,
        loggers="json",
        verbose=0,
    )
    wall = time.perf_counter() - start
    grid = result.results
    assert len(grid) == n and not grid.errors, f"raysearch trials failed: {grid.errors}"
    return wall, prep, _inside_s(grid), float(result.best_metrics["rmse"])  # type: ignore[index]


def _gpu_rows(seconds: float) -> list[dict[str, Any]]:
    import torch

    from raysearch.trainables.resources import probe_packing

    def cnn(config: dict[str, Any]) -> Any:
        from torch import nn

        w = int(config.get("width", 32))
        return nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1, stride=2),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(2 * w, 10),
        )

    g = torch.Generator().manual_seed(0)
    images = torch.randn(8192, 3, 32, 32, generator=g)
    labels = torch.randint(0, 10, (8192,), generator=g)
    rows = probe_packing(
        cnn,
        (images, labels),
        {"batch_size": 128, "width": 32, "lr": 1e-3},
        packings=(1, 2, 4),
        seconds=seconds,
        amp=True,
        stop_early=False,
    )
    base = rows[0]["aggregate_samples_per_s"]
    return [
        {
            "trials_per_gpu": int(r["trials"]),
            "aggregate_samples_per_s": r["aggregate_samples_per_s"],
            "per_trial_samples_per_s": r["per_trial_samples_per_s"],
            "speedup": r["aggregate_samples_per_s"] / base,
            "peak_gpu_mb_per_trial": r["peak_mb"],
        }
        for r in rows
    ]


def _arms(frame: pd.DataFrame, trials: int, rounds: int) -> list[tuple[str, Callable[[str], Any]]]:
    """(label, run in a storage directory) of each compared configuration."""
    return [
        (
            "hand-written, Tune defaults",
            lambda s: _tune_arm(frame, trials, rounds, s, False),
        ),
        (
            "hand-written, reuse_actors=True",
            lambda s: _tune_arm(frame, trials, rounds, s, True),
        ),
        (
            "raysearch tabular_trainable (ckpt every report)",
            lambda s: _raysearch_arm(frame, trials, rounds, s, 1),
        ),
        (
            "raysearch tabular_trainable (ckpt at end)",
            lambda s: _raysearch_arm(
                frame, trials, rounds, s, max(1, rounds // ROUNDS_PER_REPORT)
            ),
        ),
    ]


def _measure(label: str, fn: Callable[[str], Any], trials: int, cpus: int) -> dict[str, Any]:
    """Runs one arm in a fresh storage directory and returns its table row."""
    with tempfile.TemporaryDirectory() as storage:
        wall, prep, inside, best = fn(storage)
    print(f"  {label}: {trials} trials in {wall:.1f} s", flush=True)
    return {
        "configuration": label,
        "trials": trials,
        "wall_s": wall,
        "prep_s": prep,
        "trials_per_s": trials / wall,
        "in_trial_s_per_trial": inside / trials,
        "overhead_s_per_trial": max(0.0, wall * cpus - inside) / trials,
        "best_rmse": best,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("trainables", __doc__)
    parser.add_argument("--trials", type=int, default=20, help="trials per configuration")
    parser.add_argument("--rounds", type=int, default=100, help="boosting rounds per trial")
    parser.add_argument("--rows", type=int, default=None, help="subsample diamonds (default all)")
    add_cpus_option(parser)
    parser.add_argument(
        "--gpu", choices=("auto", "yes", "no"), default="auto", help="the GPU packing part"
    )
    parser.add_argument("--gpu-seconds", type=float, default=10.0, help="measuring window")
    add_json_option(parser)
    args = parser.parse_args(argv)

    import ray

    from raysearch.data import load_dataset

    frame = load_dataset("diamonds").frame
    if args.rows:
        frame = frame.sample(args.rows, random_state=0).reset_index(drop=True)
    cpus = init_local_ray(args.cpus)
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    rows = [
        _measure(label, fn, args.trials, cpus)
        for label, fn in _arms(frame, args.trials, args.rounds)
    ]
    gpu_rows: list[dict[str, Any]] = []
    want_gpu = args.gpu == "yes" or (
        args.gpu == "auto" and ray.cluster_resources().get("GPU", 0) > 0
    )
    if want_gpu:
        gpu_rows = _gpu_rows(args.gpu_seconds)
    ray.shutdown()
    print(
        f"\nLightGBM on diamonds ({len(frame)} rows, {args.rounds} rounds per trial, "
        f"{cpus} CPUs, {machine()['platform']}):\n"
    )
    print(format_table(rows))
    if gpu_rows:
        print("\nTorch loop, small CNN (width 32, 32x32, batch 128, bf16), trials per GPU:\n")
        print(format_table(gpu_rows))
    elif args.gpu != "no":
        print("\n(no GPU in the Ray cluster: the fractional-GPU part was skipped)")
    if args.json:
        write_json(
            args.json,
            {"benchmark": "trainables", "cpus": cpus, "rows": rows, "gpu_rows": gpu_rows},
        )
    return 0
