"""The space-filling start shared by searchers: a saved scrambled Sobol sequence, and
random configs not tried yet.

:class:`SobolSequence` draws the points of a scrambled Sobol sequence (Owen-scrambled, as in
``scipy.stats.qmc.Sobol``) one at a time in blocks of 64 (a power of two keeps the balance
properties); only its seed and position are state, so a restored searcher regenerates the
exact points it would have drawn. :class:`~raysearch.searchers.random.RandomSearch` samples
from it, and the model-based searchers (:mod:`~raysearch.searchers.tpe`,
:mod:`~raysearch.searchers.gp`) take their initial design from it
(:meth:`SobolSequence.next_new`). :func:`draw_new` and :func:`unseen` avoid configs already
tried on finite spaces and say FINISHED once none is left.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.core.searcher import Suggestion
from raysearch.core.types import FINISHED
from raysearch.space import Space
from raysearch.space.space import Flat

__all__ = ["SobolSequence", "draw_new", "sobol_block", "unseen"]

SOBOL_BLOCK = 64  # Sobol points are made in blocks of a power of two (balance properties)
MAX_SOBOL_SEED = 1 << 30
#: rejection draws before an unseen config is picked from the enumerated space
_TRIES = 100


def sobol_block(dim: int, seed: int, block: int, size: int = SOBOL_BLOCK) -> np.ndarray:
    """Points ``[block*size, (block+1)*size)`` of a scrambled Sobol sequence, ``(size, dim)``.

    Deterministic in ``(dim, seed, block)``, so a restored searcher regenerates the exact
    points it would have drawn.
    """
    from scipy.stats import qmc

    engine = qmc.Sobol(d=max(dim, 1), scramble=True, seed=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fast_forward by a non-power-of-two count warns
        if block:
            engine.fast_forward(block * size)
        return np.asarray(engine.random(size))


def draw_new(draw: Callable[[], Flat], is_new: Callable[[Flat], bool]) -> Flat | None:
    """The first of up to 100 ``draw()`` results that ``is_new``, None if none was."""
    for _ in range(_TRIES):
        params = draw()
        if is_new(params):
            return params
    return None


def pick_unseen(
    space: Space, rng: np.random.Generator, is_new: Callable[[Flat], bool]
) -> Suggestion:
    """A uniformly chosen config of the (finite) space that ``is_new``; FINISHED if none is
    left. Rejection keeps failing once most configs are taken: this picks one directly."""
    left = [p for p in space.enumerate() if is_new(p)]
    if not left:
        return FINISHED
    return left[int(rng.integers(0, len(left)))]


def unseen(space: Space, rng: np.random.Generator, is_new: Callable[[Flat], bool]) -> Suggestion:
    """A random config not tried yet (``is_new``), FINISHED if none is left."""
    found = draw_new(lambda: space.sample(rng), is_new)
    return found if found is not None else pick_unseen(space, rng, is_new)


class SobolSequence:
    """The scrambled Sobol points of a searcher's unit cube, one at a time; :meth:`state`
    (seed and position) restores it exactly."""

    def __init__(self) -> None:
        self.seed = 0
        self.index = 0
        self._cache: tuple[int, np.ndarray] | None = None  # (block, its points)

    def reseed(self, rng: np.random.Generator) -> None:
        """A fresh seed from ``rng`` (one draw); the position is kept."""
        self.seed = int(rng.integers(0, MAX_SOBOL_SEED))

    def next(self, space: Space) -> Flat:
        """The assignment at the next point (one coordinate per entry of ``space``)."""
        dim = len(space.entries)
        block, offset = divmod(self.index, SOBOL_BLOCK)
        if self._cache is None or self._cache[0] != block:
            self._cache = (block, sobol_block(dim, self.seed, block))
        self.index += 1
        return space.from_unit(self._cache[1][offset, :dim])

    def next_new(
        self, space: Space, rng: np.random.Generator, is_new: Callable[[Flat], bool]
    ) -> Suggestion:
        """The next point that ``is_new``; after 100 tried ones, a random unseen config
        (:func:`unseen`), FINISHED if none is left."""
        found = draw_new(lambda: self.next(space), is_new)
        return found if found is not None else unseen(space, rng, is_new)

    def state(self) -> dict[str, Any]:
        return {"sobol_seed": self.seed, "sobol_index": self.index}

    def load(self, data: dict[str, Any]) -> None:
        self.seed = int(data.get("sobol_seed", self.seed))
        self.index = int(data.get("sobol_index", 0))
        self._cache = None
