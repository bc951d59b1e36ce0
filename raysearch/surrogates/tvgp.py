"""A GP with a time-varying kernel (TV-GP-UCB, Bogunovic et al. 2016), as PB2 uses it.

Inputs are rows ``[tau, features...]``; the kernel forgets old observations at a learnt
rate::

    k((t, z), (t', z')) = s * exp(-|z - z'|^2 / (2 l^2)) * (1 - eps)^(|t - t'| / 2)

``s``, ``l``, ``eps`` and the noise variance (``theta``, on a log scale within
:data:`THETA_BOUNDS`) are fitted by maximum likelihood with analytic gradients (L-BFGS-B,
two starts: the previous ``theta`` and :data:`THETA0`). Inputs chosen but not observed yet
(:meth:`TimeVaryingGP.set_pending`) lower the posterior variance there, which makes a batch
of choices spread out. Pure numpy/scipy; used by
:class:`~raysearch.schedulers.pbt.pb2.GPBandit`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

__all__ = ["THETA0", "THETA_BOUNDS", "TimeVaryingGP"]

#: log bounds of (signal variance, lengthscale, eps, noise variance); y is standardised
THETA_BOUNDS = [
    (math.log(1e-2), math.log(1e2)),
    (math.log(1e-2), math.log(1e1)),
    (math.log(1e-4), math.log(0.5)),
    (math.log(1e-6), math.log(1.0)),
]
#: where a fit starts (besides the previous theta), on the same log scale
THETA0 = [0.0, math.log(0.5), math.log(0.1), math.log(0.05)]


class TimeVaryingGP:
    """GP regression with PB2's time-varying squared-exponential kernel.

    Inputs are rows ``[tau, features...]``: ``tau`` in perturbation intervals, features in
    about [0, 1]. Targets should be standardised.
    """

    def __init__(self, theta: Sequence[float] | None = None) -> None:
        self.theta = np.array(theta if theta is not None else THETA0, dtype=float)
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
        for start in (self.theta, np.array(THETA0)):
            x0 = np.clip(start, [b[0] for b in THETA_BOUNDS], [b[1] for b in THETA_BOUNDS])
            res = minimize(
                self._nll,
                x0,
                args=(d2, dt),
                jac=True,
                method="L-BFGS-B",
                bounds=THETA_BOUNDS,
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
