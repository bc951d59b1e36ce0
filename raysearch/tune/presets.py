"""Ready-made ``(search_alg, scheduler)`` pairs for model-based multi-fidelity search.

``bohb`` pairs a TPE model that learns from intermediate results (it models the highest rung
that enough trials have reached, as BOHB does) with an ASHA scheduler; ``asha_gp`` does the
same with a Gaussian-process model (:class:`~raysearch.searchers.multifidelity.MultiFidelitySearch`
around the registered ``"gp"`` searcher). Both searchers see running and paused trials as
pending, so suggestions made while trials wait at a rung avoid them. Use them as::

    search_alg, scheduler = presets.bohb(space, "loss", "min", max_t=81)
    tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=search_alg,
               scheduler=scheduler, num_samples=200),
               run_config=tune.RunConfig(callbacks=[scheduler.state_callback()]))

(``raysearch.run(trainable, space, searcher=search_alg.core, scheduler=scheduler.core)``
adds the state callback by itself.) Unlike Ray's ``TuneBOHB`` + ``HyperBandForBOHB`` there is
no hpbandster dependency, every random choice is seeded, and both halves survive
``Tuner.restore``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raysearch.core.rng import SeedLike, make_rng
from raysearch.space import Space
from raysearch.tune.asha import ASHAScheduler
from raysearch.tune.plugins import as_space
from raysearch.tune.searcher import TuneSearcher

__all__ = ["bohb", "asha_gp", "multifidelity_searcher"]


def _seeds(seed: SeedLike) -> tuple[int, int]:
    rng = make_rng(seed)
    a, b = rng.integers(2**31, size=2)
    return int(a), int(b)


def multifidelity_searcher(
    space: Space | Mapping[str, Any] | None,
    model: str,
    *,
    seed: SeedLike = None,
    n_min: int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    points_to_evaluate: Any = None,
) -> Any:
    """The core searcher of a preset: ``"tpe"`` (TPE's own BOHB mode) or any other
    registered model wrapped in :class:`MultiFidelitySearch`."""
    kwargs = dict(model_kwargs or {})
    if model == "tpe":
        from raysearch.searchers.tpe import TPESearch

        return TPESearch(
            as_space(space),
            seed=seed,
            multi_fidelity=True,
            n_min=n_min,
            points_to_evaluate=points_to_evaluate,
            **kwargs,
        )
    from raysearch.searchers.multifidelity import MultiFidelitySearch

    return MultiFidelitySearch(
        as_space(space),
        searcher=model,
        searcher_kwargs=kwargs,
        n_min=n_min,
        seed=seed,
        points_to_evaluate=points_to_evaluate,
    )


def _preset(
    model: str,
    space: Any,
    metric: str | None,
    mode: str | None,
    max_t: float,
    grace_period: float,
    reduction_factor: float,
    brackets: int,
    variant: str,
    time_attr: str,
    seed: SeedLike,
    n_min: int | None,
    model_kwargs: Mapping[str, Any] | None,
    max_concurrent: int | None,
) -> tuple[TuneSearcher, ASHAScheduler]:
    s1, s2 = _seeds(seed)
    core = multifidelity_searcher(space, model, seed=s1, n_min=n_min, model_kwargs=model_kwargs)
    searcher = TuneSearcher(core, metric, mode, max_concurrent=max_concurrent, time_attr=time_attr)
    scheduler = ASHAScheduler(
        time_attr,
        metric,
        mode,
        max_t=max_t,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
        brackets=brackets,
        variant=variant,
        seed=s2,
    )
    return searcher, scheduler


def bohb(
    space: Space | Mapping[str, Any] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    *,
    max_t: float = 81,
    grace_period: float = 1,
    reduction_factor: float = 3,
    brackets: int = 1,
    variant: str = "stop",
    time_attr: str = "training_iteration",
    seed: SeedLike = None,
    n_min: int | None = None,
    tpe_kwargs: Mapping[str, Any] | None = None,
    max_concurrent: int | None = None,
) -> tuple[TuneSearcher, ASHAScheduler]:
    """BOHB-style search: TPE on the highest rung with enough trials, ASHA scheduling.

    Args:
        space: the search space (or None to take Tune's ``param_space``).
        metric, mode: as in Tune.
        max_t, grace_period, reduction_factor, brackets, variant, time_attr: of the
            :class:`~raysearch.tune.ASHAScheduler` (``variant="promote"`` needs
            checkpointing trials).
        seed: seeds both the searcher and the scheduler.
        n_min: trials a rung needs before TPE models it (default: TPE's ``n_startup``
            and at least the number of parameters + 1).
        tpe_kwargs: more arguments for :class:`~raysearch.searchers.tpe.TPESearch`.
        max_concurrent: limit on running trials.
    Returns:
        ``(search_alg, scheduler)`` for ``tune.TuneConfig``.
    """
    return _preset(
        "tpe",
        space,
        metric,
        mode,
        max_t,
        grace_period,
        reduction_factor,
        brackets,
        variant,
        time_attr,
        seed,
        n_min,
        tpe_kwargs,
        max_concurrent,
    )


def asha_gp(
    space: Space | Mapping[str, Any] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    *,
    max_t: float = 81,
    grace_period: float = 1,
    reduction_factor: float = 3,
    brackets: int = 1,
    variant: str = "stop",
    time_attr: str = "training_iteration",
    seed: SeedLike = None,
    n_min: int | None = None,
    gp_kwargs: Mapping[str, Any] | None = None,
    max_concurrent: int | None = None,
) -> tuple[TuneSearcher, ASHAScheduler]:
    """ASHA with a Gaussian-process model of the highest well-sampled rung (see
    :func:`bohb` for the arguments; ``gp_kwargs`` go to the ``"gp"`` searcher)."""
    return _preset(
        "gp",
        space,
        metric,
        mode,
        max_t,
        grace_period,
        reduction_factor,
        brackets,
        variant,
        time_attr,
        seed,
        n_min,
        gp_kwargs,
        max_concurrent,
    )
