"""How the value of one parameter moves: every per-kind move of the package, in one place.

Each parameter kind (:attr:`Param.kind <raysearch.space.Param.kind>`: ``float``, ``int``,
``normal``, ``categorical``, ``constant``) has one :class:`Moves` entry in :data:`MOVES`,
so strategies never branch on parameter types:

* ``neighbour`` (:func:`neighbour`, :func:`mutate`, :meth:`Space.mutate
  <raysearch.space.Space.mutate>`): a random nearby value, a reflected Gaussian step of sd
  ``scale`` on the unit axis that moves a discrete parameter at least one cell; an
  unordered choice jumps to another choice, uniformly.
* ``adjacent`` (:func:`adjacent`, :func:`neighbours`, the GP's local search): the values
  one move away: the cells on either side of an ordered value, or up to 8 other choices of
  an unordered categorical.
* ``in_box`` (:func:`in_box`, the GP's trust region): a value drawn uniformly between two
  positions of the unit axis; an unordered choice is resampled instead.
* ``perturb`` (:func:`perturb_value`, :func:`perturb_param`): PBT's explore step. A
  log-scale number is multiplied by the factor, a linear one moves by ``(f - 1) / 2`` of
  its range, a normal by ``2 (f - 1)`` standard deviations, all reflected or clipped at the
  bounds; integers and grids snap and move at least one cell; an ordered choice shifts one
  step; an unordered choice and a constant keep their value.

All randomness comes from the ``rng`` passed in, drawn in a fixed order, so seeded callers
are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from raysearch.space.params import Categorical, Float, Int, Normal, Param, clean, same_value

if TYPE_CHECKING:  # a Space is only passed in: importing it would be a cycle
    from raysearch.space.params import Constant
    from raysearch.space.space import Flat, Space

__all__ = [
    "MOVES",
    "Moves",
    "adjacent",
    "grid_index",
    "grid_value",
    "in_box",
    "moves",
    "mutate",
    "neighbour",
    "neighbours",
    "perturb_param",
    "perturb_value",
]

#: Ordered parameters with more values than this have no adjacent values (a local search
#: over them would crawl); up to :data:`NEAREST_CELLS` values the current cell is found
#: among all values, beyond that by a step of one cell on the unit axis.
MAX_ADJACENT_CELLS = 4096
NEAREST_CELLS = 256
#: An unordered choice offers at most this many other choices (a random subset) as moves.
MAX_OTHER_CHOICES = 8


def _reflect(u: float) -> float:
    """Reflects ``u`` into [0, 1] (a random walk bounces off the edges)."""
    u = abs(u) % 2.0
    return 2.0 - u if u > 1.0 else u


def _clip01(u: float) -> float:
    return min(max(u, 0.0), 1.0)


# ----------------------------------------------------------------------------- neighbour
def _step(param: Param, value: Any, rng: np.random.Generator, scale: float) -> Any:
    """A reflected Gaussian step on the unit axis, at least one cell if discrete."""
    u = param.to_unit(value)
    new = param.from_unit(_reflect(u + float(rng.normal(0.0, scale))))
    n = param.cardinality
    if n is not None and n > 1 and same_value(new, value):
        step = 1.0 / n
        direction = 1.0 if rng.random() < 0.5 else -1.0
        if not 0.0 <= u + direction * step <= 1.0:
            direction = -direction
        new = param.from_unit(_clip01(u + direction * step))
    return new


def _jump(param: Categorical, value: Any, rng: np.random.Generator, scale: float) -> Any:
    """An ordered choice steps like a number; an unordered one jumps to another choice."""
    n = len(param.choices)
    if n == 1:
        return param.choices[0]
    i = param.index(value)
    if param.ordered:
        return _step(param, value, rng, scale)
    j = int(rng.integers(0, n - 1))
    return param.choices[j if j < i else j + 1]


def _stay(param: Constant, value: Any, rng: np.random.Generator, scale: float) -> Any:
    return param.value


# ----------------------------------------------------------------------------- adjacent
def _adjacent_cells(param: Param, value: Any, rng: np.random.Generator) -> list[Any]:
    """The values of the cells on either side of ``value`` (fewer at the ends)."""
    n = param.cardinality
    assert n is not None
    if n > MAX_ADJACENT_CELLS:
        return []
    u = param.to_unit(value)
    if n > NEAREST_CELLS:
        return [param.from_unit(min(1.0, u + 1.0 / n)), param.from_unit(max(0.0, u - 1.0 / n))]
    vals = param.values()
    j = int(np.argmin([abs(param.to_unit(v) - u) for v in vals]))
    return [vals[i] for i in (j - 1, j + 1) if 0 <= i < n]


def _adjacent_choices(param: Categorical, value: Any, rng: np.random.Generator) -> list[Any]:
    """Ordered choices: the neighbouring cells; unordered: the other choices (a random
    subset of :data:`MAX_OTHER_CHOICES` when there are more)."""
    if param.ordered:
        return _adjacent_cells(param, value, rng)
    options = [c for c in param.choices if c != value]
    if len(options) > MAX_OTHER_CHOICES:
        pick = rng.choice(len(options), size=MAX_OTHER_CHOICES, replace=False)
        options = [options[int(i)] for i in pick]
    return options


# ----------------------------------------------------------------------------- in_box
def _uniform_in(param: Param, rng: np.random.Generator, lo: float, hi: float) -> Any:
    return param.from_unit(float(rng.uniform(lo, hi)))


def _choice_in(param: Categorical, rng: np.random.Generator, lo: float, hi: float) -> Any:
    """An unordered choice has no position to bound: it is resampled."""
    if param.ordered:
        return _uniform_in(param, rng, lo, hi)
    return param.sample(rng)


# ----------------------------------------------------------------------------- perturb
def _reflect_into(x: float, lo: float, hi: float) -> float:
    """``x`` reflected into [lo, hi] (any number of bounces)."""
    width = hi - lo
    u = abs((x - lo) / width) % 2.0
    u = 2.0 - u if u > 1.0 else u
    return lo + u * width


def _bound(x: float, lo: float, hi: float, boundary: str) -> tuple[float, bool]:
    if lo <= x <= hi:
        return x, False
    return (_reflect_into(x, lo, hi) if boundary == "reflect" else min(max(x, lo), hi)), True


def grid_index(p: Float | Int, value: float) -> int:
    """The index of the grid cell of ``p`` (an integer or stepped float) nearest ``value``."""
    step = float(p.step) if p.step is not None else 1.0
    n = int(p.cardinality or 1)
    return min(max(int(round((value - p.low) / step)), 0), n - 1)


def grid_value(p: Float | Int, k: int) -> float | int:
    """The value of grid cell ``k`` of ``p``."""
    step = float(p.step) if p.step is not None else 1.0
    if isinstance(p, Int):
        return int(p.low + k * int(step))
    return clean(p.low + k * step, step)


def _perturb_number(
    p: Float | Int, value: Any, factor: float, boundary: str
) -> tuple[float | int, str]:
    v = float(value)
    if p.log:
        x, lo, hi = math.log(max(v, p.low)), math.log(p.low), math.log(p.high)
        dx = math.log(factor)
        op = f"*{factor:g}"
    else:
        x, lo, hi = v, float(p.low), float(p.high)
        dx = (factor - 1.0) * (hi - lo) / 2.0
        op = f"{dx:+.3g}"
    x_new, hit = _bound(x + dx, lo, hi, boundary)
    if hit:
        op += f" ({boundary})"
    new = math.exp(x_new) if p.log else x_new
    if p.cardinality is None:  # continuous float
        return float(min(max(new, p.low), p.high)), op
    # Integers and grids: snap, and move at least one cell in the direction of the step.
    n = int(p.cardinality)
    k_old = grid_index(p, v)
    k = grid_index(p, new)
    if k == k_old and n > 1 and dx != 0.0:
        direction = 1 if dx > 0 else -1
        k = k_old + direction
        if not 0 <= k < n:
            k = k_old - direction if boundary == "reflect" else k_old
        k = min(max(k, 0), n - 1)
    return grid_value(p, k), op


def _perturb_normal(p: Normal, value: Any, factor: float, boundary: str) -> tuple[float, str]:
    dx = (factor - 1.0) * 2.0 * p.sd
    new = float(value) + dx
    if p.step is not None:
        new = clean(round(new / p.step) * p.step, p.step)
    return new, f"{dx:+.3g}"


def _perturb_choice(p: Categorical, value: Any, factor: float, boundary: str) -> tuple[Any, str]:
    if not p.ordered or len(p.choices) < 2:
        return p.choices[p.index(value)], "keep"
    i = p.index(value)
    d = 1 if factor >= 1.0 else -1
    j = i + d
    if not 0 <= j < len(p.choices):
        j = i - d if boundary == "reflect" else i
    return p.choices[j], f"shift {d:+d}" if j != i else "keep (at the end)"


def _keep(p: Param, value: Any, factor: float, boundary: str) -> tuple[Any, str]:
    return value, "keep"


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Moves:
    """The moves of one parameter kind (see the module docstring); each takes the
    parameter first."""

    neighbour: Callable[[Any, Any, np.random.Generator, float], Any]
    adjacent: Callable[[Any, Any, np.random.Generator], list[Any]]
    in_box: Callable[[Any, np.random.Generator, float, float], Any]
    perturb: Callable[[Any, Any, float, str], tuple[Any, str]]


_NUMBER = Moves(_step, _adjacent_cells, _uniform_in, _perturb_number)
#: parameter kind -> its moves
MOVES: dict[str, Moves] = {
    "float": _NUMBER,
    "int": _NUMBER,
    "normal": Moves(_step, _adjacent_cells, _uniform_in, _perturb_normal),
    "categorical": Moves(_jump, _adjacent_choices, _choice_in, _perturb_choice),
    "constant": Moves(_stay, _adjacent_cells, _uniform_in, _keep),
}
#: the moves of a kind not in :data:`MOVES` (a parameter class defined elsewhere)
_OTHER = Moves(_step, _adjacent_cells, _uniform_in, _keep)


def moves(param: Param) -> Moves:
    """The moves of ``param``'s kind."""
    return MOVES.get(param.kind, _OTHER)


def neighbour(param: Param, value: Any, rng: np.random.Generator, scale: float = 0.2) -> Any:
    """A random value near ``value``: a reflected Gaussian step of sd ``scale`` in unit
    space; discrete parameters move at least one cell when they have more than one value,
    unordered choices jump to another choice."""
    return moves(param).neighbour(param, value, rng, scale)


def adjacent(param: Param, value: Any, rng: np.random.Generator) -> list[Any]:
    """The values one local-search move away from ``value`` (none for a continuous or
    single-valued parameter); ``rng`` picks the subset of a large unordered choice."""
    n = param.cardinality
    if n is None or n == 1:
        return []
    return moves(param).adjacent(param, value, rng)


def in_box(param: Param, rng: np.random.Generator, lo: float, hi: float) -> Any:
    """A value at a uniform position in ``[lo, hi]`` of the unit axis (an unordered choice:
    a sample of the parameter)."""
    return moves(param).in_box(param, rng, lo, hi)


def perturb_value(
    param: Param, value: Any, factor: float, boundary: str = "reflect"
) -> tuple[Any, str]:
    """PBT's move of one valid ``value`` by ``factor`` (see the module docstring), with a
    short description of what happened; ``boundary`` is ``"reflect"`` or ``"clip"``."""
    return moves(param).perturb(param, value, factor, boundary)


def perturb_param(
    param: Param,
    value: Any,
    rng: np.random.Generator,
    *,
    resample_probability: float = 0.25,
    factors: Sequence[float] = (1.2, 0.8),
    boundary: str = "reflect",
) -> tuple[Any, str]:
    """PBT's explore step for one active, valid, perturbable value: resampled with
    probability ``resample_probability``, else moved by a factor drawn from ``factors``
    (:func:`perturb_value`). Draws ``rng.random()`` (if resampling is possible), then the
    sample or the factor's index, in that order."""
    if resample_probability > 0 and rng.random() < resample_probability:
        return param.sample(rng), "resample"
    factor = float(factors[int(rng.integers(len(factors)))])
    return perturb_value(param, value, factor, boundary)


# ----------------------------------------------------------------------------- assignments
def mutate(
    space: Space,
    flat: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    n_params: int = 1,
    scale: float = 0.2,
    resample_prob: float = 0.0,
) -> Flat:
    """A neighbour of ``flat``: ``n_params`` active parameters move (:func:`neighbour`), or
    are resampled with probability ``resample_prob``.

    Parameters that the move activates are sampled; ones it deactivates are dropped.
    """
    candidates = [e for e in space.entries if e.name in flat and e.param.cardinality != 1]
    out = dict(flat)
    if candidates:
        k = min(max(1, n_params), len(candidates))
        picks = rng.choice(len(candidates), size=k, replace=False)
        for i in sorted(int(p) for p in picks):
            e = candidates[i]
            if resample_prob > 0 and rng.random() < resample_prob:
                out[e.name] = e.param.sample(rng)
            else:
                out[e.name] = neighbour(e.param, out[e.name], rng, scale)
    return space.complete(space.prune(out), rng)


def neighbours(space: Space, flat: Flat, rng: np.random.Generator) -> list[Flat]:
    """Every assignment one :func:`adjacent` move of one parameter away from ``flat``, in
    entry order, with the sub-spaces a move activates sampled (and those it deactivates
    dropped)."""
    out: list[Flat] = []
    for e in space.entries:
        if e.name not in flat:
            continue
        for v in adjacent(e.param, flat[e.name], rng):
            new = dict(flat)
            new[e.name] = v
            out.append(space.complete(space.prune(new), rng))
    return out
