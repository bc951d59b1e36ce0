"""Files in and out of AutoML: the tables it reads, the fitted models it saves and loads.

* :func:`load_table`: a DataFrame from a DataFrame, a pyarrow Table or a CSV/Parquet path;
* :func:`save_model` and :func:`load_model`: a fitted model is a directory holding
  ``automl.pkl`` (the pickled estimator) and ``info.json`` (the raysearch version that saved
  it, and what the caller describes: label, metric, classes, ...). Loading warns when the
  versions differ, and reads models saved before ``automl._mlp`` became ``automl.mlp``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from raysearch._version import __version__
from raysearch.automl.features import DataError

__all__ = ["load_table", "save_model", "load_model"]

logger = logging.getLogger("raysearch.automl")

T = TypeVar("T")


def load_table(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a pyarrow Table, or a CSV/Parquet path."""
    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith("pyarrow"):
        frame: pd.DataFrame = data.to_pandas()
        return frame
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise DataError(f"data file {str(path)!r} does not exist")
        suffix = "".join(path.suffixes).lower()
        if suffix.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if suffix.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            return pd.read_csv(path, sep="\t" if suffix.endswith(".tsv") else ",")
        raise DataError(f"cannot read {str(path)!r}: expected .csv, .tsv or .parquet")
    raise DataError(
        f"expected a pandas DataFrame, a pyarrow Table or a CSV/Parquet path, got {type(data).__name__}"
    )


def save_model(model: Any, path: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Writes ``model`` (pickled) and ``info`` to the directory ``path`` (created)."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pickle.dump(model, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    (directory / "automl.pkl").write_bytes(buffer.getvalue())
    info = {"raysearch": __version__, **info}
    (directory / "info.json").write_text(json.dumps(info, indent=2))


class _Unpickler(pickle.Unpickler):
    """Reads models saved before ``automl._mlp`` was renamed ``automl.mlp``."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "raysearch.automl._mlp":
            module = "raysearch.automl.mlp"
        return super().find_class(module, name)


def load_model(path: str | os.PathLike[str], cls: type[T]) -> T:
    """Reads a model written by :func:`save_model`, which must be a ``cls``."""
    directory = Path(path)
    file = directory / "automl.pkl"
    if not file.exists():
        raise FileNotFoundError(
            f"no saved AutoML model in {str(directory)!r} (automl.pkl missing)"
        )
    info = (
        json.loads((directory / "info.json").read_text())
        if (directory / "info.json").exists()
        else {}
    )
    if info.get("raysearch") not in (None, __version__):
        logger.warning(
            "model saved by raysearch %s, loading with %s", info.get("raysearch"), __version__
        )
    with open(file, "rb") as f:
        model = _Unpickler(f).load()
    if not isinstance(model, cls):
        raise TypeError(f"{str(file)!r} does not hold a raysearch AutoML model")
    return model
