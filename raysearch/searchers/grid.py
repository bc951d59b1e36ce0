"""Grid search over some parameters, crossed with random sampling of the rest.

Which parameters form the grid:
    * the ones marked for grid search (Tune's ``tune.grid_search([...])``, ``{grid: [...]}``
      in YAML, ``Categorical(..., grid=True)``), if the space has any; otherwise
    * every parameter, if the space is finite (at most 100,000 configs): the grid is then
      the whole space, each config exactly once; otherwise
    * every categorical parameter, plus every numeric one when ``resolution`` is given
      (``resolution`` evenly spread values each; ints and quantized floats with fewer
      values keep all of them). A space with neither gets ``resolution=5``.

Every grid point is suggested ``repeats`` times (each time with fresh random values for
the parameters outside the grid), then the searcher returns FINISHED. With Ray Tune, use
``num_samples=-1`` so the grid, not ``num_samples``, decides the number of trials
(``raysearch.run`` does this for you).

Example::

    from ray import tune
    from raysearch.tune import GridSearch

    param_space = {"model": tune.grid_search(["lgbm", "xgb"]), "lr": tune.loguniform(1e-3, 0.3)}
    tuner = tune.Tuner(train, param_space=param_space,
                       tune_config=tune.TuneConfig(search_alg=GridSearch(repeats=3, seed=0),
                                                   metric="auc", mode="max", num_samples=-1))
"""

from __future__ import annotations

from typing import Any

from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.types import FINISHED
from raysearch.space.space import Flat

__all__ = ["GridSearch"]

_MAX_GRID = 1_000_000
_MAX_FINITE = 100_000


class GridSearch(Searcher):
    """Cartesian grid over grid parameters, random values for the others.

    Args:
        space, seed, points_to_evaluate, max_trials: see :class:`~raysearch.core.Searcher`.
        resolution: values per numeric parameter when numerics are gridded (see module doc).
        repeats: how many times each grid point is suggested.
        shuffle: visit grid points in a seeded random order instead of lexicographic order
            (useful when the run may be cut short by a time budget).
    """

    exhausts_finite_space = True

    def __init__(
        self,
        space: Any = None,
        *,
        resolution: int | None = None,
        repeats: int = 1,
        shuffle: bool = False,
        **kwargs: Any,
    ) -> None:
        if resolution is not None and (int(resolution) != resolution or resolution < 1):
            raise ValueError(f"resolution must be a positive integer or None, got {resolution!r}")
        if int(repeats) != repeats or repeats < 1:
            raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
        self.resolution = None if resolution is None else int(resolution)
        self.repeats = int(repeats)
        self.shuffle = bool(shuffle)
        self._points: list[Flat] = []
        self._order: list[int] = []
        self._next = 0
        super().__init__(space, **kwargs)

    def _recipe(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "repeats": self.repeats, "shuffle": self.shuffle}

    def grid_values(self) -> dict[str, list[Any]]:
        """The gridded parameters and their values."""
        space = self.space
        marked = space.grid_names
        if marked:
            return {n: space[n].values() for n in marked}
        if self.resolution is None and space.cardinality(limit=_MAX_FINITE) is not None:
            return {e.name: e.param.values() for e in space.entries}
        # Choices are always enumerated in full; numbers on a grid of ``resolution`` values.
        resolution = self.resolution
        if resolution is None and all(e.param.numeric for e in space.entries):
            resolution = 5
        out: dict[str, list[Any]] = {}
        for e in space.entries:
            if not e.param.numeric:
                out[e.name] = e.param.values()
            elif resolution is not None:
                out[e.name] = e.param.grid(resolution)
        return out

    def _on_setup(self) -> None:
        values = self.grid_values()
        names = [e.name for e in self.space.entries if e.name in values]
        points: list[Flat] = []

        def rec(i: int, acc: Flat) -> None:
            if len(points) > _MAX_GRID:
                raise ValueError(f"the grid has more than {_MAX_GRID} points; lower resolution")
            if i == len(names):
                points.append(dict(acc))
                return
            name = names[i]
            entry = self.space.entry(name)
            # A grid parameter conditioned on other grid parameters is enumerated only
            # where it is active; conditions on non-grid parameters are settled later.
            grid_parents = [c for c in entry.conditions if c.parent in values]
            if not all(c.parent in acc and c.holds(acc[c.parent]) for c in grid_parents):
                rec(i + 1, acc)
                return
            for v in values[name]:
                acc[name] = v
                rec(i + 1, acc)
                del acc[name]

        rec(0, {})
        self._points = points
        self._order = list(range(len(points)))
        if self.shuffle:
            self._order = [int(i) for i in self.rng.permutation(len(points))]

    def is_finite(self) -> bool:
        return True

    @property
    def n_points(self) -> int:
        """Grid points times repeats: the number of trials this searcher suggests."""
        return len(self._points) * self.repeats

    def _suggest(self, trial_id: str) -> Suggestion:
        if self._next >= self.n_points:
            return FINISHED
        point = self._points[self._order[self._next % len(self._points)]]
        self._next += 1
        return self.space.complete(point, self.rng)

    def _strategy_state(self) -> dict[str, Any]:
        return {"next": self._next, "order": self._order}

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self._next = int(data.get("next", 0))
        order = data.get("order")
        if order is not None:
            if sorted(order) != list(range(len(self._points))):
                raise ValueError("saved grid order does not match this grid")
            self._order = [int(i) for i in order]
