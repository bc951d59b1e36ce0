"""Random search: plain (i.i.d.) or quasi-random (scrambled Sobol) sampling.

Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012; Sobol
sequences: Owen-scrambled, as in ``scipy.stats.qmc.Sobol``.

Example::

    from ray import tune
    from raysearch.tune import RandomSearch

    tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                       tune_config=tune.TuneConfig(search_alg=RandomSearch(sampler="sobol", seed=0),
                                                   metric="loss", mode="min", num_samples=64))
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.types import FINISHED

__all__ = ["RandomSearch", "sobol_block"]

_SOBOL_BLOCK = 64  # Sobol points are made in blocks of a power of two (balance properties)
_MAX_SOBOL_SEED = 1 << 30


def sobol_block(dim: int, seed: int, block: int, size: int = _SOBOL_BLOCK) -> np.ndarray:
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
        self._sobol_seed = 0
        self._sobol_index = 0
        self._sobol_cache: tuple[int, np.ndarray] | None = None
        self._cardinality: int | None = None
        super().__init__(space, **kwargs)

    def _recipe(self) -> dict[str, Any]:
        return {"sampler": self.sampler, "dedupe": self.dedupe}

    def _on_setup(self) -> None:
        self._sobol_seed = int(self.rng.integers(0, _MAX_SOBOL_SEED))
        self._cardinality = self.space.cardinality(limit=100_000) if self.dedupe else None

    def _draw(self) -> dict[str, Any]:
        if self.sampler == "random":
            return self.space.sample(self.rng)
        block, offset = divmod(self._sobol_index, _SOBOL_BLOCK)
        if self._sobol_cache is None or self._sobol_cache[0] != block:
            dim = len(self.space.entries)
            self._sobol_cache = (block, sobol_block(dim, self._sobol_seed, block))
        self._sobol_index += 1
        return self.space.from_unit(self._sobol_cache[1][offset, : len(self.space.entries)])

    def _suggest(self, trial_id: str) -> Suggestion:
        if self._cardinality is None:
            return self._draw()
        if len(self._seen) >= self._cardinality:
            return FINISHED
        for _ in range(100):
            params = self._draw()
            if not self.seen(params):
                return params
        # Rejection keeps failing once most configs are taken: pick an unseen one directly.
        unseen = [p for p in self.space.enumerate() if not self.seen(p)]
        if not unseen:
            return FINISHED
        return unseen[int(self.rng.integers(0, len(unseen)))]

    def _strategy_state(self) -> dict[str, Any]:
        return {"sobol_seed": self._sobol_seed, "sobol_index": self._sobol_index}

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self._sobol_seed = int(data.get("sobol_seed", self._sobol_seed))
        self._sobol_index = int(data.get("sobol_index", 0))
        self._sobol_cache = None
