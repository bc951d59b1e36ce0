"""The forecaster's search on a real local Ray: trials run as Tune trials and their backtest
forecasts come back through AutoML's artifact store."""

from __future__ import annotations

import numpy as np
import pytest

from raysearch.automl import Forecaster
from raysearch.automl.forecast.data import synthetic_panel

pytestmark = [pytest.mark.ray, pytest.mark.slow]  # worker start-up: ~30 s on a busy machine


def test_search_on_ray(ray_local):
    frame = synthetic_panel(n_series=4, length=80, season=12, seed=2)
    model = Forecaster(
        "y", "date", 6, id_column="series", time_budget_s=30, engine="ray", verbose=0
    )
    model.fit(frame)
    board = model.leaderboard()
    print(board[["model", "mase", "weight"]])
    trials = board[board["model"].str.startswith("lightgbm_")]
    assert len(trials) >= 1 and np.all(np.isfinite(trials["mase"]))
    assert {"seasonal_naive", "theta", "seasonal_drift"} <= set(board["model"])
    out = model.predict()
    assert len(out) == 4 * 6 and np.all(np.isfinite(out["y"]))
    assert model.fit_time_s_ < 30 * 1.2, model.fit_time_s_
