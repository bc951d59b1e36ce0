"""Rung bookkeeping shared by the successive-halving schedulers (ASHA, Hyperband).

A *rung* is a milestone of the resource (``time_attr``: iterations, epochs, boosting rounds,
samples, seconds) and the losses trials had when they reached it. Losses are lower-is-better;
a trial that reported NaN/inf (``None``) at a rung is recorded as the worst possible value
and is never promoted. Everything here is plain data that round-trips through JSON: the
insertion order of the records is kept (JSON objects keep their order), so ties are broken
the same way after a restore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Rung", "check_resources", "milestones", "reached", "EPS"]

#: tolerance when comparing a reported step with a milestone (float resources)
EPS = 1e-9


def check_resources(grace_period: float, max_t: float, reduction_factor: float) -> None:
    """Validates the arguments every successive-halving scheduler shares."""
    if not (isinstance(grace_period, int | float) and grace_period > 0):
        raise ValueError(f"grace_period must be a positive number, got {grace_period!r}")
    if not (isinstance(max_t, int | float) and max_t > grace_period):
        raise ValueError(
            f"max_t must be a number above grace_period={grace_period}, got {max_t!r}"
        )
    if not (isinstance(reduction_factor, int | float) and reduction_factor > 1):
        raise ValueError(f"reduction_factor must be a number above 1, got {reduction_factor!r}")


def milestones(
    grace_period: float, max_t: float, reduction_factor: float, s: int = 0
) -> list[float]:
    """Rung milestones ``grace_period * rf**(s + k)`` below ``max_t`` (ascending).

    ``s`` shifts the first rung up (bracket ``s`` of ASHA/Hyperband starts later).
    """
    out: list[float] = []
    k = s
    while True:
        m = float(grace_period) * float(reduction_factor) ** k
        if m >= max_t - EPS:
            return out
        out.append(m)
        k += 1


def reached(step: float, milestone: float) -> bool:
    return step >= milestone - EPS


def _sort_key(loss: float | None) -> float:
    return math.inf if loss is None else loss


@dataclass
class Rung:
    """One milestone: the loss of every trial that reached it, and who was promoted."""

    milestone: float
    recorded: dict[str, float | None] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)

    def record(self, trial_id: str, loss: float | None) -> None:
        if trial_id not in self.recorded:
            self.recorded[trial_id] = loss

    def ranked(self) -> list[str]:
        """Trial ids, best first (ties: who reached the rung first); failed ones last."""
        order = {t: i for i, t in enumerate(self.recorded)}
        return sorted(self.recorded, key=lambda t: (_sort_key(self.recorded[t]), order[t]))

    def top(self, k: int) -> list[str]:
        """The ``k`` best trials with a finite loss."""
        return [t for t in self.ranked()[: max(0, k)] if self.recorded[t] is not None]

    def promotable(self, reduction_factor: float, at_least_one: bool = False) -> list[str]:
        """Trials in the top ``1/rf`` of this rung not promoted yet, best first (ASHA);
        ``at_least_one``: the best trial counts even when the rung has fewer than ``rf``."""
        k = int(math.floor(len(self.recorded) / reduction_factor + EPS))
        if at_least_one:
            k = max(1, k)
        done = set(self.promoted)
        return [t for t in self.top(k) if t not in done]

    def passes_cutoff(self, trial_id: str, reduction_factor: float) -> bool:
        """Stopping rule (Ray's ASHA): continue if the trial is in the best
        ``ceil(n / rf)`` of the ``n`` trials recorded so far (the first one always is)."""
        loss = self.recorded.get(trial_id)
        if loss is None:
            return False
        k = max(1, int(math.ceil(len(self.recorded) / reduction_factor - EPS)))
        return trial_id in self.top(k)

    def to_json(self) -> dict[str, Any]:
        return {
            "milestone": self.milestone,
            "recorded": [[t, v] for t, v in self.recorded.items()],
            "promoted": list(self.promoted),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rung:
        recorded: dict[str, float | None] = {
            str(t): (None if v is None else float(v)) for t, v in data.get("recorded", [])
        }
        return cls(float(data["milestone"]), recorded, [str(t) for t in data.get("promoted", [])])
