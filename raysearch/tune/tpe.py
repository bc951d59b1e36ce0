"""``TPESearch`` for Ray Tune: a thin constructor over :class:`raysearch.searchers.TPESearch`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raysearch.core.rng import SeedLike
from raysearch.searchers.tpe import TPESearch as _CoreTPE
from raysearch.space import Space
from raysearch.tune.plugins import as_space
from raysearch.tune.searcher import TuneSearcher

__all__ = ["TPESearch"]


class TPESearch(TuneSearcher):
    """Multivariate, group-decomposed TPE with a constant liar for concurrent trials.

    See :class:`raysearch.searchers.tpe.TPESearch` for the algorithm and its arguments.
    Example::

        from ray import tune
        from raysearch.tune import TPESearch

        tuner = tune.Tuner(
            train,
            param_space={"lr": tune.loguniform(1e-4, 1e-1), "layers": tune.randint(1, 6)},
            tune_config=tune.TuneConfig(search_alg=TPESearch(seed=0), metric="loss",
                                        mode="min", num_samples=100, max_concurrent_trials=4),
        )

    With ``multi_fidelity=True`` the searcher learns from the intermediate results Tune
    reports (``time_attr`` is their step), BOHB-style; pair it with an ASHA/Hyperband
    scheduler.
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        *,
        n_startup: int = 10,
        n_candidates: int = 24,
        gamma: float = 0.1,
        gamma_rule: str = "linear",
        prior_weight: float = 1.0,
        bandwidth: str = "neighbor",
        min_bandwidth: float = 0.0,
        weighting: str = "ei",
        magic_clip: str = "active",
        liar_weight: float = 0.5,
        multi_fidelity: bool = False,
        n_min: int | None = None,
        seed: SeedLike = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
        max_concurrent: int | None = None,
        time_attr: str = "training_iteration",
    ) -> None:
        core = _CoreTPE(
            as_space(space),
            n_startup=n_startup,
            n_candidates=n_candidates,
            gamma=gamma,
            gamma_rule=gamma_rule,
            prior_weight=prior_weight,
            bandwidth=bandwidth,
            min_bandwidth=min_bandwidth,
            weighting=weighting,
            magic_clip=magic_clip,
            liar_weight=liar_weight,
            multi_fidelity=multi_fidelity,
            n_min=n_min,
            seed=seed,
            points_to_evaluate=points_to_evaluate,
            max_trials=max_trials,
        )
        super().__init__(core, metric, mode, max_concurrent=max_concurrent, time_attr=time_attr)
