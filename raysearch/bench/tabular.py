"""Tabular AutoML at equal time budgets: raysearch AutoML, FLAML, AutoGluon, LightGBM defaults.

On the eight data sets of ``raysearch.data.TABULAR_BENCHMARK`` with a fixed 75/25 split
(``train_test_split(random_state=0)``, stratified for classification), each system gets the
same budget and the whole machine, one after the other, each in its own subprocess (so
no system inherits another's Ray instance or threads). The test score uses the same metric
code for all: roc_auc (binary), log_loss (multiclass), rmse (regression). Each row also
has the fit's wall time (``fit_s``, Ray's start-up included) against the budget and the
prediction time per 1,000 test rows (``predict_ms_1k``: the probabilities, or the values,
of every test row in one call); ``raysearch+refit`` is the same raysearch fit after
``refit_full()`` (one model per ensemble member instead of one per fold).

Run: ``python -m raysearch.bench tabular --budget 60`` (the peers need the ``bench`` extra:
``pip install -e ".[bench]"``; AutoGluon resolves pandas to 2.3 there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from raysearch.bench.common import add_json_option, bench_parser
from raysearch.bench.report import format_table, write_json

__all__ = ["main", "SYSTEMS"]

SYSTEMS = ("raysearch", "flaml", "autogluon", "lightgbm")
#: rows each run adds beside its own (raysearch also scores its refit_full ensemble)
EXTRA_ROWS = {"raysearch": ("raysearch+refit",)}


def _split(name: str) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    from sklearn.model_selection import train_test_split

    from raysearch.data import load_dataset

    ds = load_dataset(name)
    frame = ds.frame.dropna(subset=[ds.label]).reset_index(drop=True)
    stratify = frame[ds.label] if ds.task != "regression" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=stratify)
    return train.reset_index(drop=True), test.reset_index(drop=True), ds.label, ds.task


def _score(task: str, classes: list[Any] | None, y_test: pd.Series, pred: np.ndarray) -> float:
    from raysearch.automl.metrics import default_metric, get_metric

    metric = get_metric(default_metric(task), task)
    if task == "regression":
        return metric(y_test.astype(float).to_numpy(), np.asarray(pred, dtype=float))
    assert classes is not None
    lookup = {c: i for i, c in enumerate(classes)}
    y = np.array([lookup[v] for v in y_test])
    return metric(y, np.asarray(pred, dtype=float))


def _classes(train: pd.DataFrame, label: str) -> list[Any]:
    return sorted(train[label].unique().tolist(), key=lambda v: (str(type(v)), v))


def _timed(fit: Any, predict: Any, n_rows: int) -> tuple[Any, dict[str, float]]:
    """Runs ``fit()`` then ``predict()``: the predictions, the fit's wall time and the
    prediction's milliseconds per 1,000 rows."""
    start = time.monotonic()
    fit()
    fitted, cpu = time.monotonic(), time.process_time()
    pred = predict()
    done = time.monotonic()
    return pred, {
        "fit_s": fitted - start,
        "predict_ms_1k": (done - fitted) * 1e6 / n_rows,
        # CPU seconds of every thread of this process: on a busy shared machine the wall
        # time is inflated, this is not (divided by the cores used, the floor on an idle one)
        "predict_cpu_ms_1k": (time.process_time() - cpu) * 1e6 / n_rows,
    }


def _run_raysearch(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    from raysearch.automl import AutoML

    model = AutoML(label, problem_type=task, time_budget_s=budget, seed=seed, verbose=0)

    def predict() -> Any:
        return model.predict(test) if task == "regression" else model.predict_proba(test)

    pred, times = _timed(lambda: model.fit(train), predict, len(test))
    members = int(model.leaderboard()["in_ensemble"].sum())
    extra: dict[str, Any] = {"models": int(len(model.leaderboard())), "members": members, **times}
    extra.update({k: round(v, 2) for k, v in model.timings_.items()})  # where fit's time went
    refit_start = time.monotonic()
    model.refit_full()
    refit_s = time.monotonic() - refit_start
    refit_pred, refit_times = _timed(lambda: None, predict, len(test))
    extra["raysearch+refit"] = {
        "pred": np.asarray(refit_pred).tolist(),
        "fit_s": times["fit_s"] + refit_s,
        "refit_s": refit_s,
        "predict_ms_1k": refit_times["predict_ms_1k"],
        "predict_cpu_ms_1k": refit_times["predict_cpu_ms_1k"],
    }
    return pred, model.classes_, extra


def _run_flaml(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    from flaml import AutoML as FlamlAutoML

    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = FlamlAutoML()
    X, y = train.drop(columns=[label]), train[label]
    Xt = test.drop(columns=[label])

    def fit() -> None:
        automl.fit(
            X,
            y,
            task="regression" if task == "regression" else "classification",
            metric=metric,
            time_budget=budget,
            seed=seed,
            verbose=0,
        )

    def predict() -> Any:
        return automl.predict(Xt) if task == "regression" else automl.predict_proba(Xt)

    pred, times = _timed(fit, predict, len(test))
    return pred, None if task == "regression" else list(automl.classes_), times


def _run_autogluon(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    from autogluon.tabular import TabularPredictor

    metric = {
        "binary": "roc_auc",
        "multiclass": "log_loss",
        "regression": "root_mean_squared_error",
    }[task]
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label=label, problem_type=task, eval_metric=metric, path=path, verbosity=0
        )
        Xt = test.drop(columns=[label])

        def predict() -> Any:
            return predictor.predict(Xt) if task == "regression" else predictor.predict_proba(Xt)

        pred, times = _timed(lambda: predictor.fit(train, time_limit=budget), predict, len(test))
        if task == "regression":
            return pred.to_numpy(), None, times
        return pred.to_numpy(), list(pred.columns), times


def _run_lightgbm(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    X, Xt = train.drop(columns=[label]), test.drop(columns=[label])
    classes = _classes(train, label)
    models: list[Any] = []

    def fit() -> None:  # the categorical columns' conversion is timed with the fit
        for column in X.columns:
            if not pd.api.types.is_numeric_dtype(X[column]) and not pd.api.types.is_bool_dtype(
                X[column]
            ):
                categories = pd.Categorical(X[column].astype(str)).categories
                X[column] = pd.Categorical(X[column].astype(str), categories=categories)
                Xt[column] = pd.Categorical(Xt[column].astype(str), categories=categories)
        if task == "regression":
            models.append(lgb.LGBMRegressor(random_state=seed, verbose=-1).fit(X, train[label]))
        else:
            lookup = {c: i for i, c in enumerate(classes)}
            y = train[label].map(lookup)
            models.append(lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(X, y))

    def predict() -> Any:
        return models[0].predict(Xt) if task == "regression" else models[0].predict_proba(Xt)

    pred, times = _timed(fit, predict, len(Xt))
    return pred, None if task == "regression" else classes, times


RUNNERS = {
    "raysearch": _run_raysearch,
    "flaml": _run_flaml,
    "autogluon": _run_autogluon,
    "lightgbm": _run_lightgbm,
}


def _in_order(pred: Any, classes: list[Any] | None, order: list[Any] | None) -> np.ndarray:
    """The probability columns of ``pred`` (in the order of ``classes``, None: already in
    ``order``) in the common class order ``order`` (None: regression values)."""
    pred = np.asarray(pred)
    if order is None or classes is None or list(classes) == order:
        return pred
    index = {c: i for i, c in enumerate(classes)}
    return pred[:, np.array([index[c] for c in order])]


def run_one(system: str, name: str, budget: float, seed: int) -> list[dict[str, Any]]:
    """One system on one data set (in this process): its row (test score, fit wall time,
    prediction time per 1,000 rows, the whole wall time) and the rows of its variants."""
    train, test, label, task = _split(name)
    start = time.monotonic()
    pred, classes, extra = RUNNERS[system](train, test, label, task, budget, seed)
    wall = time.monotonic() - start
    order = _classes(train, label) if task != "regression" else None
    pred = _in_order(pred, classes, order)
    variants = {k: extra.pop(k) for k in EXTRA_ROWS.get(system, ()) if k in extra}
    base = {"dataset": name, "task": task, "budget_s": budget, "test_rows": len(test)}
    rows = [
        {
            "system": system,
            **base,
            "score": _score(task, order, test[label], pred),
            "wall_s": wall,
            **extra,
        }
    ]
    for variant, info in variants.items():
        variant_pred = _in_order(np.asarray(info.pop("pred")), classes, order)
        score = _score(task, order, test[label], variant_pred)
        rows.append({"system": variant, **base, "score": score, "wall_s": wall, **info})
    return rows


def _run_in_subprocess(system: str, name: str, budget: float, seed: int) -> list[dict[str, Any]]:
    """One system on one data set in a fresh interpreter (``--one``): its rows, or a row of
    NaNs when it failed."""
    cmd = [
        sys.executable,
        "-m",
        "raysearch.bench",
        "tabular",
        "--one",
        system,
        name,
        "--budget",
        str(budget),
        "--seed",
        str(seed),
    ]
    env = {**os.environ, "RAY_ADDRESS": ""}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=budget * 6 + 600)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("[")]
    if out.returncode != 0 or not lines:
        print(f"  {system} on {name}: FAILED\n{out.stderr[-1500:]}", flush=True)
        nan = float("nan")
        return [{"system": system, "dataset": name, "score": nan, "wall_s": nan, "fit_s": nan}]
    rows: list[dict[str, Any]] = json.loads(lines[-1])
    for row in rows:
        print(
            f"  {name:17s} {row['system']:16s} {row['score']:.4f}  fit {row['fit_s']:.1f} s, "
            f"predict {row['predict_ms_1k']:.1f} ms/1k rows",
            flush=True,
        )
    return rows


def _compare(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """One row per data set with every system's score and whether raysearch matches the
    better peer; and the number of data sets where it does."""
    table = pd.DataFrame(rows).pivot(index="dataset", columns="system", values="score")
    tasks = {r["dataset"]: r.get("task") for r in rows if r.get("task")}
    out_rows = []
    wins = 0
    for name in table.index:
        task = str(tasks.get(name) or "")
        higher = task == "binary"
        row = {
            "dataset": name,
            "metric": {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}.get(
                task, ""
            ),
        }
        for system in table.columns:
            row[system] = float(table.loc[name, system])
        peers = [row[s] for s in ("flaml", "autogluon") if s in row and np.isfinite(row[s])]
        if "raysearch" in row and peers and np.isfinite(row["raysearch"]):
            best_peer = max(peers) if higher else min(peers)
            ours = row["raysearch"]
            # "matches": within 0.5% of the better peer (the figures have 3-4 digits)
            ok = ours >= best_peer * 0.995 if higher else ours <= best_peer * 1.005
            row["raysearch>=best peer"] = "yes" if ok else "no"
            wins += ok
        out_rows.append(row)
    return out_rows, wins


def _side_by_side(rows: list[dict[str, Any]], key: str, budget: float) -> list[dict[str, Any]]:
    """One row per data set, one column per system, of ``key`` (``fit_ratio``: the fit's
    wall time over the budget)."""
    frame = pd.DataFrame(rows)
    if key == "fit_ratio":
        frame[key] = frame["fit_s"] / budget
    if key not in frame:
        return []
    table = frame.pivot(index="dataset", columns="system", values=key)
    return [
        {"dataset": n, **{s: float(table.loc[n, s]) for s in table.columns}} for n in table.index
    ]


def main(argv: list[str] | None = None) -> int:
    from raysearch.data import TABULAR_BENCHMARK

    parser = bench_parser("tabular", __doc__)
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds per system and data set"
    )
    parser.add_argument("--datasets", default=",".join(TABULAR_BENCHMARK))
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--seed", type=int, default=0)
    add_json_option(parser, "also write the results here")
    parser.add_argument("--one", nargs=2, metavar=("SYSTEM", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.budget, args.seed)))
        return 0
    rows = [
        row
        for name in args.datasets.split(",")
        for system in args.systems.split(",")
        for row in _run_in_subprocess(system, name, args.budget, args.seed)
    ]
    out_rows, wins = _compare(rows)
    print(
        f"\nTest scores at a {args.budget:.0f} s budget (roc_auc: higher is better; log_loss, rmse: lower):\n"
    )
    print(format_table(out_rows))
    for key, title in (
        ("fit_s", "Wall time of fit (s), Ray's start-up included; budget"),
        ("fit_ratio", "Fit wall time / budget"),
        ("predict_ms_1k", "Prediction time per 1,000 test rows (ms)"),
        ("predict_cpu_ms_1k", "Prediction CPU time per 1,000 test rows (ms, all threads)"),
    ):
        print(f"\n{title}:\n")
        print(format_table(_side_by_side(rows, key, args.budget)))
    print(
        f"\nraysearch matches or beats the better of FLAML/AutoGluon on {wins} of {len(out_rows)} data sets"
    )
    if args.json:
        write_json(args.json, {"benchmark": "tabular", "budget_s": args.budget, "rows": rows})
    return 0
