"""The bundled demo: tune LightGBM on scikit-learn's breast-cancer data (ships with
scikit-learn, no download) with 3-fold cross-validated ROC AUC, on local Ray.

``raysearch demo`` runs it; ``raysearch/examples/quickstart.yaml`` is the same experiment
as a file for ``raysearch run``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np

__all__ = ["train_lightgbm", "demo_space", "load_data"]


@functools.lru_cache(maxsize=1)
def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Breast-cancer features and labels (569 x 30, binary)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return np.asarray(data.data, dtype=np.float64), np.asarray(data.target, dtype=np.int64)


def demo_space() -> dict[str, Any]:
    """The search space of the demo, as an experiment-file spec."""
    return {
        "learning_rate": {"float": [0.01, 0.3], "log": True},
        "num_leaves": {"int": [4, 64], "log": True},
        "min_child_samples": {"int": [2, 50], "log": True},
        "feature_fraction": {"float": [0.3, 1.0]},
        "lambda_l2": {"float": [1e-3, 10.0], "log": True},
        "n_estimators": {"choice": [50, 100, 200], "ordered": True},
    }


def train_lightgbm(config: dict[str, Any]) -> dict[str, float]:
    """A Tune function trainable: 3-fold CV ROC AUC of a LightGBM classifier.

    Args:
        config: LightGBM parameters (``n_estimators`` and native names); ``seed`` optional.
    Returns:
        ``{"auc": mean validation ROC AUC, "auc_std": its spread across folds}``.
    """
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x, y = load_data()
    params = dict(config)
    n_estimators = int(params.pop("n_estimators", 100))
    seed = int(params.pop("seed", 0))
    scores = []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    for train_idx, valid_idx in folds.split(x, y):
        model = lgb.LGBMClassifier(
            n_estimators=n_estimators, random_state=seed, n_jobs=1, verbose=-1, **params
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x[train_idx], y[train_idx])
        scores.append(roc_auc_score(y[valid_idx], model.predict_proba(x[valid_idx])[:, 1]))
    return {"auc": float(np.mean(scores)), "auc_std": float(np.std(scores))}
