"""PB2: population-based bandits (Parker-Holder, Nguyen & Roberts, NeurIPS 2020).

PB2 is PBT whose *explore* step is a GP bandit instead of a random perturbation:
:class:`GPBandit`, an :class:`~raysearch.schedulers.pbt.explore.Explore` that keeps PB2's
data (the observations, the kernel's fit, each member's segment and pending input), plugged
into :class:`~raysearch.schedulers.pbt.scheduler.PBTScheduler`. :class:`PB2Scheduler` is that
scheduler with PB2's arguments. After each
interval a member trained with hyperparameters ``x`` from step ``t0`` (loss ``l0``) to ``t``
(loss ``l``), which is one observation::

    input (t, l0, x)  ->  improvement rate y = (l0 - l) / (t - t0)

A Gaussian process with a *time-varying* kernel (TV-GP-UCB, Bogunovic et al. 2016;
:mod:`raysearch.surrogates.tvgp`) models ``y``; old observations are forgotten at a learnt rate::

    k((t, r, x), (t', r', x')) = s * exp(-|(r, x) - (r', x')|^2 / (2 l^2)) * (1 - eps)^(|t - t'| / 2)

with ``t`` counted in perturbation intervals, ``r`` the normalised loss at the start of the
interval, ``x`` the hyperparameters on the unit cube of the search space (so log-scale
parameters are modelled on their log axis). ``s``, ``l``, ``eps`` and the noise are fitted
by maximum likelihood. An exploiting member gets the ``x`` maximising the upper confidence
bound at the donor's time and loss; inputs chosen for members that have not reported yet
lower the variance there (batch-aware, as in the paper), so a round spreads its choices.

Differences from Ray's ``PB2``: the hyperparameters are the same :class:`Space` definitions
as everywhere else (log scales, integers, grids, ordered choices; no ``[low, high]`` lists),
the observations live in a fixed-size ring buffer (``max_data``; Ray grows a DataFrame per
result), the GP has a noise term (Ray interpolates noisy rewards), time is measured in
intervals (Ray normalises it to [0, 1], which all but disables the forgetting), and all
randomness is seeded. Unordered choices are not modelled: they keep the donor's value or
are resampled with ``resample_probability``. Pure numpy/scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

from raysearch.core.rng import SeedLike
from raysearch.core.values import finite_float
from raysearch.schedulers.pbt.explore import Explore, Perturb
from raysearch.schedulers.pbt.population import Member
from raysearch.schedulers.pbt.scheduler import PBTScheduler
from raysearch.space import Categorical, Space, SpaceError
from raysearch.space.space import Flat
from raysearch.surrogates.gp import single_threaded_blas
from raysearch.surrogates.tvgp import THETA0, TimeVaryingGP

__all__ = ["GPBandit", "PB2Scheduler"]


@dataclass
class _Segment:
    """A member's training with its present hyperparameters: where it started, and the
    GP input chosen for it that has no observed outcome yet."""

    step: float | None = None
    loss: float | None = None
    pending_x: list[float] | None = None


class GPBandit(Explore):
    """PB2's explore step: GP-UCB with a time-varying kernel (see the module docstring).

    Args:
        max_data: observations kept (the newest); bounds memory and GP cost.
        min_data: while fewer observations exist, explores are PBT perturbations.
        kappa: UCB exploration weight; None uses the paper's schedule
            ``sqrt(0.2 + log(0.4 n))`` for ``n`` observations.
        resample_probability, perturbation_factors, boundary: the :class:`Perturb` used
            before ``min_data``, on flat data, and for unordered choices (which are not
            modelled: they follow the donor unless resampled).
    """

    name = "pb2"

    def __init__(
        self,
        max_data: int = 256,
        min_data: int = 3,
        kappa: float | None = None,
        *,
        resample_probability: float = 0.0,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        boundary: str = "reflect",
    ) -> None:
        if int(max_data) != max_data or max_data < 8:
            raise ValueError(f"max_data must be an integer >= 8, got {max_data!r}")
        if int(min_data) != min_data or min_data < 2:
            raise ValueError(f"min_data must be an integer >= 2, got {min_data!r}")
        if kappa is not None and not (math.isfinite(kappa) and kappa >= 0):
            raise ValueError(f"kappa must be >= 0 or None, got {kappa!r}")
        self.max_data = int(max_data)
        self.min_data = int(min_data)
        self.kappa = None if kappa is None else float(kappa)
        self.perturb = Perturb(resample_probability, perturbation_factors, boundary)
        #: observations ``[step, loss at the segment's start, rate, unit x...]``, oldest first
        self.data: list[list[float]] = []
        #: the kernel's last fit (warm start of the next)
        self.theta: list[float] = list(THETA0)
        self._segments: dict[str, _Segment] = {}
        self._names: list[str] = []

    # ------------------------------------------------------------------ space
    def setup(self, space: Space, perturbation_interval: float) -> None:
        if space.is_conditional:
            raise SpaceError(
                "PB2 models a fixed set of hyperparameters; conditional ones are not supported "
                "(use PBTScheduler for conditional spaces)"
            )
        names = self._gp_names(space)
        if not names:
            raise SpaceError(
                "PB2 needs at least one numeric parameter or ordered choice to model; "
                f"{space!r} has none (use PBTScheduler)"
            )
        super().setup(space, perturbation_interval)
        self._names = names

    @staticmethod
    def _gp_names(space: Space) -> list[str]:
        return [
            e.name
            for e in space.entries
            if e.param.cardinality != 1
            and (not isinstance(e.param, Categorical) or e.param.ordered)
        ]

    def _unit(self, params: Flat) -> list[float]:
        return [float(self.space[n].to_unit(params[n])) for n in self._names]

    def recipe(self) -> dict[str, Any]:
        return {
            **self.perturb.recipe(),
            "max_data": self.max_data,
            "min_data": self.min_data,
            "kappa": self.kappa,
        }

    @property
    def n_data(self) -> int:
        return len(self.data)

    # ------------------------------------------------------------------ hooks
    def _segment(self, trial_id: str) -> _Segment:
        return self._segments.setdefault(trial_id, _Segment())

    def on_join(self, trial_id: str) -> None:
        self._segment(trial_id)

    def on_result(self, trial_id: str, member: Member) -> None:
        seg = self._segment(trial_id)
        if seg.step is None:
            seg.step, seg.loss = member.step, member.loss

    def on_ready(self, trial_id: str, member: Member) -> None:
        """The segment that ends here is one observation; a new one starts."""
        seg = self._segment(trial_id)
        if (
            seg.step is not None
            and seg.loss is not None
            and member.loss is not None
            and member.step > seg.step
        ):
            rate = (seg.loss - member.loss) / (member.step - seg.step)
            self.data.append([member.step, seg.loss, rate, *self._unit(member.params)])
            if len(self.data) > self.max_data:
                del self.data[: len(self.data) - self.max_data]
        seg.step, seg.loss = member.step, member.loss
        seg.pending_x = None

    def on_exploited(self, trial_id: str, member: Member, donor: Member) -> None:
        """A new segment starts at the donor's step and loss; its input is pending."""
        seg = self._segment(trial_id)
        seg.step, seg.loss = donor.step, donor.loss
        if donor.loss is not None:
            seg.pending_x = [
                donor.step + self.perturbation_interval,
                donor.loss,
                *self._unit(member.params),
            ]

    def on_leave(self, trial_id: str) -> None:
        self._segment(trial_id).pending_x = None

    def snapshot(self, trial_id: str) -> _Segment:
        return replace(self._segment(trial_id))

    def restore(self, trial_id: str, snapshot: Any) -> None:
        self._segments[trial_id] = snapshot

    # ------------------------------------------------------------------ explore
    def params_for(
        self, trial_id: str, donor: Member, rng: np.random.Generator
    ) -> tuple[Flat, dict[str, Any]]:
        self._segment(trial_id).pending_x = None  # its old choice is being replaced
        names = self._names
        if len(self.data) < self.min_data or donor.loss is None:
            params, ops = self.perturb.apply(self.space, donor.params, rng)
            return params, {"explore": "perturb (pb2 warm-up)", "ops": ops}
        data = np.asarray(self.data, dtype=float)
        y = data[:, 2]
        if float(np.std(y)) < 1e-12:
            params, ops = self.perturb.apply(self.space, donor.params, rng)
            return params, {"explore": "perturb (flat pb2 data)", "ops": ops}
        with single_threaded_blas():
            u, info = self._select(data, donor, rng)
        new = dict(donor.params)
        # Unordered choices (not modelled) follow the donor or are resampled.
        others = [e.name for e in self.space.entries if e.name not in names]
        if others:
            kept, _ = self.perturb.apply(self.space, donor.params, rng, names=others)
            new.update({k: kept[k] for k in others if k in kept})
        for name, value in zip(names, u):
            new[name] = self.space[name].from_unit(float(value))
        params = self.space.complete(new, rng)
        ops = {n: "gp-ucb" for n in names}
        return params, {"explore": self.name, "ops": ops, **info}

    def _select(
        self, data: np.ndarray, source: Member, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The unit-cube ``x`` maximising the UCB at the donor's next time and loss."""
        interval = self.perturbation_interval
        t, r, y, U = data[:, 0], data[:, 1], data[:, 2], data[:, 3:]
        r_lo, r_hi = float(r.min()), float(r.max())
        r_scale = r_hi - r_lo if r_hi > r_lo else 1.0

        def rows(tt: np.ndarray, rr: np.ndarray, uu: np.ndarray) -> np.ndarray:
            return np.column_stack([tt / interval, (rr - r_lo) / r_scale, uu])

        X = rows(t, r, U)
        ys = (y - y.mean()) / (y.std() + 1e-12)
        ys = np.clip(ys, -3.0, 3.0)
        gp = TimeVaryingGP(self.theta).fit(X, ys)
        self.theta = [float(v) for v in gp.theta]
        pending = [s.pending_x for s in self._segments.values() if s.pending_x is not None]
        if pending:
            P = np.asarray(pending, dtype=float)
            gp.set_pending(rows(P[:, 0], P[:, 1], P[:, 2:]))
        n = len(y)
        kappa = (
            self.kappa if self.kappa is not None else math.sqrt(0.2 + max(0.0, math.log(0.4 * n)))
        )
        tau = (source.step + interval) / interval
        r_new = (float(source.loss if source.loss is not None else r_hi) - r_lo) / r_scale
        d = U.shape[1]

        def ucb(u: np.ndarray) -> np.ndarray:
            u = np.atleast_2d(u)
            Z = np.column_stack([np.full(len(u), tau), np.full(len(u), r_new), u])
            mean, sd = gp.predict(Z)
            return mean + kappa * sd

        u_donor = np.asarray(self._unit(source.params), dtype=float)
        candidates = np.vstack(
            [
                rng.random((256, d)),
                np.clip(u_donor + rng.normal(0.0, 0.1, size=(32, d)), 0.0, 1.0),
                u_donor[None, :],
            ]
        )
        values = ucb(candidates)
        best_u, best_v = candidates[int(np.argmax(values))], float(values.max())
        for i in np.argsort(-values)[:3]:
            res = minimize(
                lambda u: -float(ucb(u)[0]),
                candidates[i],
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * d,
                options={"maxiter": 30},
            )
            if np.isfinite(res.fun) and -float(res.fun) > best_v:
                best_u, best_v = np.clip(res.x, 0.0, 1.0), -float(res.fun)
        info = {
            "n_data": n,
            "ucb": round(best_v, 6),
            "gp": {
                "signal": round(math.exp(gp.theta[0]), 6),
                "lengthscale": round(math.exp(gp.theta[1]), 6),
                "eps": round(math.exp(gp.theta[2]), 6),
                "noise": round(math.exp(gp.theta[3]), 6),
            },
        }
        return best_u, info

    # ------------------------------------------------------------------ state
    def member_state(self, trial_id: str) -> dict[str, Any]:
        seg = self._segment(trial_id)
        return {"seg_step": seg.step, "seg_loss": seg.loss, "pending_x": seg.pending_x}

    def state_data(self) -> dict[str, Any]:
        return {"data": self.data, "theta": self.theta}

    def load_state_data(self, data: Mapping[str, Any]) -> None:
        self._segments = {
            t: _Segment(
                step=finite_float(m.get("seg_step")),
                loss=finite_float(m.get("seg_loss")),
                pending_x=None if m.get("pending_x") is None else list(m["pending_x"]),
            )
            for t, m in (data.get("members") or {}).items()
        }
        self.data = [[float(v) for v in row] for row in data.get("data") or []]
        self.theta = [float(v) for v in data.get("theta") or THETA0]


class PB2Scheduler(PBTScheduler):
    """PBT with a GP-bandit explore step (PB2): a :class:`PBTScheduler` with a
    :class:`GPBandit`; see the module docstring.

    Args:
        hyperparam_bounds: the parameters PB2 chooses (a :class:`Space` or a dict of
            raysearch parameters; no conditional parameters). Numeric parameters and
            ordered choices are modelled; unordered choices follow the donor.
        max_data: observations kept (the newest); bounds memory and GP cost.
        kappa: UCB exploration weight; None uses the paper's schedule
            ``sqrt(0.2 + log(0.4 n))`` for ``n`` observations.
        resample_probability: applies to unordered choices only (default 0).
        The other arguments are :class:`PBTScheduler`'s; the first explores of a run, while
        fewer than ``min_data`` observations exist, are PBT perturbations.
    """

    def __init__(
        self,
        hyperparam_bounds: Space | Mapping[str, Any] | None = None,
        *,
        time_attr: str = "training_iteration",
        perturbation_interval: float = 5.0,
        burn_in_period: float = 0.0,
        quantile_fraction: float = 0.25,
        resample_probability: float = 0.0,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        synch: bool = False,
        boundary: str = "reflect",
        max_t: float | None = None,
        max_data: int = 256,
        min_data: int = 3,
        kappa: float | None = None,
        seed: SeedLike = None,
    ) -> None:
        bandit = GPBandit(
            max_data,
            min_data,
            kappa,
            resample_probability=resample_probability,
            perturbation_factors=perturbation_factors,
            boundary=boundary,
        )
        super().__init__(
            hyperparam_bounds,
            time_attr=time_attr,
            perturbation_interval=perturbation_interval,
            burn_in_period=burn_in_period,
            quantile_fraction=quantile_fraction,
            synch=synch,
            max_t=max_t,
            seed=seed,
            explore=bandit,
        )
        self.bandit = bandit

    @property
    def n_data(self) -> int:
        """Observations the GP has (at most ``max_data``)."""
        return self.bandit.n_data
