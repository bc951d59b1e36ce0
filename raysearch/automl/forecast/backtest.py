"""Time-ordered backtesting with expanding windows, its metrics, and the intervals it gives.

Window ``w`` (``1..W``) cuts every series ``H + (w - 1) * stride`` steps before its end
(``stride`` = ``H`` unless a short series needs closer cutoffs: :func:`window_plan`): the
model is built
from :meth:`Panel.truncate` (the values up to the cutoff, copied: nothing after the cutoff
exists for it) and forecasts the ``H`` values after the cutoff, which are compared with the
actual ones. Earlier windows train on less history (expanding windows, as in production).

Metrics (per series and window, then averaged):

* MASE: mean absolute error over the mean absolute seasonal difference (lag ``m``; lag 1
  when the history is shorter than two seasons) of the history up to the cutoff;
* sMAPE: mean of ``200 |y - f| / (|y| + |f|)`` (percent).

Prediction intervals come from the backtest's residuals ``(y - f) / scale`` (scale: the MASE
denominator): their empirical quantiles at each step ``h`` when there are at least
:data:`MIN_PER_STEP` residuals per step, otherwise residuals of every step pooled after
dividing by ``sqrt(h)`` and multiplied back by it (errors of a random walk grow so).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysearch.automl.forecast.data import Panel

__all__ = [
    "Backtest",
    "run_backtest",
    "window_plan",
    "mase_scale",
    "mase",
    "smape",
    "residual_quantiles",
    "MIN_PER_STEP",
    "BudgetSpent",
]

#: residuals per step needed for per-step interval quantiles (fewer: pooled over steps)
MIN_PER_STEP = 30


def mase_scale(history: np.ndarray, m: int) -> float:
    """The MASE denominator of ``history``: its mean absolute seasonal difference."""
    lag = m if len(history) > 2 * m else 1
    if len(history) <= lag:
        return 1.0
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    return scale if scale > 1e-12 else max(float(np.mean(np.abs(history))) * 1e-6, 1e-12)


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    return float(np.nanmean(np.abs(actual - forecast)) / scale)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.where(denom > 0, 2.0 * np.abs(actual - forecast) / np.where(denom > 0, denom, 1), 0)
    return float(100.0 * np.nanmean(ratio))


class BudgetSpent(Exception):
    """A backtest stopped at its ``stop_at`` time (its model is left out)."""


@dataclass
class Backtest:
    """Forecasts and actual values of every window.

    Attributes:
        preds, actuals: ``(W, k, H)``: window, series, step.
        scales: ``(W, k)``: each series' MASE denominator at each window's cutoff.
    """

    preds: np.ndarray
    actuals: np.ndarray
    scales: np.ndarray

    def mase(self, preds: np.ndarray | None = None) -> float:
        """Mean MASE over series and windows (of ``preds`` if given, same shape)."""
        p = self.preds if preds is None else preds
        err = np.nanmean(np.abs(self.actuals - p), axis=2) / self.scales
        return float(np.mean(err))

    def loss(self, _: np.ndarray, preds: np.ndarray) -> float:
        """:meth:`mase` of ``preds`` as an ensemble-selection loss ``(y, prediction)``."""
        return self.mase(preds)

    def smape(self) -> float:
        return smape(self.actuals, self.preds)

    def residuals(self, preds: np.ndarray | None = None) -> np.ndarray:
        """``(y - f) / scale``: ``(W, k, H)``."""
        p = self.preds if preds is None else preds
        return (self.actuals - p) / self.scales[:, :, None]


def window_plan(room: int, horizon: int, wanted: int) -> tuple[int, int]:
    """``(windows, stride)`` for a series with ``room`` values beyond the history a model
    needs: ``wanted`` windows ``horizon`` apart when they fit; else closer (overlapping)
    cutoffs, as many as fit up to ``wanted`` (a short series gets several origins, not
    two or three: few windows make the selection noisy)."""
    if room // horizon >= wanted or room < 2 * horizon or wanted < 2:
        return min(wanted, room // horizon), horizon
    stride = max(1, (room - horizon) // (wanted - 1))
    return min(wanted, (room - horizon) // stride + 1), stride


def run_backtest(
    panel: Panel,
    make: Callable[[], Any],
    horizon: int,
    n_windows: int,
    m: int,
    deadline: float | None = None,
    stride: int | None = None,
    stop_at: float | None = None,
    chunk: int | None = None,
) -> Backtest:
    """Backtests the models ``make()`` builds over ``n_windows`` expanding windows whose
    cutoffs lie ``stride`` steps apart (default ``horizon``: windows that do not overlap).

    ``deadline`` is passed to the models' ``fit``. ``stop_at``: raises :class:`BudgetSpent`
    once that time has passed or the time spent so far says the backtest would end after
    it; checked between windows and, for a model of one series at a time (``chunk`` set),
    between chunks of that many series (each fitted and forecast on its own)."""
    k = len(panel.ids)
    size = min(chunk or k, k)
    total = n_windows * -(-k // size)  # fits in all
    done, tick = 0, time.time()
    preds, actuals, scales = [], [], []
    for w in range(n_windows, 0, -1):  # oldest window first
        back = horizon + (w - 1) * (stride or horizon)
        history = panel.truncate(back)
        parts = []
        for lo in range(0, k, size):
            if stop_at is not None and time.time() > stop_at:
                raise BudgetSpent("the backtest ran past its stop time")
            part = history if size >= k else history.subset(range(lo, min(lo + size, k)))
            parts.append(make().fit(part, deadline).forecast(part))
            done, last, tick = done + 1, time.time() - tick, time.time()
            # the latest part's time (the first may carry one-off costs, such as caches)
            if stop_at is not None and done > 1 and tick + last * (total - done) > stop_at:
                raise BudgetSpent("the backtest would end after its stop time")
        preds.append(np.concatenate(parts, axis=0))
        actuals.append(
            np.array([v[len(v) - back : len(v) - back + horizon] for v in panel.values])
        )
        scales.append([mase_scale(v, m) for v in history.values])
    return Backtest(np.array(preds), np.array(actuals, dtype=float), np.array(scales))


def residual_quantiles(residuals: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Quantiles ``(len(quantiles), H)`` of scaled residuals ``(W, k, H)`` at each step."""
    r = residuals.reshape(-1, residuals.shape[-1])
    horizon = r.shape[1]
    q = np.asarray(quantiles, dtype=float)
    if np.sum(np.isfinite(r[:, -1])) >= MIN_PER_STEP:
        out = np.nanquantile(r, q, axis=0)
    else:
        root = np.sqrt(np.arange(1, horizon + 1))
        pooled = (r / root).ravel()
        pooled = pooled[np.isfinite(pooled)]
        if not len(pooled):
            return np.zeros((len(q), horizon))
        out = np.quantile(pooled, q)[:, None] * root[None, :]
    return np.sort(out, axis=0)  # quantiles never cross
