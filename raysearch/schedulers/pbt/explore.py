"""PBT's explore step, pluggable: what an exploiting member's new hyperparameters are.

:func:`perturb` is PBT's perturbation of a flat assignment within its search space (ranges,
log scales, grids, ordered choices and conditions respected; see its docstring for how
each kind of parameter moves: one parameter's move is
:func:`raysearch.space.mutation.perturb_param`).

An :class:`Explore` object gives a :class:`~raysearch.schedulers.pbt.scheduler.PBTScheduler`
the new hyperparameters of every exploit (:meth:`Explore.params_for`) and hears of the
population's life through hooks (a member joins, reports, is ready, exploits, leaves), so
that an explore with memory keeps its own per-member data and saves it with the scheduler's
state. :class:`Perturb` is PBT's explore (random perturbation or resampling of the donor's
values); :class:`~raysearch.schedulers.pbt.pb2.GPBandit` is PB2's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.values import finite_float
from raysearch.schedulers.pbt.population import Member
from raysearch.space import Space
from raysearch.space.mutation import perturb_param
from raysearch.space.space import Flat

__all__ = ["Explore", "Perturb", "explore_or_perturb", "perturb"]


# ----------------------------------------------------------------------------- perturbation
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
        out[name], ops[name] = perturb_param(
            p,
            value,
            rng,
            resample_probability=resample_probability,
            factors=factors,
            boundary=boundary,
        )
    return space.complete(out, rng), ops


# ----------------------------------------------------------------------------- explore objects
class Explore:
    """The explore step of a :class:`~raysearch.schedulers.pbt.scheduler.PBTScheduler`.

    The scheduler calls :meth:`setup` once its mutable space is known, :meth:`params_for`
    at every exploit, and the hooks as its population changes; the default hooks do
    nothing. An explore object serves one scheduler: it keeps that population's data.
    Its :meth:`recipe` joins the scheduler's (saved states must match it) and
    :meth:`state_data`/:meth:`member_state` join the scheduler's saved state, which
    :meth:`load_state_data` reads back.
    """

    #: what the lineage's exploit events call this explore
    name: ClassVar[str] = "explore"
    space: Space
    perturbation_interval: float

    def setup(self, space: Space, perturbation_interval: float) -> None:
        """Binds the scheduler's mutable space and interval (once). Subclasses refuse a
        space they cannot explore here (raise :class:`~raysearch.space.SpaceError`)."""
        self.space = space
        self.perturbation_interval = perturbation_interval

    def recipe(self) -> dict[str, Any]:
        """Constructor arguments a restored state must match."""
        return {}

    def params_for(
        self, trial_id: str, donor: Member, rng: np.random.Generator
    ) -> tuple[Flat, dict[str, Any]]:
        """New hyperparameters for ``trial_id``, which continues from ``donor``, and what
        the lineage records of the choice (``{"explore": name, "ops": ...}``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ hooks
    def on_join(self, trial_id: str) -> None:
        """A member joined the population."""

    def on_result(self, trial_id: str, member: Member) -> None:
        """``member`` reported (its step and loss are updated already)."""

    def on_ready(self, trial_id: str, member: Member) -> None:
        """``member`` reached a perturbation point with its current hyperparameters."""

    def on_exploited(self, trial_id: str, member: Member, donor: Member) -> None:
        """``member`` continues from ``donor`` with the new hyperparameters."""

    def on_leave(self, trial_id: str) -> None:
        """The member finished, crashed or was removed."""

    def snapshot(self, trial_id: str) -> Any:
        """What :meth:`restore` needs to undo an exploit of ``trial_id`` (taken before it)."""
        return None

    def restore(self, trial_id: str, snapshot: Any) -> None:
        """The driver could not carry out the exploit :meth:`snapshot` was taken for."""

    # ------------------------------------------------------------------ state
    def member_state(self, trial_id: str) -> dict[str, Any]:
        """Per-member data, saved in the member's record of the scheduler's state."""
        return {}

    def state_data(self) -> dict[str, Any]:
        """Data saved at the top level of the scheduler's state."""
        return {}

    def load_state_data(self, data: Mapping[str, Any]) -> None:
        """Restores from the scheduler's saved data (members' records included)."""


class Perturb(Explore):
    """PBT's explore: the donor's hyperparameters perturbed or resampled (:func:`perturb`).

    Args:
        resample_probability: per parameter, the probability of resampling it from its
            distribution instead of perturbing it.
        perturbation_factors: the factors a perturbation draws from.
        boundary: ``"reflect"`` or ``"clip"`` perturbed numbers at their bounds.
    """

    name = "perturb"

    def __init__(
        self,
        resample_probability: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        boundary: str = "reflect",
    ) -> None:
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
        self.resample_probability = float(resample_probability)
        self.perturbation_factors = tuple(float(f) for f in factors if f is not None)
        self.boundary = boundary

    def recipe(self) -> dict[str, Any]:
        return {
            "resample_probability": self.resample_probability,
            "perturbation_factors": list(self.perturbation_factors),
            "boundary": self.boundary,
        }

    def apply(
        self,
        space: Space,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        names: Sequence[str] | None = None,
    ) -> tuple[Flat, dict[str, str]]:
        """:func:`perturb` with these settings."""
        return perturb(
            space,
            params,
            rng,
            resample_probability=self.resample_probability,
            perturbation_factors=self.perturbation_factors,
            boundary=self.boundary,
            names=names,
        )

    def params_for(
        self, trial_id: str, donor: Member, rng: np.random.Generator
    ) -> tuple[Flat, dict[str, Any]]:
        params, ops = self.apply(self.space, donor.params, rng)
        return params, {"explore": self.name, "ops": ops}

    def __repr__(self) -> str:
        return (
            f"Perturb(resample_probability={self.resample_probability:g}, "
            f"perturbation_factors={list(self.perturbation_factors)}, boundary={self.boundary!r})"
        )


#: the perturbation arguments' defaults (those of :class:`Perturb`)
_PERTURB_DEFAULTS = {
    "resample_probability": 0.25,
    "perturbation_factors": (1.2, 0.8),
    "boundary": "reflect",
}


def explore_or_perturb(
    explore: Explore | None,
    resample_probability: float,
    perturbation_factors: Sequence[float],
    boundary: str,
) -> Explore:
    """``explore``, or a :class:`Perturb` with the given settings when it is None.

    Raises:
        ValueError: if ``explore`` is given and a perturbation argument differs from its
            default (it would be ignored: it belongs to the explore object).
    """
    if explore is None:
        return Perturb(resample_probability, perturbation_factors, boundary)
    given = {
        "resample_probability": resample_probability,
        "perturbation_factors": tuple(perturbation_factors),
        "boundary": boundary,
    }
    changed = [k for k, v in given.items() if v != _PERTURB_DEFAULTS[k]]
    if changed:
        raise ValueError(
            f"{', '.join(changed)} configure the default explore step; with explore= given, "
            "pass them to the explore object instead"
        )
    return explore
