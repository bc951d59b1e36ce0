"""Features of the global forecasting model: rows ``(series, origin t, horizon h)``.

Notation: ``z`` is one series after the value transform (``log`` when the config asks and
every value is positive), ``t`` an origin (the last observed index), ``h`` in ``1..H`` a step
ahead, ``m`` the season length. A row predicts ``z[t + h]`` from ``z[0..t]`` only (the direct
strategy: one model, ``h`` is a feature, no forecast is fed back as an input).

Per-row normalisation makes one model fit many series of any level and scale:

* base ``b(t, h)``: ``z[t]`` (``target="last"``: differencing), the seasonal naive forecast
  ``z[t + h - m * ceil(h / m)]`` (``"seasonal"``: seasonal differencing) or the mean of the
  last season (``"mean"``);
* scale ``s(t)``: the mean absolute one-step change over the last ``max(2m, 8)`` values;
* target ``(z[t + h] - b) / s``; lag, seasonal-lag and rolling-window features are
  normalised the same way; the horizon, the position in the season and the calendar parts
  of the target's timestamp (month, week, weekday, hour, as the frequency has them) are
  added as they are.

Every value a feature reads goes through :func:`past`, which refuses an index after the
origin: a feature that peeks into the future raises instead of leaking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.forecast.data import Panel, future_times

#: the normalised targets and forecasts are clipped to +-CLIP typical steps
CLIP = 50.0

__all__ = [
    "CLIP",
    "past",
    "transform",
    "inverse_transform",
    "series_rows",
    "training_rows",
    "prediction_rows",
    "Rows",
]

#: the calendar parts of the target's timestamp that vary, by the frequency's first letter
_CALENDAR = {
    "Q": ("quarter",),
    "M": ("month",),
    "W": ("month", "week"),
    "D": ("month", "week", "dayofweek"),
    "B": ("month", "week", "dayofweek"),
    "h": ("month", "dayofweek", "hour"),
    "m": ("dayofweek", "hour", "minute"),
}


def past(z: np.ndarray, t: np.ndarray, back: np.ndarray | int) -> np.ndarray:
    """``z[t - back]`` for each origin in ``t`` (NaN before the series starts).

    ``back`` must be >= 0: the only way features read values, so none reads after its origin.
    """
    back = np.broadcast_to(np.asarray(back), np.shape(t))
    if np.any(back < 0):
        raise ValueError("a feature may only read values at or before its origin (back >= 0)")
    idx = np.asarray(t) - back
    out = np.full(idx.shape, np.nan)
    ok = idx >= 0
    out[ok] = z[idx[ok]]
    return out


def transform(y: np.ndarray, use_log: bool) -> np.ndarray:
    """The modelled values: ``log(y)`` when ``use_log`` (only for positive series)."""
    return np.log(y) if use_log else y.astype(float)


def inverse_transform(z: np.ndarray, use_log: bool) -> np.ndarray:
    return np.exp(z) if use_log else z


def _window_stats(z: np.ndarray, t: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``z[t - w + 1 .. t]`` (fewer values near the start)."""
    c1 = np.concatenate([[0.0], np.cumsum(z)])
    c2 = np.concatenate([[0.0], np.cumsum(z * z)])
    lo = np.maximum(t - w + 1, 0)
    count = t - lo + 1
    mean = (c1[t + 1] - c1[lo]) / count
    var = np.maximum((c2[t + 1] - c2[lo]) / count - mean**2, 0.0)
    return mean, np.sqrt(var)


def _scale(z: np.ndarray, t: np.ndarray, m: int) -> np.ndarray:
    """``s(t)``: mean absolute one-step change over the last ``max(2m, 8)`` values, at least
    a tenth of that over the whole history up to ``t`` (a flat stretch must not blow the
    normalised values up)."""
    w = max(2 * m, 8)
    steps = np.concatenate([[0.0, 0.0], np.cumsum(np.abs(np.diff(z)))])  # steps[j]: sum to j-1
    lo = np.maximum(t - w, 0)
    recent = (steps[t + 1] - steps[lo + 1]) / np.maximum(t - lo, 1)
    overall = steps[t + 1] / np.maximum(t, 1)
    level = np.abs(_window_stats(z, t, w)[0])
    return np.maximum(np.maximum(recent, 0.1 * overall), 1e-6 * level + 1e-12)


def _base(z: np.ndarray, t: np.ndarray, h: np.ndarray, m: int, target: str) -> np.ndarray:
    if target == "last":
        return past(z, t, 0)
    if target == "seasonal":
        back = m * np.ceil(h / m).astype(int) - h
        out = past(z, t, back)
        return np.where(np.isnan(out), past(z, t, 0), out)
    if target == "mean":
        return _window_stats(z, t, max(m, 4))[0]
    raise ValueError(f"target must be 'last', 'seasonal' or 'mean', got {target!r}")


def calendar_parts(times: Any, freq: Any) -> dict[str, np.ndarray]:
    """The calendar parts of ``times`` that vary at frequency ``freq`` (none for numbers)."""
    if not isinstance(freq, str):
        return {}
    index = pd.DatetimeIndex(times)
    letter = freq.lstrip("0123456789")[:1]
    out = {}
    for part in _CALENDAR.get(letter, ()):
        values = index.isocalendar().week if part == "week" else getattr(index, part)
        out[part] = np.asarray(values, dtype=float)
    return out


def series_rows(
    z: np.ndarray,
    t: np.ndarray,
    h: np.ndarray,
    m: int,
    config: Mapping[str, Any],
    target_times: Any,
    freq: Any,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Features of rows ``(t, h)`` of one series; and each row's base and scale."""
    b = _base(z, t, h, m, config["target"])
    s = _scale(z, t, m)
    feats: dict[str, np.ndarray] = {"h": h.astype(float)}
    for lag in range(int(config["n_lags"])):
        feats[f"lag{lag}"] = (past(z, t, lag) - b) / s
    if m > 1:
        k = np.ceil(h / m).astype(int)
        for j in range(2):
            feats[f"season_lag{j + 1}"] = (past(z, t, m * (k + j) - h) - b) / s
        feats["season_pos"] = ((t + h) % m).astype(float)
    for mult in (1, 3):
        mean, std = _window_stats(z, t, max(m, 4) * mult)
        feats[f"roll_mean{mult}"] = (mean - b) / s
        feats[f"roll_std{mult}"] = std / s
    if config.get("calendar", True):
        for name, values in calendar_parts(target_times, freq).items():
            feats[name] = values
    return feats, b, s


class Rows:
    """Stacked feature rows of many series, with what turns predictions back into values."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.targets: list[np.ndarray] = []
        self.bases: list[np.ndarray] = []
        self.scales: list[np.ndarray] = []
        self.series: list[np.ndarray] = []
        self.steps: list[np.ndarray] = []

    def add(
        self,
        i: int,
        feats: dict[str, np.ndarray],
        b: np.ndarray,
        s: np.ndarray,
        h: np.ndarray,
        target: np.ndarray | None = None,
    ) -> None:
        self.parts.append(feats)
        self.bases.append(b)
        self.scales.append(s)
        self.series.append(np.full(len(b), i))
        self.steps.append(h)
        if target is not None:  # clipped: a jump of hundreds of steps is not a pattern
            self.targets.append(np.clip((target - b) / s, -CLIP, CLIP))

    def matrix(self) -> np.ndarray:
        """Rows x features (columns in the first part's order; every part has the same)."""
        names = list(self.parts[0])
        return np.column_stack([np.concatenate([p[n] for p in self.parts]) for n in names])

    def column(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name))


def _origins(n: int, horizon: int, stride: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs ``(t, h)`` with ``first <= t`` and ``t + h <= n - 1``, every
    ``stride``-th origin counted back from the latest (the most recent are always kept)."""
    last = np.arange(n - 2, max(first, 1) - 1, -stride)[::-1]
    if not len(last):
        return np.zeros(0, int), np.zeros(0, int)
    t = np.repeat(last, horizon)
    h = np.tile(np.arange(1, horizon + 1), len(last))
    keep = t + h <= n - 1
    return t[keep], h[keep]


def training_rows(
    panel: Panel, horizon: int, m: int, config: Mapping[str, Any], use_log: bool, max_rows: int
) -> Rows:
    """Every ``(t, h)`` row whose target lies inside the panel (origins thinned evenly when
    there are more than ``max_rows``)."""
    total = sum(max(len(v) - 2, 0) * horizon for v in panel.values)
    stride = max(1, int(np.ceil(total / max_rows)))
    rows = Rows()
    for i, (y, times) in enumerate(zip(panel.values, panel.times)):
        z = transform(y, use_log)
        t, h = _origins(len(z), horizon, stride, min(m, len(z) // 4))
        if not len(t):
            continue
        feats, b, s = series_rows(z, t, h, m, config, times[t + h], panel.freq)
        rows.add(i, feats, b, s, h, z[t + h])
    if not rows.parts:
        raise ValueError(f"no series is long enough to learn a {horizon}-step forecast")
    return rows


def prediction_rows(
    panel: Panel, horizon: int, m: int, config: Mapping[str, Any], use_log: bool
) -> Rows:
    """The ``H`` rows of each series from its last value (origin ``n - 1``)."""
    rows = Rows()
    h = np.arange(1, horizon + 1)
    for i, (y, times) in enumerate(zip(panel.values, panel.times)):
        z = transform(y, use_log)
        t = np.full(horizon, len(z) - 1)
        stamps = future_times(times[-1], panel.freq, horizon)
        feats, b, s = series_rows(z, t, h, m, config, stamps, panel.freq)
        rows.add(i, feats, b, s, h)
    return rows
