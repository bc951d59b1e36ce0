"""Forecasting AutoML (raysearch.automl.forecast) on generated series: no leakage, the
horizon's timestamps, many series, interval quantiles, input errors, better than naive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raysearch.automl import AutoML, DataError, Forecaster
from raysearch.automl.forecast.backtest import mase, mase_scale, run_backtest
from raysearch.automl.forecast.data import read_panel, synthetic_panel
from raysearch.automl.forecast.features import past, series_rows
from raysearch.automl.forecast.model import DEFAULT_CONFIG, GlobalModel, SeasonalNaive

H = 12
SMALL = {**DEFAULT_CONFIG, "n_estimators": 15}


def seasonal_trend(n: int = 156, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 200 + 1.5 * t + 30 * np.sin(2 * np.pi * t / 12) + 10 * np.cos(4 * np.pi * t / 12)
    y = y + rng.normal(0, 3, n)
    return pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})


@pytest.fixture(scope="module")
def single():
    """A forecaster fitted on all but the last H values of one seasonal series with trend."""
    frame = seasonal_trend()
    model = Forecaster("y", "date", H, time_budget_s=6, engine="local", verbose=0)
    return model.fit(frame.iloc[:-H]), frame


@pytest.fixture(scope="module")
def many():
    frame = synthetic_panel(n_series=6, length=90, season=12, seed=1)
    model = AutoML("y", task="forecast", time_column="date", id_column="series", horizon=6)
    model.time_budget_s = model.forecaster.time_budget_s = 5.0
    model.forecaster.engine = "local"  # no Ray start-up in a short test
    model.forecaster.verbose = 0
    return model.fit(frame), frame


# ---------------------------------------------------------------- no leakage
def test_a_feature_cannot_read_after_its_origin():
    z = np.arange(10.0)
    assert past(z, np.array([5]), 2)[0] == 3.0
    with pytest.raises(ValueError, match="at or before its origin"):
        past(z, np.array([5]), -1)


def test_features_ignore_values_after_the_origin():
    z = np.sin(np.arange(60) / 3.0) + np.arange(60) * 0.1
    t = np.repeat(np.arange(20, 40), 3)
    h = np.tile([1, 5, 13], 20)
    times = pd.date_range("2000-01-01", periods=80, freq="MS")[t + h]
    feats, b, s = series_rows(z, t, h, 12, DEFAULT_CONFIG, times, "MS")
    planted = z.copy()
    planted[41:] = 1e6  # the future of every origin (t <= 39) is replaced
    feats2, b2, s2 = series_rows(planted, t, h, 12, DEFAULT_CONFIG, times, "MS")
    for name in feats:
        np.testing.assert_array_equal(feats[name], feats2[name], err_msg=name)
    np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(s, s2)


def test_backtest_forecasts_ignore_values_after_their_cutoff():
    frame = seasonal_trend(120)
    panel = read_panel(frame, "y", "date", None)
    planted = read_panel(frame, "y", "date", None)
    n = len(panel.values[0])
    planted.values[0][n - H + 3] = 1e9  # after every window's cutoff (the latest is n - H)
    planted.values[0][n - 2 * H + 1] = -1e9  # after the older window's cutoff only

    def make():
        return GlobalModel(SMALL, H, 12)

    a = run_backtest(panel, make, H, 2, 12)
    b = run_backtest(planted, make, H, 2, 12)
    np.testing.assert_array_equal(a.preds[0], b.preds[0])  # the window before both values
    assert not np.array_equal(a.preds[1], b.preds[1])  # the latest window learnt from -1e9
    assert not np.array_equal(a.actuals, b.actuals)  # the planted values are only scored


# ---------------------------------------------------------------- predictions
def test_predict_returns_the_next_horizon_timestamps(single):
    model, frame = single
    out = model.predict()
    assert list(out.columns) == ["date", "y", "q0.1", "q0.5", "q0.9"]
    expected = pd.date_range(frame["date"].iloc[-H], periods=H, freq="MS")
    assert list(out["date"]) == list(expected)


def test_numeric_time_column_steps_by_its_interval():
    rng = np.random.default_rng(3)
    years = np.arange(1900.0, 1980.0)
    y = 50 + 20 * np.sin(np.arange(80) / 2.0) + rng.normal(0, 1, 80)
    model = Forecaster("y", "year", 5, time_budget_s=2, engine="local", verbose=0)
    out = model.fit(pd.DataFrame({"year": years, "y": y})).predict()
    np.testing.assert_allclose(out["year"], [1980.0, 1981.0, 1982.0, 1983.0, 1984.0])
    assert model.m_ == 1


def test_quantiles_are_ordered_and_bracket_the_forecast(single):
    model, _ = single
    out = model.predict()
    assert np.all(out["q0.1"] <= out["q0.5"]) and np.all(out["q0.5"] <= out["q0.9"])
    assert np.all(out["q0.9"] > out["q0.1"])  # intervals have width
    inside = (out["q0.1"] <= out["y"]) & (out["y"] <= out["q0.9"])
    assert inside.mean() >= 0.75


def test_beats_seasonal_naive_on_a_seasonal_series_with_trend(single):
    model, frame = single
    train, test = frame.iloc[:-H], frame.iloc[-H:]
    scale = mase_scale(train["y"].to_numpy(), 12)
    ours = mase(test["y"].to_numpy(), model.predict()["y"].to_numpy(), scale)
    panel = read_panel(train, "y", "date", None)
    naive = mase(test["y"].to_numpy(), SeasonalNaive(H, 12).forecast(panel)[0], scale)
    assert ours < 0.7 * naive, (ours, naive)
    assert model.backtest_mase_ < 1.0
    board = model.leaderboard()
    assert "seasonal_naive" in set(board["model"]) and board["mase"].is_monotonic_increasing


def test_many_series_through_automl(many):
    model, frame = many
    out = model.predict()
    assert len(out) == 6 * 6
    assert set(out["series"]) == set(frame["series"])
    for key, group in out.groupby("series"):
        last = frame.loc[frame["series"] == key, "date"].max()
        assert list(group["date"]) == list(pd.date_range(last, periods=7, freq="MS")[1:])
    assert np.all(np.isfinite(out["y"]))
    assert len(model.leaderboard()) >= 2


def test_predict_from_new_histories_and_new_series(many):
    model, frame = many
    one = frame[frame["series"] == "s000"].copy()
    one["series"] = "new"  # an unseen id: the model is global
    out = model.predict(one.iloc[:-3])
    assert list(out["series"].unique()) == ["new"] and len(out) == 6
    assert out["date"].iloc[0] == one["date"].iloc[-3]


# ---------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "forecast", "horizon": 3}, "needs time_column"),
        ({"task": "forecast", "time_column": "date"}, "needs horizon"),
        ({"task": "forecast", "time_column": "date", "horizon": 0}, "positive integer"),
        ({"task": "forecast", "time_column": "date", "horizon": 2.5}, "positive integer"),
        ({"task": "forcast", "time_column": "date", "horizon": 3}, "task must be"),
        ({"time_column": "date", "horizon": 3}, "task='forecast'"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AutoML("y", **kwargs)


def test_bad_tables_are_explained():
    frame = seasonal_trend(60)
    f = Forecaster("y", "date", 6, time_budget_s=1, engine="local", verbose=0)
    with pytest.raises(DataError, match="not a column"):
        Forecaster("sales", "date", 6, engine="local").fit(frame)
    with pytest.raises(DataError, match="must be numeric"):
        f.fit(frame.assign(y=frame["y"].astype(str)))
    with pytest.raises(DataError, match="duplicate times"):
        f.fit(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(DataError, match="frequency"):
        f.fit(frame.drop(index=[5, 17, 30]))
    with pytest.raises(DataError, match="shortest series"):
        f.fit(frame.iloc[:20])
    with pytest.raises(RuntimeError, match="not fitted"):
        f.predict()


# ---------------------------------------------------------------- the benchmark's scoring
def test_bench_scores_seasonal_naive_on_the_generated_panel():
    from raysearch.bench.forecast import run_one, summarize

    row = run_one("seasonal_naive", "panel", budget=1.0, seed=0)
    assert 0.3 < row["mase"] < 3.0 and 0 < row["smape"] < 100
    rows = [
        {"system": s, "series": n, "mase": v}
        for n, values in {"a": (1.0, 0.8, 0.7), "b": (1.0, 0.5, 0.6)}.items()
        for s, v in zip(("seasonal_naive", "AutoETS", "raysearch"), values)
    ]
    table, lines = summarize(rows)
    assert [r.get("beats naive+stats") for r in table[:2]] == ["yes", "no"]
    assert lines[0].startswith("raysearch beats seasonal naive and statsforecast's best on 1 of 2")
    # a run of the peers alone (e.g. --systems autogluon) claims no count for raysearch
    _, lines = summarize([r for r in rows if r["system"] != "raysearch"])
    assert not any(line.startswith("raysearch") for line in lines)


def test_local_baselines_follow_a_clean_seasonal_trend():
    from raysearch.automl.forecast.stats import holt_winters, seasonal_drift, theta_forecast

    t = np.arange(96 + H)
    y = np.exp(0.01 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * 100
    history, future = y[:-H], y[-H:]
    np.testing.assert_allclose(seasonal_drift(history, H, 12), future, rtol=1e-9)
    assert np.max(np.abs(holt_winters(history, H, 12) / future - 1)) < 0.05  # naive: 0.12
    assert np.max(np.abs(theta_forecast(history, H, 12) / future - 1)) < 0.1
