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
:mod:`raysearch.schedulers.hyperband`; the plugins take their arguments from those cores
(:mod:`raysearch.tune.plugins`), after Tune's ``time_attr, metric, mode``.
"""

from __future__ import annotations

from raysearch.schedulers import asha as core_asha
from raysearch.schedulers import hyperband as core_hyperband
from raysearch.tune.plugins import SchedulerPlugin

__all__ = ["ASHAScheduler", "HyperbandScheduler"]


class ASHAScheduler(SchedulerPlugin, core=core_asha.ASHAScheduler):
    """Asynchronous successive halving (see :mod:`raysearch.schedulers.asha`).

    ``time_attr`` is the monotone result key progress is measured in (iterations, epochs,
    boosting rounds, samples seen, seconds); ``metric`` and ``mode`` may come from
    ``TuneConfig``. ``variant="promote"`` pauses trials at each rung and resumes them from
    their checkpoints; ``seed`` seeds the bracket draw. See
    :class:`raysearch.schedulers.asha.ASHAScheduler` for every argument.
    """


class HyperbandScheduler(SchedulerPlugin, core=core_hyperband.HyperbandScheduler):
    """Synchronous Hyperband with pause/resume (see :mod:`raysearch.schedulers.hyperband`).

    Trials must checkpoint (they pause at each rung until it is complete). ``time_attr``,
    ``metric`` and ``mode`` are as for :class:`ASHAScheduler`; ``seed`` is unused
    (Hyperband is deterministic). See :class:`raysearch.schedulers.hyperband.HyperbandScheduler`
    for every argument.
    """
