"""Small shared types: trial status, the end-of-search sentinel, scheduler decisions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["TrialStatus", "FINISHED", "Finished", "Decision", "Exploit", "Trial"]


class TrialStatus(str, enum.Enum):
    """Life cycle of a trial as a searcher sees it."""

    PENDING = "pending"  # asked, no final value yet
    COMPLETE = "complete"  # ran to the end, value is final
    PRUNED = "pruned"  # stopped early by a scheduler, value is the last intermediate one
    FAILED = "failed"  # crashed, or reported NaN/inf/nothing


class Finished:
    """Sentinel a searcher's ``ask`` returns when it will never suggest again."""

    _instance: Finished | None = None

    def __new__(cls) -> Finished:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FINISHED"

    def __reduce__(self) -> str:
        return "FINISHED"


FINISHED: Final = Finished()


class Decision(str, enum.Enum):
    """What a scheduler wants done with a trial after a result."""

    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"


@dataclass(frozen=True)
class Exploit:
    """PBT-style decision: restart this trial from ``donor``'s checkpoint with ``params``."""

    donor: str
    params: dict[str, Any]


@dataclass
class Trial:
    """A searcher's record of one trial.

    Attributes:
        trial_id: the id the caller gave to ``ask``.
        params: the flat assignment (parameter name -> value) of the active parameters.
        status: see :class:`TrialStatus`.
        value: the final objective as a loss (lower is better); None unless complete/pruned.
        intermediate: step -> loss of the intermediate results reported so far.
    """

    trial_id: str
    params: dict[str, Any]
    status: TrialStatus = TrialStatus.PENDING
    value: float | None = None
    intermediate: dict[float, float] = field(default_factory=dict)

    @property
    def last_step(self) -> float | None:
        return max(self.intermediate) if self.intermediate else None
