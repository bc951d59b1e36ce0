"""Recorded learning curves: computed once per task, grid and ``max_t``, then cached.

A *tabular* benchmark, as HPOBench and LCBench do: LightGBM validation loss after every
:data:`~raysearch.bench.multifidelity.grids.ROUNDS_PER_STEP` boosting rounds on diamonds
(RMSE of log price) and health_insurance (log loss), and a torch MLP's validation
cross-entropy after every epoch on digits, for every configuration of a grid.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.bench.multifidelity.grids import (
    MAX_T,
    ROUNDS_PER_STEP,
    config_key,
    dataset_of,
    family,
    grid_points,
)

__all__ = ["VERSION", "load_curves", "lightgbm_curves", "mlp_curves"]

logger = logging.getLogger(__name__)

#: part of the cache file's name: a change to how curves are recorded bumps it
VERSION = 1


def lightgbm_curves(task: str, grid: str, max_t: int) -> dict[str, list[float]]:
    """LightGBM's validation loss every ``ROUNDS_PER_STEP`` rounds, per grid configuration."""
    import lightgbm as lgb
    import pandas as pd

    from raysearch.data import load_dataset

    ds = load_dataset(dataset_of(task))
    frame = ds.frame.sample(n=min(len(ds.frame), 12000), random_state=0).reset_index(drop=True)
    X = frame.drop(columns=[ds.label])
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    if ds.task == "regression":
        y = np.log1p(frame[ds.label].to_numpy(dtype=float))
        objective, metric = "regression", "rmse"
    else:
        values = sorted(frame[ds.label].astype(str).unique())
        y = (frame[ds.label].astype(str) == values[-1]).to_numpy(dtype=float)
        objective, metric = "binary", "binary_logloss"
    n_train = int(len(X) * 2 / 3)
    train = lgb.Dataset(X.iloc[:n_train], y[:n_train], free_raw_data=False)
    valid = lgb.Dataset(X.iloc[n_train:], y[n_train:], reference=train)
    out: dict[str, list[float]] = {}
    for config in grid_points(task, grid):
        record: dict[str, Any] = {}
        params = {
            "objective": objective,
            "metric": metric,
            "verbosity": -1,
            "num_threads": 1,
            "seed": 0,
            "bagging_seed": 0,
            "feature_fraction_seed": 0,
            **config,
        }
        lgb.train(
            params,
            train,
            num_boost_round=max_t * ROUNDS_PER_STEP,
            valid_sets=[valid],
            valid_names=["valid"],
            callbacks=[lgb.record_evaluation(record)],
        )
        losses = record["valid"][metric]
        out[config_key(config)] = [
            float(losses[(s + 1) * ROUNDS_PER_STEP - 1]) for s in range(max_t)
        ]
    return out


def mlp_curves(task: str, grid: str, max_t: int) -> dict[str, list[float]]:
    """A one-hidden-layer MLP's validation cross-entropy after every epoch, per configuration."""
    import torch

    from raysearch.core.rng import torch_generator
    from raysearch.data import load_dataset

    ds = load_dataset(dataset_of(task))
    X = ds.features.to_numpy(dtype=np.float32)
    y = ds.target.to_numpy().astype(np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    n_train = int(0.6 * len(X))
    tr, va = order[:n_train], order[n_train:]
    mean, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
    X = (X - mean) / sd
    Xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    Xv, yv = torch.from_numpy(X[va]), torch.from_numpy(y[va])
    n_out = int(y.max()) + 1
    out: dict[str, list[float]] = {}
    torch.set_num_threads(1)
    for i, config in enumerate(grid_points(task, grid)):
        gen = torch_generator(np.random.default_rng([0, i]))
        width = int(config["width"])
        layers = [torch.nn.Linear(X.shape[1], width), torch.nn.Linear(width, n_out)]
        for layer in layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
        model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1])
        opt = torch.optim.SGD(
            model.parameters(),
            lr=float(config["lr"]),
            momentum=float(config["momentum"]),
            weight_decay=float(config["weight_decay"]),
        )
        curve: list[float] = []
        for _ in range(max_t):
            perm = torch.randperm(len(Xt), generator=gen)
            model.train()
            for start in range(0, len(Xt), 64):
                idx = perm[start : start + 64]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                v = float(torch.nn.functional.cross_entropy(model(Xv), yv))
            curve.append(v if math.isfinite(v) else math.nan)
        out[config_key(config)] = curve
    return out


def load_curves(
    task: str, cache_dir: str | os.PathLike[str], grid: str = "default", max_t: int = MAX_T
) -> dict[str, list[float]]:
    """Learning curves (``max_t`` steps) of every configuration of ``task``'s ``grid``
    (computed once, cached)."""
    if max_t < 1:
        raise ValueError(f"max_t must be at least 1, got {max_t}")
    name = task if grid == "default" else f"{task}-{grid}"
    name = name if max_t == MAX_T else f"{name}-t{max_t}"
    path = Path(cache_dir) / f"multifidelity-{name}-v{VERSION}.json"
    if path.exists():
        data: dict[str, list[float]] = json.loads(path.read_text())
        return data
    start = time.monotonic()
    make = mlp_curves if family(task) == "mlp" else lightgbm_curves
    curves = make(task, grid, max_t)
    logger.info("computed %d curves of %s in %.0f s", len(curves), task, time.monotonic() - start)
    path.parent.mkdir(parents=True, exist_ok=True)
    serial = {k: [None if not math.isfinite(v) else v for v in c] for k, c in curves.items()}
    path.write_text(json.dumps(serial))
    return json.loads(path.read_text())
