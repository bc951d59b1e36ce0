"""Population-based training: the PBT scheduler, its explore steps, PB2, the lineage file."""

from __future__ import annotations

from raysearch.schedulers.pbt.pb2 import PB2Scheduler
from raysearch.schedulers.pbt.scheduler import PBTScheduler

__all__ = ["PB2Scheduler", "PBTScheduler"]
