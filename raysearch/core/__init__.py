"""Ray-free contracts: the ask/tell :class:`Searcher`, the :class:`Scheduler`, a plain loop."""

from __future__ import annotations

from raysearch.core.loop import LoopResult, optimize
from raysearch.core.scheduler import FIFOScheduler, Scheduler
from raysearch.core.searcher import Searcher

__all__ = ["FIFOScheduler", "LoopResult", "Scheduler", "Searcher", "optimize"]
