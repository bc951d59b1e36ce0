"""The model families AutoML searches over, each fitted on one fold under a deadline.

A :class:`Learner` declares (FLAML's idea) what AutoML needs to schedule it: which table view
it reads (``native``: numbers plus pandas categoricals; ``numeric``: imputed and encoded),
a relative cost, a zero-shot *portfolio* of configurations (the first is the cheap default
that establishes the baseline; the others are strong defaults from practice), and a search
space over its hyperparameters sized by the number of rows. ``fit`` respects an absolute
``deadline`` (``time.time()``): boosting stops early, forests stop adding trees, networks stop
adding epochs, so a trial never runs far past the time budget.

Predictions: class probabilities ``(n, k)`` for classification, values ``(n,)`` for
regression.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Learner", "LEARNERS", "learner_names", "predict", "set_threads"]

Task = str


@dataclass(frozen=True)
class Learner:
    name: str
    view: str  # "native" or "numeric"
    relative_cost: float  # rough time per config relative to LightGBM's default
    portfolio: Callable[[int, Task], list[dict[str, Any]]]
    space: Callable[[int, Task], dict[str, Any]]
    fit: Callable[..., Any]
    predict: Callable[[Any, pd.DataFrame, Task, int], np.ndarray]
    max_rows: int | None = None  # skip on larger tables (too slow to predict or fit)
    #: the fixed training length of a refit on all rows from the fold models (boosting
    #: rounds, trees, epochs), merged into the configuration: ``fit`` with ``Xv=None``
    #: then trains that long with no validation rows (see ``AutoML.refit_full``)
    refit_length: Callable[[list[Any]], dict[str, Any]] = lambda models: {}


def _proba(model: Any, X: pd.DataFrame, n_classes: int) -> np.ndarray:
    """predict_proba with a column for every class (a fold may lack some)."""
    raw = np.asarray(model.predict_proba(X), dtype=float)
    classes = np.asarray(getattr(model, "classes_", np.arange(raw.shape[1])), dtype=int)
    out = np.zeros((len(X), n_classes))
    out[:, classes] = raw
    return out


def predict(model: Any, X: pd.DataFrame, task: Task, n_classes: int) -> np.ndarray:
    """A scikit-learn style model's values (regression) or class probabilities ``(n, k)``."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    return _proba(model, X, n_classes)


def set_threads(model: Any, threads: int) -> None:
    """Makes ``model`` predict with ``threads`` threads (trials fit with one per CPU they
    hold; the final models predict with the whole machine). Models without ``n_jobs`` (the
    MLP: torch uses every core by default) are left as they are."""
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return
    keys = [k for k in get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
    if keys:
        model.set_params(**{k: int(threads) for k in keys})


def _mean_length(values: list[float]) -> int:
    return max(1, int(round(float(np.mean(values)))))


# ----------------------------------------------------------------------------- LightGBM
def _lgbm_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [
        {
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": 20,
            "colsample_bytree": 1.0,
            "reg_lambda": 1e-3,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 10,
            "colsample_bytree": 0.9,
            "reg_lambda": 1.0,
        },
        {
            "learning_rate": 0.03,
            "num_leaves": 128,
            "min_child_samples": 3,
            "colsample_bytree": 0.9,
            "reg_lambda": 0.5,
        },
        {
            "learning_rate": 0.05,
            "num_leaves": 15,
            "min_child_samples": 30,
            "colsample_bytree": 0.6,
            "reg_lambda": 5.0,
        },
    ]


def _lgbm_space(n: int, task: Task) -> dict[str, Any]:
    return {
        "learning_rate": {"float": [0.01, 0.3], "log": True},
        "num_leaves": {"int": [4, max(128, min(512, n // 10))], "log": True},
        "min_child_samples": {"int": [2, max(30, min(100, n // 50))], "log": True},
        "colsample_bytree": {"float": [0.4, 1.0]},
        "reg_lambda": {"float": [1e-3, 10.0], "log": True},
    }


def _lgbm_fit(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    params = {"n_estimators": 10_000, **config}
    params.update(random_state=seed, n_jobs=threads, verbose=-1)
    model = lgb.LGBMRegressor(**params) if task == "regression" else lgb.LGBMClassifier(**params)
    if Xv is None:  # a refit of a known length on all rows
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y)

    def stop_at_deadline(env: Any) -> None:
        if time.time() > deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    stop_at_deadline.order = 30  # type: ignore[attr-defined]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            X,
            y,
            eval_set=[(Xv, yv)],
            callbacks=[lgb.early_stopping(50, verbose=False), stop_at_deadline],
        )
    return model


def _lgbm_length(models: list[Any]) -> dict[str, Any]:
    """The fold models' mean number of boosting rounds (their best iteration)."""
    return {
        "n_estimators": _mean_length(
            [m.best_iteration_ or m.booster_.current_iteration() for m in models]
        )
    }


# ----------------------------------------------------------------------------- XGBoost
def _xgb_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [
        {
            "learning_rate": 0.1,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
        },
        {
            "learning_rate": 0.05,
            "max_depth": 8,
            "min_child_weight": 2.0,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
        },
    ]


def _xgb_space(n: int, task: Task) -> dict[str, Any]:
    return {
        "learning_rate": {"float": [0.01, 0.3], "log": True},
        "max_depth": {"int": [2, 12]},
        "min_child_weight": {"float": [0.5, 20.0], "log": True},
        "subsample": {"float": [0.5, 1.0]},
        "colsample_bytree": {"float": [0.4, 1.0]},
    }


def _xgb_fit(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
    import xgboost as xgb

    class Deadline(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            return time.time() > deadline

    params = {"n_estimators": 10_000, **config}
    params.update(
        early_stopping_rounds=50 if Xv is not None else None,
        tree_method="hist",
        enable_categorical=True,
        max_cat_to_onehot=8,
        random_state=seed,
        n_jobs=threads,
        callbacks=[Deadline()],
    )
    if task == "regression":
        model = xgb.XGBRegressor(**params)
    elif task == "binary":
        model = xgb.XGBClassifier(objective="binary:logistic", eval_metric="logloss", **params)
    else:
        model = xgb.XGBClassifier(objective="multi:softprob", eval_metric="mlogloss", **params)
    model.fit(X, y, eval_set=[(Xv, yv)] if Xv is not None else None, verbose=False)
    model.set_params(callbacks=None)  # the deadline callback is not needed (nor picklable) later
    return model


def _xgb_length(models: list[Any]) -> dict[str, Any]:
    """The fold models' mean number of boosting rounds (their best iteration)."""
    rounds = [getattr(m, "best_iteration", m.n_estimators - 1) + 1 for m in models]
    return {"n_estimators": _mean_length(rounds)}


def _xgb_predict(model: Any, X: pd.DataFrame, task: Task, n_classes: int) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    raw = np.asarray(model.predict_proba(X), dtype=float)
    if raw.shape[1] == n_classes:
        return raw
    return _proba(model, X, n_classes)


# ----------------------------------------------------------------------------- forests
def _min_leaf(n: int) -> int:
    """The smallest leaf a forest may grow on ``n`` rows: fully grown trees have ~n leaves,
    and 5 folds of 60 such trees on 12k rows pickle to 700 MB (slow to collect, predict and
    save); leaves of n/4000 rows keep them a few times smaller."""
    return max(1, n // 4000)


def _forest_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [
        {"max_features": "sqrt" if task != "regression" else 1.0, "min_samples_leaf": _min_leaf(n)}
    ]


_MAX_TREES = 100


def _forest_space(n: int, task: Task) -> dict[str, Any]:
    low = _min_leaf(n)
    return {
        "max_features": {"choice": ["sqrt", 0.5, 1.0]},
        "min_samples_leaf": {"int": [low, max(20, 4 * low)], "log": True},
    }


def _forest_fit(kind: str) -> Callable[..., Any]:
    def fit(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
        from sklearn import ensemble

        name = ("ExtraTrees" if kind == "extra_trees" else "RandomForest") + (
            "Regressor" if task == "regression" else "Classifier"
        )
        if "n_estimators" in config:  # a refit of a known size on all rows
            return getattr(ensemble, name)(random_state=seed, n_jobs=threads, **config).fit(X, y)
        # Grow the forest in chunks, timing the first small one, and add a chunk only if
        # it fits before the deadline (a forest fit cannot be interrupted).
        model = getattr(ensemble, name)(
            n_estimators=8, warm_start=True, random_state=seed, n_jobs=threads, **config
        )
        start = time.time()
        model.fit(X, y)
        per_tree = (time.time() - start) / model.n_estimators
        # 100 trees per fold: the prediction averages the k fold models (500 trees at 5
        # folds), and fully grown trees on big tables are large (300 per fold were 770 MB
        # for 5 folds of 12k rows: slow to collect, predict and save)
        while model.n_estimators < _MAX_TREES:
            chunk = min(23, _MAX_TREES - model.n_estimators)  # 8 + 4 x 23 = 100
            if time.time() + chunk * per_tree > deadline:
                break
            tick = time.time()
            model.n_estimators += chunk
            model.fit(X, y)
            per_tree = (time.time() - tick) / chunk
        return model

    return fit


def _forest_length(models: list[Any]) -> dict[str, Any]:
    return {"n_estimators": _mean_length([m.n_estimators for m in models])}


# ----------------------------------------------------------------------------- linear, kNN
def _linear_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [{"C": 1.0}] if task != "regression" else [{"alpha": 1.0}]


def _linear_space(n: int, task: Task) -> dict[str, Any]:
    key = "alpha" if task == "regression" else "C"
    return {key: {"float": [1e-4, 1e3], "log": True}}


def _linear_fit(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        estimator = Ridge(alpha=config["alpha"])
    else:
        estimator = LogisticRegression(C=config["C"], max_iter=500)
    model = make_pipeline(StandardScaler(), estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model


def _knn_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [{"n_neighbors": 15, "weights": "distance"}]


def _knn_space(n: int, task: Task) -> dict[str, Any]:
    return {
        "n_neighbors": {"int": [3, 100], "log": True},
        "weights": {"choice": ["uniform", "distance"]},
    }


def _knn_fit(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cls = KNeighborsRegressor if task == "regression" else KNeighborsClassifier
    k = min(int(config["n_neighbors"]), max(1, len(X) - 1))
    return make_pipeline(
        StandardScaler(), cls(n_neighbors=k, weights=config["weights"], n_jobs=threads)
    ).fit(X, y)


# ----------------------------------------------------------------------------- torch MLP
def _mlp_portfolio(n: int, task: Task) -> list[dict[str, Any]]:
    return [{"width": 128, "depth": 2, "dropout": 0.1, "lr": 3e-3, "weight_decay": 1e-5}]


def _mlp_space(n: int, task: Task) -> dict[str, Any]:
    return {
        "width": {"choice": [32, 64, 128, 256, 512], "ordered": True},
        "depth": {"int": [1, 4]},
        "dropout": {"float": [0.0, 0.5]},
        "lr": {"float": [3e-4, 3e-2], "log": True},
        "weight_decay": {"float": [1e-7, 1e-2], "log": True},
    }


def _mlp_fit(*args: Any, **kwargs: Any) -> Any:
    from raysearch.automl.mlp import fit_mlp  # torch is imported only when an MLP is trained

    return fit_mlp(*args, **kwargs)


def _mlp_length(models: list[Any]) -> dict[str, Any]:
    return {"epochs": _mean_length([m.epochs for m in models])}


def _mlp_predict(model: Any, X: pd.DataFrame, task: Task, n_classes: int) -> np.ndarray:
    from raysearch.automl.mlp import predict_mlp

    return predict_mlp(model, X, task, n_classes)


LEARNERS: dict[str, Learner] = {
    "lightgbm": Learner(
        "lightgbm",
        "native",
        1.0,
        _lgbm_portfolio,
        _lgbm_space,
        _lgbm_fit,
        predict,
        refit_length=_lgbm_length,
    ),
    "xgboost": Learner(
        "xgboost",
        "native",
        1.5,
        _xgb_portfolio,
        _xgb_space,
        _xgb_fit,
        _xgb_predict,
        refit_length=_xgb_length,
    ),
    "extra_trees": Learner(
        "extra_trees",
        "numeric",
        1.5,
        _forest_portfolio,
        _forest_space,
        _forest_fit("extra_trees"),
        predict,
        refit_length=_forest_length,
    ),
    "random_forest": Learner(
        "random_forest",
        "numeric",
        2.0,
        _forest_portfolio,
        _forest_space,
        _forest_fit("random_forest"),
        predict,
        refit_length=_forest_length,
    ),
    "linear": Learner(
        "linear", "numeric", 0.3, _linear_portfolio, _linear_space, _linear_fit, predict
    ),
    "knn": Learner(
        "knn", "numeric", 0.5, _knn_portfolio, _knn_space, _knn_fit, predict, max_rows=30_000
    ),
    "mlp": Learner(
        "mlp",
        "numeric",
        3.0,
        _mlp_portfolio,
        _mlp_space,
        _mlp_fit,
        _mlp_predict,
        refit_length=_mlp_length,
    ),
}


def learner_names() -> list[str]:
    return list(LEARNERS)
