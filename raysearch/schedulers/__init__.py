"""Trial schedulers (Ray-free): when to continue, pause, stop or exploit a trial.

``FIFOScheduler`` (every trial to the end) is the core's default; ``ASHAScheduler`` and
``HyperbandScheduler`` stop or pause trials at rungs; ``PBTScheduler`` and ``PB2Scheduler``
train a population that exploits its best members. Their Ray Tune plugins live in
:mod:`raysearch.tune`.
"""

from __future__ import annotations

from raysearch.core.scheduler import FIFOScheduler
from raysearch.schedulers.asha import ASHAScheduler
from raysearch.schedulers.hyperband import HyperbandScheduler
from raysearch.schedulers.pbt import PB2Scheduler, PBTScheduler

__all__ = [
    "ASHAScheduler",
    "FIFOScheduler",
    "HyperbandScheduler",
    "PB2Scheduler",
    "PBTScheduler",
]
