"""More local models, each fitted to one series on its own: automatic exponential smoothing
(ETS with AICc selection), an automatic (seasonal) autoregression and the M4 ``comb``.

* :func:`auto_ets`: the additive-error ETS family (trend none / additive / damped, season
  none / additive) on raw and on ``log`` values (positive series: multiplicative in effect),
  the smoothing weights from a grid filtered all at once (one pass over the series), the
  initial states by least squares (the likelihood's optimum for given weights), the form
  with the least AICc (Hyndman et al., 2002; on the original scale: the ``log`` forms'
  likelihood carries the Jacobian ``sum(log y)``); see :mod:`.ets`.
* :func:`auto_ar`: ARIMA without moving-average terms: a seasonal difference when the
  autocorrelation at lag ``m`` is significant, a first difference when an augmented
  Dickey-Fuller test (5%) does not reject a unit root, then an AR(p) by least squares with
  ``p`` by AIC and a constant (drift) when at most one difference is taken; forecasts run
  recursively and the differences are undone.
* :func:`comb`: the M4 competition's ``comb`` benchmark (Makridakis et al., 2020): the mean
  of simple, Holt and damped exponential smoothing on the seasonally adjusted series,
  re-seasonalised.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from raysearch.automl.forecast.data import Panel
from raysearch.automl.forecast.ets import ets_forecast, ets_forecast_many
from raysearch.automl.forecast.stats import seasonal_adjustment, seasonal_indices, seasonal_test

__all__ = ["auto_ets", "auto_ar", "comb", "Local", "LOCAL_MODELS"]

_ALPHA = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9, 0.99)
_BETA = (0.0, 0.02, 0.08, 0.2)  # fraction of alpha (0: the initial slope stays)
_GAMMA = (0.0, 0.02, 0.1, 0.3)  # fraction of (1 - alpha) (0: the initial season stays)
_PHI = (0.85, 0.93, 0.98, 1.0)


def _grid(trend: bool, season: bool) -> np.ndarray:
    """Rows ``(alpha, beta, gamma, phi)`` of one ETS form."""
    betas = _BETA if trend else (0.0,)
    gammas = _GAMMA if season else (0.0,)
    phis = _PHI if trend else (0.0,)
    return np.array(
        [(a, a * b, (1 - a) * g, p) for a in _ALPHA for b in betas for g in gammas for p in phis]
    )


def _filter(z: np.ndarray, m: int, params: np.ndarray, trend: bool) -> tuple[Any, ...]:
    """Runs every parameter row over ``z``: one-step SSE and the final states."""
    alpha, beta, gamma, phi = params.T
    k = len(alpha)
    n = len(z)
    # initial states: seasonal indices of the whole history (classical decomposition), then
    # level and slope from a line through the first seasons' deseasonalised values
    idx = seasonal_indices(z, m, False) if m > 1 and n >= 2 * m + 1 else np.zeros(m)
    head = min(n, max(4 * m, 10))
    x = z[:head] - idx[np.arange(head) % m]
    slope, start = np.polyfit(np.arange(head), x, 1) if trend and head > 2 else (0.0, x.mean())
    level = np.full(k, float(start - slope))  # the level just before the first value
    slope_v = np.full(k, float(slope))
    seasonal = np.tile(idx, (k, 1))
    sse = np.zeros(k)
    for i in range(n):
        j = i % m
        fit = level + phi * slope_v + seasonal[:, j]
        err = z[i] - fit
        sse += err * err
        level = level + phi * slope_v + alpha * err
        slope_v = phi * slope_v + beta * err
        if m > 1:
            seasonal[:, j] += gamma * err
    return sse, level, slope_v, seasonal


def auto_ets(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The forecast of the ETS form (on raw or ``log`` values) with the least AICc, its
    smoothing weights from a grid and its initial states by least squares
    (:func:`.ets.ets_forecast`)."""
    return ets_forecast(np.asarray(y, dtype=float), horizon, m)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return coef, float(resid @ resid)


def _adf_unit_root(x: np.ndarray, lags: int = 2) -> bool:
    """Whether an augmented Dickey-Fuller test (constant, 5%: -2.86) keeps a unit root."""
    dx = np.diff(x)
    n = len(dx) - lags
    if n < 10:
        return True
    cols = [np.ones(n), x[lags:-1]] + [dx[lags - i : len(dx) - i] for i in range(1, lags + 1)]
    design = np.column_stack(cols)
    coef, sse = _ols(design, dx[lags:])
    sigma2 = sse / max(n - design.shape[1], 1)
    cov = sigma2 * np.linalg.pinv(design.T @ design)
    t_stat = coef[1] / np.sqrt(max(cov[1, 1], 1e-300))
    return bool(t_stat > -2.86)


def _ar_fit(w: np.ndarray, max_p: int, const: bool) -> np.ndarray:
    """Coefficients ``(c, a_1..a_p)`` of the AR(p), ``p <= max_p`` with the least AIC."""
    n = len(w) - max_p
    best: tuple[float, np.ndarray] = (np.inf, np.array([float(np.mean(w)) if const else 0.0]))
    for p in range(0, max_p + 1):
        cols = [np.ones(n) if const else np.zeros(n)]
        cols += [w[max_p - i : len(w) - i] for i in range(1, p + 1)]
        coef, sse = _ols(np.column_stack(cols), w[max_p:])
        aic = n * np.log(max(sse, 1e-300) / n) + 2 * (p + int(const))
        if aic < best[0]:
            best = (aic, coef)
    return best[1]


def auto_ar(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """(Seasonal) differences as tests say, then an AR(p) by AIC, forecast recursively."""
    y = np.asarray(y, dtype=float)
    use_log = bool(np.all(y > 0)) and float(y.max() / y.min()) > 1.5
    z = np.log(y) if use_log else y
    seasonal = m > 1 and len(z) >= 4 * m and seasonal_test(z, m)
    w = z[m:] - z[:-m] if seasonal else z
    first = len(w) > 20 and _adf_unit_root(w)
    w2 = np.diff(w) if first else w
    max_p = int(min(max(m + 1, 8) if m > 1 else 12, max(len(w2) // 5, 1)))
    coef = _ar_fit(w2, max_p, const=int(seasonal) + int(first) <= 1)
    p = len(coef) - 1
    hist = list(w2)
    for _ in range(horizon):
        hist.append(coef[0] + sum(coef[i] * hist[-i] for i in range(1, p + 1)))
    out_w2 = np.array(hist[len(w2) :])
    out_w = np.cumsum(out_w2) + w[-1] if first else out_w2
    if seasonal:
        full = list(z)
        for v in out_w:
            full.append(full[-m] + v)
        out = np.array(full[len(z) :])
    else:
        out = out_w
    return np.exp(out) if use_log else out


def comb(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """M4's ``comb``: mean of SES, Holt and damped Holt on the seasonally adjusted series."""
    x, reseason = seasonal_adjustment(np.asarray(y, dtype=float), m)
    h = np.arange(1, horizon + 1)
    forecasts = []
    for grid, trend in (
        (_grid(False, False), False),
        (_grid(True, False)[_grid(True, False)[:, 3] == 1.0], True),
        (_grid(True, False)[_grid(True, False)[:, 3] < 1.0], True),
    ):
        sse, level, slope, _ = _filter(x, 1, grid, trend)
        best = int(np.argmin(sse))
        damp = np.cumsum(grid[best, 3] ** h) if trend else np.zeros(horizon)
        forecasts.append(level[best] + damp * slope[best])
    return np.asarray(reseason(np.mean(forecasts, axis=0)))


LOCAL_MODELS = {"auto_ets": auto_ets, "auto_ar": auto_ar, "comb": comb}


class Local:
    """One of :data:`LOCAL_MODELS` on each series of a panel (nothing shared)."""

    def __init__(self, name: str, horizon: int, m: int) -> None:
        if name not in LOCAL_MODELS:
            raise ValueError(f"unknown local model {name!r}; known: {sorted(LOCAL_MODELS)}")
        self.horizon, self.m = horizon, m
        self.config: dict[str, Any] = {"model": name}

    def fit(self, panel: Panel, deadline: float | None = None) -> Local:
        return self

    def forecast(self, panel: Panel) -> np.ndarray:
        name = self.config["model"]
        if name == "auto_ets":  # every series filtered at once
            raw = list(ets_forecast_many(panel.values, self.horizon, self.m))
        else:
            raw = [LOCAL_MODELS[name](y, self.horizon, self.m) for y in panel.values]
        out = []
        for y, f in zip(panel.values, raw):
            f = np.asarray(f, dtype=float)
            span = float(np.ptp(y)) if len(y) else 0.0
            sane = np.all(np.isfinite(f)) and np.all(np.abs(f - y[-1]) <= 3 * span + 1e-9)
            out.append(f if sane else np.full(self.horizon, y[-1]))  # a diverging fit: naive
        return np.array(out)
