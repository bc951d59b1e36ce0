"""``TPESearch`` for Ray Tune: the plugin of :class:`raysearch.searchers.tpe.TPESearch`
(its arguments come from the core, :mod:`raysearch.tune.plugins`)."""

from __future__ import annotations

from raysearch.searchers import tpe as core_tpe
from raysearch.tune.plugins import SearcherPlugin

__all__ = ["TPESearch"]


class TPESearch(SearcherPlugin, core=core_tpe.TPESearch):
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
