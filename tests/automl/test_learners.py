"""AutoML learners: every portfolio configuration lies in its family's space; each learner
fits and predicts the right shapes within its deadline."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from raysearch.automl.features import TablePrep
from raysearch.automl.learners import LEARNERS
from raysearch.automl.metrics import METRICS, default_metric, get_metric
from raysearch.space import space_from_dict


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("n_rows", [300, 50_000])
def test_portfolios_fit_their_spaces(task, n_rows):
    for learner in LEARNERS.values():
        space = space_from_dict(learner.space(n_rows, task))
        for config in learner.portfolio(n_rows, task):
            space.to_flat(config)  # raises if a value is outside the space


def _data(task: str, n: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)}
    )
    signal = frame["a"] + (frame["c"] == "y")
    if task == "regression":
        frame["t"] = signal + rng.normal(0, 0.1, n)
    elif task == "binary":
        frame["t"] = (signal > 0.3).astype(int)
    else:
        frame["t"] = pd.cut(signal, 3, labels=False)
    prep = TablePrep("t", problem_type=task).fit(frame)
    X = frame.drop(columns=["t"])
    return (
        prep,
        {"native": prep.transform_native(X), "numeric": prep.transform_numeric(X)},
        prep.encode_label(frame["t"]),
    )


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_learner_fits_and_predicts(task):
    prep, views, y = _data(task)
    k = len(prep.classes_ or [])
    train, valid = np.arange(len(y)) < 180, np.arange(len(y)) >= 180
    metric = get_metric(default_metric(task), task)
    for name, learner in LEARNERS.items():
        X = views[learner.view]
        start = time.time()
        model = learner.fit(
            X[train],
            y[train],
            X[valid],
            y[valid],
            learner.portfolio(240, task)[0],
            task,
            k,
            time.time() + 20,
            0,
        )
        pred = learner.predict(model, X[valid], task, k)
        assert time.time() - start < 20
        if task == "regression":
            assert pred.shape == (60,)
        else:
            assert pred.shape == (60, k) and np.allclose(pred.sum(axis=1), 1.0, atol=1e-6)
        assert np.isfinite(metric(y[valid], pred)), name


def test_metric_registry_errors():
    assert METRICS["roc_auc"].mode == "max" and METRICS["rmse"].mode == "min"
    with pytest.raises(ValueError, match="did you mean 'log_loss'"):
        get_metric("logloss", "binary")
    with pytest.raises(ValueError, match="not defined for regression"):
        get_metric("roc_auc", "regression")


def test_multiclass_roc_auc_is_sklearns_ovr_on_any_score_rows():
    """Multiclass ROC AUC equals sklearn's one-vs-rest on probabilities, and also takes what
    AutoML feeds it that are not exact probabilities (its timing probe, float32 outputs,
    blends); a class absent from the labels is left out instead of making it NaN."""
    from sklearn.metrics import roc_auc_score

    from raysearch.automl.budget import ensemble_reserve

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    proba = rng.dirichlet(np.ones(4), size=300)
    proba[np.arange(300), y] += 0.3  # some skill
    proba /= proba.sum(axis=1, keepdims=True)
    auc = METRICS["roc_auc"]
    expected = roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(4))
    assert auc(y, proba) == pytest.approx(expected, rel=1e-12)
    assert auc(y, proba * 1.01) == pytest.approx(expected, rel=1e-12)
    assert auc(y, proba.astype(np.float32)) == pytest.approx(expected, abs=1e-6)
    three = np.where(y == 3, 0, y)
    assert np.isfinite(auc(three, proba)) and 0.5 < auc(three, proba) <= 1.0
    # the timing probe of the ensemble reserve (used to crash: its rows do not sum to 1)
    assert ensemble_reserve(auc, y, 4, "multiclass", 30.0) > 0
