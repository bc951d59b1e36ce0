"""Ensembles over out-of-fold predictions: greedy ensemble selection and stacking.

Notation:
    n: rows; k: classes (probability columns) or 1 for regression.
    P_m: ``(n, k)`` out-of-fold predictions of model ``m`` (class probabilities, or values).
    loss(y, P): lower is better (1 - ROC AUC, log loss, RMSE ...).

Greedy ensemble selection (Caruana, Niculescu-Mizil, Crew & Ksikes, "Ensemble Selection from
Libraries of Models", ICML 2004; the ensemble AutoGluon and auto-sklearn use): start from the
best model, repeatedly add (with replacement) the model whose addition lowers the loss of the
averaged prediction most, keep the best prefix. The weights are the selection counts.

Within an inference limit (``costs``: each model's prediction seconds per row, ``limit``: the
most the ensemble may take): a model is a candidate only while the distinct models selected,
it included, cost at most ``limit``; the start is the best model within the limit (the
cheapest when none is).

Stacking: a regularised linear meta-model (logistic regression on log-probabilities, ridge on
regression values) fitted on the out-of-fold predictions; its own score is estimated by an
inner cross-validation so that it can be compared with the models it combines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["greedy_selection", "GreedyEnsemble", "StackedEnsemble", "blend"]

Loss = Callable[[np.ndarray, np.ndarray], float]


def blend(predictions: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The weighted average of the models' predictions (weights need not sum to one)."""
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("ensemble weights must have a positive sum")
    out: np.ndarray | None = None
    for name, w in weights.items():
        if w == 0:
            continue
        term = np.asarray(predictions[name], dtype=float) * (w / total)
        out = term if out is None else out + term
    assert out is not None
    return out


def greedy_selection(
    predictions: Mapping[str, np.ndarray],
    y: np.ndarray,
    loss: Loss,
    *,
    rounds: int = 50,
    costs: Mapping[str, float] | None = None,
    limit: float | None = None,
    deadline: float | None = None,
) -> tuple[dict[str, float], float]:
    """Caruana's forward selection with replacement, within ``limit`` when given (see the
    module docstring); ``deadline`` (``time.time()``) ends the rounds early.

    Returns:
        (weights that sum to 1 over the selected models, loss of the blended prediction).
    """
    import time

    names = [n for n in predictions if np.all(np.isfinite(predictions[n]))]
    if not names:
        raise ValueError("no model has finite predictions to ensemble")
    cost = {n: float((costs or {}).get(n, 0.0)) for n in names}
    preds = {n: np.asarray(predictions[n], dtype=float) for n in names}
    scores = {n: loss(y, preds[n]) for n in names}
    within = [n for n in names if limit is None or cost[n] <= limit]
    first = min(within, key=lambda n: scores[n]) if within else min(names, key=lambda n: cost[n])
    counts = {first: 1}
    current = preds[first].copy()
    size = 1
    best_loss, best_counts = scores[first], dict(counts)
    for _ in range(rounds - 1):
        if deadline is not None and time.time() > deadline:
            break
        spent = sum(cost[n] for n in counts)
        allowed = [
            n
            for n in names
            if n in counts or limit is None or spent + cost[n] <= limit * (1 + 1e-9)
        ]
        candidate_losses = {n: loss(y, (current * size + preds[n]) / (size + 1)) for n in allowed}
        pick = min(allowed, key=lambda n: (candidate_losses[n], n))
        current = (current * size + preds[pick]) / (size + 1)
        size += 1
        counts[pick] = counts.get(pick, 0) + 1
        if candidate_losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = candidate_losses[pick], dict(counts)
    total = sum(best_counts.values())
    return {n: c / total for n, c in best_counts.items()}, float(best_loss)


@dataclass
class GreedyEnsemble:
    """A fitted greedy ensemble: weights over named models."""

    weights: dict[str, float] = field(default_factory=dict)
    loss: float = float("nan")

    def fit(
        self,
        predictions: Mapping[str, np.ndarray],
        y: np.ndarray,
        loss: Loss,
        *,
        rounds: int = 50,
        **within: Any,
    ) -> GreedyEnsemble:
        """``within``: ``costs``, ``limit`` and ``deadline`` of :func:`greedy_selection`."""
        self.weights, self.loss = greedy_selection(predictions, y, loss, rounds=rounds, **within)
        return self

    def predict(self, predictions: Mapping[str, np.ndarray]) -> np.ndarray:
        missing = [n for n in self.weights if n not in predictions]
        if missing:
            raise KeyError(f"predictions of ensemble members are missing: {missing}")
        return blend(predictions, self.weights)


def _stack_features(
    predictions: Mapping[str, np.ndarray], names: list[str], classification: bool
) -> np.ndarray:
    cols = []
    for n in names:
        p = np.asarray(predictions[n], dtype=float)
        p = p.reshape(len(p), -1)
        if classification:
            p = np.log(np.clip(p, 1e-6, 1.0))
        cols.append(p)
    return np.hstack(cols)


@dataclass
class StackedEnsemble:
    """A linear meta-model over the members' out-of-fold predictions.

    Args:
        classification: logistic regression on log-probabilities if True, ridge otherwise.
        C / alpha: the meta-model's regularisation.
        seed: for the inner cross-validation folds.
    """

    classification: bool
    C: float = 1.0
    alpha: float = 1.0
    seed: int = 0
    members: list[str] = field(default_factory=list)
    model: Any = None
    loss: float = float("nan")

    def _make(self) -> Any:
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.classification:
            return LogisticRegression(C=self.C, max_iter=1000)
        return Ridge(alpha=self.alpha)

    def _output(self, model: Any, X: np.ndarray) -> np.ndarray:
        if self.classification:
            proba: np.ndarray = model.predict_proba(X)
            return proba
        return np.asarray(model.predict(X), dtype=float).reshape(-1, 1)

    def fit(
        self, predictions: Mapping[str, np.ndarray], y: np.ndarray, loss: Loss, *, folds: int = 5
    ) -> StackedEnsemble:
        """Fits the meta-model; :attr:`loss` is its inner cross-validated loss."""
        from sklearn.model_selection import KFold, StratifiedKFold

        self.members = sorted(n for n in predictions if np.all(np.isfinite(predictions[n])))
        if not self.members:
            raise ValueError("no model has finite predictions to stack")
        X = _stack_features(predictions, self.members, self.classification)
        y = np.asarray(y)
        splitter = (
            StratifiedKFold(folds, shuffle=True, random_state=self.seed)
            if self.classification
            else KFold(folds, shuffle=True, random_state=self.seed)
        )
        oof: np.ndarray | None = None
        for train, valid in splitter.split(X, y):
            model = self._make().fit(X[train], y[train])
            out = self._output(model, X[valid])
            if oof is None:
                oof = np.zeros((len(y), out.shape[1]))
            oof[valid] = out
        assert oof is not None
        self.loss = float(loss(y, oof if oof.shape[1] > 1 else oof[:, 0]))
        self.model = self._make().fit(X, y)
        return self

    def predict(self, predictions: Mapping[str, np.ndarray]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("StackedEnsemble is not fitted")
        out = self._output(
            self.model, _stack_features(predictions, self.members, self.classification)
        )
        return out if out.shape[1] > 1 else out[:, 0]
