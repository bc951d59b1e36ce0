"""Metrics with their direction, on the prediction shapes AutoML uses.

Predictions are class probabilities ``(n, k)`` for classification (binary: ``(n, 2)``, the
second column is the positive class) and values ``(n,)`` for regression. Every metric is
turned into a *loss* (lower is better) by :func:`loss_fn`, which is what searchers and
ensemble selection minimise.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Metric", "METRICS", "get_metric", "default_metric", "loss_fn"]


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    tasks: tuple[str, ...]
    needs_proba: bool
    fn: Callable[[np.ndarray, np.ndarray], float]

    @property
    def mode(self) -> str:
        return "max" if self.higher_is_better else "min"

    def __call__(self, y: np.ndarray, pred: np.ndarray) -> float:
        return float(self.fn(np.asarray(y), np.asarray(pred)))

    def loss(self, y: np.ndarray, pred: np.ndarray) -> float:
        value = self(y, pred)
        return -value if self.higher_is_better else value


def _labels(pred: np.ndarray) -> np.ndarray:
    return np.asarray(pred).argmax(axis=1) if np.ndim(pred) == 2 else np.asarray(pred)


def _roc_auc(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    scores = pred[:, 1] if np.ndim(pred) == 2 and pred.shape[1] == 2 else pred
    if np.ndim(scores) == 2:
        # One-vs-rest, the mean over the classes y holds of each class's AUC: what sklearn's
        # multi_class="ovr" computes, without its refusal of rows that do not sum to 1 (a
        # float32 model output, a blend or a stack need not, exactly) and without the NaN of
        # a class absent from y (which has no AUC).
        present = [c for c in range(scores.shape[1]) if np.any(y == c)]
        if len(present) < 2:
            return float("nan")  # as sklearn: no AUC without two classes
        return float(np.mean([roc_auc_score(y == c, scores[:, c]) for c in present]))
    return float(roc_auc_score(y, scores))


def _log_loss(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import log_loss

    proba = np.clip(pred, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    return float(log_loss(y, proba, labels=np.arange(proba.shape[1])))


def _accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(_labels(pred) == y))


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    average = "binary" if np.ndim(pred) == 2 and pred.shape[1] == 2 else "macro"
    return float(f1_score(y, _labels(pred), average=average))


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, dtype=float) - pred) ** 2)))


def _mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, dtype=float) - pred)))


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    return float(1.0 - np.sum((y - pred) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-300))


CLASSIFICATION = ("binary", "multiclass")
METRICS: dict[str, Metric] = {
    "roc_auc": Metric("roc_auc", True, CLASSIFICATION, True, _roc_auc),
    "log_loss": Metric("log_loss", False, CLASSIFICATION, True, _log_loss),
    "accuracy": Metric("accuracy", True, CLASSIFICATION, False, _accuracy),
    "f1": Metric("f1", True, CLASSIFICATION, False, _f1),
    "rmse": Metric("rmse", False, ("regression",), False, _rmse),
    "mae": Metric("mae", False, ("regression",), False, _mae),
    "r2": Metric("r2", True, ("regression",), False, _r2),
}


def default_metric(task: str) -> str:
    """roc_auc for binary, log_loss for multiclass, rmse for regression."""
    return {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]


def get_metric(name: str, task: str) -> Metric:
    """The metric ``name`` for ``task``, with a clear error when it does not fit."""
    metric = METRICS.get(name)
    if metric is None:
        hint = difflib.get_close_matches(name, list(METRICS), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown metric {name!r}{extra} (known: {', '.join(METRICS)})")
    if task not in metric.tasks:
        fits = [m for m, spec in METRICS.items() if task in spec.tasks]
        raise ValueError(f"metric {name!r} is not defined for {task} problems; use one of {fits}")
    return metric


def loss_fn(metric: Metric) -> Callable[[np.ndarray, np.ndarray], float]:
    """``(y, pred) -> loss`` (lower is better) for ``metric``."""
    return metric.loss
