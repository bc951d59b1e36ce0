"""Search spaces: parameter types, conditional/nested structure, encodings, specs.

Pure Python/numpy; no Ray. See :class:`Space` for the model,
:mod:`raysearch.space.spec` for the YAML/JSON form and :mod:`raysearch.space.mutation` for
how values move (mutation, local-search neighbours, PBT's perturbation).
"""

from __future__ import annotations

from raysearch.space.conditions import Condition
from raysearch.space.encoding import Column, Encoding
from raysearch.space.params import Categorical, Constant, Float, Int, Normal, Param, SpaceError
from raysearch.space.space import Entry, Flat, Space, repeat, space_from_dict, when
from raysearch.space.spec import param_from_spec

__all__ = [
    "Categorical",
    "Column",
    "Condition",
    "Constant",
    "Encoding",
    "Entry",
    "Flat",
    "Float",
    "Int",
    "Normal",
    "Param",
    "Space",
    "SpaceError",
    "param_from_spec",
    "repeat",
    "space_from_dict",
    "when",
]
