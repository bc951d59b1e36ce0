"""Tabular models as ready-made, checkpointing Ray Tune function trainables.

::

    from raysearch.trainables import tabular_trainable
    trainable = tabular_trainable(frame, label="price", family="lightgbm", metric="rmse",
                                  validation="kfold")
    raysearch.run(trainable, trainable.param_space, metric=trainable.metric,
                  mode=trainable.mode, scheduler=ASHAScheduler(time_attr=trainable.time_attr,
                  max_t=trainable.max_t), ...)

What a trial does: it builds one :class:`~raysearch.trainables.families.Runner` per
validation fold, advances them together ``report_every`` fidelity units at a time (boosting
rounds, trees, epochs), and after each step reports the mean validation metric over the
folds with a checkpoint holding every fold's model. A paused trial (HyperBand, PBT) or a
retried one reads ``tune.get_checkpoint()`` and continues from its saved boosters: its
round count goes on from where it stopped. Boosting and MLPs stop early when the metric has
not improved for ``early_stopping`` units.

The data are prepared once in the driver (AutoML's :class:`~raysearch.automl.features.
TablePrep`: type inference, categoricals kept as pandas categories for LightGBM/XGBoost,
one-hot/imputed for the others; bad inputs are refused with the column named) and go to the
object store once through ``tune.with_parameters``; trials never re-pickle them.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import pickle
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.features import DataError, TablePrep
from raysearch.automl.files import load_table
from raysearch.automl.metrics import Metric, default_metric, get_metric
from raysearch.trainables.families import Family, get_family

__all__ = ["tabular_trainable", "make_splits", "TabularInfo", "VALIDATIONS", "run_tabular_trial"]

logger = logging.getLogger(__name__)

VALIDATIONS = ("holdout", "kfold", "stratified", "group", "timeseries")
_STATE_FILE = "tabular_state.pkl"
#: (train rows, validation rows) per fold
Folds = list[tuple[np.ndarray, np.ndarray]]


def make_splits(
    y: np.ndarray,
    validation: str = "holdout",
    *,
    task: str = "regression",
    n_splits: int = 5,
    test_size: float = 0.2,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> Folds:
    """Train/validation row indices for ``validation``.

    Args:
        y: encoded labels (class indices or floats).
        validation: ``holdout`` (one split, stratified for classification), ``kfold``,
            ``stratified`` (classification only), ``group`` (no group in two folds; needs
            ``groups``) or ``timeseries`` (rows in time order; each fold validates on rows
            after those it trains on).
        task: ``binary``, ``multiclass`` or ``regression``.
        n_splits: folds for the k-fold kinds.
        test_size: validation fraction of the holdout.
        groups: group id per row for ``group``.
        seed: shuffles the holdout and k-fold splits.
    """
    y = np.asarray(y)
    n = len(y)
    if validation not in VALIDATIONS:
        raise ValueError(f"validation must be one of {VALIDATIONS}, got {validation!r}")
    if validation != "holdout" and (not isinstance(n_splits, int) or n_splits < 2):
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}")
    if validation != "group" and groups is not None:
        raise ValueError(f"groups are only used with validation='group', not {validation!r}")
    classify = task != "regression"
    if validation == "holdout":
        return _holdout_split(y, classify, test_size, seed)
    if validation == "stratified":
        return _stratified_folds(y, classify, n_splits, seed)
    if validation == "kfold":
        from sklearn.model_selection import KFold

        splitter = KFold(n_splits, shuffle=True, random_state=seed)
        return [(tr, va) for tr, va in splitter.split(np.zeros(n))]
    if validation == "group":
        return _group_folds(y, groups, n_splits)
    if n < n_splits + 1:
        raise ValueError(
            f"validation='timeseries' with n_splits={n_splits} needs more than {n} rows"
        )
    from sklearn.model_selection import TimeSeriesSplit

    return [(tr, va) for tr, va in TimeSeriesSplit(n_splits).split(np.zeros(n))]


def _holdout_split(y: np.ndarray, classify: bool, test_size: float, seed: int) -> Folds:
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    can_stratify = classify and np.bincount(y.astype(int)).min() >= 2
    train, valid = train_test_split(
        np.arange(len(y)),
        test_size=test_size,
        random_state=seed,
        stratify=y if can_stratify else None,
    )
    return [(np.sort(train), np.sort(valid))]


def _stratified_folds(y: np.ndarray, classify: bool, n_splits: int, seed: int) -> Folds:
    from sklearn.model_selection import StratifiedKFold

    if not classify:
        raise ValueError("validation='stratified' needs a classification task, not regression")
    smallest = int(np.bincount(y.astype(int)).min())
    if smallest < n_splits:
        raise ValueError(
            f"validation='stratified' with n_splits={n_splits}: the rarest class has only "
            f"{smallest} rows"
        )
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in splitter.split(np.zeros(len(y)), y)]


def _group_folds(y: np.ndarray, groups: np.ndarray | None, n_splits: int) -> Folds:
    from sklearn.model_selection import GroupKFold

    n = len(y)
    if groups is None:
        raise ValueError("validation='group' needs groups (group_column=...)")
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries for {n} rows")
    distinct = len(pd.unique(groups))
    if distinct < n_splits:
        raise ValueError(f"validation='group' with n_splits={n_splits}: only {distinct} groups")
    return [(tr, va) for tr, va in GroupKFold(n_splits).split(np.zeros(n), y, groups)]


@dataclass
class TabularInfo:
    """What a searcher and a scheduler need to know about a tabular trainable."""

    family: str
    task: str
    metric: str
    mode: str
    time_attr: str  # the fidelity key in the reports
    max_t: int
    report_every: int
    n_rows: int
    n_classes: int
    validation: str
    n_folds: int
    relative_cost: float
    initial_config: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)


def _threads() -> int:
    """CPU threads of this trial (Ray sets OMP_NUM_THREADS to the trial's CPUs)."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def trial_device() -> str:
    """``"cuda"`` when this Ray worker was given a GPU, else ``"cpu"``."""
    try:
        import ray

        if ray.is_initialized() and ray.get_gpu_ids():
            return "cuda"
    except Exception:  # no Ray, or not in a worker
        pass
    return "cpu"


def run_tabular_trial(
    config: dict[str, Any],
    data: dict[str, Any],
    *,
    report: Any,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The trial loop without Ray: ``report(metrics, state)`` after every step.

    ``state`` is the picklable snapshot of all folds (what a checkpoint holds);
    ``checkpoint`` is such a snapshot to continue from. Returns the last metrics.
    """
    family: Family = get_family(data["family"])
    metric: Metric = data["metric"]
    task, k = data["task"], data["n_classes"]
    view, y = data["view"], data["y"]
    cfg = {**data["initial_config"], **{k_: v for k_, v in config.items() if k_ != "seed"}}
    seed = int(config.get("seed", data["seed"]))
    device = trial_device() if family.gpu else "cpu"
    runners = [
        family.runner(
            view.iloc[tr],
            y[tr],
            view.iloc[va],
            y[va],
            cfg,
            task,
            k,
            seed + i,
            threads=data.get("threads") or _threads(),
            device=device,
        )
        for i, (tr, va) in enumerate(data["folds"])
    ]
    best, best_units, resumed_from = math.inf, 0, 0
    if checkpoint is not None:
        for runner, state in zip(runners, checkpoint["runners"], strict=True):
            runner.set_state(state)
        best, best_units = checkpoint["best"], checkpoint["best_units"]
        resumed_from = checkpoint["units"]
    units = resumed_from
    max_t, step, patience = data["max_t"], data["report_every"], data["early_stopping"]
    last: dict[str, Any] = {}
    try:
        while units < max_t:
            start = time.perf_counter()
            n = min(step, max_t - units)
            scores = []
            for runner, (_, va) in zip(runners, data["folds"], strict=True):
                runner.advance(n)
                scores.append(metric(y[va], runner.predict()))
            units += n
            value = float(np.mean(scores))
            loss = -value if metric.higher_is_better else value
            if loss < best - 1e-12:
                best, best_units = loss, units
            stop = patience is not None and units - best_units >= patience
            last = {
                metric.name: value,
                data["time_attr"]: units,
                "best": -best if metric.higher_is_better else best,
                "resumed_from": resumed_from,
                "step_s": time.perf_counter() - start,
                "device": device,
            }
            state = {
                "units": units,
                "best": best,
                "best_units": best_units,
                "runners": [r.get_state() for r in runners],
            }
            report(last, state)
            if stop:
                break
    finally:
        for runner in runners:
            runner.close()
    return last


def _tune_trial(config: dict[str, Any], data: dict[str, Any]) -> None:
    """The Tune function trainable: :func:`run_tabular_trial` with Tune checkpoints."""
    from ray import tune

    saved = tune.get_checkpoint()
    checkpoint = None
    if saved is not None:
        with saved.as_directory() as folder:
            with open(os.path.join(folder, _STATE_FILE), "rb") as fh:
                checkpoint = pickle.load(fh)
    every = max(1, int(data.get("checkpoint_every", 1)))
    count = [0]

    def report(metrics: dict[str, Any], state: dict[str, Any]) -> None:
        count[0] += 1
        if count[0] % every:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="raysearch-ckpt-") as folder:
            with open(os.path.join(folder, _STATE_FILE), "wb") as fh:
                pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    run_tabular_trial(config, data, report=report, checkpoint=checkpoint)


def _labelled_table(
    data: Any, label: str, group_column: str | None, time_column: str | None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows of ``data`` with a label (in time order with ``time_column``), without the
    group column, and the group of each row."""
    frame = load_table(data)
    if not isinstance(label, str) or label not in frame.columns:
        raise DataError(
            f"label column {label!r} is not in the table; columns: {list(frame.columns)[:20]}"
        )
    for name, column in (("group_column", group_column), ("time_column", time_column)):
        if column is not None and column not in frame.columns:
            raise DataError(f"{name} {column!r} is not in the table")
    frame = frame[frame[label].notna()]
    if time_column is not None:
        frame = frame.sort_values(time_column, kind="stable")
    frame = frame.reset_index(drop=True)
    groups = frame[group_column].to_numpy() if group_column is not None else None
    features = frame.drop(columns=[c for c in (group_column,) if c is not None])
    return features, groups


def _fidelity(
    spec: Family, max_units: int | None, report_every: int | None, early_stopping: int | None | str
) -> tuple[int, int, int | None]:
    """The units a trial trains at most, between reports and without improving before it
    stops (None: never); ``None`` and ``"default"`` take the family's defaults."""
    max_t = int(max_units or spec.max_units)
    if max_t < 1:
        raise ValueError(f"max_units must be >= 1, got {max_units!r}")
    every = int(report_every or spec.report_every)
    if every < 1:
        raise ValueError(f"report_every must be >= 1, got {report_every!r}")
    patience = spec.early_stopping if early_stopping == "default" else early_stopping
    return max_t, every, None if patience is None else int(patience)


def prepare_tabular(
    data: Any,
    label: str,
    family: str | Family = "lightgbm",
    *,
    metric: str | None = None,
    problem_type: str | None = None,
    validation: str = "holdout",
    n_splits: int = 5,
    test_size: float = 0.2,
    group_column: str | None = None,
    time_column: str | None = None,
    max_units: int | None = None,
    report_every: int | None = None,
    early_stopping: int | None | str = "default",
    checkpoint_every: int = 1,
    threads: int | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], TabularInfo]:
    """The payload a tabular trial reads, and its :class:`TabularInfo` (no Ray needed)."""
    spec = family if isinstance(family, Family) else get_family(family)
    if validation not in VALIDATIONS:
        raise ValueError(f"validation must be one of {VALIDATIONS}, got {validation!r}")
    features, groups = _labelled_table(data, label, group_column, time_column)
    prep = TablePrep(label, problem_type).fit(features)  # type: ignore[arg-type]
    task = prep.problem_type_
    assert task is not None
    scorer = get_metric(metric or default_metric(task), task)
    y = prep.encode_label(features[label])
    X = features.drop(columns=[label])
    view = prep.transform_native(X) if spec.view == "native" else prep.transform_numeric(X)
    folds = make_splits(
        y,
        validation,
        task=task,
        n_splits=n_splits,
        test_size=test_size,
        groups=groups,
        seed=seed,
    )
    max_t, every, patience = _fidelity(spec, max_units, report_every, early_stopping)
    k = len(prep.classes_ or [])
    n = len(y)
    info = TabularInfo(
        family=spec.name,
        task=task,
        metric=scorer.name,
        mode=scorer.mode,
        time_attr=spec.fidelity or "fits",
        max_t=max_t if spec.fidelity else 1,
        report_every=every if spec.fidelity else 1,
        n_rows=n,
        n_classes=k,
        validation=validation,
        n_folds=len(folds),
        relative_cost=spec.relative_cost,
        initial_config=spec.initial_config(n, task),
        space=spec.space(n, task),
    )
    payload = {
        "family": spec.name,
        "view": view,
        "y": y,
        "folds": folds,
        "task": task,
        "n_classes": k,
        "metric": scorer,
        "initial_config": info.initial_config,
        "seed": int(seed),
        "max_t": info.max_t,
        "report_every": info.report_every,
        "early_stopping": patience,
        "time_attr": info.time_attr,
        "checkpoint_every": checkpoint_every,
        "threads": threads,
        "prep": prep,
    }
    return payload, info


#: the keyword arguments of :func:`prepare_tabular` (and :func:`tabular_trainable`)
_OPTIONS = frozenset(inspect.signature(prepare_tabular).parameters) - {"data", "label", "family"}


def tabular_trainable(
    data: Any, label: str, family: str | Family = "lightgbm", **options: Any
) -> Any:
    """A Tune function trainable (``tune.with_parameters``) training ``family`` on ``data``.

    Args:
        data: a pandas DataFrame, a pyarrow Table or a CSV/Parquet path.
        label: the label column.
        family: ``lightgbm``, ``xgboost``, ``random_forest``, ``extra_trees``, ``linear``,
            ``knn`` or ``mlp`` (see :mod:`raysearch.trainables.families`).

    Keyword Args:
        metric: ``roc_auc``, ``log_loss``, ``accuracy``, ``f1``, ``rmse``, ``mae``, ``r2``
            (default: roc_auc / log_loss / rmse by task); the trainable's ``mode`` says
            whether higher is better.
        problem_type: ``binary``, ``multiclass``, ``regression`` or None to infer it.
        validation: ``holdout``, ``kfold``, ``stratified``, ``group`` or ``timeseries``.
        n_splits, test_size: folds of the k-fold kinds; validation fraction of the holdout.
        group_column: the group id column for ``group`` (not used as a feature).
        time_column: rows are sorted by it (for ``timeseries``).
        max_units: fidelity units (rounds, trees, epochs) a trial trains at most.
        report_every: units between reports and checkpoints (boosting default 10).
        early_stopping: patience in units (default per family; None turns it off).
        checkpoint_every: checkpoint every this many reports (1: every report).
        threads: CPU threads per model (default: the trial's CPUs).
        seed: seeds the splits and the models (a ``seed`` key in the config overrides it
            for the models).

    All keyword arguments go to :func:`prepare_tabular` (which also gives the payload
    without Ray).

    Returns:
        The trainable, with attributes ``info`` (:class:`TabularInfo`), ``metric``, ``mode``,
        ``time_attr`` (the fidelity key for ASHA/HyperBand), ``max_t``, ``param_space``
        (the family's default :class:`~raysearch.space.Space` for this table),
        ``initial_config`` and ``prep`` (the fitted TablePrep).
    """
    unknown = [key for key in options if key not in _OPTIONS]
    if unknown:  # the error Python gives for a function with these keyword arguments
        raise TypeError(f"tabular_trainable() got an unexpected keyword argument {unknown[0]!r}")
    from ray import tune

    payload, info = prepare_tabular(data, label, family, **options)
    prep = payload.pop("prep")
    trainable = tune.with_parameters(_tune_trial, data=payload)
    spec = get_family(info.family)
    trainable.info = info
    trainable.metric = info.metric
    trainable.mode = info.mode
    trainable.time_attr = info.time_attr
    trainable.max_t = info.max_t
    trainable.initial_config = dict(info.initial_config)
    trainable.param_space = spec.param_space(info.n_rows, info.task)
    trainable.prep = prep
    trainable.__name__ = f"tabular_{info.family}"
    return trainable
