"""Ready-made ``(search_alg, scheduler)`` pairs for model-based multi-fidelity search.

``bohb`` pairs a TPE model that learns from intermediate results (it models the highest rung
that enough trials have reached, as BOHB does) with an ASHA scheduler; ``asha_gp`` pairs ASHA
with a Gaussian-process model of every rung at once, the fidelity as an input
(:class:`~raysearch.searchers.multifidelity.MultiFidelitySearch` around the registered
``"gp"`` searcher with ``fidelity=True``; :mod:`raysearch.surrogates.fidelity`). Both
searchers see running and paused trials as pending, so suggestions made while trials wait
at a rung avoid them. Use them as::

    search_alg, scheduler = presets.bohb(space, "loss", "min", max_t=81)
    tune.Tuner(trainable, tune_config=tune.TuneConfig(search_alg=search_alg,
               scheduler=scheduler, num_samples=200),
               run_config=tune.RunConfig(callbacks=[scheduler.state_callback()]))

(``raysearch.run(trainable, space, searcher=search_alg.core, scheduler=scheduler.core)``
adds the state callback by itself.) Unlike Ray's ``TuneBOHB`` + ``HyperBandForBOHB`` there is
no hpbandster dependency, every random choice is seeded, and both halves survive
``Tuner.restore``.

:func:`preset` builds either pair, or one around any other registered model; ``bohb`` and
``asha_gp`` are :func:`preset` with the model named (their signatures are its own, shown
with ``tpe_kwargs``/``gp_kwargs`` for ``model_kwargs``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from raysearch.core.registry import reject_unknown
from raysearch.core.rng import SeedLike, make_rng
from raysearch.space import Space
from raysearch.tune.asha import ASHAScheduler
from raysearch.tune.oneshot import oneshot  # one-shot NAS: supernet, search, retrain (#18)
from raysearch.tune.plugins import TIME_ATTR, as_space
from raysearch.tune.searcher import TuneSearcher

__all__ = ["bohb", "asha_gp", "preset", "multifidelity_searcher", "oneshot"]


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
    common = {"seed": seed, "n_min": n_min, "points_to_evaluate": points_to_evaluate}
    if model == "tpe":
        from raysearch.searchers.tpe import TPESearch

        return TPESearch(as_space(space), multi_fidelity=True, **common, **kwargs)
    from raysearch.searchers.multifidelity import MultiFidelitySearch

    if model == "gp":  # the GP models every rung, the fidelity as an input (surrogates/fidelity)
        kwargs.setdefault("fidelity", True)
    return MultiFidelitySearch(as_space(space), searcher=model, searcher_kwargs=kwargs, **common)


def preset(
    model: str,
    space: Space | Mapping[str, Any] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    *,
    max_t: float = 81,
    grace_period: float = 1,
    reduction_factor: float = 3,
    brackets: int = 1,
    variant: str = "stop",
    min_rank_corr: float | None = None,
    time_attr: str = TIME_ATTR,
    seed: SeedLike = None,
    n_min: int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    max_concurrent: int | None = None,
) -> tuple[TuneSearcher, ASHAScheduler]:
    """A model of the highest rung with enough trials (:func:`multifidelity_searcher`)
    with ASHA scheduling.

    Args:
        model: ``"tpe"`` or another registered searcher.
        space: the search space (or None to take Tune's ``param_space``).
        metric, mode: as in Tune.
        max_t, grace_period, reduction_factor, brackets, variant, time_attr: of the
            :class:`~raysearch.tune.ASHAScheduler` (``variant="promote"`` needs
            checkpointing trials).
        min_rank_corr: None (default) or the rank correlation a rung must show with the
            final step before it stops trials (adaptive grace period, e.g. 0.3; see
            :mod:`raysearch.schedulers.rankcorr`): for tasks where early ranks mislead.
        seed: seeds both the searcher and the scheduler.
        n_min: trials a rung needs before the model uses it (default: TPE's ``n_startup``
            and at least the number of parameters + 1).
        model_kwargs: more arguments for the model's searcher.
        max_concurrent: limit on running trials.
    Returns:
        ``(search_alg, scheduler)`` for ``tune.TuneConfig``.
    """
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
        min_rank_corr=min_rank_corr,
        seed=s2,
    )
    return searcher, scheduler


def _named(name: str, model: str, doc: str) -> Callable[..., Any]:
    """:func:`preset` with the model named: no ``model`` argument, and ``model_kwargs``
    called ``<model>_kwargs``; its signature (what ``help()`` shows) is :func:`preset`'s so."""
    kwargs_name = f"{model}_kwargs"
    signature = inspect.signature(preset)
    signature = signature.replace(
        parameters=[
            p.replace(name=kwargs_name) if p.name == "model_kwargs" else p
            for p in signature.parameters.values()
            if p.name != "model"
        ]
    )

    def named(
        space: Space | Mapping[str, Any] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **options: Any,
    ) -> tuple[TuneSearcher, ASHAScheduler]:
        reject_unknown(name, options, list(signature.parameters), error=TypeError)
        model_kwargs = options.pop(kwargs_name, None)
        return preset(model, space, metric, mode, model_kwargs=model_kwargs, **options)

    named.__signature__ = signature  # type: ignore[attr-defined]
    named.__name__ = named.__qualname__ = name
    named.__doc__ = doc
    return named


bohb = _named(
    "bohb",
    "tpe",
    """BOHB-style search: TPE on the highest rung with enough trials, ASHA scheduling.

    ``tpe_kwargs`` are more arguments for :class:`~raysearch.searchers.tpe.TPESearch`; the
    others are :func:`preset`'s (``max_t=81, grace_period=1, reduction_factor=3,
    brackets=1, variant="stop"``, ``time_attr``, ``seed``, ``n_min``, ``max_concurrent``).
    Returns ``(search_alg, scheduler)`` for ``tune.TuneConfig``.
    """,
)
asha_gp = _named(
    "asha_gp",
    "gp",
    """ASHA with a Gaussian-process model of the highest well-sampled rung (see
    :func:`bohb` for the arguments; ``gp_kwargs`` go to the ``"gp"`` searcher).""",
)
