"""Population-based training (PBT): exploit the best members, explore their hyperparameters.

A population of trials trains at once. Every ``perturbation_interval`` (in the unit of the
scheduler's steps: iterations, epochs, seconds...) a member is *ready*: it is ranked by its
last loss against the other live members. A member in the bottom ``quantile_fraction``
*exploits* one in the top ``quantile_fraction`` (it continues from the donor's checkpoint)
and *explores*: it takes the donor's hyperparameters perturbed. The result is a schedule of
hyperparameters per member, not one value.

What this implementation does differently from Ray's ``PopulationBasedTraining``:

* Perturbations are defined by the search space (:func:`perturb`) and never leave it
  (ray-project/ray#5035, #12717): log-scale parameters are multiplied by a factor (a step on
  their log axis), linear ones move by a fraction of their range, both reflected (or
  clipped) at the bounds; integers and grids snap to a valid value and move at least one
  cell; ordered choices shift to a neighbour; unordered choices change only by resampling;
  conditional parameters that a move activates are sampled.
* All randomness comes from one seeded ``numpy.random.Generator`` whose state is saved.
* The whole population (parameters, steps, losses, the synchronous barrier) is a JSON
  state (:meth:`get_state`), so it survives an interrupted experiment.
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

The exploit itself (checkpoint hand-over) happens in the driver: :mod:`raysearch.tune.pbt`
for Ray Tune, :func:`raysearch.testing.simulate.simulate` on a simulated clock.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from raysearch.core.rng import SeedLike
from raysearch.core.scheduler import Scheduler
from raysearch.core.state import to_jsonable
from raysearch.core.types import Decision, Exploit
from raysearch.core.values import finite_float
from raysearch.space import Categorical, Float, Int, Normal, Param, Space, SpaceError
from raysearch.space.params import _clean
from raysearch.space.space import Flat

__all__ = [
    "PBTScheduler",
    "perturb",
    "params_from_config",
    "config_with_params",
    "as_mutation_space",
]

logger = logging.getLogger(__name__)

_LIVE = ("pending", "running", "paused")
#: undrained events kept at most (a driver that never drains them loses the oldest)
_MAX_EVENTS = 10_000


# ----------------------------------------------------------------------------- explore
def _reflect_into(x: float, lo: float, hi: float) -> float:
    """``x`` reflected into [lo, hi] (any number of bounces)."""
    width = hi - lo
    u = abs((x - lo) / width) % 2.0
    u = 2.0 - u if u > 1.0 else u
    return lo + u * width


def _bound(x: float, lo: float, hi: float, boundary: str) -> tuple[float, bool]:
    if lo <= x <= hi:
        return x, False
    return (_reflect_into(x, lo, hi) if boundary == "reflect" else min(max(x, lo), hi)), True


def _grid_index(p: Float | Int, value: float) -> int:
    step = float(p.step) if p.step is not None else 1.0
    n = int(p.cardinality or 1)
    return min(max(int(round((value - p.low) / step)), 0), n - 1)


def _grid_value(p: Float | Int, k: int) -> float | int:
    step = float(p.step) if p.step is not None else 1.0
    if isinstance(p, Int):
        return int(p.low + k * int(step))
    return _clean(p.low + k * step, step)


def _perturb_numeric(
    p: Float | Int, value: Any, factor: float, boundary: str
) -> tuple[float | int, str]:
    v = float(value)
    if p.log:
        x, lo, hi = math.log(max(v, p.low)), math.log(p.low), math.log(p.high)
        dx = math.log(factor)
        op = f"*{factor:g}"
    else:
        x, lo, hi = v, float(p.low), float(p.high)
        dx = (factor - 1.0) * (hi - lo) / 2.0
        op = f"{dx:+.3g}"
    x_new, hit = _bound(x + dx, lo, hi, boundary)
    if hit:
        op += f" ({boundary})"
    new = math.exp(x_new) if p.log else x_new
    if p.cardinality is None:  # continuous float
        return float(min(max(new, p.low), p.high)), op
    # Integers and grids: snap, and move at least one cell in the direction of the step.
    n = int(p.cardinality)
    k_old = _grid_index(p, v)
    k = _grid_index(p, new)
    if k == k_old and n > 1 and dx != 0.0:
        direction = 1 if dx > 0 else -1
        k = k_old + direction
        if not 0 <= k < n:
            k = k_old - direction if boundary == "reflect" else k_old
        k = min(max(k, 0), n - 1)
    return _grid_value(p, k), op


def _perturb_one(p: Param, value: Any, factor: float, boundary: str) -> tuple[Any, str]:
    if isinstance(p, Categorical):
        if not p.ordered or len(p.choices) < 2:
            return p.choices[p.index(value)], "keep"
        i = p.index(value)
        d = 1 if factor >= 1.0 else -1
        j = i + d
        if not 0 <= j < len(p.choices):
            j = i - d if boundary == "reflect" else i
        return p.choices[j], f"shift {d:+d}" if j != i else "keep (at the end)"
    if isinstance(p, Normal):
        dx = (factor - 1.0) * 2.0 * p.sd
        new = float(value) + dx
        if p.step is not None:
            new = _clean(round(new / p.step) * p.step, p.step)
        return new, f"{dx:+.3g}"
    if isinstance(p, Float | Int):
        return _perturb_numeric(p, value, factor, boundary)
    return value, "keep"


def perturb(
    space: Space,
    params: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    resample_probability: float = 0.25,
    perturbation_factors: Sequence[float] = (1.2, 0.8),
    boundary: str = "reflect",
    names: Sequence[str] | None = None,
) -> tuple[Flat, dict[str, str]]:
    """PBT's explore step: a perturbed copy of the flat assignment ``params``.

    Each active parameter (of ``names``, default all) is resampled from its distribution
    with probability ``resample_probability``; otherwise a factor ``f`` is drawn from
    ``perturbation_factors`` and

    * a log-scale ``Float``/``Int`` is multiplied by ``f`` (a step of ``log f`` on its axis);
    * a linear ``Float``/``Int`` moves by ``(f - 1) / 2`` of its range (+-10% for the
      default factors; a multiplicative step would never leave 0 and ignores the range);
    * a ``Normal`` moves by ``2 (f - 1)`` standard deviations;
    * an ordered ``Categorical`` shifts one choice up (``f >= 1``) or down;
    * an unordered ``Categorical`` keeps its value (only resampling changes it).

    Numbers that cross a bound are reflected back (``boundary="reflect"``) or clipped
    (``"clip"``); integers and stepped floats snap to their grid and move at least one
    cell. Parameters that a move activates are sampled, ones it deactivates dropped.

    Returns:
        The new flat assignment (validated: every value lies in ``space``) and, per
        parameter, a short description of what happened to it.
    Raises:
        SpaceError: if ``params`` holds a value outside ``space``.
    """
    if boundary not in ("reflect", "clip"):
        raise ValueError(f"boundary must be 'reflect' or 'clip', got {boundary!r}")
    factors = [float(f) for f in perturbation_factors]
    chosen = None if names is None else set(names)
    out: Flat = {}
    ops: dict[str, str] = {}
    for entry in space.entries:
        if not space.is_active(entry, out):
            continue
        name, p = entry.name, entry.param
        if name not in params:
            out[name] = p.sample(rng)
            ops[name] = "sampled"
            continue
        value = params[name]
        p.validate(value, name)
        if p.cardinality == 1 or (chosen is not None and name not in chosen):
            out[name] = value
            continue
        if resample_probability > 0 and rng.random() < resample_probability:
            out[name] = p.sample(rng)
            ops[name] = "resample"
            continue
        factor = factors[int(rng.integers(len(factors)))]
        out[name], ops[name] = _perturb_one(p, value, factor, boundary)
    return space.complete(out, rng), ops


# ----------------------------------------------------------------------------- configs
def _top_keys(space: Space) -> list[str]:
    return list(space.to_dict())


def _walk(config: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    node = config
    for key in path:
        if isinstance(key, str) and isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(key, int) and isinstance(node, list | tuple) and 0 <= key < len(node):
            node = node[key]
        else:
            return False, None
    return True, node


def _project(p: Param, value: Any) -> tuple[bool, Any]:
    """``value`` if ``p`` contains it, a numeric value moved into ``p``'s range, or nothing."""
    if p.contains(value):
        return True, value
    number = finite_float(value)
    if number is None or not isinstance(p, Float | Int):
        return False, None
    number = min(max(number, float(p.low)), float(p.high))
    if p.cardinality is not None:
        return True, _grid_value(p, _grid_index(p, number))
    return True, number


def params_from_config(
    space: Space, config: Mapping[str, Any], rng: np.random.Generator | None = None
) -> Flat:
    """The flat assignment of ``space``'s parameters in a (nested) trial config.

    Keys of the config that are not in ``space`` are ignored; a numeric value outside its
    range is moved to the nearest bound (PBT then explores from there); a parameter the
    config lacks is sampled with ``rng`` (left out without one).
    """
    restricted = {k: config[k] for k in _top_keys(space) if k in config}
    try:
        flat = space.to_flat(restricted, partial=True)
    except SpaceError:
        flat = {}
        for entry in space.entries:
            if not space.is_active(entry, flat):
                continue
            found, value = _walk(config, entry.path)
            if found:
                ok, value = _project(entry.param, value)
                if ok:
                    flat[entry.name] = value
        flat = space.prune(flat)
    return space.complete(flat, rng) if rng is not None else flat


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)


def config_with_params(space: Space, config: Mapping[str, Any], params: Flat) -> dict[str, Any]:
    """A copy of ``config`` with ``space``'s parameters set to ``params`` (a complete flat
    assignment); keys outside ``space`` are kept, parameters ``params`` deactivates removed."""
    new = copy.deepcopy(dict(config))
    for entry in space.entries:
        path = entry.path
        if not path or not all(isinstance(k, str) for k in path):
            continue
        found, parent = _walk(new, path[:-1])
        if found and isinstance(parent, dict):
            parent.pop(path[-1], None)
    _deep_merge(new, space.to_config(params))
    return new


def as_mutation_space(mutations: Space | Mapping[str, Any] | None) -> Space | None:
    """None, a Space, or a dict of raysearch parameters / spec dicts -> a Space."""
    if mutations is None or isinstance(mutations, Space):
        return mutations
    if not isinstance(mutations, Mapping):
        raise TypeError(
            f"hyperparam_mutations must be a raysearch Space or a dict of parameters, "
            f"got {type(mutations).__name__}"
        )
    try:
        return Space(mutations)
    except SpaceError:
        return Space.from_dict(mutations)


# ----------------------------------------------------------------------------- members
@dataclass
class _Member:
    params: Flat
    step: float = 0.0
    loss: float | None = None
    diverged: bool = False
    ready_step: float = 0.0
    status: str = "pending"
    waiting: bool = False
    #: where the present hyperparameters started training: (step, loss); PB2's data
    seg_step: float | None = None
    seg_loss: float | None = None
    #: PB2: the input chosen for this member that has no observed outcome yet
    pending_x: list[float] | None = None
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
            "seg_step": self.seg_step,
            "seg_loss": self.seg_loss,
            "pending_x": self.pending_x,
            "n_exploits": self.n_exploits,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], space: Space) -> _Member:
        return cls(
            params=space.from_tokens(data["params"]),
            step=float(data["step"]),
            loss=finite_float(data.get("loss")),
            diverged=bool(data.get("diverged", False)),
            ready_step=float(data.get("ready_step", 0.0)),
            status=str(data.get("status", "pending")),
            waiting=bool(data.get("waiting", False)),
            seg_step=finite_float(data.get("seg_step")),
            seg_loss=finite_float(data.get("seg_loss")),
            pending_x=None if data.get("pending_x") is None else list(data["pending_x"]),
            n_exploits=int(data.get("n_exploits", 0)),
        )


class PBTScheduler(Scheduler):
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
            distribution instead of perturbing it.
        perturbation_factors: the factors a perturbation draws from (see :func:`perturb`).
        synch: synchronous PBT: every member waits (PAUSE) at each multiple of the
            interval until all live members reached it; then the bottom quantile exploits
            the top one at once. Crashed, finished and removed members are not waited for.
        boundary: ``"reflect"`` or ``"clip"`` perturbed numbers at their bounds.
        max_t: the step members end at when they stop by themselves (a function
            trainable's loop). No member is perturbed at or after it: an exploit there would
            give the member's final result (a copy of the donor's) to hyperparameters that
            never trained. Not needed with Tune's ``stop={time_attr: N}``, whose final result
            never reaches a scheduler.
        seed: int, Generator or None.

    Drivers: an :class:`~raysearch.core.types.Exploit` returned by :meth:`on_result` is for the
    reporting trial; in synchronous mode a round also exploits paused members, which
    :meth:`take_exploits` hands over. :attr:`donor_filter` (a callable, not saved) lets a
    driver rule out donors, e.g. ones without a checkpoint yet.
    """

    pauses = True
    exploits = True
    #: set by drivers: ``trial_id -> bool``, whether that trial can donate now
    donor_filter: Callable[[str], bool] | None = None
    explore_name: ClassVar[str] = "perturb"

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
        if finite_float(resample_probability) is None or not 0.0 <= resample_probability <= 1:
            raise ValueError(
                f"resample_probability must be in [0, 1], got {resample_probability!r}"
            )
        factors = [finite_float(f) for f in perturbation_factors]
        if not factors or any(f is None or f <= 0 for f in factors):
            raise ValueError(
                f"perturbation_factors must be positive numbers, got {perturbation_factors!r}"
            )
        if boundary not in ("reflect", "clip"):
            raise ValueError(f"boundary must be 'reflect' or 'clip', got {boundary!r}")
        if not isinstance(time_attr, str) or not time_attr:
            raise ValueError(f"time_attr must be a result key, got {time_attr!r}")
        self.time_attr = time_attr
        self.perturbation_interval = float(perturbation_interval)
        self.burn_in_period = float(burn_in_period)
        self.quantile_fraction = float(quantile_fraction)
        self.resample_probability = float(resample_probability)
        self.perturbation_factors = tuple(float(f) for f in factors if f is not None)
        self.synch = bool(synch)
        self.boundary = boundary
        self.max_t = None if max_t is None else float(max_t)
        self._space: Space | None = None
        self.members: dict[str, _Member] = {}
        self._barrier = max(self.perturbation_interval, self.burn_in_period)
        self._queued: list[tuple[str, Exploit]] = []
        self._events: list[dict[str, Any]] = []
        self._n_events = 0
        self._n_rounds = 0
        space = as_mutation_space(hyperparam_mutations)
        if space is not None:
            self.setup(space)

    # ------------------------------------------------------------------ set-up
    @property
    def space(self) -> Space:
        if self._space is None:
            raise RuntimeError(
                f"{type(self).__name__} has no hyperparam_mutations: pass them to the "
                "constructor (or let the Ray adapter take the searcher's space)"
            )
        return self._space

    @property
    def is_setup(self) -> bool:
        return self._space is not None

    def setup(self, space: Space | Mapping[str, Any]) -> None:
        """Binds the mutable parameters (once; the same space again is a no-op)."""
        new = as_mutation_space(space)
        assert new is not None
        if self._space is not None:
            if new != self._space:
                raise ValueError(
                    f"{type(self).__name__} already mutates {self._space!r}; cannot switch "
                    f"to {new!r}"
                )
            return
        if not any(e.param.cardinality != 1 for e in new.entries):
            raise ValueError(
                f"{type(self).__name__}: hyperparam_mutations has nothing to mutate ({new!r})"
            )
        self._check_space(new)
        self._space = new

    def _check_space(self, space: Space) -> None:
        """Hook: refuse spaces a subclass cannot explore."""

    def recipe(self) -> dict[str, Any]:
        return {
            "hyperparam_mutations": (
                to_jsonable(self._space.to_dict()) if self._space is not None else None
            ),
            "time_attr": self.time_attr,
            "perturbation_interval": self.perturbation_interval,
            "burn_in_period": self.burn_in_period,
            "quantile_fraction": self.quantile_fraction,
            "resample_probability": self.resample_probability,
            "perturbation_factors": list(self.perturbation_factors),
            "synch": self.synch,
            "boundary": self.boundary,
            "max_t": self.max_t,
        }

    # ------------------------------------------------------------------ events
    def _event(self, kind: str, trial_id: str, **fields: Any) -> None:
        event = {"id": self._n_events, "event": kind, "trial_id": trial_id, **fields}
        self._n_events += 1
        self._events.append(event)
        if len(self._events) > _MAX_EVENTS:
            del self._events[: len(self._events) - _MAX_EVENTS]

    def drain_events(self) -> list[dict[str, Any]]:
        """The lineage events since the last call (start, ready, exploit, done...), each
        with a running ``id``; parameters are JSON-able tokens-free values."""
        out, self._events = self._events, []
        return out

    @property
    def next_event_id(self) -> int:
        return self._n_events

    def _jsonable_params(self, params: Flat) -> dict[str, Any]:
        return {k: to_jsonable(v) for k, v in params.items()}

    # ------------------------------------------------------------------ members
    def _new_member(self, trial_id: str, config: Mapping[str, Any] | None) -> _Member:
        params = params_from_config(self.space, config or {}, self.rng)
        member = _Member(params=params)
        self.members[trial_id] = member
        self._event("start", trial_id, step=0.0, params=self._jsonable_params(params))
        return member

    def _member(self, trial_id: str) -> _Member:
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

    def _live(self) -> list[tuple[str, _Member]]:
        return [(t, m) for t, m in self.members.items() if m.status in _LIVE]

    # ------------------------------------------------------------------ ranking
    @staticmethod
    def _key(member: _Member) -> float:
        return math.inf if member.loss is None else member.loss

    def _quantiles(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(bottom, top) of the members ``ids`` by last loss (NaN/unknown at the bottom)."""
        ranked = sorted(ids, key=lambda t: self._key(self.members[t]))  # stable: ties by age
        n = len(ranked)
        if n < 2:
            return [], []
        k = min(int(math.ceil(n * self.quantile_fraction)), n // 2)
        if k == 0:
            return [], []
        return ranked[n - k :], ranked[:k]

    def _pick_donor(self, trial_id: str, top: Sequence[str], min_step: float) -> str | None:
        """A random top member that has a loss, is at least at ``min_step`` and may
        donate (:attr:`donor_filter`)."""
        candidates = [
            t
            for t in top
            if t != trial_id
            and self.members[t].loss is not None
            and self.members[t].step >= min_step
            and (self.donor_filter is None or self.donor_filter(t))
        ]
        if not candidates:
            return None
        return candidates[int(self.rng.integers(len(candidates)))]

    def _rankable(self) -> list[str]:
        """Live members that have reported (their loss, or a divergence)."""
        return [
            t
            for t, m in self._live()
            if (m.loss is not None or m.diverged) and m.status != "pending"
        ]

    # ------------------------------------------------------------------ explore/exploit
    def _explore(self, trial_id: str, donor: str) -> tuple[Flat, dict[str, Any]]:
        """New hyperparameters for ``trial_id``, which continues from ``donor``."""
        params, ops = perturb(
            self.space,
            self.members[donor].params,
            self.rng,
            resample_probability=self.resample_probability,
            perturbation_factors=self.perturbation_factors,
            boundary=self.boundary,
        )
        return params, {"explore": self.explore_name, "ops": ops}

    def _exploit(self, trial_id: str, donor: str) -> Exploit:
        member, source = self.members[trial_id], self.members[donor]
        member.undo = {
            "params": dict(member.params),
            "step": member.step,
            "loss": member.loss,
            "diverged": member.diverged,
            "ready_step": member.ready_step,
            "seg_step": member.seg_step,
            "seg_loss": member.seg_loss,
            "pending_x": member.pending_x,
        }
        params, info = self._explore(trial_id, donor)
        self._event(
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
        member.seg_step, member.seg_loss = source.step, source.loss
        member.n_exploits += 1
        self._on_exploited(trial_id, donor)
        return Exploit(donor, dict(params))

    def _on_exploited(self, trial_id: str, donor: str) -> None:
        """Hook for subclasses (PB2 remembers the chosen input)."""

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
        member.seg_step, member.seg_loss = undo["seg_step"], undo["seg_loss"]
        member.pending_x = undo["pending_x"]
        member.n_exploits -= 1
        self._event("exploit_failed", trial_id, step=member.step)

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
        if member is None or member.status in _LIVE:
            return None
        ranked = sorted(
            (
                t
                for t in self._rankable()
                if t != trial_id
                and self.members[t].loss is not None
                and (self.donor_filter is None or self.donor_filter(t))
            ),
            key=lambda t: self._key(self.members[t]),
        )
        if not ranked:
            return None
        top = ranked[: max(1, int(math.ceil(len(ranked) * self.quantile_fraction)))]
        donor = top[int(self.rng.integers(len(top)))]
        self._event("replace", trial_id, step=member.step, donor=donor)
        member.status = "pending"
        member.waiting = False
        return self._exploit(trial_id, donor)

    def take_exploits(self) -> list[tuple[str, Exploit]]:
        """Exploits decided for members other than the reporting one (synchronous rounds
        and members that finished a round while paused); drivers apply each before the
        member runs again."""
        out, self._queued = self._queued, []
        return out

    def _on_ready(self, trial_id: str, member: _Member) -> None:
        """Hook: a member reached a perturbation point with its current parameters."""

    # ------------------------------------------------------------------ decisions
    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        member = self._member(trial_id)
        loss = finite_float(value)
        if member.status not in _LIVE:
            logger.debug("member %s is back (retried after a failure)", trial_id)
        member.status = "running"
        member.undo = None
        member.step = float(step)
        member.loss = loss
        member.diverged = loss is None
        if member.seg_step is None:
            member.seg_step, member.seg_loss = member.step, loss
        if self.synch:
            return self._synch_result(trial_id, member)
        member.waiting = False
        decision = self._async_result(trial_id, member)
        self._serve_waiting()
        return decision

    def _at_end(self, member: _Member) -> bool:
        return self.max_t is not None and member.step >= self.max_t

    def _async_result(self, trial_id: str, member: _Member) -> Decision | Exploit:
        if self._at_end(member):
            return Decision.CONTINUE
        if member.diverged:
            # A NaN/inf loss will not recover: take the weights of a donor that is ahead now
            # (else wait for the next perturbation point, where it ranks last).
            _, top = self._quantiles(self._rankable())
            donor = self._pick_donor(trial_id, top, min_step=math.nextafter(member.step, math.inf))
            if donor is None:
                return self._ready_check(trial_id, member)
            member.ready_step = member.step
            self._event("ready", trial_id, step=member.step, loss=None, rank="diverged")
            return self._exploit(trial_id, donor)
        return self._ready_check(trial_id, member)

    @staticmethod
    def _min_donor_step(member: _Member) -> float:
        """Donors are never behind: an exploit never sends a member back in time (which
        would cost compute a random search does not spend, and could loop forever)."""
        return member.step

    def _ready_check(self, trial_id: str, member: _Member) -> Decision | Exploit:
        if member.step < self.burn_in_period:
            return Decision.CONTINUE
        if member.step - member.ready_step < self.perturbation_interval:
            return Decision.CONTINUE
        member.ready_step = member.step
        self._on_ready(trial_id, member)
        bottom, top = self._quantiles(self._rankable())
        rank = "bottom" if trial_id in bottom else ("top" if trial_id in top else "middle")
        self._event("ready", trial_id, step=member.step, loss=member.loss, rank=rank)
        if rank == "bottom":
            donor = self._pick_donor(trial_id, top, self._min_donor_step(member))
            if donor is not None:
                return self._exploit(trial_id, donor)
            if self._donor_will_come(trial_id, top):
                # The top members are behind (fewer slots than members: they take turns).
                # Wait, paused, until one catches up, rather than give the exploit up.
                member.waiting = True
                member.status = "paused"
                self._event("wait", trial_id, step=member.step)
                return Decision.PAUSE
        if any(m.status in ("pending", "paused") and not m.waiting for m in self.members.values()):
            # Others wait for a slot: give it to the one that is furthest behind.
            member.status = "paused"
            return Decision.PAUSE
        return Decision.CONTINUE

    def _donor_will_come(self, trial_id: str, top: Sequence[str]) -> bool:
        """A top member other than ``trial_id`` is live, behind it and not waiting itself."""
        step = self.members[trial_id].step
        return any(
            t != trial_id
            and self.members[t].status in _LIVE
            and not self.members[t].waiting
            and self.members[t].step < step
            and (self.donor_filter is None or self.donor_filter(t))
            for t in top
        )

    def _serve_waiting(self) -> None:
        """Asynchronous mode: members waiting for a donor exploit one that has caught up
        (queued: :meth:`take_exploits`), or go on alone when none will come."""
        if self.synch:
            return
        waiting = [t for t, m in self._live() if m.waiting]
        if not waiting:
            return
        _, top = self._quantiles(self._rankable())
        for t in waiting:
            member = self.members[t]
            donor = self._pick_donor(t, top, self._min_donor_step(member))
            if donor is not None:
                member.waiting = False
                self._queued.append((t, self._exploit(t, donor)))
            elif not self._donor_will_come(t, top):
                member.waiting = False
                self._event("wait_over", t, step=member.step)

    def _synch_result(self, trial_id: str, member: _Member) -> Decision | Exploit:
        if self._at_end(member) or (member.step < self._barrier and not member.diverged):
            return Decision.CONTINUE
        member.waiting = True
        if all(m.waiting for _, m in self._live() if m is not member):
            exploit = self._round(current=trial_id)
            if exploit is not None:
                return exploit
            return Decision.CONTINUE
        member.status = "paused"
        return Decision.PAUSE

    def _maybe_round(self) -> None:
        """Synchronous mode: run the round if every live member is at the barrier."""
        live = self._live()
        if self.synch and live and all(m.waiting for _, m in live):
            self._round(current=None)

    def _round(self, current: str | None) -> Exploit | None:
        """All live members reached the barrier: rank them, exploit the bottom, move on."""
        ids = [t for t, m in self._live()]
        self._n_rounds += 1
        for t in ids:
            m = self.members[t]
            m.ready_step = m.step
            self._on_ready(t, m)
        bottom, top = self._quantiles([t for t in ids if self.members[t].status != "pending"])
        for t in ids:
            m = self.members[t]
            rank = "bottom" if t in bottom else ("top" if t in top else "middle")
            self._event("ready", t, step=m.step, loss=m.loss, rank=rank, round=self._n_rounds)
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
        member.status = "done"
        member.waiting = False
        member.pending_x = None
        self._event("complete", trial_id, step=member.step, loss=member.loss)
        self._maybe_round()
        self._serve_waiting()

    def on_error(self, trial_id: str) -> None:
        member = self._member(trial_id)
        member.status = "error"
        member.waiting = False
        member.pending_x = None
        self._event("error", trial_id, step=member.step)
        self._maybe_round()
        self._serve_waiting()

    def on_remove(self, trial_id: str) -> None:
        member = self._member(trial_id)
        if member.status in _LIVE:
            member.status = "removed"
            member.waiting = False
            member.pending_x = None
            self._event("removed", trial_id, step=member.step)
            self._maybe_round()
            self._serve_waiting()

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        """The waiting trial furthest behind (fair share of time); not one that waits for
        the synchronous barrier or for a donor to catch up."""
        best: str | None = None
        best_step = math.inf
        for t in [*pending, *paused]:
            m = self.members.get(t)
            if m is not None and m.waiting:
                continue
            step = m.step if m is not None else 0.0
            if step < best_step:
                best, best_step = t, step
        chosen = self.members.get(best) if best is not None else None
        if chosen is not None and chosen.status in _LIVE:
            chosen.status = "running"
        return best

    # ------------------------------------------------------------------ state
    def _state_data(self) -> dict[str, Any]:
        space = self._space
        return {
            "members": ({t: m.to_json(space) for t, m in self.members.items()} if space else {}),
            "barrier": self._barrier,
            "queued": [[t, e.donor, space.to_tokens(e.params)] for t, e in self._queued]
            if space
            else [],
            "n_events": self._n_events,
            "n_rounds": self._n_rounds,
        }

    def _load_state_data(self, data: dict[str, Any]) -> None:
        space = self.space
        self.members = {
            t: _Member.from_json(m, space) for t, m in (data.get("members") or {}).items()
        }
        self._barrier = float(data.get("barrier", self._barrier))
        self._queued = [
            (t, Exploit(donor, space.from_tokens(tokens)))
            for t, donor, tokens in data.get("queued") or []
        ]
        self._n_events = int(data.get("n_events", 0))
        self._n_rounds = int(data.get("n_rounds", 0))
        self._events = []

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
