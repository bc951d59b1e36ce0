"""``GPSearch`` for Ray Tune: a thin constructor over :class:`raysearch.searchers.gp.GPSearch`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raysearch.core.rng import SeedLike
from raysearch.searchers.gp import GPSearch as _CoreGP
from raysearch.space import Space
from raysearch.tune.plugins import as_space
from raysearch.tune.searcher import TuneSearcher

__all__ = ["GPSearch"]


class GPSearch(TuneSearcher):
    """Gaussian-process Bayesian optimisation (Matern-5/2, warped outputs, LogEI,
    posterior-mean exploitation and kriging believer for concurrent trials, trust region
    above 20 dimensions).

    See :class:`raysearch.searchers.gp.GPSearch` for the algorithm and its arguments.
    Example::

        from ray import tune
        from raysearch.tune import GPSearch

        tuner = tune.Tuner(
            train,
            param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 6)},
            tune_config=tune.TuneConfig(search_alg=GPSearch(seed=0), metric="loss",
                                        mode="min", num_samples=60, max_concurrent_trials=4),
        )
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        n_init: int | None = None,
        n_candidates: int = 512,
        n_restarts: int = 4,
        max_train: int = 250,
        refit_every: int | None = None,
        tr_dims: int | None = 20,
        seed: SeedLike = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        max_concurrent: int | None = None,
        time_attr: str = "training_iteration",
    ) -> None:
        core = _CoreGP(
            as_space(space),
            n_init=n_init,
            n_candidates=n_candidates,
            n_restarts=n_restarts,
            max_train=max_train,
            refit_every=refit_every,
            tr_dims=tr_dims,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            max_trials=max_trials,
        )
        super().__init__(core, metric, mode, max_concurrent=max_concurrent, time_attr=time_attr)
