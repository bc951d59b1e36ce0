"""The seasonal ARIMA of raysearch.automl.forecast.local (conditional least squares, AICc)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from raysearch.automl.forecast import local
from raysearch.automl.forecast.backtest import mase, mase_scale


def _airline(n: int, theta: float, big_theta: float, seed: int) -> np.ndarray:
    """``(1 - B)(1 - B^12) z = (1 + theta B)(1 + big_theta B^12) e`` plus 100."""
    rng = np.random.default_rng(seed)
    w = lfilter(
        local._arma_polys(np.array([theta, big_theta]), (0, 1, 0, 1), 12, False)[2],
        1.0,
        rng.normal(0, 1, n + 40),
    )
    z = np.cumsum(w)
    x = np.zeros_like(z)
    for i in range(len(z)):
        x[i] = (x[i - 12] if i >= 12 else 0.0) + z[i]
    return x[-n:] + 100.0


def test_polynomials_multiply_the_seasonal_parts():
    mu, ar, ma = local._arma_polys(np.array([5.0, 0.5, 0.3, 0.2]), (1, 1, 1, 0), 4, True)
    assert mu == 5.0
    np.testing.assert_allclose(ar, [1, -0.5, 0, 0, -0.2, 0.1])  # (1 - .5B)(1 - .2B^4)
    np.testing.assert_allclose(ma, [1, 0.3])


def test_noise_free_trend_and_season_are_continued():
    t = np.arange(100)
    y = 50 + 0.3 * t + 5 * np.sin(2 * np.pi * t / 12)
    h = np.arange(100, 112)
    truth = 50 + 0.3 * h + 5 * np.sin(2 * np.pi * h / 12)
    np.testing.assert_allclose(local.auto_arima(y, 12, 12), truth, atol=0.05)


def test_css_recovers_the_airline_model_and_beats_seasonal_naive():
    ratios = []
    for seed in range(4):
        y = _airline(156, -0.4, -0.6, seed)
        train, test = y[:144], y[144:]
        d = np.convolve([1.0, -1.0], local._lag_poly(np.ones(1), 12, -1))
        w = np.convolve(train, d)[len(d) - 1 : len(train)]
        _, theta = local._css_fit(w, (0, 1, 0, 1), 12, False, 14)
        np.testing.assert_allclose(theta, [-0.4, -0.6], atol=0.25)
        scale = mase_scale(train, 12)
        ratios.append(
            mase(test, local.auto_arima(train, 12, 12), scale) / mase(test, train[-12:], scale)
        )
    assert np.mean(ratios) < 0.9, ratios
