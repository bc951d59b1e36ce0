"""Flat assignments <-> numeric vectors, the input of model-based searchers.

Notation:
    n: number of points; d: :attr:`Encoding.dim`, the number of columns.
    X: ``(n, d)`` array. Numeric parameters and ordered categoricals take one column in
       [0, 1] (their unit position, see :mod:`raysearch.space.params`); unordered
       categoricals take one column per choice (one-hot) or a single index column.
       A parameter that is inactive in a point has NaN in all its columns: the
       "inactive" marker. :meth:`Encoding.impute` replaces it for models that need numbers.

Because the map goes through each parameter's unit position, log scales, integer cells,
quantization and normal priors are already accounted for: a GP or a Parzen estimator
sees a box and never branches on parameter types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from raysearch.space.params import Categorical, SpaceError
from raysearch.space.space import Flat, Space

__all__ = ["Encoding", "Column"]

ColumnKind = Literal["continuous", "discrete", "onehot", "index"]


@dataclass(frozen=True)
class Column:
    """One column of the encoding.

    Attributes:
        name: the parameter it belongs to.
        kind: ``continuous`` (a float), ``discrete`` (int, quantized float, ordered
            categorical: the value is the centre of one of ``n_values`` cells), ``onehot``
            (one choice's indicator), ``index`` (an unordered categorical's cell position).
        n_values: number of cells for discrete/index columns, choices for one-hot.
        choice: the choice index of a one-hot column.
    """

    name: str
    kind: ColumnKind
    n_values: int | None = None
    choice: int | None = None


class Encoding:
    """The numeric view of a :class:`Space`.

    Args:
        space: the space.
        onehot: encode unordered categoricals one-hot (default) or as one index column.
    """

    def __init__(self, space: Space, *, onehot: bool = True) -> None:
        self.space = space
        self.onehot = onehot
        columns: list[Column] = []
        slices: dict[str, slice] = {}
        for e in space.entries:
            start = len(columns)
            p = e.param
            if isinstance(p, Categorical) and not p.ordered:
                if onehot:
                    columns.extend(
                        Column(e.name, "onehot", p.cardinality, i) for i in range(p.cardinality)
                    )
                else:
                    columns.append(Column(e.name, "index", p.cardinality))
            elif p.cardinality is None:
                columns.append(Column(e.name, "continuous"))
            else:
                columns.append(Column(e.name, "discrete", p.cardinality))
            slices[e.name] = slice(start, len(columns))
        self.columns = columns
        self.slices = slices

    @property
    def dim(self) -> int:
        return len(self.columns)

    @property
    def bounds(self) -> np.ndarray:
        """``(d, 2)`` array of [0, 1] rows."""
        return np.tile(np.array([0.0, 1.0]), (self.dim, 1))

    @property
    def continuous_mask(self) -> np.ndarray:
        """``(d,)`` bool: columns that take any value in [0, 1]."""
        return np.array([c.kind == "continuous" for c in self.columns], dtype=bool)

    @property
    def categorical_mask(self) -> np.ndarray:
        """``(d,)`` bool: one-hot and index columns of unordered categoricals."""
        return np.array([c.kind in ("onehot", "index") for c in self.columns], dtype=bool)

    def encode(self, flat: Mapping[str, Any]) -> np.ndarray:
        """``(d,)`` vector for one assignment; NaN in the columns of inactive parameters."""
        x = np.full(self.dim, np.nan)
        for e in self.space.entries:
            if e.name not in flat:
                continue
            s = self.slices[e.name]
            p = e.param
            if isinstance(p, Categorical) and not p.ordered and self.onehot:
                x[s] = 0.0
                x[s.start + p.index(flat[e.name])] = 1.0
            else:
                x[s.start] = p.to_unit(flat[e.name])
        return x

    def encode_many(self, flats: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """``(n, d)`` matrix for ``n`` assignments."""
        rows = [self.encode(f) for f in flats]
        return np.array(rows).reshape(len(rows), self.dim)

    def decode(self, x: Sequence[float] | np.ndarray) -> Flat:
        """The assignment of vector ``x`` (``(d,)``). Columns of parameters that ``x``'s own
        values make inactive are ignored; NaN in an active parameter's columns is an error."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise SpaceError(f"expected a vector of shape ({self.dim},), got {x.shape}")
        out: Flat = {}
        for e in self.space.entries:
            if not self.space.is_active(e, out):
                continue
            s = self.slices[e.name]
            block = x[s]
            if np.isnan(block).any():
                raise SpaceError(f"column(s) of active parameter {e.name!r} hold NaN")
            p = e.param
            if isinstance(p, Categorical) and not p.ordered and self.onehot:
                out[e.name] = p.choices[int(np.argmax(block))]
            else:
                out[e.name] = p.from_unit(float(block[0]))
        return out

    def decode_many(self, X: np.ndarray) -> list[Flat]:
        return [self.decode(row) for row in np.atleast_2d(X)]

    def round(self, X: np.ndarray) -> np.ndarray:
        """Snaps ``(n, d)`` points to what decoding then encoding gives: discrete columns to
        cell centres, one-hot blocks to a single 1, inactive parameters to NaN."""
        return self.encode_many(self.decode_many(np.nan_to_num(np.atleast_2d(X), nan=0.5)))

    def active_mask(self, X: np.ndarray) -> np.ndarray:
        """``(n, d)`` bool: True where the column's parameter is active."""
        return ~np.isnan(np.atleast_2d(X))

    @staticmethod
    def impute(X: np.ndarray, value: float = -1.0) -> np.ndarray:
        """A copy of ``X`` with the inactive marker replaced by ``value`` (outside [0, 1] by
        default, so a stationary kernel sees inactive values as far from every active one)."""
        out = np.array(X, dtype=float, copy=True)
        out[np.isnan(out)] = value
        return out
