"""Time-series forecasting AutoML: ``AutoML(task="forecast", ...)`` or :class:`Forecaster`.

Modules: :mod:`.data` (the panel of series, frequencies, future timestamps),
:mod:`.features` (lag, seasonal-lag, rolling-window and calendar features, per-series
scaling and differencing; no feature can read past its origin), :mod:`.model` (one global
LightGBM across series, seasonal naive), :mod:`.backtest` (expanding-window backtests,
MASE and sMAPE, interval quantiles), :mod:`.search` (the search over configurations, on Ray
or in process) and :mod:`.forecaster` (``fit``/``predict``).
"""

from __future__ import annotations

from raysearch.automl.forecast.forecaster import Forecaster, forecaster_for

__all__ = ["Forecaster", "forecaster_for"]
