"""Tabular AutoML on Ray: ``from raysearch import AutoML``."""

from __future__ import annotations

from raysearch.automl.api import AutoML
from raysearch.automl.features import DataError, TablePrep
from raysearch.automl.files import load_table
from raysearch.automl.forecast import Forecaster

__all__ = ["AutoML", "DataError", "Forecaster", "TablePrep", "load_table"]
