"""PBT's population: one :class:`Member` per trial, its ranking, and the lineage event log.

A member is what the scheduler knows of a trial: its mutable hyperparameters, its last
step and loss, where it was last ready, its status in the population and the undo record
of its last exploit. The ranking functions are pure: who is live, who has reported, the
bottom and top quantiles, which members may donate. What an explore step keeps per member
(PB2's segments) lives in the explore object (:mod:`raysearch.schedulers.pbt.explore`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raysearch.core.values import finite_float
from raysearch.space import Space
from raysearch.space.space import Flat

__all__ = [
    "LIVE",
    "MAX_EVENTS",
    "DonorFilter",
    "EventLog",
    "Member",
    "donor_will_come",
    "donors",
    "furthest_behind",
    "live",
    "quantiles",
    "rank_key",
    "rank_of",
    "rankable",
]

#: statuses of the members that are still in the population
LIVE = ("pending", "running", "paused")
#: undrained events kept at most (a driver that never drains them loses the oldest)
MAX_EVENTS = 10_000


@dataclass
class Member:
    """A trial in the population (see the module docstring)."""

    params: Flat
    step: float = 0.0
    loss: float | None = None
    diverged: bool = False
    ready_step: float = 0.0
    status: str = "pending"
    waiting: bool = False
    n_exploits: int = 0
    undo: dict[str, Any] | None = field(default=None, repr=False)

    def to_json(self, space: Space) -> dict[str, Any]:
        return {
            "params": space.to_tokens(self.params),
            "step": self.step,
            "loss": self.loss,
            "diverged": self.diverged,
            "ready_step": self.ready_step,
            "status": self.status,
            "waiting": self.waiting,
            "n_exploits": self.n_exploits,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], space: Space) -> Member:
        return cls(
            params=space.from_tokens(data["params"]),
            step=float(data["step"]),
            loss=finite_float(data.get("loss")),
            diverged=bool(data.get("diverged", False)),
            ready_step=float(data.get("ready_step", 0.0)),
            status=str(data.get("status", "pending")),
            waiting=bool(data.get("waiting", False)),
            n_exploits=int(data.get("n_exploits", 0)),
        )


class EventLog:
    """The population's lineage events, each with a running ``id`` (saved with the
    scheduler, so ids continue across a restore)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        #: the id of the next event
        self.next_id = 0

    def emit(self, kind: str, trial_id: str, **fields: Any) -> None:
        self.events.append({"id": self.next_id, "event": kind, "trial_id": trial_id, **fields})
        self.next_id += 1
        if len(self.events) > MAX_EVENTS:
            del self.events[: len(self.events) - MAX_EVENTS]

    def drain(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out


# ----------------------------------------------------------------------------- ranking
#: ``trial_id -> bool``: whether that member can donate now (set by drivers)
DonorFilter = Callable[[str], bool] | None


def live(members: Mapping[str, Member]) -> list[tuple[str, Member]]:
    """The members still in the population, oldest first."""
    return [(t, m) for t, m in members.items() if m.status in LIVE]


def rankable(members: Mapping[str, Member]) -> list[str]:
    """Live members that have reported (their loss, or a divergence)."""
    return [
        t for t, m in live(members) if (m.loss is not None or m.diverged) and m.status != "pending"
    ]


def rank_key(member: Member) -> float:
    """Lower ranks better; an unknown (NaN/inf) loss ranks last."""
    return math.inf if member.loss is None else member.loss


def quantiles(
    members: Mapping[str, Member], ids: Sequence[str], fraction: float
) -> tuple[list[str], list[str]]:
    """(bottom, top) ``fraction`` of the members ``ids`` by last loss (NaN/unknown at the
    bottom); each at most half of them, none with fewer than two members."""
    ranked = sorted(ids, key=lambda t: rank_key(members[t]))  # stable: ties by age
    n = len(ranked)
    if n < 2:
        return [], []
    k = min(int(math.ceil(n * fraction)), n // 2)
    if k == 0:
        return [], []
    return ranked[n - k :], ranked[:k]


def rank_of(trial_id: str, bottom: Sequence[str], top: Sequence[str]) -> str:
    """``"bottom"``, ``"top"`` or ``"middle"``: where a member ranks (lineage events)."""
    return "bottom" if trial_id in bottom else ("top" if trial_id in top else "middle")


def donors(
    members: Mapping[str, Member],
    trial_id: str,
    ids: Iterable[str],
    min_step: float,
    donor_filter: DonorFilter,
) -> list[str]:
    """The members of ``ids`` that ``trial_id`` may exploit: another member that has a
    loss, is at least at ``min_step`` and passes ``donor_filter``."""
    return [
        t
        for t in ids
        if t != trial_id
        and members[t].loss is not None
        and members[t].step >= min_step
        and (donor_filter is None or donor_filter(t))
    ]


def donor_will_come(
    members: Mapping[str, Member], trial_id: str, top: Sequence[str], donor_filter: DonorFilter
) -> bool:
    """A top member other than ``trial_id`` is live, behind it and not waiting itself."""
    step = members[trial_id].step
    return any(
        t != trial_id
        and members[t].status in LIVE
        and not members[t].waiting
        and members[t].step < step
        and (donor_filter is None or donor_filter(t))
        for t in top
    )


def furthest_behind(members: Mapping[str, Member], ids: Sequence[str]) -> str | None:
    """The trial of ``ids`` at the lowest step (one the population does not know yet is at
    0; the first of ties), leaving out members that wait for the barrier or a donor."""
    best: str | None = None
    best_step = math.inf
    for t in ids:
        m = members.get(t)
        if m is not None and m.waiting:
            continue
        step = m.step if m is not None else 0.0
        if step < best_step:
            best, best_step = t, step
    return best
