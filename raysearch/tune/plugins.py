"""The Ray Tune plugins users import: thin constructors over the ask/tell cores.

Each keeps Ray's argument names where Ray has them (``metric``, ``mode``,
``points_to_evaluate``, ``max_concurrent``) and adds one ``seed``. ``space`` is optional:
by default the Tune ``param_space`` is the search space; pass a
:class:`raysearch.space.Space` for what Tune cannot express (conditional and nested
architecture spaces).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raysearch import searchers
from raysearch.core.rng import SeedLike
from raysearch.core.scheduler import FIFOScheduler as _CoreFIFO
from raysearch.space import Space
from raysearch.tune.scheduler import TuneScheduler
from raysearch.tune.searcher import TuneSearcher
from raysearch.tune.space import from_tune

__all__ = ["RandomSearch", "GridSearch", "FIFOScheduler", "as_space"]


def as_space(space: Space | Mapping[str, Any] | None) -> Space | None:
    """None, a Space, or a dict of raysearch parameters and/or Tune domains -> a Space."""
    if space is None or isinstance(space, Space):
        return space
    return from_tune(space)


class RandomSearch(TuneSearcher):
    """Random search, i.i.d. or scrambled Sobol (quasi-random), for Ray Tune.

    See :class:`raysearch.searchers.RandomSearch`. Example::

        tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                           tune_config=tune.TuneConfig(search_alg=RandomSearch(sampler="sobol", seed=0),
                                                       metric="loss", mode="min", num_samples=64))
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        sampler: str = "random",
        seed: SeedLike = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        core = searchers.RandomSearch(
            as_space(space),
            sampler=sampler,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            max_trials=max_trials,
        )
        super().__init__(core, metric, mode, max_concurrent=max_concurrent)


class GridSearch(TuneSearcher):
    """Grid over ``grid_search``/categorical parameters crossed with random sampling of
    the rest, for Ray Tune; returns FINISHED after the grid (use ``num_samples=-1``).

    See :class:`raysearch.searchers.GridSearch`.
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        resolution: int | None = None,
        repeats: int = 1,
        shuffle: bool = False,
        seed: SeedLike = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        core = searchers.GridSearch(
            as_space(space),
            resolution=resolution,
            repeats=repeats,
            shuffle=shuffle,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            max_trials=max_trials,
        )
        super().__init__(core, metric, mode, max_concurrent=max_concurrent)


class FIFOScheduler(TuneScheduler):
    """Runs every trial to the end (the default)."""

    def __init__(self, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(_CoreFIFO(), metric, mode)
