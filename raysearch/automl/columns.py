"""What AutoML's data preparation keeps about each column, and the small pieces of its
compiled transform (:class:`~raysearch.automl.features.TablePrep` uses them).

* :class:`ColumnInfo`: the kind, levels, medians and encodings learned for one column;
* :class:`CompiledColumn`: a categorical column's lookups, built once per fitted prep;
* :func:`native_categories`, :func:`imputed_dates`, :func:`unseen_line`: one column's native
  categories, imputed date parts and the warning about values training did not see;
* :func:`typed_classes`: the classes as an array of the training label's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "Kind",
    "MISSING",
    "OTHER",
    "ColumnInfo",
    "CompiledColumn",
    "unseen_line",
    "native_categories",
    "imputed_dates",
    "typed_classes",
]

Kind = Literal["numeric", "boolean", "categorical", "high_cardinality", "datetime"]

MISSING = "__missing__"
OTHER = "__other__"


@dataclass
class ColumnInfo:
    """What :class:`TablePrep` learned about one input column."""

    name: str
    kind: Kind
    levels: list[Any] = field(default_factory=list)  # categorical levels (strings), fixed order
    median: float = 0.0
    has_missing: bool = False
    date_parts: list[str] = field(default_factory=list)
    target_means: dict[str, list[float]] = field(
        default_factory=dict
    )  # level -> per-class/regression mean
    prior: list[float] = field(default_factory=list)
    part_medians: dict[str, float] = field(default_factory=dict)  # datetime parts' medians


def typed_classes(classes: list[Any], dtype: Any) -> np.ndarray:
    """``classes`` as a numpy array of the label's dtype ``dtype``: numpy integers, floats and
    booleans keep it (pandas' nullable ones give their numpy dtype: predictions are never
    missing), anything else (strings, categories, mixed objects) is an object array."""
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return np.asarray(classes, dtype=dtype)
    numpy_dtype = getattr(dtype, "numpy_dtype", None)  # pandas Int64, Float64, boolean
    if isinstance(numpy_dtype, np.dtype) and numpy_dtype.kind in "biuf":
        return np.asarray(classes, dtype=numpy_dtype)
    out = np.empty(len(classes), dtype=object)
    out[:] = classes
    return out


@dataclass
class CompiledColumn:
    """A categorical column's lookups, built once: its native levels and, for a
    high-cardinality column, every training value with its target encoding (the last row of
    ``encodings`` is the prior, for values training did not see)."""

    levels: pd.Index
    known: pd.Index | None = None
    encodings: np.ndarray | None = None


def unseen_line(info: ColumnInfo, col: pd.Series, bad: pd.Series, what: str) -> list[str]:
    """The warning about the values ``bad`` of ``col`` (none when there are none)."""
    if not len(bad):
        return []
    treated = "a rare value" if info.kind == "high_cardinality" else "missing"
    return [
        f"column {info.name!r}: {len(bad)} of {len(col)} rows hold values {what}; treated as "
        f"{treated} (e.g. {bad.iloc[0]!r})"
    ]


def native_categories(info: ColumnInfo, codes: np.ndarray, text: pd.Series) -> pd.Categorical:
    """The training levels, then ``__missing__`` (missing values, and unseen categories) and
    ``__other__`` (high-cardinality values beyond the kept levels, seen or not)."""
    n = len(info.levels)
    unseen = n if info.kind == "categorical" else n + 1
    codes = np.where(codes >= 0, codes, np.where(text.isna().to_numpy(), n, unseen))
    return pd.Categorical.from_codes(codes, categories=[*info.levels, MISSING, OTHER])


def imputed_dates(info: ColumnInfo, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Date parts with missing values filled by the training medians."""
    out = {}
    for key, values in parts.items():
        fill = info.median if key.endswith(".timestamp") else info.part_medians.get(key, 0.0)
        out[key] = np.where(np.isnan(values), fill, values)
    return out
