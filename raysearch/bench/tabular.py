"""Tabular AutoML at equal time budgets: raysearch AutoML, FLAML, AutoGluon, LightGBM defaults.

On the eight data sets of ``raysearch.data.TABULAR_BENCHMARK`` with a fixed 75/25 split
(``train_test_split(random_state=0)``, stratified for classification), each system gets the
same budget and the whole machine, one after the other, each in its own subprocess (so
no system inherits another's Ray instance or threads). The test score uses the same metric
code for all: roc_auc (binary), log_loss (multiclass), rmse (regression).

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


def _run_raysearch(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    from raysearch.automl import AutoML

    model = AutoML(label, problem_type=task, time_budget_s=budget, seed=seed, verbose=0).fit(train)
    pred = model.predict(test) if task == "regression" else model.predict_proba(test)
    return pred, model.classes_, {"models": int(len(model.leaderboard()))}


def _run_flaml(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    from flaml import AutoML as FlamlAutoML

    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    automl = FlamlAutoML()
    X, y = train.drop(columns=[label]), train[label]
    automl.fit(
        X,
        y,
        task="regression" if task == "regression" else "classification",
        metric=metric,
        time_budget=budget,
        seed=seed,
        verbose=0,
    )
    Xt = test.drop(columns=[label])
    if task == "regression":
        return automl.predict(Xt), None, {}
    return automl.predict_proba(Xt), list(automl.classes_), {}


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
        predictor.fit(train, time_limit=budget)
        Xt = test.drop(columns=[label])
        if task == "regression":
            return predictor.predict(Xt).to_numpy(), None, {}
        proba = predictor.predict_proba(Xt)
        return proba.to_numpy(), list(proba.columns), {}


def _run_lightgbm(train, test, label, task, budget, seed):  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    X, Xt = train.drop(columns=[label]), test.drop(columns=[label])
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]) and not pd.api.types.is_bool_dtype(
            X[column]
        ):
            categories = pd.Categorical(X[column].astype(str)).categories
            X[column] = pd.Categorical(X[column].astype(str), categories=categories)
            Xt[column] = pd.Categorical(Xt[column].astype(str), categories=categories)
    if task == "regression":
        model = lgb.LGBMRegressor(random_state=seed, verbose=-1).fit(X, train[label])
        return model.predict(Xt), None, {}
    classes = _classes(train, label)
    lookup = {c: i for i, c in enumerate(classes)}
    model = lgb.LGBMClassifier(random_state=seed, verbose=-1).fit(X, train[label].map(lookup))
    return model.predict_proba(Xt), classes, {}


RUNNERS = {
    "raysearch": _run_raysearch,
    "flaml": _run_flaml,
    "autogluon": _run_autogluon,
    "lightgbm": _run_lightgbm,
}


def run_one(system: str, name: str, budget: float, seed: int) -> dict[str, Any]:
    """One system on one data set (in this process); returns the test score and wall time."""
    train, test, label, task = _split(name)
    start = time.monotonic()
    pred, classes, extra = RUNNERS[system](train, test, label, task, budget, seed)
    wall = time.monotonic() - start
    if task != "regression":
        classes = list(classes) if classes is not None else _classes(train, label)
        order = _classes(train, label)
        if classes != order:  # put probability columns in the common class order
            index = {c: i for i, c in enumerate(classes)}
            pred = np.asarray(pred)[:, [index[c] for c in order]]
        classes = order
    return {
        "system": system,
        "dataset": name,
        "task": task,
        "score": _score(task, classes, test[label], pred),
        "wall_s": wall,
        **extra,
    }


def _run_in_subprocess(system: str, name: str, budget: float, seed: int) -> dict[str, Any]:
    """One system on one data set in a fresh interpreter (``--one``): its row, or a row of
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
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"  {system} on {name}: FAILED\n{out.stderr[-1500:]}", flush=True)
        return {"system": system, "dataset": name, "score": float("nan"), "wall_s": float("nan")}
    row: dict[str, Any] = json.loads(lines[-1])
    print(f"  {name:17s} {system:10s} {row['score']:.4f}  ({row['wall_s']:.0f} s)", flush=True)
    return row


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
        _run_in_subprocess(system, name, args.budget, args.seed)
        for name in args.datasets.split(",")
        for system in args.systems.split(",")
    ]
    walls = pd.DataFrame(rows).pivot(index="dataset", columns="system", values="wall_s")
    out_rows, wins = _compare(rows)
    print(
        f"\nTest scores at a {args.budget:.0f} s budget (roc_auc: higher is better; log_loss, rmse: lower):\n"
    )
    print(format_table(out_rows))
    print("\nWall time of fit (s):\n")
    print(
        format_table(
            [
                {"dataset": n, **{s: float(walls.loc[n, s]) for s in walls.columns}}
                for n in walls.index
            ]
        )
    )
    print(
        f"\nraysearch matches or beats the better of FLAML/AutoGluon on {wins} of {len(out_rows)} data sets"
    )
    if args.json:
        write_json(args.json, {"benchmark": "tabular", "budget_s": args.budget, "rows": rows})
    return 0
