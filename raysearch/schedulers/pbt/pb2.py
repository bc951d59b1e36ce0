"""PB2: population-based bandits (Parker-Holder, Nguyen & Roberts, NeurIPS 2020).

PB2 is PBT whose *explore* step is a GP bandit instead of a random perturbation. After each
interval a member trained with hyperparameters ``x`` from step ``t0`` (loss ``l0``) to ``t``
(loss ``l``), which is one observation::

    input (t, l0, x)  ->  improvement rate y = (l0 - l) / (t - t0)

A Gaussian process with a *time-varying* kernel (TV-GP-UCB, Bogunovic et al. 2016) models
``y``; old observations are forgotten at a learnt rate::

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

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from raysearch.core.rng import SeedLike
from raysearch.schedulers.pbt.scheduler import PBTScheduler, _Member, perturb
from raysearch.space import Categorical, Space, SpaceError
from raysearch.space.space import Flat

__all__ = ["PB2Scheduler", "TimeVaryingGP"]

#: log bounds of (signal variance, lengthscale, eps, noise variance); y is standardised
_THETA_BOUNDS = [
    (math.log(1e-2), math.log(1e2)),
    (math.log(1e-2), math.log(1e1)),
    (math.log(1e-4), math.log(0.5)),
    (math.log(1e-6), math.log(1.0)),
]
_THETA0 = [0.0, math.log(0.5), math.log(0.1), math.log(0.05)]


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Small matrices: multi-threaded BLAS only adds contention (a 170x170 Cholesky took
    65 ms with 2 OpenBLAS threads on a busy 2-core machine, 0.2 ms with one)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # scikit-learn brings it; without it, run as is
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


class TimeVaryingGP:
    """GP regression with PB2's time-varying squared-exponential kernel.

    Inputs are rows ``[tau, features...]``: ``tau`` in perturbation intervals, features in
    about [0, 1]. Targets should be standardised.
    """

    def __init__(self, theta: Sequence[float] | None = None) -> None:
        self.theta = np.array(theta if theta is not None else _THETA0, dtype=float)
        self.X = np.zeros((0, 1))
        self.y = np.zeros(0)

    @staticmethod
    def _parts(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d2 = ((A[:, None, 1:] - B[None, :, 1:]) ** 2).sum(-1)
        dt = np.abs(A[:, None, 0] - B[None, :, 0])
        return d2, dt

    @staticmethod
    def _kernel(theta: np.ndarray, d2: np.ndarray, dt: np.ndarray) -> np.ndarray:
        s, ell, eps = math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2])
        eps = min(eps, 0.5)
        return s * np.exp(-0.5 * d2 / ell**2) * np.power(1.0 - eps, 0.5 * dt)

    def _nll(self, theta: np.ndarray, d2: np.ndarray, dt: np.ndarray) -> tuple[float, np.ndarray]:
        n = len(self.y)
        K = self._kernel(theta, d2, dt)
        noise = math.exp(theta[3])
        Ky = K + (noise + 1e-8) * np.eye(n)
        try:
            c = cho_factor(Ky, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros(4)
        alpha = cho_solve(c, self.y, check_finite=False)
        nll = 0.5 * float(self.y @ alpha) + float(np.log(np.diag(c[0])).sum())
        nll += 0.5 * n * math.log(2 * math.pi)
        inner = cho_solve(c, np.eye(n), check_finite=False) - np.outer(alpha, alpha)
        eps = math.exp(theta[2])
        grads = [
            K,
            K * d2 / math.exp(2 * theta[1]),
            K * (-0.5 * dt * eps / (1.0 - eps)),
            noise * np.eye(n),
        ]
        grad = np.array([0.5 * float((inner * g).sum()) for g in grads])
        return nll, grad

    def fit(self, X: np.ndarray, y: np.ndarray) -> TimeVaryingGP:
        """Fits the kernel's hyperparameters by maximum likelihood (two starts)."""
        self.X = np.asarray(X, dtype=float)
        self.y = np.asarray(y, dtype=float)
        d2, dt = self._parts(self.X, self.X)
        best_theta, best_nll = self.theta, math.inf
        for start in (self.theta, np.array(_THETA0)):
            x0 = np.clip(start, [b[0] for b in _THETA_BOUNDS], [b[1] for b in _THETA_BOUNDS])
            res = minimize(
                self._nll,
                x0,
                args=(d2, dt),
                jac=True,
                method="L-BFGS-B",
                bounds=_THETA_BOUNDS,
                options={"maxiter": 60},
            )
            if np.isfinite(res.fun) and res.fun < best_nll:
                best_theta, best_nll = np.asarray(res.x, dtype=float), float(res.fun)
        self.theta = best_theta
        self._factor(extra=None)
        return self

    def _factor(self, extra: np.ndarray | None) -> None:
        K = self._kernel(self.theta, *self._parts(self.X, self.X))
        noise = math.exp(self.theta[3]) + 1e-8
        self._chol = cho_factor(K + noise * np.eye(len(self.y)), lower=True)
        self._alpha = cho_solve(self._chol, self.y)
        # Variance model: the data plus inputs chosen but not yet observed (batch-aware).
        self._Xv = self.X if extra is None or len(extra) == 0 else np.vstack([self.X, extra])
        Kv = self._kernel(self.theta, *self._parts(self._Xv, self._Xv))
        self._chol_v = cho_factor(Kv + noise * np.eye(len(self._Xv)), lower=True)

    def set_pending(self, pending: np.ndarray | None) -> None:
        """Inputs chosen for members that have not reported yet (they lower the variance)."""
        self._factor(extra=pending)

    def predict(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (of the latent function) at rows ``Z``."""
        Z = np.atleast_2d(Z)
        Ks = self._kernel(self.theta, *self._parts(Z, self.X))
        mean = Ks @ self._alpha
        Kv = self._kernel(self.theta, *self._parts(Z, self._Xv))
        v = cho_solve(self._chol_v, Kv.T)
        var = math.exp(self.theta[0]) - np.einsum("ij,ji->i", Kv, v)
        return mean, np.sqrt(np.maximum(var, 1e-12))


class PB2Scheduler(PBTScheduler):
    """PBT with a GP-bandit explore step (PB2); see the module docstring.

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

    explore_name = "pb2"

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
        if int(max_data) != max_data or max_data < 8:
            raise ValueError(f"max_data must be an integer >= 8, got {max_data!r}")
        if int(min_data) != min_data or min_data < 2:
            raise ValueError(f"min_data must be an integer >= 2, got {min_data!r}")
        if kappa is not None and not (math.isfinite(kappa) and kappa >= 0):
            raise ValueError(f"kappa must be >= 0 or None, got {kappa!r}")
        self.max_data = int(max_data)
        self.min_data = int(min_data)
        self.kappa = None if kappa is None else float(kappa)
        self._data: list[list[float]] = []
        self._theta: list[float] = list(_THETA0)
        super().__init__(
            hyperparam_bounds,
            time_attr=time_attr,
            perturbation_interval=perturbation_interval,
            burn_in_period=burn_in_period,
            quantile_fraction=quantile_fraction,
            resample_probability=resample_probability,
            perturbation_factors=perturbation_factors,
            synch=synch,
            boundary=boundary,
            max_t=max_t,
            seed=seed,
        )

    # ------------------------------------------------------------------ space
    def _check_space(self, space: Space) -> None:
        if space.is_conditional:
            raise SpaceError(
                "PB2 models a fixed set of hyperparameters; conditional ones are not supported "
                "(use PBTScheduler for conditional spaces)"
            )
        if not self._gp_names(space):
            raise SpaceError(
                "PB2 needs at least one numeric parameter or ordered choice to model; "
                f"{space!r} has none (use PBTScheduler)"
            )

    @staticmethod
    def _gp_names(space: Space) -> list[str]:
        return [
            e.name
            for e in space.entries
            if e.param.cardinality != 1
            and (not isinstance(e.param, Categorical) or e.param.ordered)
        ]

    def _unit(self, params: Flat) -> list[float]:
        return [float(self.space[n].to_unit(params[n])) for n in self._gp_names(self.space)]

    def recipe(self) -> dict[str, Any]:
        return {
            **super().recipe(),
            "max_data": self.max_data,
            "min_data": self.min_data,
            "kappa": self.kappa,
        }

    # ------------------------------------------------------------------ data
    def _on_ready(self, trial_id: str, member: _Member) -> None:
        if (
            member.seg_step is not None
            and member.seg_loss is not None
            and member.loss is not None
            and member.step > member.seg_step
        ):
            rate = (member.seg_loss - member.loss) / (member.step - member.seg_step)
            self._data.append([member.step, member.seg_loss, rate, *self._unit(member.params)])
            if len(self._data) > self.max_data:
                del self._data[: len(self._data) - self.max_data]
        member.seg_step, member.seg_loss = member.step, member.loss
        member.pending_x = None

    def _on_exploited(self, trial_id: str, donor: str) -> None:
        member = self.members[trial_id]
        source = self.members[donor]
        if source.loss is not None:
            member.pending_x = [
                source.step + self.perturbation_interval,
                source.loss,
                *self._unit(member.params),
            ]

    @property
    def n_data(self) -> int:
        return len(self._data)

    # ------------------------------------------------------------------ explore
    def _explore(self, trial_id: str, donor: str) -> tuple[Flat, dict[str, Any]]:
        source = self.members[donor]
        self.members[trial_id].pending_x = None  # its old choice is being replaced
        names = self._gp_names(self.space)
        if len(self._data) < self.min_data or source.loss is None:
            params, ops = perturb(
                self.space,
                source.params,
                self.rng,
                resample_probability=self.resample_probability,
                perturbation_factors=self.perturbation_factors,
                boundary=self.boundary,
            )
            return params, {"explore": "perturb (pb2 warm-up)", "ops": ops}
        data = np.asarray(self._data, dtype=float)
        y = data[:, 2]
        if float(np.std(y)) < 1e-12:
            params, ops = perturb(
                self.space,
                source.params,
                self.rng,
                resample_probability=self.resample_probability,
                perturbation_factors=self.perturbation_factors,
                boundary=self.boundary,
            )
            return params, {"explore": "perturb (flat pb2 data)", "ops": ops}
        with _one_blas_thread():
            u, info = self._select(data, source)
        new = dict(source.params)
        # Unordered choices (not modelled) follow the donor or are resampled.
        others = [e.name for e in self.space.entries if e.name not in names]
        if others:
            kept, _ = perturb(
                self.space,
                source.params,
                self.rng,
                resample_probability=self.resample_probability,
                perturbation_factors=self.perturbation_factors,
                boundary=self.boundary,
                names=others,
            )
            new.update({k: kept[k] for k in others if k in kept})
        for name, value in zip(names, u):
            new[name] = self.space[name].from_unit(float(value))
        params = self.space.complete(new, self.rng)
        ops = {n: "gp-ucb" for n in names}
        return params, {"explore": "pb2", "ops": ops, **info}

    def _select(self, data: np.ndarray, source: _Member) -> tuple[np.ndarray, dict[str, Any]]:
        interval = self.perturbation_interval
        t, r, y, U = data[:, 0], data[:, 1], data[:, 2], data[:, 3:]
        r_lo, r_hi = float(r.min()), float(r.max())
        r_scale = r_hi - r_lo if r_hi > r_lo else 1.0

        def rows(tt: np.ndarray, rr: np.ndarray, uu: np.ndarray) -> np.ndarray:
            return np.column_stack([tt / interval, (rr - r_lo) / r_scale, uu])

        X = rows(t, r, U)
        ys = (y - y.mean()) / (y.std() + 1e-12)
        ys = np.clip(ys, -3.0, 3.0)
        gp = TimeVaryingGP(self._theta).fit(X, ys)
        self._theta = [float(v) for v in gp.theta]
        pending = [m.pending_x for m in self.members.values() if m.pending_x is not None]
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
                self.rng.random((256, d)),
                np.clip(u_donor + self.rng.normal(0.0, 0.1, size=(32, d)), 0.0, 1.0),
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
    def _state_data(self) -> dict[str, Any]:
        return {**super()._state_data(), "data": self._data, "theta": self._theta}

    def _load_state_data(self, data: dict[str, Any]) -> None:
        super()._load_state_data(data)
        self._data = [[float(v) for v in row] for row in data.get("data") or []]
        self._theta = [float(v) for v in data.get("theta") or _THETA0]
