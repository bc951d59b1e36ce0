"""Random search: plain (i.i.d.) or quasi-random (scrambled Sobol) sampling.

Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012; Sobol
sequences: Owen-scrambled, as in ``scipy.stats.qmc.Sobol``
(:class:`~raysearch.searchers.startup.SobolSequence`, shared with the model-based
searchers' initial design).

Example::

    from ray import tune
    from raysearch.tune import RandomSearch

    tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                       tune_config=tune.TuneConfig(search_alg=RandomSearch(sampler="sobol", seed=0),
                                                   metric="loss", mode="min", num_samples=64))
"""

from __future__ import annotations

from typing import Any

from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.types import FINISHED
from raysearch.searchers.startup import SobolSequence, draw_new, pick_unseen, sobol_block
from raysearch.space.space import Flat

__all__ = ["RandomSearch", "sobol_block"]


class RandomSearch(Searcher):
    """Samples every parameter from its own distribution (conditional ones only when active).

    Args:
        space, seed, points_to_evaluate, max_trials: see :class:`~raysearch.core.Searcher`.
        sampler: ``"random"`` (i.i.d.) or ``"sobol"`` (low-discrepancy: covers the box more
            evenly for the same number of trials).
        dedupe: on finite spaces, avoid suggesting a config twice and return FINISHED once
            every config was suggested.
    """

    exhausts_finite_space = True

    def __init__(
        self, space: Any = None, *, sampler: str = "random", dedupe: bool = True, **kwargs: Any
    ) -> None:
        if sampler not in ("random", "sobol"):
            raise ValueError(f"sampler must be 'random' or 'sobol', got {sampler!r}")
        self.sampler = sampler
        self.dedupe = bool(dedupe)
        self._sobol = SobolSequence()
        self._cardinality: int | None = None
        super().__init__(space, **kwargs)

    def _recipe(self) -> dict[str, Any]:
        return {"sampler": self.sampler, "dedupe": self.dedupe}

    def _on_setup(self) -> None:
        self._sobol.reseed(self.rng)
        self._cardinality = self.space.cardinality(limit=100_000) if self.dedupe else None

    def _draw(self) -> Flat:
        if self.sampler == "random":
            return self.space.sample(self.rng)
        return self._sobol.next(self.space)

    def _suggest(self, trial_id: str) -> Suggestion:
        if self._cardinality is None:
            return self._draw()
        if len(self._seen) >= self._cardinality:
            return FINISHED
        found = draw_new(self._draw, self._is_new)
        return found if found is not None else pick_unseen(self.space, self.rng, self._is_new)

    def _is_new(self, params: Flat) -> bool:
        return not self.seen(params)

    def _strategy_state(self) -> dict[str, Any]:
        return self._sobol.state()

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self._sobol.load(data)
