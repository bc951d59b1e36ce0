"""How AutoML chooses and runs its final ensemble: selection (within an inference limit when
``fit`` gets one), the members' models, prediction and ``refit_full``.

:class:`EnsemblePredictor` is the part of :class:`~raysearch.automl.api.AutoML` that works on
the kept members (``members_``: name -> member with its family, configuration, fold models,
out-of-fold predictions and timings) after the search; ``fit`` calls :meth:`_finish`'s
``_select`` and, with ``infer_limit``, :meth:`_within_infer_limit`.
"""

from __future__ import annotations

import math
import pickle
import time
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.ensemble import GreedyEnsemble, StackedEnsemble, blend
from raysearch.automl.features import TablePrep
from raysearch.automl.files import load_table
from raysearch.automl.inference import (
    INFER_BATCH,
    available_cpus,
    estimated_cost,
    per_row_seconds,
    refit_model,
    select_within_limit,
    tiled,
)
from raysearch.automl.learners import LEARNERS, set_threads
from raysearch.automl.metrics import Metric

__all__ = ["EnsemblePredictor"]


class EnsemblePredictor:
    """The ensemble half of ``AutoML`` (a mixin: ``AutoML`` sets these attributes)."""

    label: str
    ensemble: str | None
    seed: int
    members_: dict[str, Any]
    weights_: dict[str, float]
    stack_: StackedEnsemble | None
    ensemble_score_: float | None
    prep_: TablePrep
    metric_: Metric
    task_: str
    n_classes_: int
    leaderboard_: pd.DataFrame
    _train_sample: pd.DataFrame
    _train_views: dict[str, pd.DataFrame] | None
    _train_y: np.ndarray

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise RuntimeError("this AutoML is not fitted yet: call fit() first")

    def _fetch_models(self, store: Any) -> None:
        """Unpickles the fold models of the members in use (set to predict on every CPU)."""
        import ray

        used = [self.members_[n] for n in self._used_names()]
        used = [m for m in used if m.models is None]
        if not used:  # all fetched already (measure() calls this per member)
            return
        fetched = ray.get(store.models.remote([m.trial_id for m in used]))
        for m in used:
            m.models = pickle.loads(fetched[m.trial_id])
            for model in m.models:
                set_threads(model, available_cpus())

    def _within_infer_limit(self, ctx: Any, store: Any, limit: float, deadline: float) -> None:
        """Selects the ensemble again within ``limit`` seconds per row: with costs estimated
        from the trials, then measured on a batch of the members chosen (their models
        fetched), while it is over (see :func:`~raysearch.automl.inference.select_within_limit`)."""
        batch = tiled(self._train_sample.drop(columns=[self.label]), INFER_BATCH)
        views = self.prep_.transform(batch)
        prep_cost = per_row_seconds(lambda: self.prep_.transform(batch), len(batch))
        members = list(self.members_.values())

        def measure(name: str) -> float:
            self._fetch_models(store)
            member = self.members_[name]
            return per_row_seconds(lambda: self._member_pred(member, views), len(batch))

        def select(costs: dict[str, float]) -> dict[str, float]:
            return self._select(members, ctx, deadline, costs, limit - prep_cost)

        n_rows, n_models = len(ctx.valid_rows), len(ctx.folds)
        estimated = {m.name: estimated_cost(m.predict_time, n_rows, n_models) for m in members}
        _, self.infer_time_per_row_, _ = select_within_limit(
            select, measure, estimated, limit, prep_cost
        )
        self.leaderboard_ = self._leaderboard(members)

    def _select(
        self,
        members: list[Any],
        ctx: Any,
        deadline: float | None = None,
        costs: dict[str, float] | None = None,
        limit: float = math.inf,
    ) -> dict[str, float]:
        """The best model (the best of those within ``limit`` by ``costs``, else the
        fastest), then the ensemble when it beats it out of fold; returns its weights."""
        fast = [m for m in members if costs is None or costs[m.name] <= limit]
        best = fast[0] if fast else min(members, key=lambda m: (costs or {})[m.name])
        self.weights_ = {best.name: 1.0}
        self.stack_ = None
        self.ensemble_score_ = None
        if self.ensemble and len(members) > 1:
            self._ensemble(members, ctx, deadline, costs, limit)
        return self.weights_

    def _ensemble(
        self,
        members: list[Any],
        ctx: Any,
        deadline: float | None,
        costs: dict[str, float] | None,
        limit: float,
    ) -> None:
        """Keeps the greedy ensemble or the stack when it beats the best model out of fold
        (greedy within ``limit`` when there are ``costs``)."""
        metric, sign = ctx.metric, -1.0 if ctx.metric.higher_is_better else 1.0
        rows = ctx.valid_rows
        y = ctx.y[rows]
        preds = {m.name: m.oof[rows] for m in members if m.oof is not None}
        best = preds[next(iter(self.weights_))]  # the best model (within the limit)
        if costs is not None or self.ensemble == "greedy":
            bounds = {"costs": costs, "limit": max(limit, 0.0) if costs is not None else None}
            greedy = GreedyEnsemble().fit(
                preds, y, metric.loss, rounds=40, deadline=deadline, **bounds
            )
            if greedy.loss < metric.loss(y, best) - 1e-12:
                self.weights_ = greedy.weights
                self.ensemble_score_ = sign * greedy.loss
        else:
            stack = StackedEnsemble(classification=ctx.task != "regression", seed=self.seed)
            stack.fit(preds, y, metric.loss)
            if stack.loss < metric.loss(y, best):
                self.stack_ = stack
                self.ensemble_score_ = sign * stack.loss

    def _leaderboard(self, members: list[Any]) -> pd.DataFrame:
        """One row per kept model (and the ensemble's, if used), best first."""
        records = []
        for m in members:
            records.append(
                {
                    "model": m.name,
                    "family": m.family,
                    "score": m.score,
                    "fit_time_s": m.fit_time,
                    "predict_time_s": m.predict_time,
                    "in_ensemble": m.name in self.weights_
                    or (self.stack_ is not None and m.name in self.stack_.members),
                }
            )
        if self.ensemble_score_ is not None:
            names = self._used_names()
            records.append(
                {
                    "model": "ensemble" if self.stack_ is None else "stack",
                    "family": "ensemble",
                    "score": self.ensemble_score_,
                    "fit_time_s": sum(self.members_[n].fit_time for n in names),
                    "predict_time_s": sum(self.members_[n].predict_time for n in names),
                    "in_ensemble": True,
                }
            )
        board_frame = pd.DataFrame(records)
        return board_frame.sort_values(
            "score", ascending=not self.metric_.higher_is_better, kind="stable"
        ).reset_index(drop=True)

    def _used_names(self) -> list[str]:
        """The members the final prediction uses."""
        return list(self.stack_.members) if self.stack_ is not None else list(self.weights_)

    def _member_pred(self, member: Any, views: dict[str, pd.DataFrame]) -> np.ndarray:
        learner = LEARNERS[member.family]
        view = views[learner.view]
        if member.models is None:
            raise RuntimeError(f"{member.name} is not in the ensemble; its models were not kept")
        preds = [
            learner.predict(model, view, self.task_, self.n_classes_) for model in member.models
        ]
        return np.mean(preds, axis=0)

    def _views_needed(self) -> tuple[str, ...]:
        """The table views the members in use read (only those are computed)."""
        names = self._used_names()
        return tuple(sorted({LEARNERS[self.members_[n].family].view for n in names}))

    def _raw_predict(self, data: Any, *, report: bool = True) -> np.ndarray:
        """The ensemble's raw predictions; ``report``: warn once per column about values
        training did not see (:meth:`TablePrep.report_unseen`)."""
        self._check_fitted()
        frame = load_table(data)
        X = frame.drop(columns=[self.label]) if self.label in frame.columns else frame
        views = self.prep_.transform(X, self._views_needed(), report=report)
        if self.stack_ is not None:
            preds = {
                name: self._member_pred(self.members_[name], views) for name in self.stack_.members
            }
            return self.stack_.predict(preds)
        preds = {n: self._member_pred(self.members_[n], views) for n in self.weights_}
        return blend(preds, self.weights_)

    # ------------------------------------------------------------------ refit_full
    def refit_full(self, data: Any = None) -> Any:
        """Refits each configuration the ensemble uses once on all the training rows (no
        rows held out), as long as its fold models trained (their mean boosting rounds,
        trees or epochs), so that the ensemble predicts with one model per member instead of
        one per fold; the ensemble's weights stay. Runs in this process on every CPU, after
        (and outside) ``fit``'s budget, as AutoGluon's ``refit_full``.

        Args:
            data: the training table; None: the one ``fit`` got (kept in memory by ``fit``,
                not saved: a loaded model needs it).
        """
        self._check_fitted()
        if data is not None:
            frame = load_table(data)
            frame = frame[frame[self.label].notna()]
            y = self.prep_.encode_label(frame[self.label])
            views = self.prep_.transform(frame.drop(columns=[self.label]))
        elif getattr(self, "_train_views", None) is not None:
            assert self._train_views is not None
            views, y = self._train_views, self._train_y
        else:
            raise RuntimeError("refit_full() of a loaded model needs its training data")
        names = self._used_names()
        threads = available_cpus()
        start = time.time()
        for name in names:
            m = self.members_[name]
            view = views[LEARNERS[m.family].view]
            m.models = [
                refit_model(
                    m.family,
                    m.config,
                    m.models,
                    view,
                    y,
                    self.task_,
                    self.n_classes_,
                    self.seed,
                    threads,
                )
            ]
        self.refit_full_s_ = time.time() - start
        self.refit_full_ = True
        return self
