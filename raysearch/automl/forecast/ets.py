"""Additive ETS with maximum-likelihood initial states, for a grid of smoothing weights.

For an additive-error ETS (trend none / additive / damped, season none / additive) with
given smoothing weights ``(alpha, beta, gamma, phi)`` the one-step errors are affine in the
initial state ``x0`` (level, slope, the ``m`` seasonal values): ``e = c + D x0`` where ``c``
are the errors from ``x0 = 0`` and column ``j`` of ``D`` the errors of a zero series from the
unit state ``x0 = u_j``. The Gaussian likelihood's best ``x0`` is then a least-squares
solution (Hyndman et al., 2008, ch. 5, optimise it with the weights by Nelder-Mead; here it
is exact for each grid point). ``c`` of every grid point, every form, ``y`` and ``log y``
(positive series; the likelihood on ``y``'s scale carries the Jacobian) and up to
:data:`CHUNK` series comes from one pass; ``D`` and its Gram matrices do not depend on the
series, so they are computed once per form and reused (a panel's series, backtest windows).
The form with the least AICc gives the forecast. Smoothing weights within the usual bounds
(``beta <= alpha``, ``gamma <= 1 - alpha``, ``0.8 <= phi <= 0.98``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["ets_forecast", "ets_forecast_many", "ets_grid", "FORMS", "CHUNK"]

#: series filtered together by :func:`ets_forecast_many`
CHUNK = 16

_ALPHA = (0.001, 0.02, 0.05, 0.1, 0.16, 0.25, 0.35, 0.5, 0.65, 0.8, 0.95)
_BETA = (0.0, 0.05, 0.2)  # fraction of alpha
_GAMMA = (0.0, 0.03, 0.1, 0.3, 0.6, 0.95)  # fraction of (1 - alpha)
_PHI = (0.8, 0.9, 0.98)  # damped forms (Hyndman's range 0.8-0.98)


def ets_grid(trend: str, season: bool) -> np.ndarray:
    """Rows ``(alpha, beta, gamma, phi)`` of a form; ``trend`` is "N", "A" or "Ad"."""
    betas = _BETA if trend != "N" else (0.0,)
    gammas = _GAMMA if season else (0.0,)
    phis = _PHI if trend == "Ad" else ((1.0,) if trend == "A" else (0.0,))
    rows = [
        (a, a * b, (1 - a) * g, p) for a in _ALPHA for b in betas for g in gammas for p in phis
    ]
    return np.array(rows)


#: (trend, season) of the additive forms
FORMS = (("N", False), ("A", False), ("Ad", False), ("N", True), ("A", True), ("Ad", True))


def _run(y: np.ndarray, m: int, params: np.ndarray, state0: np.ndarray) -> tuple[Any, Any]:
    """Filters the rows ``(K, B)``: ``K`` weights ``params``, ``B`` columns of ``y``
    ``(n, B)`` each from its start state ``state0`` ``(B, 2 + m)`` (level, slope, the ``m``
    seasonal values). Returns the errors ``(n, K, B)`` and the final states ``(K, B, 2 +
    m)``."""
    alpha, beta, gamma, phi = (params[:, i : i + 1] for i in range(4))
    k, b = len(params), len(state0)
    level = np.broadcast_to(state0[:, 0], (k, b)).copy()
    slope = np.broadcast_to(state0[:, 1], (k, b)).copy()
    seas = np.broadcast_to(state0[:, 2:], (k, b, m)).copy()
    errs = np.empty((len(y), k, b))
    for i, v in enumerate(y):
        j = i % m
        trend = phi * slope
        err = v - level - trend - seas[:, :, j]
        errs[i] = err
        level += trend + alpha * err
        slope = trend + beta * err
        seas[:, :, j] += gamma * err
    return errs, np.concatenate([level[:, :, None], slope[:, :, None], seas], axis=2)


_BASIS: dict[tuple[int, str, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_STRIDE = 16  # the basis keeps its Gram matrices every this many steps


def _basis(n: int, m: int, trend: str, season: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Errors ``(K, n, p)`` of a zero series from each unit initial state of a form (``p``
    = 1 + slope + ``m`` seasons), their Gram matrices ``(K, p, p)`` and the state indices
    used. The errors of the longest series seen are kept, with their Gram matrices every
    :data:`_STRIDE` steps (they do not depend on the series: a shorter one uses the first
    ``n`` steps)."""
    key = (m, trend, season)
    if key not in _BASIS or _BASIS[key][0].shape[1] < n:
        states = [0] + ([1] if trend != "N" else []) + (list(range(2, 2 + m)) if season else [])
        length = max(n, 160)
        zeros = np.zeros((length, len(states)))
        errs, _ = _run(zeros, m, ets_grid(trend, season), np.eye(2 + m)[states])
        d = np.ascontiguousarray(np.moveaxis(errs, 0, 1))
        parts = [np.zeros((d.shape[0], len(states), len(states)))]
        for start in range(0, length - _STRIDE + 1, _STRIDE):
            block = d[:, start : start + _STRIDE]
            parts.append(parts[-1] + np.matmul(block.transpose(0, 2, 1), block))
        _BASIS[key] = (d, np.stack(parts), np.asarray(states))
    d, grams, used = _BASIS[key]
    j = n // _STRIDE
    rest = d[:, j * _STRIDE : n]
    return d[:, :n], grams[j] + np.matmul(rest.transpose(0, 2, 1), rest), used


def _least_squares(c: np.ndarray, d: np.ndarray, gram: np.ndarray) -> tuple[Any, Any]:
    """For each column ``j`` and row ``k``: ``x`` minimising ``|c_jk + d_k x|`` (``c``
    ``(J, K, n)``, ``d`` ``(K, n, p)``, ``gram`` = ``d_k^T d_k``; one solve for all
    columns): ``x`` ``(J, K, p)`` and the residuals ``c_jk + d_k x`` ``(J, K, n)``."""
    p = gram.shape[1]
    ridge = (1e-9 * np.trace(gram, axis1=1, axis2=2)[:, None, None] + 1e-12) * np.eye(p)
    rhs = np.matmul(c.transpose(1, 0, 2), d).transpose(0, 2, 1)  # (K, p, J)
    x = -np.linalg.solve(gram + ridge, rhs)
    resid = c + np.matmul(d, x).transpose(2, 0, 1)
    return x.transpose(2, 0, 1), resid


def _n_params(trend: str, season: bool, m: int) -> int:
    """Weights and initial states: alpha + level, beta + slope, phi, gamma + m - 1."""
    return 2 + (2 if trend != "N" else 0) + (trend == "Ad") + (m if season else 0)


def _likelihood(resid: np.ndarray, y: np.ndarray, col: int) -> np.ndarray:
    """``-2 log`` likelihood (up to a constant shared by all) of each row's one-step
    residuals ``(K, n)`` on column ``col`` (0: ``y``, 1: ``log y``, whose likelihood on
    ``y``'s scale carries the Jacobian ``2 sum(log y)``)."""
    n = len(y)
    sse = np.einsum("kn,kn->k", resid, resid)
    with np.errstate(all="ignore"):
        out = n * np.log(np.where(np.isfinite(sse) & (sse > 0), sse, np.inf) / n)
    return out + 2.0 * float(np.sum(np.log(y))) if col == 1 else out


def _choose(y: np.ndarray, errs: np.ndarray, m: int, grids: list[np.ndarray]) -> tuple[Any, ...]:
    """The (criterion, column, weights, state indices, initial states) of the least AICc
    over the forms of ``grids`` (:data:`FORMS` order) and the columns of ``errs`` ``(columns,
    sum K, n)``, the errors of ``y`` and ``log y`` from a zero start state."""
    n = len(y)
    seasonal = m > 1 and n >= 2 * m + 2
    best: tuple[Any, ...] = (np.inf, None, None, None, None)
    start = 0
    for (trend, season), grid in zip(FORMS, grids):
        start += len(grid)
        k = _n_params(trend, season, m)
        if (season and not seasonal) or n - k <= 1:
            continue
        d, gram, used = _basis(n, m, trend, season)
        penalty = 2 * k + 2 * k * (k + 1) / (n - k - 1)
        x0s, resids = _least_squares(errs[:, start - len(grid) : start], d, gram)
        for col, (x0, resid) in enumerate(zip(x0s, resids)):
            lik = _likelihood(resid, y, col)
            i = int(np.argmin(lik))
            if lik[i] + penalty < best[0]:
                best = (float(lik[i] + penalty), col, grid[i], used, x0[i])
    return best


def ets_forecast_many(values: Sequence[np.ndarray], horizon: int, m: int) -> np.ndarray:
    """:func:`ets_forecast` of each series ``(len(values), horizon)``: the zero-start
    filtering of up to :data:`CHUNK` series runs at once (a series padded with zeros at its
    start: zeros from a zero state leave it zero)."""
    out = np.empty((len(values), horizon))
    for lo in range(0, len(values), CHUNK):
        part = [np.asarray(v, dtype=float) for v in values[lo : lo + CHUNK]]
        longest = max(len(v) for v in part)
        mm = m if m > 1 and longest >= 2 * m + 2 else 1
        grids = [ets_grid(t, s and mm > 1) for t, s in FORMS]
        z = np.zeros((longest, 2 * len(part)))
        for i, v in enumerate(part):
            z[longest - len(v) :, 2 * i] = v
            if len(v) and np.all(v > 0):
                z[longest - len(v) :, 2 * i + 1] = np.log(v)
        errs, _ = _run(z, mm, np.concatenate(grids), np.zeros((z.shape[1], 2 + mm)))
        errs = np.ascontiguousarray(errs.transpose(2, 1, 0))  # (columns, K, n)
        for i, v in enumerate(part):
            cols = 2 if len(v) and np.all(v > 0) else 1
            chosen = _choose(v, errs[2 * i : 2 * i + cols, :, longest - len(v) :], mm, grids)
            out[lo + i] = _forecast(
                v, z[longest - len(v) :, 2 * i : 2 * i + 2], mm, horizon, chosen
            )
    return out


def _forecast(y: np.ndarray, z: np.ndarray, m: int, horizon: int, chosen: tuple[Any, ...]) -> Any:
    """The forecast of the form ``chosen`` (from :func:`_choose`) filtered from its start."""
    _, col, params, used, x0 = chosen
    if col is None:
        return np.full(horizon, y[-1] if len(y) else 0.0)
    state0 = np.zeros((1, 2 + m))
    state0[0, used] = x0
    _, final = _run(z[:, col : col + 1], m, params[None, :], state0)
    final = final[0, 0]
    h = np.arange(1, horizon + 1)
    out = final[0] + np.cumsum(params[3] ** h) * final[1] + final[2 + (len(y) + h - 1) % m]
    return np.exp(out) if col == 1 else out


def ets_forecast(y: np.ndarray, horizon: int, m: int) -> np.ndarray:
    """The forecast of the form with the least AICc (additive errors on ``y`` or, positive
    series, on ``log y``), each form at its best grid point with least-squares initial
    states."""
    return np.asarray(ets_forecast_many([np.asarray(y, dtype=float)], horizon, m)[0])
