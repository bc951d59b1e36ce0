"""Population-based training: the PBT scheduler (:mod:`~raysearch.schedulers.pbt.scheduler`),
its pluggable explore steps (:mod:`~raysearch.schedulers.pbt.explore`; PB2's GP bandit in
:mod:`~raysearch.schedulers.pbt.pb2`), config projection (:mod:`~raysearch.schedulers.pbt.config`),
the population records (:mod:`~raysearch.schedulers.pbt.population`) and the lineage file
(:mod:`~raysearch.schedulers.pbt.lineage`)."""

from __future__ import annotations

from raysearch.schedulers.pbt.explore import Explore, Perturb
from raysearch.schedulers.pbt.pb2 import GPBandit, PB2Scheduler
from raysearch.schedulers.pbt.scheduler import PBTScheduler

__all__ = ["Explore", "GPBandit", "PB2Scheduler", "PBTScheduler", "Perturb"]
