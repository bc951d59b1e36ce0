"""Local statistical models fitted to each series on its own: Theta, seasonal drift and
Holt-Winters (additive, damped trend; on log values for positive series).

Theta (Assimakopoulos & Nikolopoulos, 2000; the M3 competition's winner) in the form of
Hyndman & Billah (2003): simple exponential smoothing with drift equal to half the slope of
a linear trend, ``f(h) = l_n + b/2 * (h - 1 + 1/a - (1 - a)^n / a)``, on the seasonally
adjusted series (classical decomposition, multiplicative for positive series, used when the
autocorrelation at lag ``m`` is significant at 90%), re-seasonalised. The smoothing weight
``a`` minimises the one-step squared error.

Seasonal drift: seasonal naive plus the mean change from one season to the next over the
last season, once per season ahead (``f(h) = z[n - 1 - back] + k * d``, ``k = ceil(h / m)``,
``d`` the mean of ``z[j] - z[j - m]`` over the last ``m`` values; lag 1 and the last 8 values
when ``m = 1``), on ``log`` values for positive series (growth in percent).

All are candidates of the forecaster's ensemble next to seasonal naive and the global
model: strong on short, trending series where a tree model cannot extrapolate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.automl.forecast.data import Panel

__all__ = [
    "Theta",
    "SeasonalDrift",
    "HoltWinters",
    "theta_forecast",
    "seasonal_drift",
    "holt_winters",
    "seasonal_indices",
    "seasonal_test",
    "seasonal_adjustment",
]


def seasonal_test(y: np.ndarray, m: int) -> bool:
    """Whether the autocorrelation at lag ``m`` is significant (90%, Bartlett's bound)."""
    if m <= 1 or len(y) < 3 * m:
        return False
    x = y - y.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return False
    acf = np.array([np.dot(x[k:], x[:-k]) / denom for k in range(1, m + 1)])
    bound = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / len(y))
    return bool(abs(acf[-1]) > bound)


def seasonal_indices(y: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """The ``m`` seasonal indices of classical decomposition (index ``j``: positions
    ``j, j + m, ...`` of ``y``), normalised to mean 1 (multiplicative) or 0 (additive)."""
    kernel = np.ones(m + 1) / m if m % 2 == 0 else np.ones(m) / m
    if m % 2 == 0:
        kernel[0] = kernel[-1] = 0.5 / m
    trend = np.convolve(y, kernel, mode="valid")
    offset = (len(kernel) - 1) // 2
    detrended = y[offset : offset + len(trend)]
    detrended = detrended / trend if multiplicative else detrended - trend
    positions = (np.arange(len(trend)) + offset) % m
    idx = np.array([detrended[positions == j].mean() for j in range(m)])
    return idx / idx.mean() if multiplicative else idx - idx.mean()


def seasonal_adjustment(
    y: np.ndarray, m: int
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``y`` seasonally adjusted by classical decomposition (multiplicative when every value
    is positive) if :func:`seasonal_test` finds a season, else ``y``; and the function that
    puts the season back on forecasts of the steps after ``y``."""
    n = len(y)
    if not seasonal_test(y, m):
        return y, lambda out: out
    multiplicative = bool(np.all(y > 0))
    idx = seasonal_indices(y, m, multiplicative)
    season = idx[np.arange(n) % m]

    def reseason(out: np.ndarray) -> np.ndarray:
        future = idx[(n + np.arange(len(out))) % m]
        return out * future if multiplicative else out + future

    return (y / season if multiplicative else y - season), reseason


def _ses(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """Final level and one-step squared error of simple exponential smoothing."""
    level, sse = x[0], 0.0
    for v in x[1:]:
        err = v - level
        sse += err * err
        level += alpha * err
    return float(level), sse


def theta_forecast(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The Theta method's next ``horizon`` values of ``y``."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(y, dtype=float)
    n = len(y)
    x, reseason = seasonal_adjustment(y, m)
    if n < 3:
        return np.full(horizon, x[-1])
    best = minimize_scalar(lambda a: _ses(x, a)[1], bounds=(0.01, 0.99), method="bounded")
    alpha = float(best.x)
    level = _ses(x, alpha)[0]
    slope = float(np.polyfit(np.arange(n), x, 1)[0])
    h = np.arange(1, horizon + 1)
    out = level + slope / 2 * (h - 1 + 1 / alpha - (1 - alpha) ** n / alpha)
    return np.asarray(reseason(out))


class Theta:
    """The Theta method on each series of a panel (nothing shared across series)."""

    def __init__(self, horizon: int, m: int) -> None:
        self.horizon, self.m = horizon, m
        self.config: dict[str, Any] = {"model": "theta"}

    def fit(self, panel: Panel, deadline: float | None = None) -> Theta:
        return self  # each forecast fits its series' own smoothing

    def forecast(self, panel: Panel) -> np.ndarray:
        return np.array([theta_forecast(y, self.horizon, self.m) for y in panel.values])


def seasonal_drift(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """Seasonal naive with the last season's mean seasonal change added per season ahead."""
    y = np.asarray(y, dtype=float)
    use_log = bool(np.all(y > 0))
    z = np.log(y) if use_log else y
    n = len(z)
    lag = m if n > 2 * m else 1
    window = min(n - lag, m if lag > 1 else 8)
    d = float(np.mean(z[n - window :] - z[n - window - lag : n - lag])) if window > 0 else 0.0
    h = np.arange(1, horizon + 1)
    k = np.ceil(h / lag).astype(int)
    out = z[n - 1 - (lag * k - h)] + k * d
    return np.exp(out) if use_log else out


class SeasonalDrift:
    """:func:`seasonal_drift` on each series of a panel."""

    def __init__(self, horizon: int, m: int) -> None:
        self.horizon, self.m = horizon, m
        self.config: dict[str, Any] = {"model": "seasonal_drift"}

    def fit(self, panel: Panel, deadline: float | None = None) -> SeasonalDrift:
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        return np.array([seasonal_drift(y, self.horizon, self.m) for y in panel.values])


#: the smoothing grid of :func:`holt_winters` (every combination is run at once)
_GRID = np.array(
    [
        (a, b, g, p)
        for a in (0.1, 0.3, 0.6, 0.9)
        for b in (0.01, 0.1)
        for g in (0.05, 0.2, 0.5)
        for p in (0.9, 0.98)
    ]
).T


def holt_winters(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """Additive Holt-Winters with a damped trend (ETS(A,Ad,A)) on ``log`` values for positive
    series; the smoothing weights are the grid point with the least one-step squared error
    (all grid points are filtered together, one pass over the series)."""
    y = np.asarray(y, dtype=float)
    use_log = bool(np.all(y > 0))
    z = np.log(y) if use_log else y
    season = m if m > 1 and len(z) >= 2 * m + 2 else 1
    alpha, beta, gamma, phi = _GRID
    k = alpha.shape[0]
    level = np.full(k, z[:season].mean())
    trend = np.full(k, (z[season : 2 * season].mean() - z[:season].mean()) / season)
    seasonal = np.tile(z[:season] - z[:season].mean(), (k, 1)) if season > 1 else np.zeros((k, 1))
    sse = np.zeros(k)
    for i in range(season, len(z)):
        j = i % season
        fit = level + phi * trend + seasonal[:, j]
        err = z[i] - fit
        sse += err * err
        new_level = level + phi * trend + alpha * err
        trend = phi * trend + beta * alpha * err
        level = new_level
        if season > 1:
            seasonal[:, j] += gamma * (1 - alpha) * err
    best = int(np.argmin(sse))
    h = np.arange(1, horizon + 1)
    damp = np.cumsum(phi[best] ** h)
    out = level[best] + damp * trend[best] + seasonal[best, (len(z) + h - 1) % season]
    return np.exp(out) if use_log else out


class HoltWinters:
    """:func:`holt_winters` on each series of a panel."""

    def __init__(self, horizon: int, m: int) -> None:
        self.horizon, self.m = horizon, m
        self.config: dict[str, Any] = {"model": "holt_winters"}

    def fit(self, panel: Panel, deadline: float | None = None) -> HoltWinters:
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        return np.array([holt_winters(y, self.horizon, self.m) for y in panel.values])
