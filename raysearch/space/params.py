"""Parameter distributions and their map to and from the unit interval.

Notation:
    u: a position in [0, 1]. Every parameter maps ``u`` to a value (``from_unit``) such
       that ``u ~ Uniform(0, 1)`` gives the parameter's own distribution (log-uniform for
       ``log=True``, normal for :class:`Normal`, uniform over choices for categoricals),
       and maps a value back to the centre of its cell (``to_unit``), so that
       ``from_unit(to_unit(v)) == v`` for every valid ``v``.

Discrete parameters (ints, quantized floats, categoricals) split [0, 1] into equal cells,
one per value, which is what makes uniform sampling, Sobol sampling and model-based
search over the same box agree.

How values move (mutation neighbours, local-search moves, PBT's perturbation) is
:mod:`raysearch.space.mutation`, one operator per parameter kind.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, ClassVar, TypeGuard

import numpy as np

__all__ = [
    "Param",
    "Float",
    "Int",
    "Categorical",
    "Normal",
    "Constant",
    "SpaceError",
    "canonical",
    "choice_index",
    "clean",
    "is_unordered",
    "loose_equal",
    "number",
    "same_value",
]

_STD_NORMAL = NormalDist()
_EPS = 1e-12


class SpaceError(ValueError):
    """A malformed search space or a value outside it."""


def _clip01(u: float) -> float:
    return min(max(u, 0.0), 1.0)


def clean(v: float, step: float) -> float:
    """``low + k*step`` in floating point gives 0.30000000000000004: round away noise far
    below the step's resolution, but never move a value by more than that noise."""
    decimals = 8 - int(math.floor(math.log10(step)))
    rounded = float(round(v, decimals))
    return rounded if abs(rounded - v) <= 1e-9 * step else v


#: Deprecated private name of :func:`clean`, kept until its last importer
#: (:mod:`raysearch.schedulers.pbt`) uses the public one.


def _on_grid(value: float, origin: float, step: float) -> bool:
    """Whether ``value`` is ``origin + k*step`` up to floating-point error at its magnitude."""
    k = (value - origin) / step
    tol = 1e-6 + 8 * np.finfo(float).eps * max(abs(value), abs(origin), 1.0) / step
    return bool(abs(k - round(k)) <= tol)


def same_value(a: Any, b: Any) -> bool:
    """Equality that tells ``True`` from ``1`` and ``1`` from ``1.0`` (categorical choices)."""
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # e.g. numpy arrays; identity is then the only sane equality
        return a is b


def number(value: Any, what: str) -> float:
    """A float from ``value``; YAML 1.1 reads ``1e-4`` as a string, so strings are parsed."""
    if isinstance(value, bool):
        raise SpaceError(f"{what} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise SpaceError(f"{what} must be a number, got {value!r}") from None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpaceError(f"{what} must be a number, got {value!r}") from None
    return out


class Param(ABC):
    """A distribution over the values of one hyperparameter.

    Subclasses are immutable value objects: equal specs compare equal.
    """

    kind: ClassVar[str]
    #: Values are numbers on an ordered axis (floats, ints, normals).
    numeric: ClassVar[bool] = True

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at position ``u`` in [0, 1]."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The position of ``value`` in [0, 1] (the centre of its cell if discrete)."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a valid value of this parameter."""

    @abstractmethod
    def to_spec(self) -> dict[str, Any]:
        """A JSON-able description, the inverse of :func:`raysearch.space.param_from_spec`."""

    @property
    def cardinality(self) -> int | None:
        """Number of distinct values, or None if continuous."""
        return None

    @property
    def ordered(self) -> bool:
        """Whether neighbouring values are similar (true for numbers and ordered choices)."""
        return True

    def values(self) -> list[Any]:
        """All values of a finite parameter, in order."""
        n = self.cardinality
        if n is None:
            raise SpaceError(f"{self!r} is continuous and has no finite list of values")
        return [self.from_unit((i + 0.5) / n) for i in range(n)]

    def grid(self, resolution: int) -> list[Any]:
        """At most ``resolution`` values spread evenly over the unit interval (all if fewer)."""
        n = self.cardinality
        if n is not None and n <= resolution:
            return self.values()
        if resolution == 1:
            return [self.from_unit(0.5)]
        out: list[Any] = []
        for i in range(resolution):
            v = self.from_unit(i / (resolution - 1))
            if not any(same_value(v, w) for w in out):
                out.append(v)
        return out

    def sample(self, rng: np.random.Generator) -> Any:
        return self.from_unit(float(rng.random()))

    def validate(self, value: Any, name: str = "value") -> None:
        if not self.contains(value):
            raise SpaceError(f"{name}={value!r} is not a valid value of {self!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_spec().items() if k != "type")
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Param)
            and type(self) is type(other)
            and self.to_spec() == other.to_spec()
        )

    def __hash__(self) -> int:
        return hash(repr(self))


class _Numeric(Param):
    """Shared bounds/log/step logic of :class:`Float` and :class:`Int`."""

    low: float
    high: float
    log: bool
    step: float | None

    def _check_bounds(self) -> None:
        name = type(self).__name__
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise SpaceError(f"{name} bounds must be finite, got low={self.low}, high={self.high}")
        if self.low >= self.high:
            raise SpaceError(f"{name} needs low < high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise SpaceError(
                f"{name} with log=True needs low > 0, got low={self.low} (log of a value <= 0)"
            )
        if self.step is not None:
            if not (math.isfinite(self.step) and self.step > 0):
                raise SpaceError(f"{name} step must be > 0, got {self.step}")
            if self.step > self.high - self.low:
                raise SpaceError(
                    f"{name} step={self.step} is larger than the range [{self.low}, {self.high}]"
                )

    @property
    def n_steps(self) -> int | None:
        """Number of grid points ``low + k*step`` within [low, high], if stepped."""
        if self.step is None:
            return None
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1

    def _index_from_unit(self, u: float, n: int) -> int:
        """Cell index in [0, n) for position ``u``, with log spacing if ``self.log``."""
        if not self.log:
            return min(int(_clip01(u) * n), n - 1)
        # Log spacing over the values themselves: cell k covers [v_k - s/2, v_k + s/2].
        s = self._cell_width()
        lo = math.log(max(self.low - s / 2, self.low / 2))
        hi = math.log(self._value_at(n - 1) + s / 2)
        x = math.exp(lo + _clip01(u) * (hi - lo))
        return min(max(int(round((x - self.low) / s)), 0), n - 1)

    def _unit_from_index(self, k: int, n: int) -> float:
        if not self.log:
            return (k + 0.5) / n
        s = self._cell_width()
        lo = math.log(max(self.low - s / 2, self.low / 2))
        hi = math.log(self._value_at(n - 1) + s / 2)
        v = self._value_at(k)
        # The centre of cell k in log space: geometric mean of its edges.
        a = math.log(max(v - s / 2, math.exp(lo)))
        b = math.log(v + s / 2)
        return _clip01(((a + b) / 2 - lo) / (hi - lo))

    def _cell_width(self) -> float:
        return float(self.step) if self.step is not None else 1.0

    def _value_at(self, k: int) -> float:
        return self.low + k * self._cell_width()

    def values(self) -> list[Any]:
        n = self.cardinality
        if n is None:
            raise SpaceError(f"{self!r} is continuous and has no finite list of values")
        # Enumerate the grid itself: on a log scale, cells are not evenly spaced in [0, 1].
        return [self.from_unit(self._unit_from_index(k, n)) for k in range(n)]

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        if self.step is not None:
            spec["step"] = self.step
        return spec


class Float(_Numeric):
    """A real number in [low, high], uniform or log-uniform, optionally on a grid.

    Args:
        low, high: inclusive bounds, ``low < high``.
        log: sample uniformly in log space (needs ``low > 0``).
        step: restrict values to ``low + k * step`` (Tune's ``quniform`` when converted).
    """

    kind = "float"

    def __init__(
        self, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> None:
        self.low = number(low, "Float low")
        self.high = number(high, "Float high")
        self.log = bool(log)
        self.step = None if step is None else number(step, "Float step")
        self._check_bounds()

    @property
    def cardinality(self) -> int | None:
        return self.n_steps

    def from_unit(self, u: float) -> float:
        n = self.n_steps
        if n is not None:
            return self._round(self._value_at(self._index_from_unit(u, n)))
        u = _clip01(u)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return min(max(math.exp(lo + u * (hi - lo)), self.low), self.high)
        return min(max(self.low + u * (self.high - self.low), self.low), self.high)

    def to_unit(self, value: Any) -> float:
        v = float(value)
        n = self.n_steps
        if n is not None:
            k = min(max(int(round((v - self.low) / self._cell_width())), 0), n - 1)
            return self._unit_from_index(k, n)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return _clip01((math.log(max(v, self.low)) - lo) / (hi - lo))
        return _clip01((v - self.low) / (self.high - self.low))

    def _round(self, v: float) -> float:
        return clean(v, self._cell_width())

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            return False
        v = float(value)
        tol = 1e-9 * max(1.0, abs(self.high), abs(self.low))
        if not (self.low - tol <= v <= self.high + tol):
            return False
        if self.step is not None:
            return _on_grid(v, self.low, self.step)
        return True


class Int(_Numeric):
    """An integer in [low, high] (both inclusive), uniform or log-uniform, optional step.

    Args:
        low, high: inclusive bounds. Note Tune's ``randint(l, u)`` excludes ``u``; the Tune
            converter maps it to ``Int(l, u - 1)``.
        log: log-uniform over the integers (needs ``low >= 1``).
        step: restrict values to ``low + k * step``.
    """

    kind = "int"

    def __init__(self, low: int, high: int, *, log: bool = False, step: int | None = None) -> None:
        lo, hi = number(low, "Int low"), number(high, "Int high")
        if lo != int(lo) or hi != int(hi):
            raise SpaceError(f"Int bounds must be integers, got low={low!r}, high={high!r}")
        self.low = int(lo)
        self.high = int(hi)
        self.log = bool(log)
        if step is not None:
            st = number(step, "Int step")
            if st != int(st):
                raise SpaceError(f"Int step must be an integer, got {step!r}")
            step = int(st)
        self.step = step
        self._check_bounds()

    @property
    def cardinality(self) -> int:
        n = self.n_steps
        return n if n is not None else int(self.high - self.low) + 1

    def from_unit(self, u: float) -> int:
        return int(self._value_at(self._index_from_unit(u, self.cardinality)))

    def to_unit(self, value: Any) -> float:
        n = self.cardinality
        k = min(max(int(round((float(value) - self.low) / self._cell_width())), 0), n - 1)
        return self._unit_from_index(k, n)

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            if isinstance(value, float | np.floating) and float(value).is_integer():
                value = int(value)
            else:
                return False
        if not self.low <= value <= self.high:
            return False
        return self.step is None or (int(value) - int(self.low)) % int(self.step) == 0

    @property
    def low_int(self) -> int:
        return int(self.low)


class Normal(Param):
    """An unbounded real number ~ Normal(mean, sd), optionally rounded to a step.

    The unit map is the normal CDF, so model-based searchers still see a box.
    """

    kind = "normal"

    def __init__(self, mean: float = 0.0, sd: float = 1.0, *, step: float | None = None) -> None:
        self.mean = number(mean, "Normal mean")
        self.sd = number(sd, "Normal sd")
        self.step = None if step is None else number(step, "Normal step")
        if not math.isfinite(self.mean):
            raise SpaceError(f"Normal mean must be finite, got {self.mean}")
        if not (math.isfinite(self.sd) and self.sd > 0):
            raise SpaceError(f"Normal sd must be > 0, got {self.sd}")
        if self.step is not None and not (math.isfinite(self.step) and self.step > 0):
            raise SpaceError(f"Normal step must be > 0, got {self.step}")

    def from_unit(self, u: float) -> float:
        z = _STD_NORMAL.inv_cdf(min(max(u, _EPS), 1.0 - _EPS))
        v = self.mean + self.sd * z
        if self.step is not None:
            v = clean(round(v / self.step) * self.step, self.step)
        return v

    def to_unit(self, value: Any) -> float:
        return _clip01(_STD_NORMAL.cdf((float(value) - self.mean) / self.sd))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            return False
        if not math.isfinite(float(value)):
            return False
        if self.step is not None:
            return _on_grid(float(value), 0.0, self.step)
        return True

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": self.kind, "mean": self.mean, "sd": self.sd}
        if self.step is not None:
            spec["step"] = self.step
        return spec


class Categorical(Param):
    """One of a list of choices.

    Args:
        choices: the values (any Python objects; JSON-able ones survive state files
            by value, others by index).
        ordered: neighbouring choices are similar (e.g. ``[16, 32, 64]``), which mutation
            and model-based searchers exploit; unordered choices are all equally far apart.
        grid: enumerate every choice in grid search (Tune's ``grid_search``).
    """

    kind = "categorical"
    numeric = False

    def __init__(
        self, choices: Sequence[Any], *, ordered: bool = False, grid: bool = False
    ) -> None:
        if isinstance(choices, str | bytes) or not isinstance(choices, Sequence):
            raise SpaceError(f"Categorical choices must be a list, got {choices!r}")
        if len(choices) == 0:
            raise SpaceError("Categorical needs at least one choice, got an empty list")
        self.choices = list(choices)
        for i, a in enumerate(self.choices):
            for b in self.choices[:i]:
                if same_value(a, b):
                    raise SpaceError(f"Categorical choices must be distinct, {a!r} appears twice")
        self._ordered = bool(ordered)
        self.is_grid = bool(grid)

    @property
    def ordered(self) -> bool:
        return self._ordered

    @property
    def cardinality(self) -> int:
        return len(self.choices)

    def values(self) -> list[Any]:
        return list(self.choices)

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (raises SpaceError if absent)."""
        for i, c in enumerate(self.choices):
            if same_value(c, value):
                return i
        # Numbers that differ only in type (1 vs 1.0, numpy ints) still match.
        for i, c in enumerate(self.choices):
            if loose_equal(c, value):
                return i
        raise SpaceError(f"{value!r} is not one of the choices {self.choices!r}")

    def from_unit(self, u: float) -> Any:
        n = len(self.choices)
        return self.choices[min(int(_clip01(u) * n), n - 1)]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except SpaceError:
            return False
        return True

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": self.kind, "choices": list(self.choices)}
        if self._ordered:
            spec["ordered"] = True
        if self.is_grid:
            spec["grid"] = True
        return spec

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Categorical):
            return False
        return (
            len(self.choices) == len(other.choices)
            and all(same_value(a, b) for a, b in zip(self.choices, other.choices))
            and self._ordered == other._ordered
            and self.is_grid == other.is_grid
        )

    def __hash__(self) -> int:
        return hash(repr(self))


def canonical(param: Param, value: Any) -> Any:
    """The parameter's own representation of a valid value (choices by identity, ints as int)."""
    if isinstance(param, Categorical):
        return param.choices[param.index(value)]
    if param.kind == "int":
        return int(value)
    if param.kind in ("float", "normal"):
        v = float(value)
        return param.from_unit(param.to_unit(v)) if param.cardinality is not None else v
    return value


def choice_index(param: Param, value: Any) -> int:
    """The index of ``value`` among a categorical's choices; 0 for any other parameter
    (a categorical column of one then holds its single value)."""
    return param.index(value) if isinstance(param, Categorical) else 0


def is_unordered(param: Param) -> TypeGuard[Categorical]:
    """Whether ``param`` is a categorical without an order: its choices are all equally far
    apart (one-hot encoded, moved by jumping to another choice)."""
    return isinstance(param, Categorical) and not param.ordered


def loose_equal(a: Any, b: Any) -> bool:
    """Equality of numbers across types (``1 == 1.0``, numpy scalars), element-wise for
    lists and tuples; never between a bool and a number."""
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, numbers) and isinstance(b, numbers):
        return float(a) == float(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(
            same_value(x, y) or loose_equal(x, y) for x, y in zip(a, b)
        )
    return False


class Constant(Param):
    """A fixed value; it takes no room in encodings."""

    kind = "constant"
    numeric = False

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def cardinality(self) -> int:
        return 1

    def values(self) -> list[Any]:
        return [self.value]

    def from_unit(self, u: float) -> Any:
        return self.value

    def to_unit(self, value: Any) -> float:
        return 0.5

    def contains(self, value: Any) -> bool:
        return same_value(value, self.value) or loose_equal(value, self.value)

    def to_spec(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constant) and same_value(self.value, other.value)

    def __hash__(self) -> int:
        return hash(repr(self))
