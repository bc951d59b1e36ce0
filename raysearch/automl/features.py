"""Data preparation for AutoML: fitted on the training table, applied unchanged at predict time.

What :class:`TablePrep` does without being asked:

* **types**: numbers (small integers too: pixel intensities, counts and ratings stay
  numbers), booleans (-> 0/1), strings and pandas categoricals, datetimes (also strings that parse as dates), and
  high-cardinality strings (many distinct values: capped to the most frequent ones for native
  categorical models, target-encoded for the others);
* **drops** constant columns, row-id-like columns (a distinct string per row) and columns that
  trivially leak the label (identical to it, or a one-to-one recoding of it), each with a log
  line and a record in :attr:`TablePrep.dropped_`;
* **refuses** an empty table, a missing label column, a label with one class, a label that is
  all missing, a feature that is entirely missing;
* **datetime parts**: year, month, day, day of week, hour (when times vary), and the timestamp;
* **missing values**: numbers stay NaN for models that handle them (LightGBM, XGBoost) and are
  imputed with the training median plus a missing-indicator column for the others;
  categories get a ``__missing__`` level;
* **label**: classes encoded 0..k-1 in sorted order (:attr:`TablePrep.classes_`), regression
  targets as floats;
* **at predict time**: missing columns are an error naming them; unseen categories map to the
  missing level and dates that do not parse are missing (:meth:`TablePrep.report_unseen`
  warns once per column with the count; numeric columns keep their values, unseen or not);
  values of the wrong type are coerced where they can be and an error names the column and
  an example value where they cannot.

Two outputs serve the model families: :meth:`TablePrep.transform_native` (numbers plus pandas
``category`` columns with fixed levels, for LightGBM/XGBoost) and
:meth:`TablePrep.transform_numeric` (all numeric: one-hot for low-cardinality categoricals,
smoothed target encoding for high-cardinality ones, imputed numbers; for scikit-learn models
and neural networks). Target encodings are fitted on the whole training table; pass
``fold_ids`` and ``y`` to :meth:`transform_numeric` to encode training rows out of fold, so
that validation scores are not flattered by the rows' own labels.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from raysearch.automl.columns import (
    MISSING,
    ColumnInfo,
    CompiledColumn,
    Kind,
    imputed_dates,
    native_categories,
    typed_classes,
    unseen_line,
)

__all__ = ["TablePrep", "ColumnInfo", "DataError", "infer_problem_type"]

logger = logging.getLogger(__name__)

ProblemType = Literal["binary", "multiclass", "regression"]
#: categoricals with more levels than this are "high cardinality"
_HIGH_CARDINALITY = 64
#: levels kept for native categorical models (the most frequent; the rest become __other__)
_MAX_LEVELS = 255


class DataError(ValueError):
    """Input data that cannot be used, with the column at fault in the message."""


def infer_problem_type(y: pd.Series) -> ProblemType:
    """``binary``/``multiclass`` for labels that look like classes, else ``regression``."""
    values = y.dropna()
    if values.empty:
        raise DataError("the label column has no values")
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "binary" if values.nunique() == 2 else "multiclass"
    unique = values.nunique()
    if unique == 2:
        return "binary"
    as_float = values.astype(float)
    integral = bool(np.all(np.mod(as_float, 1) == 0))
    if integral and unique <= max(20, int(0.01 * len(values))) and unique <= 50:
        return "multiclass"
    return "regression"


def _as_string(series: pd.Series) -> pd.Series:
    """Strings for categorical levels (NaN kept), whatever the dtype (pandas 2.x and 3.x)."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # one str() per category, not per row
        names = np.array([str(c) for c in series.cat.categories] + [np.nan], dtype=object)
        return pd.Series(names[series.cat.codes.to_numpy()], index=series.index, dtype=object)
    out = series.astype("object")
    mask = out.notna()
    out = out.where(~mask, out[mask].map(str)) if mask.any() else out
    return out


def _looks_like_dates(series: pd.Series) -> bool:
    sample = series.dropna()
    if sample.empty:
        return False
    sample = sample.sample(min(len(sample), 200), random_state=0) if len(sample) > 200 else sample
    text = sample.astype(str)
    if not text.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).mean() > 0.9:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.95)


def _to_datetime(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, errors="coerce", format="mixed")


class TablePrep:
    """Fitted data preparation (see the module docstring).

    Args:
        label: the label column.
        problem_type: ``binary``, ``multiclass``, ``regression`` or None to infer it.
        leak_check: ``"drop"`` (default: drop a leaking column with a warning), ``"error"`` or
            ``"ignore"``.
    """

    def __init__(
        self, label: str, problem_type: ProblemType | None = None, *, leak_check: str = "drop"
    ) -> None:
        if problem_type not in (None, "binary", "multiclass", "regression"):
            raise ValueError(
                f"problem_type must be binary, multiclass, regression or None, got {problem_type!r}"
            )
        if leak_check not in ("drop", "error", "ignore"):
            raise ValueError(f"leak_check must be 'drop', 'error' or 'ignore', got {leak_check!r}")
        self.label = label
        self.problem_type = problem_type
        self.leak_check = leak_check
        self.columns_: list[ColumnInfo] = []
        self.dropped_: dict[str, str] = {}
        self.classes_: list[Any] | None = None
        self.label_dtype_: Any = None  # the training label's dtype, which predictions keep
        self.problem_type_: ProblemType | None = None
        self.input_columns_: list[str] = []

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame) -> TablePrep:
        """Learns the column types, levels, medians and the label encoding from ``frame``."""
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if frame.empty or len(frame) == 0:
            raise DataError("the training table is empty")
        if self.label not in frame.columns:
            hint = [c for c in frame.columns if str(c).lower() == self.label.lower()]
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise DataError(
                f"label column {self.label!r} is not in the table{extra}; columns: {list(frame.columns)[:20]}"
            )
        y_raw = frame[self.label]
        if y_raw.isna().all():
            raise DataError(f"label column {self.label!r} is entirely missing")
        if y_raw.isna().any():
            logger.warning("dropping %d rows whose label is missing", int(y_raw.isna().sum()))
            frame = frame[y_raw.notna()]
            y_raw = frame[self.label]
        problem = self.problem_type or infer_problem_type(y_raw)
        self.problem_type_ = problem
        self.label_dtype_ = y_raw.dtype
        if problem != "regression":
            classes = sorted(y_raw.unique().tolist(), key=lambda v: (str(type(v)), v))
            if len(classes) < 2:
                raise DataError(
                    f"the label {self.label!r} has a single class ({classes[0]!r}); nothing to learn"
                )
            if problem == "binary" and len(classes) != 2:
                raise DataError(f"problem_type='binary' but the label has {len(classes)} classes")
            self.classes_ = classes
        else:
            if not pd.api.types.is_numeric_dtype(y_raw):
                raise DataError(
                    f"regression needs a numeric label, {self.label!r} has dtype {y_raw.dtype}"
                )
            if y_raw.nunique() < 2:
                raise DataError(f"the label {self.label!r} is constant; nothing to learn")
        y = self.encode_label(y_raw)
        features = frame.drop(columns=[self.label])
        if features.shape[1] == 0:
            raise DataError("the table has no feature columns besides the label")
        self.input_columns_ = [str(c) for c in features.columns]
        self.columns_ = []
        self.dropped_ = {}
        for name in features.columns:
            info = self._fit_column(str(name), features[name], y_raw, y)
            if info is not None:
                self.columns_.append(info)
        if not self.columns_:
            raise DataError(f"no usable feature column is left (dropped: {self.dropped_})")
        return self

    def _drop(self, name: str, why: str) -> None:
        self.dropped_[name] = why
        logger.warning("dropping column %r: %s", name, why)

    def _fit_column(
        self, name: str, col: pd.Series, y_raw: pd.Series, y: np.ndarray
    ) -> ColumnInfo | None:
        if col.isna().all():
            raise DataError(f"feature column {name!r} is entirely missing; drop it or fill it")
        if self.leak_check != "ignore" and self._leaks(col, y_raw):
            message = f"column {name!r} is the label in disguise (identical or a one-to-one recoding of {self.label!r})"
            if self.leak_check == "error":
                raise DataError(message)
            self._drop(name, "leaks the label")
            return None
        non_missing = col.dropna()
        if non_missing.nunique() <= 1:
            self._drop(name, "constant")
            return None
        has_missing = bool(col.isna().any())
        if pd.api.types.is_bool_dtype(col):
            return ColumnInfo(name, "boolean", has_missing=has_missing)
        if pd.api.types.is_datetime64_any_dtype(col) or (
            not pd.api.types.is_numeric_dtype(col) and _looks_like_dates(col)
        ):
            return self._fit_datetime(name, col)
        if pd.api.types.is_numeric_dtype(col):
            # numbers are numbers, small integers too (pixel intensities 0-16, counts,
            # ratings): as in LightGBM, FLAML and AutoGluon, a coded categorical is one the
            # table says is categorical (a pandas category or string column)
            median = float(col.astype(float).median())
            return ColumnInfo(name, "numeric", median=median, has_missing=has_missing)
        text = _as_string(col)
        counts = text.value_counts()
        if len(counts) >= 0.95 * len(col) and len(col) > 50:
            self._drop(
                name, "a distinct value in (almost) every row: an identifier, not a feature"
            )
            return None
        kind: Kind = "high_cardinality" if len(counts) > _HIGH_CARDINALITY else "categorical"
        levels = [str(v) for v in counts.index[:_MAX_LEVELS]]
        info = ColumnInfo(name, kind, levels=levels, has_missing=has_missing)
        if kind == "high_cardinality":
            self._fit_target_encoding(info, text, y)
        return info

    def _leaks(self, col: pd.Series, y_raw: pd.Series) -> bool:
        if col.isna().any():
            return False
        if col.nunique() != y_raw.nunique():
            return False
        if self.problem_type_ == "regression":
            try:
                return bool(
                    np.allclose(col.astype(float).to_numpy(), y_raw.astype(float).to_numpy())
                )
            except (TypeError, ValueError):
                return False
        pairs = pd.DataFrame({"x": _as_string(col), "y": _as_string(y_raw)}).drop_duplicates()
        return len(pairs) == col.nunique()  # every value of the column maps to one class and back

    def _fit_datetime(self, name: str, col: pd.Series) -> ColumnInfo:
        stamps = _to_datetime(col)
        parts = ["year", "month", "day", "dayofweek", "dayofyear"]
        valid = stamps.dropna()
        if not valid.empty and (valid.dt.hour.nunique() > 1 or valid.dt.minute.nunique() > 1):
            parts.append("hour")
        seconds = valid.astype("int64") // 10**9 if not valid.empty else pd.Series([0.0])
        info = ColumnInfo(
            name,
            "datetime",
            date_parts=parts,
            median=float(np.median(seconds)),
            has_missing=bool(stamps.isna().any()),
        )
        for key, values in self._date_parts(info, col).items():
            finite = values[np.isfinite(values)]
            info.part_medians[key] = float(np.median(finite)) if len(finite) else 0.0
        return info

    def _fit_target_encoding(self, info: ColumnInfo, text: pd.Series, y: np.ndarray) -> None:
        targets = self._target_matrix(y)
        prior = targets.mean(axis=0)
        info.prior = [float(v) for v in prior]
        smoothing = 20.0
        frame = pd.DataFrame(targets, index=text.index)
        frame["level"] = text.fillna(MISSING).to_numpy()
        grouped = frame.groupby("level")
        sums, counts = grouped.sum(), grouped.size()
        for level in sums.index:
            n = float(counts[level])
            mean = (sums.loc[level].to_numpy() + smoothing * prior) / (n + smoothing)
            info.target_means[str(level)] = [float(v) for v in mean]

    def _target_matrix(self, y: np.ndarray) -> np.ndarray:
        if self.problem_type_ == "regression":
            return np.asarray(y, dtype=float).reshape(-1, 1)
        k = len(self.classes_ or [])
        if k == 2:
            return np.asarray(y, dtype=float).reshape(-1, 1)
        return np.eye(k)[np.asarray(y, dtype=int)]

    # ------------------------------------------------------------------ label
    def encode_label(self, y: pd.Series) -> np.ndarray:
        """Class indices 0..k-1 (classification) or floats (regression)."""
        if self.problem_type_ == "regression":
            return y.astype(float).to_numpy()
        assert self.classes_ is not None
        lookup = {c: i for i, c in enumerate(self.classes_)}
        try:
            return np.array([lookup[v] for v in y], dtype=np.int64)
        except KeyError as err:
            raise DataError(
                f"label value {err.args[0]!r} was not among the training classes {self.classes_}"
            ) from None

    def decode_label(self, codes: np.ndarray) -> np.ndarray | pd.Categorical:
        """The labels of class indices ``codes``, with the training label's dtype: integers
        stay integers, booleans booleans, floats floats, strings Python ``str`` (an object
        array), a pandas category column gives a ``pd.Categorical`` of its categories;
        regression values are floats."""
        if self.problem_type_ == "regression":
            return np.asarray(codes, dtype=float)
        assert self.classes_ is not None
        values = typed_classes(self.classes_, getattr(self, "label_dtype_", None))
        labels = values[np.asarray(codes, dtype=int)]
        dtype = getattr(self, "label_dtype_", None)
        if isinstance(dtype, pd.CategoricalDtype):
            return pd.Categorical(labels, dtype=dtype)
        return labels

    # ------------------------------------------------------------------ transform
    def _checked(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not self.columns_:
            raise RuntimeError("TablePrep is not fitted: call fit() first")
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise DataError("the table to predict on is empty")
        missing = [c.name for c in self.columns_ if c.name not in frame.columns]
        if missing:
            raise DataError(f"columns seen in training are missing: {missing}")
        return frame

    def _numeric_values(self, info: ColumnInfo, col: pd.Series) -> np.ndarray:
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            return col.astype(float).to_numpy()
        coerced = pd.to_numeric(col, errors="coerce")
        bad = col[coerced.isna() & col.notna()]
        if len(bad):
            raise DataError(
                f"column {info.name!r} was numeric in training but holds {len(bad)} non-numeric "
                f"value(s) now, e.g. {bad.iloc[0]!r}"
            )
        return coerced.astype(float).to_numpy()

    def _compiled(self) -> dict[str, CompiledColumn]:
        """The categorical columns' lookups, built once per fitted prep (not per call)."""
        plan: dict[str, CompiledColumn] | None = self.__dict__.get("_compiled_columns")
        if plan is None:
            plan = {}
            for info in self.columns_:
                if info.kind not in ("categorical", "high_cardinality"):
                    continue
                levels = pd.Index(info.levels, dtype=object)
                if info.kind == "categorical":
                    plan[info.name] = CompiledColumn(levels)
                    continue
                known = pd.Index(list(info.target_means), dtype=object)
                rows = [*info.target_means.values(), info.prior]
                encodings = np.asarray(rows, dtype=float).reshape(len(rows), -1)
                plan[info.name] = CompiledColumn(levels, known, encodings)
            self._compiled_columns = plan
        return plan

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_compiled_columns", None)  # rebuilt on first use
        return state

    def _date_parts(self, info: ColumnInfo, col: pd.Series) -> dict[str, np.ndarray]:
        stamps = _to_datetime(col)
        out: dict[str, np.ndarray] = {}
        for part in info.date_parts:
            out[f"{info.name}.{part}"] = getattr(stamps.dt, part).astype(float).to_numpy()
        seconds = stamps.astype("int64").astype(float) / 1e9
        out[f"{info.name}.timestamp"] = np.where(stamps.isna(), np.nan, seconds)
        return out

    def transform(
        self,
        frame: pd.DataFrame,
        views: tuple[str, ...] = ("native", "numeric"),
        *,
        report: bool = False,
        fold_ids: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> dict[str, pd.DataFrame]:
        """The ``views`` of ``frame`` (``native``, ``numeric``) in one pass over its columns:
        each column is read, converted and looked up once, with the lookups compiled at the
        first call. ``report``: also warn once per column about values training did not see
        (see :meth:`report_unseen`); ``fold_ids``, ``y``: see :meth:`transform_numeric`."""
        result, lines = self._views(frame, views, report=report, fold_ids=fold_ids, y=y)
        for line in lines:
            logger.warning("%s", line)
        return result

    def _views(
        self,
        frame: pd.DataFrame,
        views: tuple[str, ...],
        *,
        report: bool,
        fold_ids: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> tuple[dict[str, pd.DataFrame], list[str]]:
        """:meth:`transform`'s views and, with ``report``, its lines about unseen values."""
        raw, frame = frame, self._checked(frame)
        plan = self._compiled()
        native: dict[str, Any] = {}
        numeric: dict[str, Any] = {}
        lines = []
        for info in self.columns_:
            col = frame[info.name]
            if info.kind in ("numeric", "boolean"):
                values = self._numeric_values(info, col)
                native[info.name] = values
                if "numeric" in views:
                    missing = np.isnan(values)
                    numeric[info.name] = np.where(missing, info.median, values)
                    if info.has_missing:
                        numeric[f"{info.name}.missing"] = missing.astype(float)
            elif info.kind == "datetime":
                parts = self._date_parts(info, col)
                native.update(parts)
                if "numeric" in views:
                    numeric.update(imputed_dates(info, parts))
                if report:  # the warnings only when asked (not on every predict)
                    bad = col[np.isnan(parts[f"{info.name}.timestamp"]) & col.notna().to_numpy()]
                    lines += unseen_line(info, col, bad, "could not be parsed as dates")
            else:
                text = _as_string(col)
                codes = plan[info.name].levels.get_indexer(text)
                if report:
                    if info.kind == "categorical":
                        bad = col[(codes < 0) & text.notna().to_numpy()]
                    else:
                        known = plan[info.name].known
                        assert known is not None
                        keys = known.get_indexer(text.fillna(MISSING))
                        bad = col[(keys < 0) & text.notna().to_numpy()]
                    lines += unseen_line(info, col, bad, "not seen in training")
                if "native" in views:
                    native[info.name] = native_categories(info, codes, text)
                if "numeric" in views:
                    numeric.update(self._numeric_categories(info, codes, text, plan))
        out = {"native": native, "numeric": numeric}
        result = {v: pd.DataFrame(out[v], index=frame.index) for v in views}
        if fold_ids is not None and y is not None and "numeric" in result:
            self._encode_out_of_fold(result["numeric"], raw, fold_ids, y)
        return result, lines

    def _numeric_categories(
        self,
        info: ColumnInfo,
        codes: np.ndarray,
        text: pd.Series,
        plan: dict[str, CompiledColumn],
    ) -> dict[str, np.ndarray]:
        """A categorical column's one-hot levels, or a high-cardinality column's target
        encodings (the prior for values training did not see)."""
        if info.kind == "high_cardinality":
            compiled = plan[info.name]
            assert compiled.known is not None and compiled.encodings is not None
            keys = compiled.known.get_indexer(text.fillna(MISSING))
            encoded = compiled.encodings[np.where(keys < 0, len(compiled.known), keys)]
            return {f"{info.name}.te{j}": encoded[:, j] for j in range(encoded.shape[1])}
        n_levels = len(info.levels)
        # unseen and missing values go to the missing level (a column only if training had one)
        codes = np.where(codes < 0, n_levels if info.has_missing else -1, codes)
        onehot = np.zeros((len(codes), n_levels + int(info.has_missing)))
        rows = np.flatnonzero(codes >= 0)
        onehot[rows, codes[rows]] = 1.0
        names = [f"{info.name}={level}" for level in info.levels]
        names += [f"{info.name}={MISSING}"] if info.has_missing else []
        return {name: onehot[:, j] for j, name in enumerate(names)}

    def report_unseen(self, frame: pd.DataFrame) -> list[str]:
        """Logs one warning per column of ``frame`` (rows to predict) whose values training
        did not see: categories (treated as missing; for high-cardinality columns as a rare
        value) and, for date columns, values that do not parse as dates (treated as missing).
        Numeric columns, small integers included, keep their values and are never reported.
        Returns the warnings (the same lines :meth:`transform` logs with ``report=True``)."""
        _, lines = self._views(frame, (), report=True)
        for line in lines:
            logger.warning("%s", line)
        return lines

    def transform_native(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numbers (NaN kept) and ``category`` columns with the training levels."""
        return self.transform(frame, ("native",))["native"]

    def transform_numeric(
        self,
        frame: pd.DataFrame,
        *,
        fold_ids: np.ndarray | None = None,
        y: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """All-numeric columns: imputed numbers plus missing indicators, one-hot categoricals,
        target-encoded high-cardinality columns, datetime parts.

        Args:
            frame: the rows to transform.
            fold_ids, y: for training rows, the cross-validation fold of each row and the
                encoded labels: high-cardinality columns are then target-encoded with the
                other folds' labels only.
        """
        return self.transform(frame, ("numeric",), fold_ids=fold_ids, y=y)["numeric"]

    def _encode_out_of_fold(
        self, out: pd.DataFrame, frame: pd.DataFrame, fold_ids: np.ndarray, y: np.ndarray
    ) -> None:
        """Replaces ``out``'s target encodings by the other folds' (training rows)."""
        for info in self.columns_:
            if info.kind == "high_cardinality":
                text = _as_string(frame[info.name]).fillna(MISSING)
                encoded = self._oof_encoding(info, text, np.asarray(fold_ids), np.asarray(y))
                for j in range(encoded.shape[1]):
                    out[f"{info.name}.te{j}"] = encoded[:, j]

    def _oof_encoding(
        self, info: ColumnInfo, text: pd.Series, fold_ids: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        if len(fold_ids) != len(text) or len(y) != len(text):
            raise ValueError("fold_ids and y must have one entry per row")
        encoded = np.zeros((len(text), len(info.prior)))
        for fold in np.unique(fold_ids):
            inside = fold_ids == fold
            part = ColumnInfo(info.name, info.kind)
            self._fit_target_encoding(part, text[~inside], y[~inside])
            prior = np.asarray(part.prior)
            encoded[inside] = np.array(
                [part.target_means.get(v, prior) for v in text[inside]], dtype=float
            ).reshape(-1, len(prior))
        return encoded

    def summary(self) -> pd.DataFrame:
        """One row per input column: the inferred kind, or why it was dropped."""
        rows = [
            {
                "column": c.name,
                "kind": c.kind,
                "levels": len(c.levels) or None,
                "missing": c.has_missing,
            }
            for c in self.columns_
        ]
        rows += [
            {"column": name, "kind": f"dropped: {why}", "levels": None, "missing": None}
            for name, why in self.dropped_.items()
        ]
        return pd.DataFrame(rows)
