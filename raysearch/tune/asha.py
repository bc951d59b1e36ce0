"""ASHA and Hyperband for Ray Tune, with the arguments of Ray's schedulers.

``from raysearch.tune import ASHAScheduler, HyperbandScheduler`` and drop them into
``tune.TuneConfig(scheduler=...)``. Unlike Ray's:

* ``ASHAScheduler(variant="promote")`` pauses trials at each rung and resumes the best paused
  one from its checkpoint when it is promoted (the ASHA paper's algorithm; Ray's only stops,
  ray-project/ray#44256). Trials must save and restore checkpoints, as for PBT.
* Brackets are drawn with the scheduler's seeded rng, so a run is reproducible.
* The rungs, brackets and promotions survive ``Tuner.restore`` (ray-project/ray#30838) through
  :class:`~raysearch.tune.scheduler.SchedulerStateCallback` (``raysearch.run`` adds it; with a
  plain ``tune.Tuner`` add ``callbacks=[scheduler.state_callback()]``).
* Paused trials never stall the experiment (ray-project/ray#6780, #37605): losers of a
  closed rung are stopped, and the end of a search promotes or stops what is left.

The rung logic is pure Python in :mod:`raysearch.schedulers.asha` and
:mod:`raysearch.schedulers.hyperband`.
"""

from __future__ import annotations

from raysearch.core.rng import SeedLike
from raysearch.schedulers import asha as core_asha
from raysearch.schedulers import hyperband as core_hyperband
from raysearch.tune.scheduler import TuneScheduler

__all__ = ["ASHAScheduler", "HyperbandScheduler"]


class ASHAScheduler(TuneScheduler):
    """Asynchronous successive halving (see :mod:`raysearch.schedulers.asha`).

    Args:
        time_attr: the monotone result key progress is measured in (iterations, epochs,
            boosting rounds, samples seen, seconds).
        metric, mode: as in Tune; may come from ``TuneConfig``.
        max_t: trials stop at this much ``time_attr``.
        grace_period: the first rung.
        reduction_factor: keep the best ``1/reduction_factor`` at each rung.
        brackets: number of brackets (drawn per trial with the seeded rng).
        variant: ``"stop"`` (Ray's behaviour) or ``"promote"`` (pause and resume from
            checkpoints).
        min_samples: the first ``min_samples`` trials at each rung pass it.
        seed: seeds the bracket draw.
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        *,
        max_t: float = 100,
        grace_period: float = 1,
        reduction_factor: float = 4,
        brackets: int = 1,
        variant: str = "stop",
        min_samples: int = 0,
        seed: SeedLike = None,
    ) -> None:
        core = core_asha.ASHAScheduler(
            grace_period=grace_period,
            max_t=max_t,
            reduction_factor=reduction_factor,
            brackets=brackets,
            variant=variant,
            min_samples=min_samples,
            seed=seed,
        )
        super().__init__(core, metric, mode, time_attr=time_attr)


class HyperbandScheduler(TuneScheduler):
    """Synchronous Hyperband with pause/resume (see :mod:`raysearch.schedulers.hyperband`).

    Trials must checkpoint (they pause at each rung until it is complete).

    Args:
        time_attr: the monotone result key progress is measured in.
        metric, mode: as in Tune; may come from ``TuneConfig``.
        max_t: trials stop at this much ``time_attr``.
        grace_period: smallest resource of the most aggressive bracket.
        reduction_factor: keep the best ``1/reduction_factor`` at each rung.
        seed: unused (Hyperband is deterministic).
    """

    def __init__(
        self,
        time_attr: str = "training_iteration",
        metric: str | None = None,
        mode: str | None = None,
        *,
        max_t: float = 81,
        grace_period: float = 1,
        reduction_factor: float = 3,
        seed: SeedLike = None,
    ) -> None:
        core = core_hyperband.HyperbandScheduler(
            grace_period=grace_period, max_t=max_t, reduction_factor=reduction_factor, seed=seed
        )
        super().__init__(core, metric, mode, time_attr=time_attr)
