"""Tabular AutoML on Ray: ``from raysearch import AutoML``."""

from __future__ import annotations

from raysearch.automl.api import AutoML, load_table
from raysearch.automl.features import DataError, TablePrep

__all__ = ["AutoML", "DataError", "TablePrep", "load_table"]
