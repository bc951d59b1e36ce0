"""Per-series ensemble weights from the backtests, shrunk toward the panel's weights.

A panel's series may want different models (a trending series Holt-Winters, a cyclic one an
autoregression). Each series gets its own greedy ensemble selection (Caruana, with
replacement) on its own backtest windows; with few windows such weights are noisy, so they
are shrunk toward the weights selected on the whole panel: ``w_i = (W * local_i + c *
global) / (W + c)`` (``W`` windows, ``c`` = :data:`SHRINK` pseudo-windows). With one series
the two coincide. Only the backtests choose: the values the forecaster is asked to predict
are never seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from raysearch.automl.ensemble import greedy_selection
from raysearch.automl.forecast.backtest import Backtest

__all__ = ["series_weights", "blend_series", "shrink_to_simple", "SHRINK"]

#: pseudo-windows of the panel-wide weights in each series' weights
SHRINK = 4.0


def series_weights(
    preds: Mapping[str, np.ndarray],
    backtest: Backtest,
    global_weights: Mapping[str, float],
    rounds: int = 20,
) -> tuple[list[str], np.ndarray]:
    """Model names and weights ``(k, len(names))`` (rows sum to 1) for the ``k`` series."""
    names = list(preds)
    g = np.array([float(global_weights.get(n, 0.0)) for n in names])
    g = g / g.sum()
    n_windows, k = backtest.actuals.shape[:2]
    if k == 1:
        return names, g[None, :]
    out = np.empty((k, len(names)))
    for i in range(k):
        part = Backtest(
            backtest.preds[:, i : i + 1],
            backtest.actuals[:, i : i + 1],
            backtest.scales[:, i : i + 1],
        )
        local_preds = {n: p[:, i : i + 1] for n, p in preds.items()}
        weights, _ = greedy_selection(local_preds, part.actuals, part.loss, rounds=rounds)
        local = np.array([float(weights.get(n, 0.0)) for n in names])
        out[i] = (n_windows * local + SHRINK * g) / (n_windows + SHRINK)
    return names, out / out.sum(axis=1, keepdims=True)


def blend_series(
    preds: Mapping[str, np.ndarray], names: Sequence[str], weights: np.ndarray
) -> np.ndarray:
    """Each series' weighted mean of the forecasts ``preds[name]`` (``(..., k, H)``) with its
    row of ``weights`` (``(k, len(names))``); names missing from ``preds`` are left out and
    the rest renormalised."""
    use = [j for j, n in enumerate(names) if n in preds]
    w = weights[:, use]
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / len(use))
    out = None
    for col, j in enumerate(use):
        term = np.asarray(preds[names[j]], dtype=float) * w[:, col][:, None]
        out = term if out is None else out + term
    assert out is not None
    return out


def shrink_to_simple(
    simple: np.ndarray, searched: np.ndarray | None, backtest: Backtest, n_trials: int
) -> float:
    """The weight ``lam`` of the searched model in ``(1 - lam) * simple + lam * searched``.

    The best of ``n_trials`` searched configurations looks better on the backtest than it
    is (the winner's curse; the fixed simple models are not selected on it). Its expected
    optimism is about ``sd(d) / sqrt(n) * sqrt(2 ln n_trials)`` (the expected maximum of
    ``n_trials`` normal draws), ``d`` the per-window, per-series MASE differences between
    it and the simple ensemble (``n`` of them); each blend on a grid of ``lam`` pays
    ``lam`` times that, so a noisy edge of the searched model leaves the simple ensemble.
    """
    if searched is None or not np.all(np.isfinite(searched)):
        return 0.0

    def errors(p: np.ndarray) -> np.ndarray:
        return np.asarray(np.nanmean(np.abs(backtest.actuals - p), axis=2) / backtest.scales)

    d = (errors(searched) - errors(simple)).ravel()
    d = d[np.isfinite(d)]
    if d.size < 2:
        return 0.0
    optimism = float(np.std(d, ddof=1) / np.sqrt(d.size) * np.sqrt(2 * np.log(max(n_trials, 2))))
    lams = np.linspace(0.0, 1.0, 11)
    losses = [backtest.mase((1 - lam) * simple + lam * searched) + lam * optimism for lam in lams]
    return float(lams[int(np.argmin(losses))])
