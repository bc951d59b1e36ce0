"""The forecasting models: one global LightGBM over every series' rows, and seasonal naive.

A model's ``forecast(panel)`` returns the next ``H`` values of every series of ``panel`` (the
histories it forecasts from) as an array ``(k, H)`` (``k`` series).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from raysearch.automl.forecast.data import Panel
from raysearch.automl.forecast.features import (
    CLIP,
    inverse_transform,
    prediction_rows,
    training_rows,
)
from raysearch.automl.forecast.local import LOCAL_MODELS, Local
from raysearch.automl.forecast.stats import HoltWinters, SeasonalDrift, Theta

__all__ = [
    "GlobalModel",
    "LinearDirect",
    "SeasonalNaive",
    "make_model",
    "DEFAULT_CONFIG",
    "LINEAR_CONFIGS",
]

#: the configuration tried first: LightGBM on seasonal differences, 8 lags, log for
#: positive series
DEFAULT_CONFIG: dict[str, Any] = {
    "model": "lightgbm",
    "target": "seasonal",
    "n_lags": 8,
    "log": True,
    "calendar": True,
    "objective": "l2",
    "learning_rate": 0.08,
    "num_leaves": 15,
    "n_estimators": 200,
    "min_child_samples": 20,
    "colsample": 0.8,
}


class SeasonalNaive:
    """The value one season earlier (``z[t + h - m * ceil(h / m)]``)."""

    def __init__(self, horizon: int, m: int) -> None:
        self.horizon, self.m = horizon, m
        self.config = {"model": "seasonal_naive"}

    def fit(self, panel: Panel, deadline: float | None = None) -> SeasonalNaive:
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        h = np.arange(1, self.horizon + 1)
        back = self.m * np.ceil(h / self.m).astype(int) - h
        out = []
        for y in panel.values:
            idx = len(y) - 1 - back
            out.append(y[np.where(idx < 0, len(y) - 1, idx)])
        return np.array(out, dtype=float)


class GlobalModel:
    """One LightGBM regressor over the feature rows of every series (:mod:`.features`).

    Args:
        config: ``target``, ``n_lags``, ``log``, ``calendar`` (features) and LightGBM's
            ``objective``, ``learning_rate``, ``num_leaves``, ``n_estimators``,
            ``min_child_samples``, ``colsample``.
        horizon, m: steps to forecast, season length.
        seed, threads: LightGBM's.
        max_rows: training rows at most (origins are thinned evenly beyond).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        horizon: int,
        m: int,
        seed: int = 0,
        threads: int = 1,
        max_rows: int = 30_000,
    ) -> None:
        self.config = {**DEFAULT_CONFIG, **dict(config)}
        self.horizon, self.m = horizon, m
        self.seed, self.threads, self.max_rows = seed, threads, max_rows
        self.booster: Any = None
        self.use_log = False

    def fit(self, panel: Panel, deadline: float | None = None) -> GlobalModel:
        """Fits on every ``(t, h)`` row of ``panel``; boosting stops at ``deadline``."""
        import lightgbm as lgb

        cfg = self.config
        self.use_log = bool(cfg["log"]) and all(np.all(v > 0) for v in panel.values)
        rows = training_rows(panel, self.horizon, self.m, cfg, self.use_log, self.max_rows)
        params = {
            "objective": {"l2": "regression", "l1": "regression_l1", "huber": "huber"}[
                cfg["objective"]
            ],
            "learning_rate": float(cfg["learning_rate"]),
            "num_leaves": int(cfg["num_leaves"]),
            "min_data_in_leaf": int(cfg["min_child_samples"]),
            "feature_fraction": float(cfg["colsample"]),
            "seed": self.seed,
            "num_threads": self.threads,
            "verbosity": -1,
            "deterministic": True,
            "force_row_wise": True,
            "max_bin": 63,  # small tables of normalised values: coarser bins, faster fits
        }
        callbacks = []
        if deadline is not None:

            def stop_at_deadline(env: Any) -> None:
                if time.time() > deadline:
                    raise lgb.callback.EarlyStopException(
                        env.iteration, env.evaluation_result_list
                    )

            callbacks.append(stop_at_deadline)
        data = lgb.Dataset(rows.matrix(), rows.column("targets"), free_raw_data=True)
        self.booster = lgb.train(
            params, data, num_boost_round=int(cfg["n_estimators"]), callbacks=callbacks
        )
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        """The next ``H`` values of every series of ``panel`` (its histories): ``(k, H)``."""
        if self.booster is None:
            raise RuntimeError("the model is not fitted")
        rows = prediction_rows(panel, self.horizon, self.m, self.config, self.use_log)
        raw = np.clip(self.booster.predict(rows.matrix(), num_threads=self.threads), -CLIP, CLIP)
        z = rows.column("bases") + rows.column("scales") * raw
        k = len(panel.values)
        return np.asarray(inverse_transform(z, self.use_log)).reshape(k, self.horizon)


def make_model(
    config: Mapping[str, Any], horizon: int, m: int, seed: int = 0, threads: int = 1
) -> Any:
    """The model a configuration names (``config["model"]``)."""
    if config.get("model") == "seasonal_naive":
        return SeasonalNaive(horizon, m)
    if config.get("model") == "theta":
        return Theta(horizon, m)
    if config.get("model") == "seasonal_drift":
        return SeasonalDrift(horizon, m)
    if config.get("model") == "holt_winters":
        return HoltWinters(horizon, m)
    if config.get("model") == "linear":
        return LinearDirect(config, horizon, m)
    if config.get("model") in LOCAL_MODELS:
        return Local(str(config["model"]), horizon, m)
    if config.get("model", "lightgbm") != "lightgbm":
        raise ValueError(f"unknown forecasting model {config.get('model')!r}")
    return GlobalModel(config, horizon, m, seed=seed, threads=threads)


class LinearDirect:
    """Direct linear autoregression across series: one ridge regression per step ``h`` on the
    normalised lag and rolling-window features of :mod:`.features` (no calendar parts). It
    extrapolates what trees cannot: cycles longer than a season (sunspots) and drifts."""

    def __init__(self, config: Mapping[str, Any], horizon: int, m: int) -> None:
        self.config = {**DEFAULT_CONFIG, **dict(config), "calendar": False}
        self.horizon, self.m = horizon, m
        self.coefs: np.ndarray | None = None
        self.use_log = False

    def _design(self, matrix: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(matrix[:, 1:], nan=0.0)  # column 0 is h
        return np.column_stack([np.ones(len(x)), x])

    def fit(self, panel: Panel, deadline: float | None = None) -> LinearDirect:
        cfg = self.config
        self.use_log = bool(cfg["log"]) and all(np.all(v > 0) for v in panel.values)
        rows = training_rows(panel, self.horizon, self.m, cfg, self.use_log, 200_000)
        matrix, target = rows.matrix(), rows.column("targets")
        x = self._design(matrix)
        penalty = float(cfg.get("alpha", 1.0)) * np.eye(x.shape[1])
        penalty[0, 0] = 0.0
        coefs = []
        for h in range(1, self.horizon + 1):
            on = matrix[:, 0] == h
            xh, yh = x[on], target[on]
            coefs.append(np.linalg.solve(xh.T @ xh + penalty, xh.T @ yh))
        self.coefs = np.array(coefs)
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        if self.coefs is None:
            raise RuntimeError("the model is not fitted")
        rows = prediction_rows(panel, self.horizon, self.m, self.config, self.use_log)
        matrix = rows.matrix()
        x = self._design(matrix)
        raw = np.einsum("ij,ij->i", x, self.coefs[matrix[:, 0].astype(int) - 1])
        z = rows.column("bases") + rows.column("scales") * np.clip(raw, -CLIP, CLIP)
        k = len(panel.values)
        return np.asarray(inverse_transform(z, self.use_log)).reshape(k, self.horizon)


#: the linear configurations backtested next to the local baselines
LINEAR_CONFIGS: list[dict[str, Any]] = [
    {"model": "linear", "target": "mean", "n_lags": 16, "log": False, "alpha": 1.0},
    {"model": "linear", "target": "last", "n_lags": 12, "log": True, "alpha": 1.0},
    {"model": "linear", "target": "seasonal", "n_lags": 4, "log": True, "alpha": 3.0},
]
