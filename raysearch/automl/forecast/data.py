"""The panel a forecaster reads: one or many series, each ordered in time.

Notation: a panel holds ``k`` series; series ``i`` has ``n_i`` values ``y_i[0..n_i-1]``
observed at increasing times ``t_i[0..n_i-1]``, one step apart (the panel's frequency: a
pandas offset for datetimes, a number for numeric time columns).

* :func:`read_panel`: a :class:`Panel` from a table (long format: id, time, value);
* :func:`future_times`: the next ``h`` timestamps after a series' last one;
* :func:`season_length`: the seasonal period a frequency implies (12 for monthly data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.features import DataError

__all__ = [
    "Panel",
    "read_panel",
    "future_times",
    "season_length",
    "synthetic_panel",
    "SINGLE_SERIES",
]

#: the id given to the one series of a table without an id column
SINGLE_SERIES = "series"

# the seasonal period of each pandas frequency prefix (its calendar cycle)
_SEASON = {
    "h": 24,
    "H": 24,
    "min": 60,
    "D": 7,
    "B": 5,
    "W": 52,
    "M": 12,
    "MS": 12,
    "ME": 12,
    "Q": 4,
    "QS": 4,
    "QE": 4,
    "Y": 1,
    "YS": 1,
    "YE": 1,
    "A": 1,
    "AS": 1,
}


@dataclass
class Panel:
    """Series of a table, each sorted by time.

    Attributes:
        ids: the series ids, in order of first appearance.
        values: ``values[i]``: float array ``(n_i,)`` of series ``i``.
        times: ``times[i]``: its times (``DatetimeIndex`` or float array), same length.
        freq: a pandas offset alias (datetimes) or the numeric step.
    """

    ids: list[Any]
    values: list[np.ndarray]
    times: list[Any]
    freq: Any

    @property
    def is_datetime(self) -> bool:
        return isinstance(self.freq, str)

    def truncate(self, steps_back: int) -> Panel:
        """The panel without each series' last ``steps_back`` values (the past at a cutoff:
        nothing after it is kept, so nothing computed from the result can see it)."""
        if steps_back <= 0:
            return self
        return Panel(
            self.ids,
            [v[:-steps_back].copy() for v in self.values],
            [t[:-steps_back] for t in self.times],
            self.freq,
        )

    def subset(self, rows: Iterable[int]) -> Panel:
        """The series at positions ``rows`` (shared, not copied)."""
        rows = list(rows)
        return Panel(
            [self.ids[i] for i in rows],
            [self.values[i] for i in rows],
            [self.times[i] for i in rows],
            self.freq,
        )


def _numeric_step(times: list[np.ndarray]) -> float:
    diffs = np.concatenate([np.diff(t) for t in times if len(t) > 1])
    if not len(diffs) or np.any(diffs <= 0):
        raise DataError("the time column must increase within each series (duplicate times?)")
    return float(np.median(diffs))


def _datetime_freq(times: list[pd.DatetimeIndex]) -> str:
    for t in sorted(times, key=len, reverse=True):
        if len(t) >= 3:
            freq = pd.infer_freq(t)
            if freq is not None:
                return str(freq)
    raise DataError(
        "could not infer the time column's frequency (are there gaps or duplicate times?); "
        "forecasting needs regularly spaced observations"
    )


def read_panel(frame: pd.DataFrame, label: str, time_column: str, id_column: str | None) -> Panel:
    """The :class:`Panel` of a long table (one row per series and time)."""
    for name, column in (("label", label), ("time_column", time_column), ("id_column", id_column)):
        if column is not None and column not in frame.columns:
            raise DataError(f"{name} {column!r} is not a column; columns: {list(frame.columns)}")
    if not pd.api.types.is_numeric_dtype(frame[label]) or pd.api.types.is_bool_dtype(frame[label]):
        raise DataError(f"the label {label!r} must be numeric to forecast it")
    frame = frame[frame[label].notna()]
    if frame.empty:
        raise DataError(f"no rows with a value in {label!r}")
    times = frame[time_column]
    is_dt = pd.api.types.is_datetime64_any_dtype(times)
    if not is_dt and not pd.api.types.is_numeric_dtype(times):
        try:
            times = pd.to_datetime(times)
            is_dt = True
        except (ValueError, TypeError):
            raise DataError(
                f"time_column {time_column!r} must hold datetimes or numbers"
            ) from None
    keys = frame[id_column] if id_column else pd.Series(SINGLE_SERIES, index=frame.index)
    work = pd.DataFrame({"id": keys.to_numpy(), "t": times.to_numpy(), "y": frame[label]})
    ids, values, stamps = [], [], []
    for key, group in work.groupby("id", sort=False):
        group = group.sort_values("t", kind="stable")
        if group["t"].duplicated().any():
            raise DataError(f"series {key!r} has duplicate times in {time_column!r}")
        ids.append(key)
        values.append(np.array(group["y"], dtype=float))  # writable (copy-on-write)
        stamps.append(pd.DatetimeIndex(group["t"]) if is_dt else group["t"].to_numpy(float))
    freq: Any = _datetime_freq(stamps) if is_dt else _numeric_step(stamps)
    return Panel(ids, values, stamps, freq)


def future_times(last: Any, freq: Any, horizon: int) -> Any:
    """The ``horizon`` times after ``last``, one step of ``freq`` apart."""
    if isinstance(freq, str):
        return pd.date_range(start=last, periods=horizon + 1, freq=freq)[1:]
    return float(last) + freq * np.arange(1, horizon + 1)


def season_length(freq: Any) -> int:
    """The seasonal period of ``freq`` (1: no calendar season, as for yearly data)."""
    if not isinstance(freq, str):
        return 1
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.split("-")[0]
    base = _SEASON.get(name) or _SEASON.get(name.rstrip("SE")) or 1
    n = max(int(getattr(offset, "n", 1)), 1)
    return max(1, base // n) if base % n == 0 else 1


def synthetic_panel(
    n_series: int = 20,
    length: int = 144,
    season: int = 12,
    freq: str = "MS",
    seed: int | np.random.Generator | None = 0,
    start: str = "2000-01-01",
) -> pd.DataFrame:
    """A long table (``series``, ``date``, ``y``) of seasonal series with trends: each has
    its own level, slope, seasonal shape and amplitude (multiplicative for some), noise and
    a length between ``length // 2`` and ``length`` (series end together, like a store's
    products). For tests, examples and the forecasting benchmark."""
    from raysearch.core.rng import make_rng

    rng = make_rng(seed)
    frames = []
    for i in range(n_series):
        n = int(rng.integers(length // 2, length + 1))
        t = np.arange(n)
        level = float(rng.uniform(10, 1000))
        slope = float(rng.normal(0.004, 0.004)) * level
        phase = rng.uniform(0, 2 * np.pi, 2)
        shape = np.sin(2 * np.pi * t / season + phase[0]) + 0.5 * np.sin(
            4 * np.pi * t / season + phase[1]
        )
        amplitude = float(rng.uniform(0.05, 0.3)) * level
        trend = level + slope * (t - n)
        multiplicative = rng.random() < 0.5
        seasonal = shape * amplitude * (trend / level if multiplicative else 1.0)
        noise = rng.normal(0, float(rng.uniform(0.01, 0.05)) * level, n)
        y = np.maximum(trend + seasonal + noise, 0.01 * level)
        dates = pd.date_range(
            end=pd.Timestamp(start) + pd.tseries.frequencies.to_offset(freq) * length,
            periods=n,
            freq=freq,
        )
        frames.append(pd.DataFrame({"series": f"s{i:03d}", "date": dates, "y": y}))
    return pd.concat(frames, ignore_index=True)
