"""Population-based training (PBT): exploit the best members, explore their hyperparameters.

A population of trials trains at once. Every ``perturbation_interval`` (in the unit of the
scheduler's steps: iterations, epochs, seconds...) a member is *ready*: it is ranked by its
last loss against the other live members. A member in the bottom ``quantile_fraction``
*exploits* one in the top ``quantile_fraction`` (it continues from the donor's checkpoint)
and *explores*: it takes new hyperparameters from the explore step, by default the donor's
perturbed (:class:`~raysearch.schedulers.pbt.explore.Perturb`; PB2 plugs a GP bandit in,
:mod:`raysearch.schedulers.pbt.pb2`). The result is a schedule of hyperparameters per
member, not one value. This module holds the population logic: ranking, donors, the
synchronous barrier, crashes, waiting, saving.

What this implementation does differently from Ray's ``PopulationBasedTraining``:

* Perturbations are defined by the search space
  (:func:`~raysearch.schedulers.pbt.explore.perturb`) and never leave it
  (ray-project/ray#5035, #12717): log-scale parameters are multiplied by a factor (a step on
  their log axis), linear ones move by a fraction of their range, both reflected (or
  clipped) at the bounds; integers and grids snap to a valid value and move at least one
  cell; ordered choices shift to a neighbour; unordered choices change only by resampling;
  conditional parameters that a move activates are sampled.
* All randomness comes from one seeded ``numpy.random.Generator`` whose state is saved.
* The whole population (parameters, steps, losses, the synchronous barrier, the explore
  step's data) is a JSON state (:meth:`get_state`), so it survives an interrupted experiment.
* A member that crashes, finishes or is removed leaves the population; a synchronous round
  never waits for it (ray-project/ray#12122). A crashed member that the driver runs again
  is replaced (:meth:`PBTScheduler.replace`): it continues from a top member's checkpoint
  with explored hyperparameters. A member whose loss turns NaN/inf ranks last
  (Ray leaves it out of the ranking, so it is never replaced) and exploits at once if a
  donor is ahead of it.
* Donors are never behind the exploiting member: an exploit never sends a member back in
  time, so the population trains exactly the epochs a random search of the same size would.
  When there are fewer slots than members, a bottom member whose donors are all behind
  waits (paused) until one catches up and then exploits it.
  Ranking starts once two members have reported; new ones join the ranking as they do.
* Every start, ready check and exploit is an event (:meth:`drain_events`), which the Ray
  adapter writes as JSON lines (see :mod:`raysearch.schedulers.pbt.lineage`).

The exploit itself (checkpoint hand-over) happens in the driver: :mod:`raysearch.tune.exploit`
for Ray Tune, :func:`raysearch.testing.simulate.simulate` on a simulated clock. Reading and
writing the mutable parameters of trial configs is :mod:`raysearch.schedulers.pbt.config`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from raysearch.core.binding import BindsSpace
from raysearch.core.rng import SeedLike
from raysearch.core.scheduler import Scheduler
from raysearch.core.state import to_jsonable
from raysearch.core.types import Decision, Exploit
from raysearch.core.values import finite_float
from raysearch.schedulers.pbt.config import (
    as_mutation_space,
    config_with_params,
    params_from_config,
)
from raysearch.schedulers.pbt.explore import Explore, explore_or_perturb, perturb
from raysearch.schedulers.pbt.population import (
    LIVE,
    DonorFilter,
    EventLog,
    Member,
    donor_will_come,
    donors,
    furthest_behind,
    live,
    quantiles,
    rank_key,
    rank_of,
    rankable,
)
from raysearch.space import Space
from raysearch.space.space import Flat

__all__ = [
    "PBTScheduler",
    # re-exported: their home was this module (see explore.py, config.py)
    "perturb",
    "params_from_config",
    "config_with_params",
    "as_mutation_space",
]

logger = logging.getLogger(__name__)


class PBTScheduler(BindsSpace, Scheduler):
    """Population-based training (Jaderberg et al. 2017) over a raysearch :class:`Space`.

    Args:
        hyperparam_mutations: the parameters PBT may change (a :class:`Space` or a dict of
            raysearch parameters); the rest of a trial's config is copied from the donor
            unchanged. May be set later with :meth:`setup` (the Ray adapter uses the
            searcher's space by default).
        time_attr: the result key steps are measured in (used by the Ray adapter).
        perturbation_interval: a member is ready every this many steps.
        burn_in_period: no member is ready before this step.
        quantile_fraction: the bottom fraction exploits the top fraction (0 to 0.5;
            0 disables exploitation).
        resample_probability: per parameter, the probability of resampling it from its
            distribution instead of perturbing it (for the default explore step).
        perturbation_factors: the factors a perturbation draws from (see
            :func:`~raysearch.schedulers.pbt.explore.perturb`; for the default explore step).
        synch: synchronous PBT: every member waits (PAUSE) at each multiple of the
            interval until all live members reached it; then the bottom quantile exploits
            the top one at once. Crashed, finished and removed members are not waited for.
        boundary: ``"reflect"`` or ``"clip"`` perturbed numbers at their bounds (for the
            default explore step).
        max_t: the step members end at when they stop by themselves (a function
            trainable's loop). No member is perturbed at or after it: an exploit there would
            give the member's final result (a copy of the donor's) to hyperparameters that
            never trained. Not needed with Tune's ``stop={time_attr: N}``, whose final result
            never reaches a scheduler.
        seed: int, Generator or None.
        explore: the explore step (an :class:`~raysearch.schedulers.pbt.explore.Explore`;
            it serves this scheduler only). Default: a
            :class:`~raysearch.schedulers.pbt.explore.Perturb` built from
            ``resample_probability``, ``perturbation_factors`` and ``boundary``, which must
            keep their defaults when ``explore`` is given.

    Drivers: an :class:`~raysearch.core.types.Exploit` returned by :meth:`on_result` is for the
    reporting trial; in synchronous mode a round also exploits paused members, which
    :meth:`take_exploits` hands over. :attr:`donor_filter` (a callable, not saved) lets a
    driver rule out donors, e.g. ones without a checkpoint yet.
    """

    pauses = True
    exploits = True
    #: set by drivers: ``trial_id -> bool``, whether that trial can donate now
    donor_filter: DonorFilter = None

    unbound_message: ClassVar[str] = (
        "has no hyperparam_mutations: pass them to the constructor (or let the Ray adapter "
        "take the searcher's space)"
    )
    bound_as: ClassVar[str] = "already mutates"

    def __init__(
        self,
        hyperparam_mutations: Space | Mapping[str, Any] | None = None,
        *,
        time_attr: str = "training_iteration",
        perturbation_interval: float = 5.0,
        burn_in_period: float = 0.0,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        synch: bool = False,
        boundary: str = "reflect",
        max_t: float | None = None,
        seed: SeedLike = None,
        explore: Explore | None = None,
    ) -> None:
        super().__init__(seed=seed)
        if max_t is not None and not (finite_float(max_t) and max_t > 0):
            raise ValueError(f"max_t must be > 0 or None, got {max_t!r}")
        if not (finite_float(perturbation_interval) and perturbation_interval > 0):
            raise ValueError(f"perturbation_interval must be > 0, got {perturbation_interval!r}")
        if finite_float(burn_in_period) is None or burn_in_period < 0:
            raise ValueError(f"burn_in_period must be >= 0, got {burn_in_period!r}")
        if finite_float(quantile_fraction) is None or not 0.0 <= quantile_fraction <= 0.5:
            raise ValueError(f"quantile_fraction must be in [0, 0.5], got {quantile_fraction!r}")
        explore = explore_or_perturb(explore, resample_probability, perturbation_factors, boundary)
        if not isinstance(time_attr, str) or not time_attr:
            raise ValueError(f"time_attr must be a result key, got {time_attr!r}")
        self.time_attr = time_attr
        self.perturbation_interval = float(perturbation_interval)
        self.burn_in_period = float(burn_in_period)
        self.quantile_fraction = float(quantile_fraction)
        self.synch = bool(synch)
        self.max_t = None if max_t is None else float(max_t)
        self.explore = explore
        self._space: Space | None = None
        self.members: dict[str, Member] = {}
        self._barrier = max(self.perturbation_interval, self.burn_in_period)
        self._queued: list[tuple[str, Exploit]] = []
        self._log = EventLog()
        self._n_rounds = 0
        space = as_mutation_space(hyperparam_mutations)
        if space is not None:
            self.setup(space)

    # ------------------------------------------------------------------ set-up
    def setup(self, space: Space | Mapping[str, Any]) -> None:
        """Binds the mutable parameters (once; the same space again is a no-op)."""
        new = as_mutation_space(space)
        assert new is not None
        if self.already_bound(new):
            return
        if not any(e.param.cardinality != 1 for e in new.entries):
            raise ValueError(
                f"{type(self).__name__}: hyperparam_mutations has nothing to mutate ({new!r})"
            )
        self.explore.setup(new, self.perturbation_interval)
        self._space = new

    def recipe(self) -> dict[str, Any]:
        return {
            "hyperparam_mutations": (
                to_jsonable(self._space.to_dict()) if self._space is not None else None
            ),
            "time_attr": self.time_attr,
            "perturbation_interval": self.perturbation_interval,
            "burn_in_period": self.burn_in_period,
            "quantile_fraction": self.quantile_fraction,
            **self.explore.recipe(),
            "synch": self.synch,
            "max_t": self.max_t,
        }

    # ------------------------------------------------------------------ events
    def drain_events(self) -> list[dict[str, Any]]:
        """The lineage events since the last call (start, ready, exploit, done...), each
        with a running ``id``; parameters are JSON-able tokens-free values."""
        return self._log.drain()

    @property
    def next_event_id(self) -> int:
        return self._log.next_id

    def _jsonable_params(self, params: Flat) -> dict[str, Any]:
        return {k: to_jsonable(v) for k, v in params.items()}

    # ------------------------------------------------------------------ members
    def _new_member(self, trial_id: str, config: Mapping[str, Any] | None) -> Member:
        params = params_from_config(self.space, config or {}, self.rng)
        member = Member(params=params)
        self.members[trial_id] = member
        self.explore.on_join(trial_id)
        self._log.emit("start", trial_id, step=0.0, params=self._jsonable_params(params))
        return member

    def _member(self, trial_id: str) -> Member:
        member = self.members.get(trial_id)
        if member is None:
            member = self._new_member(trial_id, None)
        return member

    def params_of(self, trial_id: str) -> Flat:
        """The current mutable parameters of a member."""
        return dict(self.members[trial_id].params)

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        member = self.members.get(trial_id)
        if member is None:
            self._new_member(trial_id, config)
            return
        # Re-added after a restore: the trial's config is the truth (an exploit may have
        # changed it after the state was saved, or before and not reached the config).
        if config:
            seen = params_from_config(self.space, config)
            if seen and all(k in seen for k in member.params):
                member.params = self.space.complete(self.space.prune(seen), self.rng)
        if member.status == "running":
            member.status = "paused"

    # ------------------------------------------------------------------ ranking
    def _quantiles(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        return quantiles(self.members, ids, self.quantile_fraction)

    def _rankable_quantiles(self) -> tuple[list[str], list[str]]:
        return self._quantiles(rankable(self.members))

    def _pick_donor(self, trial_id: str, top: Sequence[str], min_step: float) -> str | None:
        """A random top member that has a loss, is at least at ``min_step`` and may
        donate (:attr:`donor_filter`)."""
        candidates = donors(self.members, trial_id, top, min_step, self.donor_filter)
        if not candidates:
            return None
        return candidates[int(self.rng.integers(len(candidates)))]

    def _donor_will_come(self, trial_id: str, top: Sequence[str]) -> bool:
        return donor_will_come(self.members, trial_id, top, self.donor_filter)

    # ------------------------------------------------------------------ exploit
    def _exploit(self, trial_id: str, donor: str) -> Exploit:
        member, source = self.members[trial_id], self.members[donor]
        member.undo = {
            "params": dict(member.params),
            "step": member.step,
            "loss": member.loss,
            "diverged": member.diverged,
            "ready_step": member.ready_step,
            "explore": self.explore.snapshot(trial_id),
        }
        params, info = self.explore.params_for(trial_id, source, self.rng)
        self._log.emit(
            "exploit",
            trial_id,
            step=source.step,
            donor=donor,
            old_step=member.step,
            old_loss=member.loss,
            donor_loss=source.loss,
            old_params=self._jsonable_params(member.params),
            donor_params=self._jsonable_params(source.params),
            params=self._jsonable_params(params),
            **info,
        )
        member.params = params
        member.step = source.step
        member.ready_step = source.step
        member.loss = source.loss
        member.diverged = False
        member.n_exploits += 1
        self.explore.on_exploited(trial_id, member, source)
        return Exploit(donor, dict(params))

    def exploit_failed(self, trial_id: str) -> None:
        """The driver could not carry out the last exploit of ``trial_id`` (the donor's
        checkpoint vanished): the member keeps its own weights and hyperparameters."""
        member = self.members.get(trial_id)
        if member is None or member.undo is None:
            return
        undo, member.undo = member.undo, None
        member.params = undo["params"]
        member.step, member.loss = undo["step"], undo["loss"]
        member.diverged, member.ready_step = undo["diverged"], undo["ready_step"]
        self.explore.restore(trial_id, undo["explore"])
        member.n_exploits -= 1
        self._log.emit("exploit_failed", trial_id, step=member.step)

    def replace(self, trial_id: str) -> Exploit | None:
        """A crashed member that the driver runs again is *replaced*: it continues from a
        top member's checkpoint with explored hyperparameters (its own hyperparameters may
        be what crashed it) and is live again. Call after :meth:`on_error`.

        Returns:
            The exploit to carry out, or None when no live member has a loss yet to donate
            (the member then retries from its own last checkpoint and rejoins on its next
            result).
        """
        member = self.members.get(trial_id)
        if member is None or member.status in LIVE:
            return None
        able = donors(self.members, trial_id, rankable(self.members), -math.inf, self.donor_filter)
        ranked = sorted(able, key=lambda t: rank_key(self.members[t]))
        if not ranked:
            return None
        top = ranked[: max(1, int(math.ceil(len(ranked) * self.quantile_fraction)))]
        donor = top[int(self.rng.integers(len(top)))]
        self._log.emit("replace", trial_id, step=member.step, donor=donor)
        member.status = "pending"
        member.waiting = False
        return self._exploit(trial_id, donor)

    def take_exploits(self) -> list[tuple[str, Exploit]]:
        """Exploits decided for members other than the reporting one (synchronous rounds
        and members that finished a round while paused); drivers apply each before the
        member runs again."""
        out, self._queued = self._queued, []
        return out

    # ------------------------------------------------------------------ decisions
    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        member = self._member(trial_id)
        loss = finite_float(value)
        if member.status not in LIVE:
            logger.debug("member %s is back (retried after a failure)", trial_id)
        member.status = "running"
        member.undo = None
        member.step = float(step)
        member.loss = loss
        member.diverged = loss is None
        self.explore.on_result(trial_id, member)
        if self.synch:
            return self._synch_result(trial_id, member)
        member.waiting = False
        decision = self._async_result(trial_id, member)
        self._serve_waiting()
        return decision

    def _at_end(self, member: Member) -> bool:
        return self.max_t is not None and member.step >= self.max_t

    def _async_result(self, trial_id: str, member: Member) -> Decision | Exploit:
        if self._at_end(member):
            return Decision.CONTINUE
        if member.diverged:
            # A NaN/inf loss will not recover: take the weights of a donor that is ahead now
            # (else wait for the next perturbation point, where it ranks last).
            _, top = self._rankable_quantiles()
            donor = self._pick_donor(trial_id, top, min_step=math.nextafter(member.step, math.inf))
            if donor is None:
                return self._ready_check(trial_id, member)
            member.ready_step = member.step
            self._log.emit("ready", trial_id, step=member.step, loss=None, rank="diverged")
            return self._exploit(trial_id, donor)
        return self._ready_check(trial_id, member)

    @staticmethod
    def _min_donor_step(member: Member) -> float:
        """Donors are never behind: an exploit never sends a member back in time (which
        would cost compute a random search does not spend, and could loop forever)."""
        return member.step

    def _ready_check(self, trial_id: str, member: Member) -> Decision | Exploit:
        if member.step < self.burn_in_period:
            return Decision.CONTINUE
        if member.step - member.ready_step < self.perturbation_interval:
            return Decision.CONTINUE
        member.ready_step = member.step
        self.explore.on_ready(trial_id, member)
        bottom, top = self._rankable_quantiles()
        rank = rank_of(trial_id, bottom, top)
        self._log.emit("ready", trial_id, step=member.step, loss=member.loss, rank=rank)
        if rank == "bottom":
            donor = self._pick_donor(trial_id, top, self._min_donor_step(member))
            if donor is not None:
                return self._exploit(trial_id, donor)
            if self._donor_will_come(trial_id, top):
                # The top members are behind (fewer slots than members: they take turns).
                # Wait, paused, until one catches up, rather than give the exploit up.
                member.waiting = True
                member.status = "paused"
                self._log.emit("wait", trial_id, step=member.step)
                return Decision.PAUSE
        if any(m.status in ("pending", "paused") and not m.waiting for m in self.members.values()):
            # Others wait for a slot: give it to the one that is furthest behind.
            member.status = "paused"
            return Decision.PAUSE
        return Decision.CONTINUE

    def _serve_waiting(self) -> None:
        """Asynchronous mode: members waiting for a donor exploit one that has caught up
        (queued: :meth:`take_exploits`), or go on alone when none will come."""
        if self.synch:
            return
        waiting = [t for t, m in live(self.members) if m.waiting]
        if not waiting:
            return
        _, top = self._rankable_quantiles()
        for t in waiting:
            member = self.members[t]
            donor = self._pick_donor(t, top, self._min_donor_step(member))
            if donor is not None:
                member.waiting = False
                self._queued.append((t, self._exploit(t, donor)))
            elif not self._donor_will_come(t, top):
                member.waiting = False
                self._log.emit("wait_over", t, step=member.step)

    def _synch_result(self, trial_id: str, member: Member) -> Decision | Exploit:
        if self._at_end(member) or (member.step < self._barrier and not member.diverged):
            return Decision.CONTINUE
        member.waiting = True
        if all(m.waiting for _, m in live(self.members) if m is not member):
            exploit = self._round(current=trial_id)
            if exploit is not None:
                return exploit
            return Decision.CONTINUE
        member.status = "paused"
        return Decision.PAUSE

    def _maybe_round(self) -> None:
        """Synchronous mode: run the round if every live member is at the barrier."""
        members = live(self.members)
        if self.synch and members and all(m.waiting for _, m in members):
            self._round(current=None)

    def _round(self, current: str | None) -> Exploit | None:
        """All live members reached the barrier: rank them, exploit the bottom, move on."""
        ids = [t for t, m in live(self.members)]
        self._n_rounds += 1
        for t in ids:
            m = self.members[t]
            m.ready_step = m.step
            self.explore.on_ready(t, m)
        bottom, top = self._quantiles([t for t in ids if self.members[t].status != "pending"])
        for t in ids:
            m = self.members[t]
            rank = rank_of(t, bottom, top)
            self._log.emit("ready", t, step=m.step, loss=m.loss, rank=rank, round=self._n_rounds)
        result: Exploit | None = None
        for t in bottom:
            # everyone is at the barrier: "the same time", whatever the exact steps
            donor = self._pick_donor(t, top, min(self._barrier, self.members[t].step))
            if donor is None:
                continue
            exploit = self._exploit(t, donor)
            if t == current:
                result = exploit
            else:
                self._queued.append((t, exploit))
        steps = [self.members[t].step for t in ids]
        self._barrier = max(self._barrier + self.perturbation_interval, max(steps, default=0.0))
        for t in ids:
            self.members[t].waiting = False
        return result

    def on_complete(self, trial_id: str, value: float | None) -> None:
        member = self._member(trial_id)
        loss = finite_float(value)
        if loss is not None:
            member.loss = loss
        self._leave(trial_id, member, "done", "complete", loss=member.loss)

    def on_error(self, trial_id: str) -> None:
        self._leave(trial_id, self._member(trial_id), "error", "error")

    def on_remove(self, trial_id: str) -> None:
        member = self._member(trial_id)
        if member.status in LIVE:
            self._leave(trial_id, member, "removed", "removed")

    def _leave(
        self, trial_id: str, member: Member, status: str, event: str, **fields: Any
    ) -> None:
        """The member leaves the population; a round or a waiting member may go on now."""
        member.status = status
        member.waiting = False
        self.explore.on_leave(trial_id)
        self._log.emit(event, trial_id, step=member.step, **fields)
        self._maybe_round()
        self._serve_waiting()

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        """The waiting trial furthest behind (fair share of time); not one that waits for
        the synchronous barrier or for a donor to catch up."""
        best = furthest_behind(self.members, [*pending, *paused])
        chosen = self.members.get(best) if best is not None else None
        if chosen is not None and chosen.status in LIVE:
            chosen.status = "running"
        return best

    # ------------------------------------------------------------------ state
    def _state_data(self) -> dict[str, Any]:
        space = self._space
        members = (
            {
                t: {**m.to_json(space), **self.explore.member_state(t)}
                for t, m in self.members.items()
            }
            if space
            else {}
        )
        return {
            "members": members,
            "barrier": self._barrier,
            "queued": [[t, e.donor, space.to_tokens(e.params)] for t, e in self._queued]
            if space
            else [],
            "n_events": self._log.next_id,
            "n_rounds": self._n_rounds,
            **self.explore.state_data(),
        }

    def _load_state_data(self, data: dict[str, Any]) -> None:
        space = self.space
        self.members = {
            t: Member.from_json(m, space) for t, m in (data.get("members") or {}).items()
        }
        self._barrier = float(data.get("barrier", self._barrier))
        self._queued = [
            (t, Exploit(donor, space.from_tokens(tokens)))
            for t, donor, tokens in data.get("queued") or []
        ]
        self._log = EventLog()
        self._log.next_id = int(data.get("n_events", 0))
        self._n_rounds = int(data.get("n_rounds", 0))
        self.explore.load_state_data(data)

    def set_state(self, state: dict[str, Any]) -> None:
        if self._space is None:
            spec = (state.get("recipe") or {}).get("hyperparam_mutations")
            if spec is not None:
                self.setup(Space.from_dict(spec))
        super().set_state(state)

    def __repr__(self) -> str:
        space = ", ".join(self._space.names) if self._space is not None else "unset"
        mode = "synch" if self.synch else "async"
        return (
            f"{type(self).__name__}(mutations=[{space}], interval={self.perturbation_interval:g} "
            f"{self.time_attr}, quantile={self.quantile_fraction:g}, {mode})"
        )
