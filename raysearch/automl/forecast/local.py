"""More local models, each fitted to one series on its own: automatic exponential smoothing
(ETS with AICc selection), an automatic (seasonal) autoregression, a seasonal ARIMA and
the M4 ``comb``.

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
* :func:`auto_arima`: seasonal ARIMA ``(p, d, q)(P, D, Q)_m``: the differences as
  :func:`auto_ar` takes them, then the few orders of :data:`ARIMA_ORDERS` (``p + q <= 2``,
  ``P + Q <= 1``; the airline model ``(0,1,1)(0,1,1)`` among them, Box and Jenkins) fitted
  by conditional least squares (scipy), the one with the least AICc (as Hyndman and
  Khandakar's auto.arima chooses, over a smaller set of orders).
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

__all__ = ["auto_ets", "auto_ar", "auto_arima", "comb", "Local", "LOCAL_MODELS", "ARIMA_ORDERS"]


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


#: (p, q, P, Q) orders :func:`auto_arima` tries (P, Q only with a seasonal difference)
ARIMA_ORDERS = (
    (0, 1, 0, 1),  # the airline model with d = D = 1 (Box and Jenkins)
    (1, 0, 0, 1),
    (1, 1, 0, 1),
    (2, 0, 0, 1),
    (0, 1, 1, 0),
    (1, 0, 1, 0),
    (0, 0, 0, 1),
    (1, 0, 0, 0),
    (0, 1, 0, 0),
    (1, 1, 0, 0),
    (2, 0, 0, 0),
    (2, 1, 0, 0),
    (0, 2, 0, 0),
    (0, 0, 0, 0),
)


def _lag_poly(coefs: np.ndarray, lag: int, sign: float) -> np.ndarray:
    """``1 + sign * (c_1 B^lag + c_2 B^(2 lag) + ...)`` as coefficients of ``B^0, B^1..``."""
    out = np.zeros(len(coefs) * lag + 1)
    out[0] = 1.0
    out[lag::lag] = coefs
    if sign < 0:
        out[1:] = -out[1:]
    return out


def _arma_polys(theta: np.ndarray, order: tuple[int, ...], m: int, const: bool) -> Any:
    """The mean, AR polynomial ``phi(B) Phi(B^m)`` and MA polynomial ``theta(B) Theta(B^m)``."""
    p, q, big_p, big_q = order
    i = int(const)
    ar = _lag_poly(-theta[i : i + p], 1, 1)
    ma = _lag_poly(theta[i + p : i + p + q], 1, 1)
    if big_p:  # (1 - Phi B^m): P <= 1 here, but any P works
        ar = np.convolve(ar, _lag_poly(theta[i + p + q : i + p + q + big_p], m, -1))
    if big_q:
        ma = np.convolve(ma, _lag_poly(theta[i + p + q + big_p :], m, 1))
    return (float(theta[0]) if const else 0.0), ar, ma


def _css_fit(w: np.ndarray, order: tuple[int, ...], m: int, const: bool, skip: int) -> Any:
    """Conditional-sum-of-squares fit of one order: (SSE over ``w[skip:]``, parameters)."""
    from scipy.optimize import least_squares
    from scipy.signal import lfilter

    k = sum(order)
    lo = np.r_[[-np.inf] * int(const), [-0.98] * k]
    hi = np.r_[[np.inf] * int(const), [0.98] * k]
    x0 = np.r_[[float(np.mean(w))] * int(const), [0.1] * k]

    def resid(theta: np.ndarray) -> np.ndarray:
        mu, ar, ma = _arma_polys(theta, order, m, const)
        return np.asarray(lfilter(ar, ma, w - mu)[skip:])

    if k + int(const) == 0:
        r = resid(x0)
        return float(r @ r), x0
    fit = least_squares(resid, x0, bounds=(lo, hi), max_nfev=60)
    r = resid(fit.x)
    return float(r @ r), fit.x


def _arima_fit(z: np.ndarray, horizon: int, m: int) -> tuple[float, Any]:
    """Differences, orders and fit of :func:`auto_arima` on ``z``: (``-2 log`` likelihood
    + AICc penalty over the residuals counted, the positions of ``z`` they belong to, the
    forecast of ``z``)."""
    from scipy.signal import lfilter

    seasonal = m > 1 and len(z) >= 4 * m and seasonal_test(z, m)
    w = z[m:] - z[:-m] if seasonal else z
    first = len(w) > 20 and _adf_unit_root(w)
    delta = np.convolve(_lag_poly(np.ones(int(seasonal)), m, -1), [1.0, -1.0] if first else [1.0])
    w = np.convolve(z, delta)[len(delta) - 1 : len(z)]
    const = int(seasonal) + int(first) <= 1
    skip = 2 + (m if seasonal else 0)
    n = len(w) - skip
    best: tuple[float, Any, Any] = (np.inf, None, None)
    for order in ARIMA_ORDERS:
        k = sum(order) + int(const) + 1
        if (not seasonal and order[2] + order[3]) or n - k - 1 <= 0:
            continue
        sse, theta = _css_fit(w, order, m, const, skip)
        aicc = n * np.log(max(sse, 1e-300) / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)
        if aicc < best[0]:
            best = (aicc, order, theta)
    if best[1] is None:
        return np.inf, np.full(horizon, z[-1])
    mu, ar, ma = _arma_polys(best[2], best[1], m, const)
    e = list(lfilter(ar, ma, w - mu))
    x = list(w - mu)
    for _ in range(horizon):
        x.append(-np.dot(ar[1:], x[: -len(ar) : -1]) + np.dot(ma[1:], e[: -len(ma) : -1]))
        e.append(0.0)
    zz = list(z)
    for v in np.array(x[len(w) :]) + mu:
        zz.append(v - np.dot(delta[1:], zz[: -len(delta) : -1]))
    return best[0], (n, np.array(zz[len(z) :]))


def auto_arima(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """Seasonal ARIMA: differences as :func:`auto_ar` takes them, then the orders of
    :data:`ARIMA_ORDERS` fitted by conditional least squares, the least AICc forecast; on
    ``y`` or (positive series) ``log y``, whichever has the least AICc on ``y``'s scale
    (the ``log`` fit's likelihood with its Jacobian, over the values both count)."""
    y = np.asarray(y, dtype=float)
    best: tuple[float, Any] = (np.inf, np.full(horizon, y[-1]))
    for use_log in (False, True) if np.all(y > 0) else (False,):
        crit, fit = _arima_fit(np.log(y) if use_log else y, horizon, m)
        if not np.isfinite(crit):
            continue
        n, out = fit
        crit += 2.0 * float(np.sum(np.log(y[len(y) - n :]))) if use_log else 0.0
        if crit < best[0]:
            best = (crit, np.exp(out) if use_log else out)
    return np.asarray(best[1])


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


LOCAL_MODELS = {
    "auto_ets": auto_ets,
    "auto_ar": auto_ar,
    "auto_arima": auto_arima,
    "comb": comb,
}


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
