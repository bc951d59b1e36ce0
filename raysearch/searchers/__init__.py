"""Search strategies (ask/tell, Ray-free). Ray Tune plugins live in :mod:`raysearch.tune`."""

from __future__ import annotations

from raysearch.searchers.auto import Choice, choose
from raysearch.searchers.gp import GPSearch
from raysearch.searchers.grid import GridSearch
from raysearch.searchers.multifidelity import MultiFidelitySearch
from raysearch.searchers.random import RandomSearch
from raysearch.searchers.tpe import TPESearch

__all__ = [
    "Choice",
    "GPSearch",
    "GridSearch",
    "MultiFidelitySearch",
    "RandomSearch",
    "TPESearch",
    "choose",
]
