"""Backtest windows of a short series: closer (overlapping) cutoffs instead of few windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from raysearch.automl.forecast.backtest import run_backtest, window_plan
from raysearch.automl.forecast.data import read_panel
from raysearch.automl.forecast.forecaster import Forecaster
from raysearch.automl.forecast.model import SeasonalNaive


def test_window_plan():
    assert window_plan(200, 12, 8) == (8, 12)  # room enough: windows H apart
    assert window_plan(36, 12, 8) == (8, 3)  # USAccDeaths-like: 8 cutoffs 3 steps apart
    assert window_plan(20, 12, 8) == (1, 12)  # under two horizons: what fits
    assert window_plan(5, 12, 8)[0] == 0  # nothing fits (the forecaster explains)
    for room in range(24, 120):
        windows, stride = window_plan(room, 12, 8)
        assert 1 <= windows <= 8 and 1 <= stride <= 12
        assert 12 + (windows - 1) * stride <= room  # the oldest cutoff keeps its history


def test_strided_windows_score_the_values_after_each_cutoff_only():
    t = np.arange(60)
    y = 100 + t + 10 * np.sin(2 * np.pi * t / 12)
    frame = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=60, freq="MS"), "y": y})
    panel = read_panel(frame, "y", "date", None)
    bt = run_backtest(panel, lambda: SeasonalNaive(12, 12), 12, 4, 12, stride=3)
    for w, back in enumerate((21, 18, 15, 12)):  # oldest first
        np.testing.assert_array_equal(bt.actuals[w, 0], y[60 - back : 72 - back])
        np.testing.assert_array_equal(bt.preds[w, 0], y[48 - back : 60 - back])  # last season
    planted = read_panel(frame, "y", "date", None)
    planted.values[0][44] = 1e9  # after the cutoffs 39 and 42, before 45 and 48
    late = run_backtest(planted, lambda: SeasonalNaive(12, 12), 12, 4, 12, stride=3)
    np.testing.assert_array_equal(late.preds[:2], bt.preds[:2])
    assert all(not np.array_equal(late.preds[w], bt.preds[w]) for w in (2, 3))
    fitted = Forecaster("y", "date", 12, time_budget_s=2, engine="local", verbose=0).fit(frame)
    assert (fitted.n_windows_, fitted.stride_) == (8, 3)  # room 60 - 24: 8 windows, not 3
