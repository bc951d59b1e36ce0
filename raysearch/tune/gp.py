"""``GPSearch`` for Ray Tune: the plugin of :class:`raysearch.searchers.gp.GPSearch`
(its arguments come from the core, :mod:`raysearch.tune.plugins`)."""

from __future__ import annotations

from raysearch.searchers import gp as core_gp
from raysearch.tune.plugins import SearcherPlugin

__all__ = ["GPSearch"]


class GPSearch(SearcherPlugin, core=core_gp.GPSearch):
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
