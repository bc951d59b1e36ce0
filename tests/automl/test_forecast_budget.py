"""The forecaster's time budget: the statistical models' backtests stop at their share of it,
and ``fit`` ends within 5% of ``time_budget_s`` on a 50-series panel with a small budget."""

from __future__ import annotations

import time

import numpy as np
import pytest

from raysearch.automl.forecast.backtest import BudgetSpent, run_backtest
from raysearch.automl.forecast.data import read_panel, synthetic_panel
from raysearch.automl.forecast.forecaster import STATS_ORDER, Forecaster
from raysearch.automl.forecast.local import Local


@pytest.fixture(scope="module")
def panel():
    frame = synthetic_panel(n_series=20, length=100, season=12, seed=2)
    return read_panel(frame, "y", "date", "series")


def test_chunked_backtest_equals_whole_panel(panel):
    model = Local("auto_ar", 12, 12)
    whole = run_backtest(panel, lambda: model, 12, 2, 12)
    chunked = run_backtest(panel, lambda: model, 12, 2, 12, chunk=3)
    np.testing.assert_allclose(chunked.preds, whole.preds)
    assert chunked.mase() == pytest.approx(whole.mase())


def test_backtest_stops_at_its_stop_time(panel):
    model = Local("auto_ets", 12, 12)
    with pytest.raises(BudgetSpent):
        run_backtest(panel, lambda: model, 12, 3, 12, stop_at=time.time() - 1, chunk=4)
    # a stop time far off: the whole backtest runs
    done = run_backtest(panel, lambda: model, 12, 3, 12, stop_at=time.time() + 600, chunk=4)
    assert np.all(np.isfinite(done.preds))


def test_fit_ends_within_the_budget_on_a_panel():
    budget = 4.0
    frame = synthetic_panel(n_series=50, length=144, season=12, seed=0)
    model = Forecaster("y", "date", 12, id_column="series", time_budget_s=budget, engine="local")
    model.verbose = 0
    start = time.time()
    model.fit(frame)
    fit_s = time.time() - start
    assert fit_s <= 1.05 * budget, fit_s
    tick = time.time()
    out = model.predict()
    assert time.time() - tick < 0.05 * budget  # the training data's forecasts come from fit
    assert len(out) == 50 * 12 and np.all(np.isfinite(out["y"]))
    names = set(model.leaderboard()["model"])
    assert "seasonal_naive" in names and names & set(STATS_ORDER[1:])
