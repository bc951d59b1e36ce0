"""Values that training did not see are reported at predict time, once per column (no Ray:
the fitted model is put together by hand from one dummy model in the linear family)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier

from raysearch import AutoML
from raysearch.automl.api import FitContext
from raysearch.automl.features import TablePrep
from raysearch.automl.metrics import get_metric

REPO = Path(__file__).resolve().parents[2]


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "pixel": rng.integers(0, 5, n),  # small integers: coded, but numbers all the same
            "city": rng.choice(["paris", "rome", "oslo"], size=n),
            "when": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
            "label": np.where(x + rng.normal(0, 0.5, n) > 0, "yes", "no"),
        }
    )


def new_rows():
    rows = table(n=6, seed=1).drop(columns=["label"])
    rows.loc[rows.index[:2], "city"] = ["lima", "quito"]  # unseen categories
    rows.loc[rows.index[3], "when"] = "soon"  # not a date
    rows["pixel"] = [16, 16, 0, 1, 9, 2]  # unseen small integers: numbers, not reported
    return rows


def hand_fitted(frame):
    """An AutoML fitted without Ray: one model on the numeric view."""
    prep = TablePrep("label").fit(frame)
    assert {c.name: c.kind for c in prep.columns_}["pixel"] == "numeric"
    y = prep.encode_label(frame["label"])
    numeric = prep.transform_numeric(frame.drop(columns=["label"]))
    model = AutoML("label", verbose=0)
    item = {"family": "linear", "config": {}, "score": 0.5, "fit_time": 0.1, "predict_time": 0.1}
    metric = get_metric("log_loss", "binary")
    context = FitContext(prep, metric, "binary", 2, y, [], "holdout", {}, None, [])
    model._finish({"t0": {**item, "oof": None}}, pd.DataFrame(), context)
    model.members_["linear_t0"].models = [DummyClassifier().fit(numeric, y)]
    return model


def test_unseen_categories_and_bad_dates_are_reported_once_per_column(caplog):
    prep = TablePrep("label").fit(table())
    rows = new_rows()
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        lines = prep.report_unseen(rows)
    assert len(lines) == 2 and [r.getMessage() for r in caplog.records] == lines
    city, when = lines
    assert city.startswith("column 'city': 2 of 6 rows hold values not seen in training")
    assert "treated as missing" in city and "'lima'" in city
    assert when.startswith("column 'when': 1 of 6 rows hold values could not be parsed")
    assert "'soon'" in when
    # small integers are numbers: unseen ones keep their value, and no one-hot levels
    numeric = prep.transform_numeric(rows)
    assert numeric["pixel"].tolist() == [16.0, 16.0, 0.0, 1.0, 9.0, 2.0]
    assert not [c for c in numeric.columns if c.startswith("pixel=")]
    assert prep.transform_native(rows)["city"].iloc[0] == "__missing__"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        assert prep.report_unseen(table(n=20, seed=2).drop(columns=["label"])) == []
    assert caplog.records == []


def test_predict_warns_once_per_column_and_the_cli_too(tmp_path, caplog):
    model = hand_fitted(table())
    rows = new_rows()
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        labels = model.predict(rows)
    assert set(labels) <= {"yes", "no"}
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert [m.split(":")[0] for m in messages] == ["column 'city'", "column 'when'"]
    model.save(tmp_path / "model")
    rows.to_csv(tmp_path / "new.csv", index=False)
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "raysearch.cli", "predict", "model", "new.csv", "--proba"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[0] == "label,proba_no,proba_yes"
    # predictions and probabilities from one pass: each column reported once
    reported = [line for line in out.stderr.splitlines() if line.startswith("column ")]
    assert len(reported) == 2, out.stderr
    assert "2 of 6 rows" in reported[0] and "could not be parsed as dates" in reported[1]
    assert "pixel" not in out.stderr and "'x'" not in out.stderr


@pytest.mark.parametrize("column", ["x", "pixel"])
def test_numeric_columns_are_never_reported(column, caplog):
    prep = TablePrep("label").fit(table())
    rows = table(n=6, seed=3).drop(columns=["label"])
    rows[column] = 1000
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        assert prep.report_unseen(rows) == []
