"""Predictions keep the training label's dtype, sklearn's metrics take them, and small-integer
numeric columns stay numbers (issue #19). No Ray: the fitted model is put together from one
real scikit-learn model on the numeric view (the same predict path as after a search)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
)

from raysearch import AutoML
from raysearch.automl.api import FitContext
from raysearch.automl.features import TablePrep
from raysearch.automl.metrics import default_metric, get_metric


def hand_fitted(frame: pd.DataFrame, label: str = "label") -> AutoML:
    """An AutoML fitted without Ray: a logistic regression on the numeric view."""
    prep = TablePrep(label).fit(frame)
    task = prep.problem_type_
    y = prep.encode_label(frame[label])
    numeric = prep.transform_numeric(frame.drop(columns=[label]))
    model = AutoML(label, verbose=0)
    item = {
        "family": "linear",
        "config": {},
        "score": 0.5,
        "fit_time": 0.1,
        "predict_time": 0.1,
    }
    k = len(prep.classes_ or [])
    metric = get_metric(default_metric(task), task)
    context = FitContext(prep, metric, task, k, y, [], "holdout", {}, None, [])
    model._finish({"t0": {**item, "oof": None}}, pd.DataFrame(), context)
    model.members_["linear_t0"].models = [LogisticRegression(max_iter=500).fit(numeric, y)]
    return model


def labelled(values: list, n: int = 120, seed: int = 0) -> pd.DataFrame:
    """An informative column ``a``, a noise column ``b`` and a label cycling through
    ``values`` (row i holds ``values[i % len(values)]``)."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % len(values)
    label = pd.Series([values[c] for c in codes])
    return pd.DataFrame(
        {"a": codes + rng.normal(0, 0.3, n), "b": rng.normal(size=n), "label": label}
    )


LABELS = {
    "int64": pd.Series([0, 1] * 60, dtype="int64"),
    "int32": pd.Series([3, 7, 11] * 40, dtype="int32"),
    "uint8": pd.Series([1, 2] * 60, dtype="uint8"),
    "bool": pd.Series([False, True] * 60),
    "float": pd.Series([0.0, 1.0, 2.0] * 40),
    "str_object": pd.Series(["no", "yes"] * 60, dtype=object),
    "str_dtype": pd.Series(["cat", "dog", "eel"] * 40, dtype="str"),
    "category": pd.Series(pd.Categorical(["lo", "hi"] * 60, categories=["lo", "hi", "mid"])),
    "nullable_Int64": pd.Series([5, 6] * 60, dtype="Int64"),
    "nullable_boolean": pd.Series([True, False] * 60, dtype="boolean"),
}


@pytest.mark.parametrize("kind", list(LABELS))
def test_every_label_type_round_trips_and_sklearn_metrics_accept_it(kind):
    labels = LABELS[kind]
    frame = labelled(list(labels.iloc[: labels.nunique()]), n=len(labels))
    frame["label"] = labels  # the same cycle as labelled's classes, with its dtype
    model = hand_fitted(frame)
    pred = model.predict(frame)
    assert len(pred) == len(frame)
    if kind == "category":
        assert isinstance(pred, pd.Categorical) and pred.dtype == labels.dtype
    elif kind.startswith("str"):
        assert pred.dtype == object and all(isinstance(v, str) for v in pred)
    elif kind.startswith("nullable"):
        assert pred.dtype == labels.dtype.numpy_dtype
    else:
        assert pred.dtype == labels.dtype, (kind, pred.dtype)
    assert set(pd.unique(np.asarray(pred))) <= set(labels.unique())
    y = frame["label"]
    assert accuracy_score(y, pred) > 0.9  # the classes are separable by "a"
    f1_score(y, pred, average="macro")
    balanced_accuracy_score(y, pred)
    confusion_matrix(y, pred)
    assert accuracy_score(y.to_numpy(), np.asarray(pred)) == accuracy_score(y, pred)
    proba = model.predict_proba(frame)
    assert proba.shape == (len(frame), labels.nunique())
    assert np.array_equal(np.asarray(model.labels_from(proba)), np.asarray(pred))


def test_issue_19_breast_cancer_int_labels_score_with_sklearn():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame  # target: int64 0/1
    model = hand_fitted(frame, "target")
    pred = model.predict(frame)
    assert pred.dtype == np.int64
    assert accuracy_score(frame["target"], pred) > 0.9  # raised "mix of binary and unknown"


def test_regression_values_are_floats():
    frame = labelled([0, 1], n=60).assign(label=lambda f: f["a"] * 3.0 + 1.0)
    prep = TablePrep("label").fit(frame)
    assert prep.problem_type_ == "regression"
    assert prep.decode_label(np.array([1.5, 2.0])).dtype == np.float64


def test_digits_pixels_are_numbers_and_nothing_is_reported(caplog):
    frame = load_digits(as_frame=True).frame
    train, test = frame.iloc[:1200], frame.iloc[1200:]
    prep = TablePrep("target").fit(train)
    kinds = {c.kind for c in prep.columns_}
    assert kinds == {"numeric"}, kinds  # no pixel becomes a category
    numeric = prep.transform_numeric(test.drop(columns=["target"]))
    assert not [c for c in numeric.columns if "=" in c]  # no one-hot levels
    model = hand_fitted(train, "target")
    caplog.clear()  # fitting logs the constant pixels it drops; predicting logs nothing
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        pred = model.predict(test)
        model.predict_proba(test)
    assert caplog.records == [], [r.getMessage() for r in caplog.records]
    assert pred.dtype == np.int64 and accuracy_score(test["target"], pred) > 0.85


@pytest.mark.parametrize("kind", ["int64", "bool", "str_object", "category"])
def test_predict_files_keep_the_label_dtype(kind, tmp_path, monkeypatch):
    from raysearch.cli.main import main

    labels = LABELS[kind]
    frame = labelled(list(labels.iloc[: labels.nunique()]), n=len(labels))
    frame["label"] = labels
    model = hand_fitted(frame)
    model.save(tmp_path / "model")
    frame.drop(columns=["label"]).to_csv(tmp_path / "new.csv", index=False)
    monkeypatch.chdir(tmp_path)
    for out in ("pred.csv", "pred.parquet"):
        assert main(["predict", "model", "new.csv", "--out", out]) == 0
    from_csv = pd.read_csv(tmp_path / "pred.csv")["label"]
    from_parquet = pd.read_parquet(tmp_path / "pred.parquet")["label"]
    expected = model.predict(frame)
    if kind != "str_object":  # strings come back as pandas' string dtype or object
        assert from_parquet.dtype == labels.dtype
    assert list(from_parquet) == list(expected)
    if kind in ("int64", "bool"):  # CSV keeps what a CSV can: integers and booleans
        assert from_csv.dtype == labels.dtype
    assert [str(v) for v in from_csv] == [str(v) for v in expected]
