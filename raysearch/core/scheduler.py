"""The trial scheduler contract: *when* to continue, pause, stop or exploit a trial.

A scheduler sees trials by id, their intermediate results as ``(step, loss)`` pairs
(``step`` is the value of the resource attribute: iterations, epochs, boosting rounds,
samples, seconds) and decides after each result. Losses are lower-is-better; None means
the trial reported NaN/inf. Ray's string decisions and PBT's checkpoint hand-over are
translated only in :mod:`raysearch.tune.scheduler`; this module knows nothing of Ray.

Drivers call, per trial::

    on_add(trial_id, config)                       # once, when the trial is created
    on_result(trial_id, step, loss) -> Decision | Exploit
    on_complete(trial_id, loss) | on_error(trial_id) | on_remove(trial_id)

and ``choose(pending, paused)`` whenever a slot is free. Every scheduler saves and restores
its full state as JSON (:class:`~raysearch.core.state.Stateful`), so an interrupted experiment
resumes with its rungs, brackets and population intact.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.rng import SeedLike, make_rng
from raysearch.core.state import Stateful
from raysearch.core.types import Decision, Exploit

__all__ = ["Scheduler", "FIFOScheduler"]


class Scheduler(Stateful, ABC):
    """Base class; the default behaviour is FIFO (every trial runs to the end).

    Args:
        seed: int, ``numpy.random.Generator`` or None.

    Capability flags:
        ``pauses``: may return :attr:`Decision.PAUSE` (trials must checkpoint).
        ``exploits``: may return :class:`Exploit` (trials must checkpoint).
    """

    pauses: ClassVar[bool] = False
    exploits: ClassVar[bool] = False
    #: Has state worth persisting across restores (FIFO has none).
    stateful: ClassVar[bool] = True

    def __init__(self, *, seed: SeedLike = None) -> None:
        self.rng: np.random.Generator = make_rng(seed)

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        """A trial was created with ``config`` (or re-added after a restore: must be idempotent)."""

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        """An intermediate result; returns what to do with the trial."""
        return Decision.CONTINUE

    def on_complete(self, trial_id: str, value: float | None) -> None:
        """The trial finished (ran out, or was stopped by this scheduler)."""

    def on_error(self, trial_id: str) -> None:
        """The trial crashed."""

    def on_remove(self, trial_id: str) -> None:
        """A pending or paused trial was removed without finishing."""

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        """Which trial to start or resume when a slot frees up: the first pending one, else
        the first paused one (subclasses that pause decide which trial to promote)."""
        if pending:
            return pending[0]
        if paused:
            return paused[0]
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.recipe().items())
        return f"{type(self).__name__}({args})"


class FIFOScheduler(Scheduler):
    """Runs every trial to completion, in the order they were added."""

    stateful = False

    def recipe(self) -> dict[str, Any]:
        return {}
