"""Prediction speed as a target: what each model costs per row, an ensemble chosen within an
inference limit, and the kept configurations refitted once on all rows.

* :func:`estimated_cost`: a trial's prediction seconds per row from its own timing (each of
  its fold models predicted its fold's rows; the ensemble predicts every row with every fold
  model);
* :func:`per_row_seconds`: a prediction timed on a batch (the training sample tiled to
  ``batch_size`` rows), per row;
* :func:`refit_model`: one model of a configuration on all rows, trained as long as its fold
  models were (boosting rounds, trees, epochs: ``Learner.refit_length``), predicting with
  every CPU.

``AutoML.fit(infer_limit=...)`` selects the ensemble with the estimated costs, times the
members it chose on a batch, and selects again with the measured costs while the ensemble
(preprocessing included) is over the limit.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.learners import LEARNERS, set_threads

__all__ = [
    "available_cpus",
    "estimated_cost",
    "per_row_seconds",
    "tiled",
    "refit_model",
    "INFER_BATCH",
    "select_within_limit",
    "permutation_importance",
]

#: rows of the batch predictions are timed on (AutoGluon's ``infer_limit_batch_size`` is
#: 10,000 by default; fewer here keeps the timing inside the fit budget, and a smaller batch
#: costs a little more per row, so the limit is kept with room)
INFER_BATCH = 2000


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def estimated_cost(predict_time: float, n_rows: int, n_models: int) -> float:
    """Seconds per row of a member whose ``n_models`` fold models took ``predict_time`` in
    all to predict ``n_rows`` out-of-fold rows (one model per row there, every model per
    row at prediction)."""
    return float(predict_time) / max(int(n_rows), 1) * max(int(n_models), 1)


def tiled(sample: pd.DataFrame, size: int) -> pd.DataFrame:
    """``sample``'s rows repeated (or cut) to ``size`` rows."""
    reps = math.ceil(size / max(len(sample), 1))
    return pd.concat([sample] * reps, ignore_index=True).iloc[:size]


def per_row_seconds(predict: Callable[[], Any], n_rows: int, repeats: int = 1) -> float:
    """The fastest of ``repeats`` timed calls of ``predict`` (on ``n_rows`` rows), per row."""
    best = math.inf
    for _ in range(max(1, repeats)):
        tick = time.perf_counter()
        predict()
        best = min(best, time.perf_counter() - tick)
    return best / max(n_rows, 1)


def refit_model(
    family: str,
    config: dict[str, Any],
    fold_models: list[Any],
    view: pd.DataFrame,
    y: np.ndarray,
    task: str,
    n_classes: int,
    seed: int,
    threads: int,
) -> Any:
    """One model of ``config`` fitted on every row of ``view``, as long as the fold models
    trained (their mean boosting rounds, trees or epochs: no validation rows are left to
    stop it early), set to predict with ``threads`` threads."""
    learner = LEARNERS[family]
    spec = {**config, **learner.refit_length(fold_models)}
    model = learner.fit(
        view, y, None, None, spec, task, n_classes, math.inf, seed, threads=threads
    )
    set_threads(model, threads)
    return model


def select_within_limit(
    select: Callable[[dict[str, float]], dict[str, float]],
    measure: Callable[[str], float],
    estimated: dict[str, float],
    limit: float,
    prep_cost: float,
    tries: int = 3,
) -> tuple[dict[str, float], float, dict[str, float]]:
    """Ensemble weights within ``limit`` seconds per row (``prep_cost`` of them go to the
    preprocessing): ``select(costs)`` chooses with the costs known so far, ``measure(name)``
    times a chosen member; members timed over the estimate scale the estimates of the others
    by the median ratio. Returns the weights, the ensemble's seconds per row (measured) and
    the measured costs."""
    measured: dict[str, float] = {}
    weights: dict[str, float] = {}
    total = math.inf
    for _ in range(tries):
        ratios = [measured[n] / max(estimated[n], 1e-12) for n in measured]
        scale = float(np.median(ratios)) if ratios else 1.0
        costs = {n: measured.get(n, c * scale) for n, c in estimated.items()}
        weights = select(costs)
        for name in weights:
            if name not in measured:
                measured[name] = measure(name)
        total = prep_cost + sum(measured[n] for n in weights)
        if total <= limit or len(weights) == 1:
            break
    return weights, total, measured


def permutation_importance(
    frame: pd.DataFrame,
    columns: list[str],
    loss: Callable[[pd.DataFrame], float],
    rng: np.random.Generator,
    n_repeats: int,
) -> pd.Series:
    """How much ``loss(rows)`` grows when each of ``columns`` is shuffled (mean of
    ``n_repeats`` shuffles), largest first."""
    base = loss(frame)
    out = {}
    for column in columns:
        losses = []
        for _ in range(n_repeats):
            shuffled = frame.copy()
            shuffled[column] = frame[column].to_numpy()[rng.permutation(len(frame))]
            losses.append(loss(shuffled))
        out[column] = float(np.mean(losses) - base)
    return pd.Series(out, name="importance").sort_values(ascending=False)
