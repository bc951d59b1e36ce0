"""AutoML data preparation and ensembles (no Ray, small generated tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from raysearch.automl.ensemble import GreedyEnsemble, StackedEnsemble, greedy_selection
from raysearch.automl.features import DataError, TablePrep, infer_problem_type


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice(["paris", "rome", "oslo"], size=n)
    y = (x + (city == "rome") + rng.normal(0, 0.5, n) > 0.5).astype(int)
    frame = pd.DataFrame(
        {
            "x": x,
            "x_missing": np.where(rng.random(n) < 0.2, np.nan, x),
            "flag": rng.random(n) < 0.5,
            "grade": rng.integers(1, 5, n),
            "city": city,
            "zip": [f"z{v}" for v in rng.integers(0, 200, n)],
            "when": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
            "const": 1,
            "row_id": [f"id{i}" for i in range(n)],
            "label": np.where(y == 1, "yes", "no"),
        }
    )
    return frame


def test_types_are_inferred_and_junk_dropped():
    prep = TablePrep("label").fit(table())
    kinds = {c.name: c.kind for c in prep.columns_}
    assert kinds == {
        "x": "numeric",
        "x_missing": "numeric",
        "flag": "boolean",
        "grade": "numeric",
        "city": "categorical",
        "zip": "high_cardinality",
        "when": "datetime",
    }
    assert set(prep.dropped_) == {"const", "row_id"}
    assert prep.problem_type_ == "binary" and prep.classes_ == ["no", "yes"]


def test_native_and_numeric_outputs():
    frame = table()
    prep = TablePrep("label").fit(frame)
    X = frame.drop(columns=["label"])
    native = prep.transform_native(X)
    assert isinstance(native["city"].dtype, pd.CategoricalDtype)
    assert native["x_missing"].isna().sum() > 0  # trees get NaN
    assert {"when.year", "when.month", "when.dayofweek", "when.hour", "when.timestamp"} <= set(
        native.columns
    )
    numeric = prep.transform_numeric(X)
    assert numeric.isna().sum().sum() == 0
    assert {"x_missing.missing", "city=rome", "zip.te0", "grade"} <= set(numeric.columns)
    assert all(np.issubdtype(t, np.number) for t in numeric.dtypes)


def test_predict_time_checks_and_unseen_categories():
    frame = table()
    prep = TablePrep("label").fit(frame)
    new = frame.drop(columns=["label"]).head(5).copy()
    new.loc[new.index[0], "city"] = "lima"  # unseen: becomes missing, not an error
    assert prep.transform_native(new)["city"].iloc[0] == "__missing__"
    with pytest.raises(DataError, match=r"missing: \['city'\]"):
        prep.transform_native(new.drop(columns=["city"]))
    bad = new.copy()
    bad["x"] = bad["x"].astype(object)
    bad.loc[bad.index[1], "x"] = "abc"
    with pytest.raises(DataError, match="'x' was numeric in training.*'abc'"):
        prep.transform_numeric(bad)
    with pytest.raises(DataError, match="empty"):
        prep.transform_native(new.iloc[:0])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["label"]), "label column 'label' is not in the table"),
        (lambda f: f.assign(label="yes"), "single class"),
        (lambda f: f.iloc[:0], "empty"),
        (lambda f: f.assign(empty=np.nan), "'empty' is entirely missing"),
        (lambda f: f.assign(label=np.nan), "entirely missing"),
    ],
)
def test_bad_inputs_get_clear_errors(mutate, message):
    with pytest.raises(DataError, match=message):
        TablePrep("label").fit(mutate(table()))


def test_label_leak_is_dropped_or_refused():
    frame = table().assign(leak=lambda f: f["label"].map({"yes": "Y", "no": "N"}))
    prep = TablePrep("label").fit(frame)
    assert "leak" in prep.dropped_
    with pytest.raises(DataError, match="label in disguise"):
        TablePrep("label", leak_check="error").fit(frame)


def test_out_of_fold_target_encoding_differs_from_in_fold():
    frame = table(n=400)
    prep = TablePrep("label").fit(frame)
    y = prep.encode_label(frame["label"])
    folds = np.arange(len(frame)) % 5
    X = frame.drop(columns=["label"])
    oof = prep.transform_numeric(X, fold_ids=folds, y=y)["zip.te0"]
    full = prep.transform_numeric(X)["zip.te0"]
    assert not np.allclose(oof, full)
    # in-fold encoding sees each row's own label: it correlates more with y than out of fold
    assert np.corrcoef(full, y)[0, 1] > np.corrcoef(oof, y)[0, 1]


def test_problem_type_inference():
    assert infer_problem_type(pd.Series([0, 1, 1, 0])) == "binary"
    assert infer_problem_type(pd.Series(np.arange(300) % 7)) == "multiclass"
    assert infer_problem_type(pd.Series(np.linspace(0, 1, 300))) == "regression"
    assert infer_problem_type(pd.Series(["a", "b", "c"])) == "multiclass"


def _auc_loss(y, p):
    return 1.0 - roc_auc_score(y, p)


def test_greedy_selection_beats_members_and_ignores_bad_ones():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    signal = y + rng.normal(0, 1.0, (3, 2000))  # three noisy but independent views of y
    preds = {f"m{i}": 1 / (1 + np.exp(-signal[i])) for i in range(3)}
    preds["noise"] = rng.random(2000)
    preds["broken"] = np.full(2000, np.nan)
    weights, loss = greedy_selection(preds, y, _auc_loss)
    assert "broken" not in weights and weights.get("noise", 0) < 0.1
    assert abs(sum(weights.values()) - 1) < 1e-9
    assert loss < min(_auc_loss(y, preds[f"m{i}"]) for i in range(3))
    ens = GreedyEnsemble().fit(preds, y, _auc_loss)
    assert _auc_loss(y, ens.predict(preds)) == pytest.approx(ens.loss)


def test_stacking_multiclass():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 900)
    base = np.eye(3)[y] * 2 + rng.normal(0, 1.5, (900, 3))
    probs = np.exp(base) / np.exp(base).sum(axis=1, keepdims=True)
    preds = {"a": probs, "b": np.roll(probs, 1, axis=1)}  # b is a consistently relabelled model
    stack = StackedEnsemble(classification=True).fit(
        preds, y, lambda t, p: log_loss(t, p, labels=[0, 1, 2])
    )
    assert stack.loss < log_loss(y, probs)
    assert stack.predict(preds).shape == (900, 3)
