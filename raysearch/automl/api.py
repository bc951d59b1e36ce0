"""``raysearch.AutoML``: give it a table and a time budget, get the best model it can find.

How ``fit`` spends the budget (every step on Ray, so a cluster's CPUs/GPUs are all used when
``RAY_ADDRESS`` names one):

1. **Prepare** the table (:class:`~raysearch.automl.features.TablePrep`) and choose the
   validation: k-fold cross-validation for tables up to ``cv_max_rows`` rows (bagging: every
   fold's model is kept and their predictions averaged), a stratified holdout above that.
2. **Baselines first**: every family's cheap default configuration runs before any search
   (the searcher's ``points_to_evaluate``), cheapest families first, then the families'
   other zero-shot configurations.
3. **Search** one conditional space across families (the family is a categorical whose
   options hold each family's hyperparameters) with a model-based searcher (TPE when
   available), while a successive-halving scheduler stops configurations whose first folds
   are poor (folds completed are the fidelity).
4. **Ensemble**: greedy ensemble selection (Caruana) over the out-of-fold predictions of the
   best models, or stacking; it is used when it beats the best single model on the same
   out-of-fold rows. ``fit(infer_limit=...)`` keeps it within a prediction time per row,
   and ``refit_full()`` refits its members on all rows (one model per member, not one per
   fold): :mod:`~raysearch.automl.predictor`, :mod:`~raysearch.automl.inference`.

Every trial gets an absolute deadline, so fit returns within the budget, counted on the
user's clock from the call (importing and starting Ray included; the reserve for what follows
the search is kept back from it). The data goes to Ray's object store once.

This module is the estimator; ``fit``'s phases are its methods, over the pieces in
:mod:`~raysearch.automl.search` (the folds, the space across families, the searcher and the
scheduler), :mod:`~raysearch.automl.budget` (the ensembling reserve, ``estimate``'s figures),
:mod:`~raysearch.automl.trials` (what runs on Ray: the trial, the store of the best models),
:mod:`~raysearch.automl.ensemble` and :mod:`~raysearch.automl.files` (tables in, models out).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.budget import (
    baseline_fold_times,
    cpu_slots,
    ensemble_reserve,
    estimate_table,
)
from raysearch.automl.ensemble import StackedEnsemble
from raysearch.automl.features import DataError, TablePrep
from raysearch.automl.files import load_model, load_table, save_model
from raysearch.automl.forecast import forecaster_for
from raysearch.automl.inference import permutation_importance
from raysearch.automl.learners import LEARNERS
from raysearch.automl.metrics import Metric, default_metric, get_metric
from raysearch.automl.predictor import EnsemblePredictor
from raysearch.automl.search import (
    Folds,
    make_folds,
    make_scheduler,
    make_searcher,
    search_space,
    usable_families,
)
from raysearch.automl.trials import TRIAL_SHARE, artifact_store, import_families, trial_trainable

__all__ = ["AutoML", "load_table"]

logger = logging.getLogger("raysearch.automl")


@dataclass
class _Member:
    """A trained configuration: its fold models and out-of-fold predictions."""

    name: str
    family: str
    config: dict[str, Any]
    models: list[Any] | None  # None: not an ensemble member, its models were not kept
    score: float
    fit_time: float
    predict_time: float
    oof: np.ndarray | None = field(default=None, repr=False)
    trial_id: str = ""


@dataclass
class FitContext:
    """What ``fit`` learned about the table before the search; its later phases read it.

    Attributes:
        prep: the fitted :class:`TablePrep`.
        metric: the metric, task, number of classes (0 for regression) and encoded labels.
        folds, plan: the validation's (train, valid) row indices and its description.
        views: the table views the families read (``native``, ``numeric``).
        space, points: the search space and the points it evaluates first.
    """

    prep: TablePrep
    metric: Metric
    task: str
    n_classes: int
    y: np.ndarray
    folds: Folds
    plan: str
    views: dict[str, pd.DataFrame]
    space: Any
    points: list[dict[str, Any]]

    @property
    def valid_rows(self) -> np.ndarray:
        """The validation rows of every fold (the out-of-fold rows), fold after fold."""
        return np.concatenate([v for _, v in self.folds])


class AutoML(EnsemblePredictor):
    """Tabular AutoML on Ray with scikit-learn conventions.

    Args:
        label: the label column.
        metric: ``roc_auc``, ``log_loss``, ``accuracy``, ``f1`` (classification), ``rmse``,
            ``mae``, ``r2`` (regression); default roc_auc (binary), log_loss (multiclass),
            rmse (regression).
        problem_type: ``binary``, ``multiclass``, ``regression``, or None to infer it.
        time_budget_s: wall time of ``fit``, everything included.
        seed: seeds the folds, the searcher and the models.
        resources: per trial, e.g. ``{"cpu": 1}`` (default) or ``{"cpu": 2, "gpu": 0.5}``.
        families: model families to search (default all: lightgbm, xgboost, extra_trees,
            random_forest, linear, knn, mlp).
        n_folds: folds of the cross-validation.
        cv_max_rows: tables with more rows use a holdout instead of cross-validation.
        ensemble: ``"greedy"`` (default), ``"stack"`` or None.
        searcher: a registered searcher name (default ``"tpe"``, ``"random"`` if TPE is missing).
        verbose: 0 silent, 1 progress lines, 2 also Ray's start-up messages.
        task, time_column, id_column, horizon: ``task="forecast"`` forecasts ``label`` ``horizon``
            steps ahead (:class:`raysearch.automl.forecast.Forecaster`; ``predict`` -> a table).

    Example::

        from raysearch import AutoML
        model = AutoML(label="price", time_budget_s=60).fit("train.csv")
        model.leaderboard()
        predictions = model.predict("test.csv")
    """

    def __init__(
        self,
        label: str,
        metric: str | None = None,
        problem_type: str | None = None,
        time_budget_s: float = 60.0,
        seed: int = 0,
        resources: dict[str, float] | None = None,
        families: list[str] | None = None,
        n_folds: int = 5,
        cv_max_rows: int = 20_000,
        ensemble: str | None = "greedy",
        searcher: str = "tpe",
        verbose: int = 1,
        task: str | None = None,
        time_column: str | None = None,
        id_column: str | None = None,
        horizon: int | None = None,
    ) -> None:
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a column name, got {label!r}")
        if not time_budget_s or time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0, got {time_budget_s!r}")
        unknown = [f for f in families or [] if f not in LEARNERS]
        if unknown:
            import difflib

            hint = difflib.get_close_matches(unknown[0], list(LEARNERS), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(
                f"unknown model family {unknown[0]!r}{extra}; known: {', '.join(LEARNERS)}"
            )
        if ensemble not in ("greedy", "stack", None):
            raise ValueError(f"ensemble must be 'greedy', 'stack' or None, got {ensemble!r}")
        if n_folds < 2:
            raise ValueError(f"n_folds must be >= 2, got {n_folds}")
        self.label = label
        self.metric = metric
        self.problem_type = problem_type
        self.time_budget_s = float(time_budget_s)
        self.seed = int(seed)
        self.resources = dict(resources or {"cpu": 1.0})
        self.families = list(families or LEARNERS)
        self.n_folds = int(n_folds)
        self.cv_max_rows = int(cv_max_rows)
        self.ensemble = ensemble
        self.searcher = searcher
        self.verbose = verbose
        self.forecaster = forecaster_for(self, task, time_column, id_column, horizon)

    # ------------------------------------------------------------------ fit
    def _read(self, data: Any) -> tuple[pd.DataFrame, TablePrep, str]:
        """The table of ``data``, its :class:`TablePrep` fitted on it and the task."""
        frame = load_table(data)
        prep = TablePrep(self.label, self.problem_type).fit(frame)  # type: ignore[arg-type]
        task = prep.problem_type_
        assert task is not None
        return frame, prep, task

    def _rows(
        self, frame: pd.DataFrame, prep: TablePrep, task: str
    ) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, Folds, str]:
        """The labelled rows, their encoded labels, the features, the folds and their name."""
        frame = frame[frame[self.label].notna()]
        y = prep.encode_label(frame[self.label])
        X = frame.drop(columns=[self.label])
        folds, plan = make_folds(y, task, self.n_folds, self.cv_max_rows, self.seed)
        return frame, y, X, folds, plan

    def _prepare(self, data: Any) -> FitContext:
        """Reads and prepares the table, chooses the validation and the search space."""
        frame, prep, task = self._read(data)
        metric = get_metric(self.metric or default_metric(task), task)
        frame, y, X, folds, plan = self._rows(frame, prep, task)
        sample_rng = np.random.default_rng(self.seed)
        keep = sample_rng.choice(len(frame), min(len(frame), 2000), replace=False)
        self._train_sample = frame.iloc[np.sort(keep)]
        fold_ids = np.full(len(y), -1)
        for i, (_, valid) in enumerate(folds):
            fold_ids[valid] = i
        views = prep.transform(X, fold_ids=np.where(fold_ids < 0, 0, fold_ids), y=y)
        k = len(prep.classes_ or [])
        space, points = search_space(self.families, len(y), task)
        if self.verbose:
            logger.info(
                "%s %s, %d rows x %d columns, %s, metric %s, budget %.0f s",
                "AutoML:",
                task,
                len(y),
                X.shape[1],
                plan,
                metric.name,
                self.time_budget_s,
            )
        return FitContext(prep, metric, task, k, y, folds, plan, views, space, points)

    def _search(
        self, ctx: FitContext, store: Any, search_deadline: float, start: float
    ) -> pd.DataFrame:
        """Runs the search on Ray Tune until ``search_deadline``; returns its leaderboard."""
        import raysearch
        from raysearch.tune.outcomes import Interrupted

        threads = max(1, int(self.resources.get("cpu", 1)))
        payload = {
            **ctx.views,
            "y": ctx.y,
            "folds": ctx.folds,
            "task": ctx.task,
            "n_classes": ctx.n_classes,
            "metric": ctx.metric,
            "deadline": search_deadline,
            "trial_cap_s": max(1.0, TRIAL_SHARE * (search_deadline - time.time())),
            "seed": self.seed,
            "store": store,
            "threads": threads,
        }
        trainable = trial_trainable(payload)
        budget_left = search_deadline - time.time()
        if budget_left <= 1.0:
            raise ValueError(
                f"time_budget_s={self.time_budget_s} is too small for this table: data preparation took {time.time() - start:.1f} s"
            )
        try:
            with tempfile.TemporaryDirectory(prefix="raysearch-automl-") as storage:
                result = raysearch.run(
                    trainable,
                    ctx.space,
                    metric="score",
                    mode=ctx.metric.mode,
                    searcher=make_searcher(self.searcher, ctx.space, ctx.points, self.seed),
                    scheduler=make_scheduler(len(ctx.folds), len(ctx.points), self.seed),
                    time_budget_s=budget_left,
                    num_samples=-1,
                    resources=self.resources,
                    storage_path=storage,
                    loggers="none",
                    checkpoint_every_s=None,
                    fail_fast=None,  # a family that fails on this table leaves the others to run
                    verbose=self.verbose,
                )
        except Interrupted:  # its trials lived in a temporary directory: no resume hint
            raise KeyboardInterrupt("AutoML interrupted before its search finished") from None
        board: pd.DataFrame = result.leaderboard
        return board

    def fit(self, data: Any, infer_limit: float | None = None) -> AutoML:
        """Searches models for ``data`` within ``time_budget_s`` (see the module docstring).

        Args:
            infer_limit: the most seconds per row the final ensemble may take to predict
                (preprocessing included, timed on batches of ``INFER_BATCH`` rows), as
                AutoGluon's: ensemble selection keeps within it (the fastest model when no
                model is fast enough). None: no limit.
        """
        if self.forecaster is not None:  # task="forecast"
            self.forecaster.fit(data)
            return self
        start = time.time()  # the user's clock: importing and starting Ray count too
        import ray

        from raysearch.tune.resources import init_ray
        from raysearch.tune.run import setup_logging

        setup_logging(self.verbose)  # the phase lines before the search show too
        if infer_limit is not None and not infer_limit > 0:
            raise ValueError(f"infer_limit must be > 0 seconds per row, got {infer_limit!r}")
        self.infer_limit = infer_limit
        deadline = start + self.time_budget_s
        ctx = self._prepare(data)
        # Unpickling the trials' models imports their libraries in this process; do it while
        # the search runs instead of after it (torch alone takes seconds).
        warmup = threading.Thread(target=import_families, args=(self.families,), daemon=True)
        warmup.start()
        ray_start = time.time()
        self._phase("1/3 data prepared in %.1f s; starting Ray", ray_start - start)
        init_ray(verbose=self.verbose)
        prepared = time.time()
        reserve = ensemble_reserve(
            ctx.metric,
            ctx.y[ctx.valid_rows],
            ctx.n_classes,
            ctx.task,
            self.time_budget_s,
            ray_start_s=prepared - ray_start,
        )
        search_deadline = deadline - reserve
        store = artifact_store().remote(keep=25, higher_is_better=ctx.metric.higher_is_better)
        self._phase("2/3 searching models for %.0f s", search_deadline - time.time())
        board = self._search(ctx, store, search_deadline, start)
        searched = time.time()
        self._phase("3/3 building the ensemble (%.0f s left)", deadline - searched)
        warmup.join()
        items = ray.get(store.summary.remote())
        collected = time.time()
        try:
            self._finish(items, board, ctx, deadline - 1.0)  # 1 s to fetch the models
            self._fetch_models(store)
            if infer_limit is not None:
                self._within_infer_limit(ctx, store, infer_limit, deadline)
        finally:
            ray.kill(store)
        for m in self.members_.values():
            m.oof = None  # not needed for prediction; keeps saved models small
        self._train_views, self._train_y = ctx.views, ctx.y  # for refit_full (not saved)
        self.fit_time_s_ = time.time() - start
        if self.verbose:
            top = self.leaderboard_.iloc[0]
            logger.info(
                "AutoML: best %s %s = %.6g (%d trials, %d models kept) in %.1f s",
                top["model"],
                ctx.metric.name,
                top["score"],
                len(self.trials_),
                len(self.members_),
                self.fit_time_s_,
            )
        self.timings_ = {
            "prepare_s": prepared - start,
            "search_s": searched - prepared,
            "collect_s": collected - searched,
            "ensemble_s": time.time() - collected,
            "ray_start_s": prepared - ray_start,
            "reserve_s": reserve,
        }
        return self

    def _phase(self, message: str, *args: Any) -> None:
        """One progress line saying which phase a fit is in (long fits show where they are)."""
        if self.verbose:
            logger.info("AutoML: " + message, *args)

    def _finish(
        self,
        items: dict[str, dict[str, Any]],
        board: pd.DataFrame,
        ctx: FitContext,
        deadline: float | None = None,
    ) -> None:
        """The fitted state from the kept trials: members, ensemble, leaderboard."""
        if not items:
            raise RuntimeError(
                "no model finished within the time budget; raise time_budget_s "
                f"(it was {self.time_budget_s} s for {len(ctx.y)} rows)"
            )
        members = []
        for trial_id, item in items.items():
            members.append(
                _Member(
                    f"{item['family']}_{trial_id}",
                    item["family"],
                    item["config"],
                    None,
                    float(item["score"]),
                    item["fit_time"],
                    item["predict_time"],
                    item["oof"],
                    trial_id,
                )
            )
        metric = ctx.metric
        sign = -1.0 if metric.higher_is_better else 1.0
        members.sort(key=lambda m: sign * m.score)
        self.prep_, self.metric_ = ctx.prep, metric
        self.task_, self.n_classes_ = ctx.task, ctx.n_classes
        self.validation_ = ctx.plan
        self.members_ = {m.name: m for m in members}
        self.weights_: dict[str, float] = {}
        self.stack_: StackedEnsemble | None = None
        self.ensemble_score_: float | None = None
        self._select(members, ctx, deadline)
        best = members[0]
        self.best_config_ = {"family": best.family, **best.config}
        self.classes_ = None if ctx.task == "regression" else list(ctx.prep.classes_ or [])
        self.leaderboard_ = self._leaderboard(members)
        self.trials_ = board

    # ------------------------------------------------------------------ budget estimate
    def estimate(self, data: Any, time_budget_s: float | None = None) -> pd.DataFrame:
        """How many trials of each family fit in a budget, from measured baselines.

        Each family's starting configurations are fitted (and predict) once on the first
        validation fold of ``data`` here (no Ray needed); a trial costs their mean times the
        folds it runs (fewer than all on average: ASHA stops poor ones), plus Tune's overhead. With ``slots`` trials running at once (Ray's
        CPUs, or this machine's, divided by the CPUs per trial) and the search's share of the
        budget, the table gives the trials each family would get alone
        (``trials_if_alone``), an equal number of trials per family (``expected_trials``)
        and, in the last row, the mean times and the whole search's trials (the sum of the
        families' expected trials).
        """
        budget = float(time_budget_s or self.time_budget_s)
        start = time.time()
        frame, prep, task = self._read(data)
        frame, y, X, folds, plan = self._rows(frame, prep, task)
        views = prep.transform(X)  # both views in one pass
        k = len(prep.classes_ or [])
        prepare_s = time.time() - start
        families = usable_families(self.families, len(y))
        import_families(families)  # time the fits, not the first import of their libraries
        rows = baseline_fold_times(families, views, y, folds[0], task, k, budget, self.seed)
        slots = cpu_slots(self.resources)
        return estimate_table(rows, len(folds), plan, budget, prepare_s, slots)

    # ------------------------------------------------------------------ predict
    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities ``(n, k)``, columns in the order of :attr:`classes_`."""
        if getattr(self, "task_", None) == "regression":
            raise AttributeError("predict_proba is for classification; this is a regression model")
        return self._raw_predict(data)

    def predict(self, data: Any = None) -> np.ndarray:
        """Predicted labels (classification) or values (regression); the forecast table."""
        if self.forecaster is not None:  # data: None (after the training data) or histories
            return self.forecaster.predict(data)
        return self.labels_from(self._raw_predict(data))

    def labels_from(self, proba: np.ndarray) -> np.ndarray:
        """The labels :meth:`predict` gives for :meth:`predict_proba`'s output ``proba`` (for
        both from one pass over the rows); for regression, the values."""
        if self.task_ == "regression":
            return np.asarray(proba, dtype=float)
        return self.prep_.decode_label(np.asarray(proba).argmax(axis=1))

    def score(self, data: Any) -> float:
        """The metric on labelled ``data`` (in the metric's own direction)."""
        frame = load_table(data)
        if self.label not in frame.columns:
            raise DataError(f"score() needs the label column {self.label!r}")
        y = self.prep_.encode_label(frame[self.label])
        return float(self.metric_(y, self._raw_predict(frame)))

    def leaderboard(self) -> pd.DataFrame:
        """Models by validation score (best first): model, family, score, fit and predict time."""
        if self.forecaster is not None:
            return self.forecaster.leaderboard()
        self._check_fitted()
        return self.leaderboard_.copy()

    def feature_importance(
        self, data: Any = None, *, n_repeats: int = 3, max_rows: int = 2000
    ) -> pd.Series:
        """Permutation importance of each input column: how much the metric worsens when the
        column is shuffled, on labelled ``data`` (training data if None: an optimistic view)."""
        self._check_fitted()
        frame = load_table(data) if data is not None else self._train_sample
        if self.label not in frame.columns:
            raise DataError(f"feature_importance() needs the label column {self.label!r}")
        rng = np.random.default_rng(self.seed)
        if len(frame) > max_rows:
            frame = frame.iloc[rng.choice(len(frame), max_rows, replace=False)]
        y = self.prep_.encode_label(frame[self.label])
        columns = [c.name for c in self.prep_.columns_]

        def loss(rows: pd.DataFrame) -> float:
            return self.metric_.loss(y, self._raw_predict(rows, report=False))

        return permutation_importance(frame, columns, loss, rng, n_repeats)

    # ------------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_train_views", None)  # refit_full's training rows are not saved
        state.pop("_train_y", None)
        return state

    def report(self, path: str | os.PathLike[str]) -> Path:
        """Writes this model's report page (models, ensemble weights, scores by family, fit and
        predict times; one self-contained HTML file, see :mod:`raysearch.report`) to
        ``path``. Returns its path."""
        from raysearch.report import write_report

        return write_report(self, path)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the fitted model to the directory ``path`` (created)."""
        if self.forecaster is not None:  # task="forecast": the forecaster travels pickled
            save_model(self, path, self.forecaster.info())
            return
        self._check_fitted()
        info = {
            "label": self.label,
            "metric": self.metric_.name,
            "problem_type": self.task_,
            "classes": [str(c) for c in self.classes_ or []],
            "members": {n: w for n, w in self.weights_.items()},
        }
        save_model(self, path, info)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AutoML:
        """Reads a model written by :meth:`save`."""
        return load_model(path, cls)
