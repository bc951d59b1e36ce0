"""``Forecaster``: AutoML for time series (``AutoML(task="forecast", ...)`` delegates here).

How ``fit`` spends ``time_budget_s``:

1. reads the table into a :class:`~raysearch.automl.forecast.data.Panel` (one or many
   series), infers the frequency and the season length;
2. backtests seasonal naive, Theta, seasonal drift and Holt-Winters (:mod:`.stats`),
   automatic ETS, automatic (seasonal) AR, seasonal ARIMA and M4's comb (:mod:`.local`)
   and a few direct linear autoregressions (:class:`.model.LinearDirect`): seasonal naive
   always, then ETS, then the cheapest first, each left out when its backtest would end
   after :data:`STATS_SHARE` of the budget (checked between windows and chunks of series);
   then searches configurations of one global LightGBM model
   (:mod:`.search`: features, target transform, boosting) until the search deadline; every
   trial is a time-ordered backtest over ``n_windows`` expanding windows of ``H`` steps;
3. selects in two stages by backtest MASE (:mod:`.combine`): greedy ensemble selection
   (Caruana) over the statistical models, per series and shrunk toward the panel's
   weights; then the best learned model (linear or LightGBM) blended in only as far as its
   backtest edge exceeds the optimism of picking the best of many trials;
4. refits the chosen models on every value, keeps their forecasts after the training data
   (``predict()`` without new data costs nothing) and the backtest residual quantiles of
   the ensemble for the prediction intervals (:func:`.backtest.residual_quantiles`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.ensemble import greedy_selection
from raysearch.automl.features import DataError
from raysearch.automl.files import load_table
from raysearch.automl.forecast.backtest import (
    Backtest,
    BudgetSpent,
    mase_scale,
    residual_quantiles,
    run_backtest,
    window_plan,
)
from raysearch.automl.forecast.combine import blend_series, series_weights, shrink_to_simple
from raysearch.automl.forecast.data import Panel, future_times, read_panel, season_length
from raysearch.automl.forecast.ets import CHUNK
from raysearch.automl.forecast.local import Local
from raysearch.automl.forecast.model import (
    LINEAR_CONFIGS,
    LinearDirect,
    SeasonalNaive,
    make_model,
)
from raysearch.automl.forecast.search import Candidate, local_search, ray_search
from raysearch.automl.forecast.stats import HoltWinters, SeasonalDrift, Theta

__all__ = ["Forecaster", "forecaster_for", "STATS_SHARE", "STATS_ORDER"]

#: the share of ``time_budget_s`` the statistical models' backtests may take at most
STATS_SHARE = 0.5
#: the order of the statistical models' candidates (the selection's tie order)
STATS_ORDER = (
    "seasonal_naive",
    "theta",
    "seasonal_drift",
    "holt_winters",
    "auto_ets",
    "auto_ar",
    "comb",
    "auto_arima",
    *(f"linear_{i}" for i in range(len(LINEAR_CONFIGS))),
)

logger = logging.getLogger("raysearch.automl")


def _chunk(name: str) -> int | None:
    """Series a backtest runs at once between its time checks: ETS filters :data:`CHUNK`
    together, the other local models take two at a time (ARIMA: ~0.1 s a series); the
    linear autoregressions are fitted across series (None: all)."""
    if name.startswith("linear"):
        return None
    return CHUNK if name == "auto_ets" else 2


class Forecaster:
    """Forecasts the next ``horizon`` values of one or many series.

    Args:
        label: the column to forecast (numeric).
        time_column: the timestamps (datetimes at a regular frequency, or numbers one step
            apart, such as years).
        horizon: steps to forecast.
        id_column: the series id of a long table holding many series; None for one series.
        season_length: the seasonal period (default: from the frequency, e.g. 12 for months,
            52 for weeks, 1 for years).
        time_budget_s: wall time of ``fit``.
        n_windows: backtest windows (fewer when the shortest series is too short); None:
            enough for about 400 backtest values in all, 3 to 8 (a short single series needs
            many windows, or the search fits its few backtest values by chance).
        quantiles: the prediction interval quantiles ``predict`` returns.
        engine: ``"ray"`` (trials on Ray Tune, several at once), ``"local"`` (in this
            process: no Ray start-up) or ``"auto"``: Ray when it is running already, when
            ``RAY_ADDRESS`` names a cluster or when the budget is at least a minute.
        searcher: a registered searcher name.
        seed: seeds the searcher and LightGBM.
        verbose: 0 silent, 1 progress lines.
    """

    def __init__(
        self,
        label: str,
        time_column: str,
        horizon: int,
        id_column: str | None = None,
        season_length: int | None = None,
        time_budget_s: float = 60.0,
        n_windows: int | None = None,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
        engine: str = "auto",
        searcher: str = "tpe",
        seed: int = 0,
        verbose: int = 1,
    ) -> None:
        if not isinstance(time_column, str) or not time_column:
            raise ValueError(f"time_column must be a column name, got {time_column!r}")
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        if season_length is not None and season_length < 1:
            raise ValueError(f"season_length must be >= 1, got {season_length!r}")
        if not time_budget_s or time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0, got {time_budget_s!r}")
        if n_windows is not None and n_windows < 1:
            raise ValueError(f"n_windows must be >= 1, got {n_windows}")
        if any(not 0 < q < 1 for q in quantiles):
            raise ValueError(f"quantiles must lie in (0, 1), got {list(quantiles)}")
        if engine not in ("ray", "local", "auto"):
            raise ValueError(f"engine must be 'ray', 'local' or 'auto', got {engine!r}")
        self.label, self.time_column, self.id_column = label, time_column, id_column
        self.horizon = int(horizon)
        self.season_length = season_length
        self.time_budget_s = float(time_budget_s)
        self.n_windows = n_windows
        self.quantiles = sorted(float(q) for q in quantiles)
        self.engine, self.searcher = engine, searcher
        self.seed, self.verbose = int(seed), verbose

    # ------------------------------------------------------------------ fit
    def _windows(self, panel: Panel, m: int) -> int:
        shortest = min(len(v) for v in panel.values)
        need = max(2 * m, 2 * self.horizon, 8)  # history a window's model needs at least
        wanted = self.n_windows or int(
            np.clip(np.ceil(400 / (len(panel.ids) * self.horizon)), 3, 8)
        )
        # a short series: closer (overlapping) cutoffs rather than two or three windows
        windows, self.stride_ = window_plan(shortest - need, self.horizon, wanted)
        if windows < 1:
            raise DataError(
                f"the shortest series has {shortest} values; a {self.horizon}-step backtest "
                f"with season length {m} needs at least {need + self.horizon}"
            )
        return int(windows)

    def _uses_ray(self) -> bool:
        if self.engine != "auto":
            return self.engine == "ray"
        ray = sys.modules.get("ray")
        running = ray is not None and ray.is_initialized()
        return running or bool(os.environ.get("RAY_ADDRESS")) or self.time_budget_s >= 60

    def fit(self, data: Any) -> Forecaster:
        """Searches and backtests models on ``data`` (a table, see :func:`load_table`)."""
        start = time.time()
        deadline = start + self.time_budget_s
        panel = read_panel(load_table(data), self.label, self.time_column, self.id_column)
        m = self.season_length or season_length(panel.freq)
        windows = self._windows(panel, m)
        self.panel_, self.m_, self.n_windows_ = panel, m, windows
        stop_at = start + STATS_SHARE * self.time_budget_s
        baselines, naive = self._backtest_stats(panel, windows, m, stop_at)
        self.threads_ = 1  # more threads than free cores slow boosting down many times
        # kept back for the ensemble and the final refits (and Tune's stop on Ray): a refit
        # takes about one backtest window's fit, measured for the statistical models; the
        # floor covers the searched member's refit (the local search ends by its deadline)
        refits = sum(c.seconds for c in baselines) / windows
        reserve = max(0.5, 0.02 * self.time_budget_s) + 1.2 * refits
        reserve += 1.5 if self._uses_ray() else 0.0
        search_deadline = deadline - reserve
        payload = {
            "panel": panel,
            "horizon": self.horizon,
            "n_windows": windows,
            "stride": self.stride_,
            "m": m,
            "seed": self.seed,
            "threads": self.threads_,
            "deadline": search_deadline,
        }
        if self._uses_ray():
            from raysearch.tune.resources import init_ray

            init_ray(verbose=self.verbose)
            candidates = ray_search(payload, self.searcher, self.seed, verbose=self.verbose)
        else:
            candidates = local_search(payload, self.searcher, self.seed)
        candidates.sort(key=lambda c: c.score)
        # the linear autoregressions are learned models like LightGBM's: on a single series
        # they overfit the backtest as the searched ones do, so they join the second stage
        stats = [c for c in baselines if c.config["model"] != "linear"]
        learned = [c for c in baselines if c.config["model"] == "linear"] + candidates
        self._select(stats, sorted(learned, key=lambda c: c.score), naive)
        self._refit(panel, deadline)
        self.fit_time_s_ = time.time() - start
        if self.verbose:
            logger.info(
                "forecast: %d series, season %d, %d windows x %d steps; backtest MASE %.4g "
                "(seasonal naive %.4g), %d trials, in %.1f s",
                len(panel.ids),
                m,
                windows,
                self.horizon,
                self.backtest_mase_,
                baselines[0].score,
                len(candidates),
                self.fit_time_s_,
            )
        return self

    def _backtest_stats(
        self, panel: Panel, windows: int, m: int, stop_at: float
    ) -> tuple[list[Candidate], Backtest]:
        """Backtests the statistical models and the linear autoregressions: seasonal naive
        (always), ETS, then the cheapest first, each left out when it would end after
        ``stop_at`` (the rest of the budget is the search's). The candidates come back in
        :data:`STATS_ORDER` order, with seasonal naive's backtest."""
        h = self.horizon
        models: list[tuple[str, Any]] = [
            ("seasonal_naive", SeasonalNaive(h, m)),
            ("auto_ets", Local("auto_ets", h, m)),
            ("holt_winters", HoltWinters(h, m)),
            ("seasonal_drift", SeasonalDrift(h, m)),
            ("theta", Theta(h, m)),
            ("auto_ar", Local("auto_ar", h, m)),
            ("comb", Local("comb", h, m)),
            *((f"linear_{i}", LinearDirect(c, h, m)) for i, c in enumerate(LINEAR_CONFIGS)),
            ("auto_arima", Local("auto_arima", h, m)),  # the slowest: ~0.1 s a series
        ]
        out: list[Candidate] = []
        naive: Backtest | None = None
        for name, model in models:
            tick = time.time()
            make = lambda: model  # noqa: B023, E731
            try:
                bt = run_backtest(
                    panel,
                    make,
                    h,
                    windows,
                    m,
                    stride=self.stride_,
                    stop_at=stop_at if naive is not None else None,
                    chunk=_chunk(name),
                )
            except BudgetSpent:
                logger.info("forecast: budget spent; %s left out", name)
                continue
            naive = naive or bt
            out.append(Candidate(name, model.config, bt.mase(), bt.preds, time.time() - tick))
        out.sort(key=lambda c: STATS_ORDER.index(c.name))
        assert naive is not None
        return out, naive

    def _select(
        self, baselines: list[Candidate], searched: list[Candidate], backtest: Backtest
    ) -> None:
        """Two stages on the backtest forecasts (by mean MASE): greedy ensemble selection
        over the fixed simple models (per series, shrunk toward the panel's weights), then
        the best searched configuration blended in as far as its edge survives the search's
        optimism (:func:`.combine.shrink_to_simple`)."""
        preds = {c.name: c.preds for c in baselines}

        def loss(_: np.ndarray, p: np.ndarray) -> float:
            return backtest.mase(p)

        simple_weights, _ = greedy_selection(preds, backtest.actuals, loss, rounds=20)
        names, matrix = series_weights(preds, backtest, simple_weights)
        simple = blend_series(preds, names, matrix)
        best = searched[0] if searched else None
        lam = shrink_to_simple(simple, best.preds if best else None, backtest, len(searched))
        if best is not None and lam > 0:
            names, preds[best.name] = [*names, best.name], best.preds
            matrix = np.column_stack([(1 - lam) * matrix, np.full(len(matrix), lam)])
        used = matrix.max(axis=0) > 0
        self.member_names_ = [n for n, u in zip(names, used) if u]
        self.series_weights_ = matrix[:, used]
        # panel-wide weights: series not seen in training get these
        self.weights_ = dict(zip(self.member_names_, self.series_weights_.mean(axis=0)))
        pool = [*baselines, *searched]
        self.configs_ = {c.name: c.config for c in pool if c.name in self.member_names_}
        self.fit_seconds_ = {c.name: c.seconds / backtest.preds.shape[0] for c in pool}
        blended = blend_series(preds, self.member_names_, self.series_weights_)
        self.backtest_mase_ = backtest.mase(blended)
        self.backtest_smape_ = Backtest(blended, backtest.actuals, backtest.scales).smape()
        self.interval_table_ = residual_quantiles(backtest.residuals(blended), self.quantiles)
        rows = [
            {
                "model": c.name,
                "mase": c.score,
                "weight": self.weights_.get(c.name, 0.0),
                **{k: v for k, v in c.config.items() if k != "model"},
            }
            for c in sorted(pool, key=lambda c: c.score)
        ]
        self.leaderboard_ = pd.DataFrame(rows)

    def _refit(self, panel: Panel, deadline: float) -> None:
        """Fits the ensemble's models on every value (heaviest weight first)."""
        self.models_: dict[str, Any] = {}
        self.fitted_forecasts_: dict[str, np.ndarray] = {}
        mean_weight = self.weights_  # the members' mean weights over the series
        for name in sorted(mean_weight, key=lambda n: -mean_weight[n]):
            # a fit on all the data takes about a backtest window's fit, a little more
            if self.models_ and time.time() + 1.2 * self.fit_seconds_[name] > deadline:
                logger.info("forecast: budget spent; %s left out of the ensemble", name)
                continue
            model = make_model(
                self.configs_[name], self.horizon, self.m_, seed=self.seed, threads=self.threads_
            )
            left = max(deadline - time.time(), 0.05 * self.time_budget_s)  # the first one
            self.models_[name] = model.fit(panel, time.time() + left)
            # the forecast after the training data, here: the local models fit as they
            # forecast, so ``predict()`` would otherwise spend a window's fit after fit()
            self.fitted_forecasts_[name] = self.models_[name].forecast(panel)

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise RuntimeError("this forecaster is not fitted yet: call fit() first")

    def forecast_values(self, panel: Panel) -> np.ndarray:
        """The ensemble's forecasts ``(k, H)`` from the histories of ``panel``."""
        self._check_fitted()
        fitted = getattr(self, "fitted_forecasts_", {}) if panel is self.panel_ else {}
        preds = {
            name: fitted[name] if name in fitted else model.forecast(panel)
            for name, model in self.models_.items()
        }
        g = np.array([self.weights_.get(n, 0.0) for n in self.member_names_])
        row = {key: i for i, key in enumerate(self.panel_.ids)}
        weights = np.array(
            [self.series_weights_[row[key]] if key in row else g for key in panel.ids]
        )
        return blend_series(preds, self.member_names_, weights)

    def info(self) -> dict[str, Any]:
        """What ``AutoML.save`` writes next to a fitted forecaster (``info.json``)."""
        self._check_fitted()
        return {
            "label": self.label,
            "problem_type": "forecast",
            "time_column": self.time_column,
            "id_column": self.id_column,
            "horizon": self.horizon,
            "season_length": self.m_,
            "members": {n: float(w) for n, w in self.weights_.items()},
        }

    def predict(self, data: Any = None) -> pd.DataFrame:
        """The next ``horizon`` steps after each series' last value (of the training data,
        or of ``data``: new histories, new series ids welcome): one row per series and step
        with the id (if any), the timestamp, the forecast and a column per quantile
        (``q0.1``, ...)."""
        self._check_fitted()
        panel = self.panel_
        if data is not None:
            panel = read_panel(load_table(data), self.label, self.time_column, self.id_column)
            if panel.freq != self.panel_.freq:
                raise DataError(
                    f"the data's frequency {panel.freq!r} is not the training data's "
                    f"{self.panel_.freq!r}"
                )
        values = self.forecast_values(panel)
        frames = []
        for i, key in enumerate(panel.ids):
            scale = mase_scale(panel.values[i], self.m_)
            part: dict[str, Any] = {}
            if self.id_column:
                part[self.id_column] = [key] * self.horizon
            part[self.time_column] = future_times(panel.times[i][-1], panel.freq, self.horizon)
            part[self.label] = values[i]
            for q, row in zip(self.quantiles, self.interval_table_):
                part[f"q{q:g}"] = values[i] + scale * row
            frames.append(pd.DataFrame(part))
        return pd.concat(frames, ignore_index=True)

    def leaderboard(self) -> pd.DataFrame:
        """Backtested configurations, best first: MASE, ensemble weight, configuration."""
        self._check_fitted()
        return self.leaderboard_.copy()


def forecaster_for(
    automl: Any, task: str | None, time_column: str | None, id_column: str | None, horizon: Any
) -> Forecaster | None:
    """The :class:`Forecaster` an ``AutoML(task="forecast", ...)`` delegates to (None for
    tabular tasks), from the AutoML's label, budget, seed and verbosity."""
    if task in (None, "tabular"):
        given = [n for n, v in (("time_column", time_column), ("horizon", horizon)) if v]
        if given or id_column:
            raise ValueError(
                f"{', '.join(given or ['id_column'])} is for forecasting: pass task='forecast'"
            )
        return None
    if task != "forecast":
        raise ValueError(f"task must be 'forecast' or None (tabular), got {task!r}")
    if not time_column:
        raise ValueError("task='forecast' needs time_column= (the column of timestamps)")
    if horizon is None:
        raise ValueError("task='forecast' needs horizon= (how many steps to forecast)")
    return Forecaster(
        automl.label,
        time_column,
        horizon,
        id_column=id_column,
        time_budget_s=automl.time_budget_s,
        seed=automl.seed,
        verbose=automl.verbose,
    )
