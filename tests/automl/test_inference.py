"""Prediction speed (issue #19): ensemble selection within an inference limit, refitting a
configuration on all rows, prediction threads, the compiled preprocessing (no Ray)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raysearch.automl.ensemble import greedy_selection
from raysearch.automl.features import TablePrep
from raysearch.automl.inference import (
    estimated_cost,
    refit_model,
    select_within_limit,
    tiled,
)
from raysearch.automl.learners import LEARNERS, set_threads
from raysearch.automl.metrics import get_metric


def candidates(seed=0, n=400):
    """Three noisy predictors of a binary label (log loss): two good, one poor."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    preds = {}
    for name, noise in (("fast", 0.8), ("slow", 0.7), ("slower", 0.75)):
        p1 = 1 / (1 + np.exp(-(2 * (y - 0.5) * 2 + rng.normal(0, noise * 3, n))))
        preds[name] = np.column_stack([1 - p1, p1])
    return preds, y


def test_greedy_selection_keeps_within_the_limit():
    preds, y = candidates()
    loss = get_metric("log_loss", "binary").loss
    free, _ = greedy_selection(preds, y, loss, rounds=20)
    assert len(free) >= 2  # without a limit the blend uses several models
    costs = {"fast": 1.0, "slow": 5.0, "slower": 6.0}
    within, _ = greedy_selection(preds, y, loss, rounds=20, costs=costs, limit=6.5)
    assert sum(costs[n] for n in within) <= 6.5
    only, _ = greedy_selection(preds, y, loss, rounds=20, costs=costs, limit=0.5)
    assert list(only) == ["fast"]  # nothing fits: the cheapest model alone


def test_select_within_limit_measures_and_selects_again():
    estimated = {"a": 1.0, "b": 1.0, "c": 1.0}
    truth = {"a": 1.0, "b": 4.0, "c": 1.5}
    calls = []

    def select(costs):
        calls.append(dict(costs))
        chosen = ["a"]
        for name in ("b", "c"):
            if sum(costs[n] for n in chosen) + costs[name] <= 2.9:
                chosen.append(name)
        return {n: 1 / len(chosen) for n in chosen}

    weights, total, measured = select_within_limit(
        select, truth.__getitem__, estimated, limit=3.0, prep_cost=0.1
    )
    assert total <= 3.0 and "b" not in weights and "a" in weights
    assert calls[0] == estimated and calls[1]["b"] == 4.0  # measured costs replace estimates
    # members not measured yet are scaled by the measured ones' median ratio (1 and 4: 2.5)
    assert calls[1]["c"] == pytest.approx(2.5) and measured["b"] == 4.0


def test_estimated_cost_counts_every_fold_model():
    # 5 fold models, each predicted 100 of the 500 out-of-fold rows in 0.1 s (0.5 s in all):
    # every row is predicted by all 5 at prediction time
    assert estimated_cost(0.5, 500, 5) == pytest.approx(0.005)


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    city = rng.choice(["paris", "rome", "oslo"], n)
    y = (x[:, 0] + (city == "rome") + rng.normal(0, 0.5, n) > 0.3).astype(int)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "city": city, "y": y})


@pytest.mark.parametrize("family", list(LEARNERS))
def test_refit_on_all_rows_trains_as_long_as_the_folds(family):
    if family == "mlp":
        pytest.importorskip("torch")
    frame = table()
    prep = TablePrep("y").fit(frame)
    y = prep.encode_label(frame["y"])
    view = prep.transform(frame.drop(columns=["y"]))[LEARNERS[family].view]
    learner = LEARNERS[family]
    config = learner.portfolio(len(y), "binary")[0]
    folds = [
        (np.arange(0, 200), np.arange(200, 300)),
        (np.arange(100, 300), np.arange(0, 100)),
    ]
    models = [
        learner.fit(
            view.iloc[tr],
            y[tr],
            view.iloc[va],
            y[va],
            config,
            "binary",
            2,
            1e18,
            0,
            threads=1,
        )
        for tr, va in folds
    ]
    full = refit_model(family, config, models, view, y, "binary", 2, 0, threads=2)
    length = learner.refit_length(models)
    if family == "lightgbm":
        assert full.n_estimators == length["n_estimators"] and full.n_jobs == 2
    elif family == "xgboost":
        assert full.get_booster().num_boosted_rounds() == length["n_estimators"]
    elif family in ("extra_trees", "random_forest"):
        assert len(full.estimators_) == length["n_estimators"]
    elif family == "mlp":
        assert full.epochs == length["epochs"] >= 1
    proba = learner.predict(full, view, "binary", 2)
    assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert ((proba[:, 1] > 0.5) == y).mean() > 0.75


def test_set_threads_reaches_pipelines_and_leaves_others():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), KNeighborsClassifier(n_jobs=1))
    set_threads(pipe, 2)
    assert pipe.get_params()["kneighborsclassifier__n_jobs"] == 2
    set_threads(object(), 2)  # no get_params (the MLP): nothing to do


def test_one_transform_pass_matches_the_single_views():
    frame = table()
    frame.loc[::7, "x1"] = np.nan
    frame["when"] = pd.date_range("2021-01-01", periods=len(frame), freq="13h").astype(str)
    frame["zip"] = [f"z{v}" for v in np.random.default_rng(1).integers(0, 150, len(frame))]
    prep = TablePrep("y").fit(frame)
    rows = tiled(frame.drop(columns=["y"]).head(50), 120)
    rows.loc[0, "city"] = "lima"
    both = prep.transform(rows)
    pd.testing.assert_frame_equal(both["native"], prep.transform_native(rows))
    pd.testing.assert_frame_equal(both["numeric"], prep.transform_numeric(rows))
    assert both["native"]["city"].iloc[0] == "__missing__"
    assert both["numeric"].filter(like="city=").iloc[0].sum() == 0  # unseen: no level
    assert len(rows) == 120 and both["numeric"].isna().sum().sum() == 0
