"""A fitted forecaster saved with ``AutoML.save`` and loaded in a fresh process forecasts the
same values; per-series ensemble weights and the added local models."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from raysearch.automl import AutoML
from raysearch.automl.forecast.backtest import Backtest
from raysearch.automl.forecast.combine import blend_series, series_weights
from raysearch.automl.forecast.data import synthetic_panel
from raysearch.automl.forecast.local import auto_ar, auto_ets, comb

LOAD_AND_PREDICT = """
import sys
from raysearch.automl import AutoML
model = AutoML.load(sys.argv[1])
model.predict().to_csv(sys.argv[2], index=False)
"""


def test_saved_forecaster_predicts_the_same_in_a_fresh_process(tmp_path):
    frame = synthetic_panel(n_series=4, length=80, season=12, seed=3)
    model = AutoML("y", task="forecast", time_column="date", id_column="series", horizon=6)
    model.time_budget_s = model.forecaster.time_budget_s = 4.0
    model.forecaster.engine = "local"  # no Ray start-up in a short test
    model.forecaster.verbose = 0
    model.fit(frame)
    expected = model.predict()
    model.save(tmp_path / "model")
    info = json.loads((tmp_path / "model" / "info.json").read_text())
    assert info["problem_type"] == "forecast" and info["horizon"] == 6
    out = tmp_path / "pred.csv"
    subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, str(tmp_path / "model"), str(out)],
        check=True,
        timeout=120,
    )
    got = pd.read_csv(out, parse_dates=["date"])
    assert list(got.columns) == list(expected.columns)
    assert (got["series"].astype(str) == expected["series"].astype(str)).all()
    assert (got["date"] == expected["date"]).all()
    np.testing.assert_allclose(got["y"], expected["y"], rtol=1e-9)
    np.testing.assert_allclose(got["q0.9"], expected["q0.9"], rtol=1e-9)


def test_each_series_gets_the_model_its_backtests_prefer():
    rng = np.random.default_rng(0)
    actuals = rng.normal(size=(6, 2, 4))
    # model "a" is exact on series 0, "b" on series 1; the other is far off
    a = actuals + np.array([0.0, 3.0])[None, :, None]
    b = actuals + np.array([3.0, 0.0])[None, :, None]
    bt = Backtest(a, actuals, np.ones((6, 2)))
    names, w = series_weights({"a": a, "b": b}, bt, {"a": 0.5, "b": 0.5})
    assert names == ["a", "b"]
    assert w[0, 0] > 0.7 and w[1, 1] > 0.7  # shrunk toward 0.5, not to it
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    blended = blend_series({"a": a, "b": b}, names, w)
    assert bt.mase(blended) < bt.mase(0.5 * (a + b))


def test_local_models_follow_what_they_are_built_for():
    t = np.arange(120)
    season = 10 * np.sin(2 * np.pi * t / 12)
    trend = 100 + 0.5 * t + season
    h = np.arange(120, 132)
    truth = 100 + 0.5 * h + 10 * np.sin(2 * np.pi * h / 12)
    assert np.max(np.abs(auto_ets(trend, 12, 12) - truth)) < 1.0
    # comb's multiplicative seasonal indices only approximate an additive season
    assert np.max(np.abs(comb(trend, 12, 12) - truth)) < 5.0
    # an AR(2) cycle (period ~ 11 steps, like sunspots): the autoregression carries it on
    rng = np.random.default_rng(1)
    y = np.zeros(300)
    for i in range(2, 300):
        y[i] = 1.6 * y[i - 1] - 0.9 * y[i - 2] + rng.normal(0, 0.1)
    y += 50
    cut = 201 + int(np.argmax(np.abs(y[200:280] - 50)))  # forecast from a swing's peak
    fc = auto_ar(y[:cut], 10, 1)
    oracle = list(y[:cut] - 50)  # the true process's expected path
    for _ in range(10):
        oracle.append(1.6 * oracle[-1] - 0.9 * oracle[-2])
    expected = np.array(oracle[-10:]) + 50
    error = np.mean(np.abs(fc - expected))
    assert error < 0.3 * np.mean(np.abs(y[cut - 1] - expected))  # better than naive
    assert error < 0.3 * np.mean(np.abs(np.mean(y[:cut]) - expected))  # and than the mean


def test_refits_build_the_model_each_configuration_names():
    from raysearch.automl.forecast.local import LOCAL_MODELS, Local
    from raysearch.automl.forecast.model import make_model

    for name in LOCAL_MODELS:
        model = make_model({"model": name}, 6, 12)
        assert isinstance(model, Local) and model.config["model"] == name
    with pytest.raises(ValueError, match="unknown forecasting model"):
        make_model({"model": "prophet"}, 6, 12)


def test_a_searched_model_enters_only_with_an_edge_beyond_the_search_optimism():
    from raysearch.automl.forecast.combine import shrink_to_simple

    rng = np.random.default_rng(2)
    actuals = rng.normal(size=(8, 1, 6))
    simple = actuals + rng.normal(0, 1.0, size=actuals.shape)
    bt = Backtest(simple, actuals, np.ones((8, 1)))
    # as good as the simple ensemble give or take noise: the best of 30 trials stays out
    lucky = actuals + rng.normal(0, 0.97, size=actuals.shape)
    assert shrink_to_simple(simple, lucky, bt, n_trials=30) < 0.5
    # clearly better on every window: it takes most of the weight
    better = actuals + rng.normal(0, 0.2, size=actuals.shape)
    assert shrink_to_simple(simple, better, bt, n_trials=30) >= 0.7
    assert shrink_to_simple(simple, None, bt, n_trials=30) == 0.0
