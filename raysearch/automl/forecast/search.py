"""The search over forecasting configurations: features, target transform, LightGBM.

A trial backtests one configuration (:func:`evaluate`) and scores it by mean MASE. The same
registered searcher (TPE by default, from :mod:`raysearch.core.registry`) drives the trials
either on Ray Tune (``engine="ray"``: :func:`raysearch.run`, several trials at once, the kept
trials' backtest forecasts collected by AutoML's artifact store actor,
:func:`raysearch.automl.trials.artifact_store`) or in this process (``engine="local"``: an
ask/tell loop, no Ray start-up: the right choice for small budgets and tests). Both stop at
the search's deadline; the configurations of :func:`search_space`'s points run first.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysearch.automl.forecast.backtest import run_backtest
from raysearch.automl.forecast.model import DEFAULT_CONFIG, make_model

__all__ = ["Candidate", "search_space", "evaluate", "local_search", "ray_search"]

logger = logging.getLogger("raysearch.automl")


@dataclass
class Candidate:
    """A backtested configuration: its mean MASE, its forecasts ``(W, k, H)`` and the
    seconds its backtest took."""

    name: str
    config: dict[str, Any]
    score: float
    preds: np.ndarray
    seconds: float = 0.0


def search_space(m: int) -> tuple[Any, list[dict[str, Any]]]:
    """The space of configurations for season length ``m`` and the points tried first."""
    from raysearch.space import Categorical, Float, Int, Space

    space = Space(
        {
            "model": "lightgbm",
            "target": Categorical(["seasonal", "last", "mean"]),
            "n_lags": Int(1, min(max(2 * m, 16), 24), log=True),
            "log": Categorical([True, False]),
            "calendar": Categorical([True, False]),
            "objective": Categorical(["l2", "l1", "huber"]),
            "learning_rate": Float(0.01, 0.3, log=True),
            "num_leaves": Int(4, 64, log=True),
            "n_estimators": Int(50, 600, log=True),
            "min_child_samples": Int(3, 60, log=True),
            "colsample": Float(0.4, 1.0),
        }
    )
    points = [
        dict(DEFAULT_CONFIG),
        {**DEFAULT_CONFIG, "target": "last"},
        {**DEFAULT_CONFIG, "target": "mean", "objective": "l1"},
        {**DEFAULT_CONFIG, "log": False, "num_leaves": 7, "min_child_samples": 5},
        {**DEFAULT_CONFIG, "target": "mean", "n_lags": 16, "log": False, "objective": "l1"},
    ]
    return space, points


def evaluate(config: Mapping[str, Any], data: Mapping[str, Any]) -> Candidate:
    """Backtests ``config`` on ``data`` (panel, horizon, n_windows, m, seed, threads,
    deadline)."""
    horizon, m = data["horizon"], data["m"]
    start = time.time()
    backtest = run_backtest(
        data["panel"],
        lambda: make_model(config, horizon, m, seed=data["seed"], threads=data["threads"]),
        horizon,
        data["n_windows"],
        m,
        deadline=data["deadline"],
        stride=data.get("stride"),
    )
    return Candidate("", dict(config), backtest.mase(), backtest.preds, time.time() - start)


def _searcher(name: str, space: Any, points: list[dict[str, Any]], seed: int) -> Any:
    from raysearch.core.registry import SEARCHERS

    chosen = name if name in SEARCHERS else "random"
    return SEARCHERS.create(chosen, space=space, seed=seed, points_to_evaluate=points)


def local_search(
    data: Mapping[str, Any], searcher: str, seed: int, max_trials: int | None = None
) -> list[Candidate]:
    """Trials in this process until ``data["deadline"]`` (or ``max_trials``); none starts
    that would end after it at the trials' mean pace."""
    space, points = search_space(data["m"])
    strategy = _searcher(searcher, space, points, seed)
    out: list[Candidate] = []
    i, spent = 0, 0.0
    # a trial starts only if one at the mean pace so far would still end by the deadline
    while time.time() + spent / max(i, 1) < data["deadline"] and (
        max_trials is None or i < max_trials
    ):
        tick = time.time()
        trial_id = f"trial_{i}"
        params = strategy.ask(trial_id)
        if not isinstance(params, dict):
            break
        config = strategy.space.to_config(params)
        try:
            candidate = evaluate(config, data)
        except Exception as err:  # a failed configuration: the searcher learns it failed
            logger.debug("forecast trial %s failed: %r", trial_id, err)
            strategy.tell(trial_id, None, status="failed")
        else:
            candidate.name = f"lightgbm_{i}"
            strategy.tell(trial_id, candidate.score if np.isfinite(candidate.score) else None)
            if np.isfinite(candidate.score):
                out.append(candidate)
        i, spent = i + 1, spent + time.time() - tick
    return out


def _ray_trial(config: dict[str, Any], data: dict[str, Any]) -> None:
    from ray import tune

    candidate = evaluate(config, data)
    data["store"].put.remote(
        tune.get_context().get_trial_id(),
        {
            "family": f"lightgbm-{config['target']}",
            "config": dict(config),
            "models": b"",
            "oof": candidate.preds,
            "score": candidate.score,
            "fit_time": candidate.seconds,
            "predict_time": 0.0,
        },
    )
    tune.report({"mase": candidate.score})


def ray_search(
    data: Mapping[str, Any], searcher: str, seed: int, keep: int = 12, verbose: int = 0
) -> list[Candidate]:
    """Trials on Ray Tune (one CPU each) until ``data["deadline"]``; the best ``keep``."""
    import ray
    from ray import tune

    import raysearch
    from raysearch.automl.trials import artifact_store

    space, points = search_space(data["m"])
    store = artifact_store().remote(keep=keep, higher_is_better=False)
    payload = {**data, "store": store, "threads": 1}
    try:
        with tempfile.TemporaryDirectory(prefix="raysearch-forecast-") as storage:
            raysearch.run(
                tune.with_parameters(_ray_trial, data=payload),
                space,
                metric="mase",
                mode="min",
                searcher=_searcher(searcher, space, points, seed),
                time_budget_s=max(1.0, data["deadline"] - time.time()),
                num_samples=-1,
                storage_path=storage,
                loggers="none",
                checkpoint_every_s=None,
                fail_fast=None,
                verbose=verbose,
            )
        items = ray.get(store.summary.remote())
    finally:
        ray.kill(store)
    return [
        Candidate(
            f"lightgbm_{trial_id}",
            item["config"],
            float(item["score"]),
            item["oof"],
            float(item["fit_time"]),
        )
        for trial_id, item in items.items()
    ]
