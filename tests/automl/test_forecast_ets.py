"""The additive ETS with least-squares initial states (raysearch.automl.forecast.ets)."""

from __future__ import annotations

import numpy as np

from raysearch.automl.forecast import ets


def _simulate(n: int, alpha: float, beta: float, gamma: float, seed: int) -> np.ndarray:
    """An ETS(A,A,A) series (m = 12) with a known start state."""
    rng = np.random.default_rng(seed)
    level, slope = 200.0, 0.8
    season = list(15 * np.sin(2 * np.pi * np.arange(12) / 12))
    out = []
    for i in range(n):
        err = rng.normal(0, 2.0)
        fit = level + slope + season[i % 12]
        out.append(fit + err)
        level += slope + alpha * err
        slope += beta * err
        season[i % 12] += gamma * err
    return np.array(out)


def test_noise_free_trend_and_season_are_continued_exactly():
    t = np.arange(100)
    y = 50 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12) + 2 * np.cos(4 * np.pi * t / 12)
    h = np.arange(100, 112)
    truth = 50 + 0.3 * h + 5 * np.sin(2 * np.pi * h / 12) + 2 * np.cos(4 * np.pi * h / 12)
    # the initial states are solved for, so no heuristic start leaves an error behind
    np.testing.assert_allclose(ets.ets_forecast(y, 12, 12), truth, atol=1e-5)


def test_least_squares_states_beat_any_other_start():
    y = _simulate(96, 0.3, 0.02, 0.1, seed=3)
    grid = ets.ets_grid("A", True)
    errs, _ = ets._run(y[:, None], 12, grid, np.zeros((1, 14)))
    d, gram, used = ets._basis(len(y), 12, "A", True)
    x0, resid = ets._least_squares(errs[:, :, 0].T[None], d, gram)
    x0, resid = x0[0], resid[0]
    k = int(np.argmin(np.sum(resid**2, axis=1)))
    # the residuals are those of the recursion started from the solved state
    state = np.zeros((1, 14))
    state[0, used] = x0[k]
    direct, _ = ets._run(y[:, None], 12, grid[k : k + 1], state)
    np.testing.assert_allclose(direct[:, 0, 0], resid[k], atol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(5):  # any other start fits worse
        other = state + np.concatenate([[0.0, 0.0], rng.normal(0, 1, 12)]) * (np.arange(14) != 1)
        worse, _ = ets._run(y[:, None], 12, grid[k : k + 1], other)
        assert np.sum(worse**2) > np.sum(resid[k] ** 2)


def test_forecast_beats_seasonal_naive_on_simulated_ets_and_is_deterministic():
    gains = []
    for seed in range(4):
        full = _simulate(108, 0.2, 0.01, 0.05, seed)
        y, future = full[:96], full[96:]
        f = ets.ets_forecast(y, 12, 12)
        assert np.array_equal(f, ets.ets_forecast(y.copy(), 12, 12))
        gains.append(np.mean(np.abs(future - y[-12:])) - np.mean(np.abs(future - f)))
    assert np.mean(gains) > 0


def test_basis_of_a_longer_series_serves_a_shorter_one():
    y = _simulate(60, 0.3, 0.02, 0.1, seed=5)
    ets._BASIS.clear()
    short = ets.ets_forecast(y, 6, 12)
    ets.ets_forecast(_simulate(300, 0.3, 0.02, 0.1, seed=6), 6, 12)  # basis grows to 300
    np.testing.assert_allclose(ets.ets_forecast(y, 6, 12), short, rtol=1e-9)


def test_multiplicative_season_is_found_on_positive_series():
    t = np.arange(120)
    y = (100 + 2 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    h = np.arange(120, 132)
    truth = (100 + 2 * h) * (1 + 0.3 * np.sin(2 * np.pi * h / 12))
    f = ets.ets_forecast(y, 12, 12)
    assert np.mean(np.abs(f - truth)) < 0.25 * np.mean(np.abs(truth - y[-12:]))
    # short or flat series still give finite forecasts
    assert np.all(np.isfinite(ets.ets_forecast(np.array([3.0, 4.0, 5.0]), 4, 12)))
    assert np.all(np.isfinite(ets.ets_forecast(np.full(40, 7.0), 4, 12)))


def test_a_panel_filtered_at_once_equals_each_series_alone():
    # series of different lengths share one zero-padded pass: the same forecasts as alone
    values = [_simulate(n, 0.3, 0.02, 0.1, seed=n) for n in (40, 97, 120)]
    values.append(-values[0])  # not positive: no log forms
    together = ets.ets_forecast_many(values, 6, 12)
    for v, f in zip(values, together):
        np.testing.assert_allclose(f, ets.ets_forecast(v, 6, 12), rtol=1e-7, atol=1e-7)
