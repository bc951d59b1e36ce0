"""Parzen (kernel density) estimators over the unit box, the model behind TPE.

Notation:
    n: observations (kernels), m: points to score, d: columns of the (sub)space.
    X: ``(n, d)`` observations. Numeric columns (continuous and ordered discrete) hold unit
       positions in [0, 1] (:meth:`raysearch.space.Param.to_unit`); categorical columns hold
       the choice index ``0..K-1`` as a float.
    w: ``(n,)`` non-negative observation weights.

The estimator is a mixture of product kernels (the *multivariate* TPE of Falkner et al.
2018 and Optuna): kernel ``j`` is centred on observation ``j`` in every column at once, so
the density keeps the interactions between parameters that one-dimensional estimators lose.
A prior kernel (centre 0.5, bandwidth 1 in numeric columns, uniform over choices) is added
with weight ``prior_weight`` times the mean observation weight, so the density is never
zero anywhere in the box.

Kernels, per column kind:
    * ``continuous``: a Gaussian truncated to [0, 1].
    * ``discrete`` (ints, stepped floats, ordered categoricals): the same truncated Gaussian
      integrated over the value's cell of the unit interval, so a value's probability is
      its cell's mass (cells are not evenly spaced on log scales).
    * ``categorical`` (unordered): Aitchison-Aitken, probability ``1 - b`` on the kernel's
      own choice and ``b / (K - 1)`` on each other one (``b`` shrinks as data grows).

Bandwidths of numeric columns (:func:`numeric_bandwidths`): ``"neighbor"`` (Hyperopt and
Optuna: the larger distance to the sorted neighbours) or ``"scott"`` (Scott's rule,
``1.059 * min(sd, IQR / 1.34) * n^(-1 / (d + 4))``), both clipped to
``[max(min_bandwidth, 1 / min(100, n + 2)), 1]`` (Optuna's "magic clip": the lower bound
keeps a few early points from collapsing the density onto themselves).

:func:`column_spec` gives a parameter's column: categorical for unordered choices, discrete
(with the exact cells of :func:`raysearch.space.encoding.unit_cells`) for ordered ones with
at most :data:`~raysearch.space.encoding.MAX_DISCRETE_CELLS` values, else continuous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from raysearch.space.encoding import MAX_DISCRETE_CELLS, unit_cells
from raysearch.space.params import Param, is_unordered

__all__ = [
    "DISCRETE_MIN_BANDWIDTH",
    "ColumnSpec",
    "ParzenEstimator",
    "column_spec",
    "categorical_bandwidth",
    "log_gauss_mass",
    "numeric_bandwidths",
]

ColumnKind = Literal["continuous", "discrete", "categorical"]
BandwidthRule = Literal["neighbor", "scott"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
#: Discrete kernels are at least this many cells wide, so that neighbouring values keep
#: some mass (a narrower kernel freezes an int or an ordered choice at its first good value).
DISCRETE_MIN_BANDWIDTH = 0.5


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a Parzen estimator.

    Attributes:
        kind: ``continuous``, ``discrete`` or ``categorical``.
        size: number of cells (discrete) or choices (categorical); 0 for continuous.
        edges: ``(size + 1,)`` increasing cell boundaries in [0, 1] (discrete only).
        centres: ``(size,)`` the unit position of each cell's value (discrete only).
        min_bandwidth: floor of this column's numeric bandwidths (e.g. a fraction of a
            discrete cell, so that the neighbouring values keep some mass).
    """

    kind: ColumnKind
    size: int = 0
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    centres: np.ndarray = field(default_factory=lambda: np.zeros(0))
    min_bandwidth: float = 0.0

    def __post_init__(self) -> None:
        if self.kind == "discrete" and (
            len(self.edges) != self.size + 1 or len(self.centres) != self.size
        ):
            raise ValueError(
                f"a discrete column of {self.size} cells needs {self.size + 1} edges and "
                f"{self.size} centres, got {len(self.edges)} and {len(self.centres)}"
            )
        if self.kind == "categorical" and self.size < 1:
            raise ValueError(f"a categorical column needs size >= 1, got {self.size}")


def column_spec(param: Param) -> ColumnSpec:
    """The Parzen column of a parameter: categorical for unordered choices, discrete (with
    the exact cells of :meth:`Param.from_unit`) for small ordered ones, else continuous."""
    n = param.cardinality
    if is_unordered(param):
        return ColumnSpec("categorical", n or 1)
    if n is None or n > MAX_DISCRETE_CELLS:
        return ColumnSpec("continuous")
    if n == 1:
        return ColumnSpec("categorical", 1)
    edges, centres = unit_cells(param)
    return ColumnSpec("discrete", n, edges, centres, DISCRETE_MIN_BANDWIDTH / n)


def log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Phi(b) - Phi(a))`` for ``a <= b`` elementwise, accurate in both tails."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    # Work in the lower tail where log_ndtr is accurate: Phi(b) - Phi(a) = Phi(-a) - Phi(-b).
    flip = a > 0
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    log_hi = log_ndtr(hi)
    log_lo = log_ndtr(lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = log_hi + np.log1p(-np.exp(log_lo - log_hi))
    return np.asarray(out)


def numeric_bandwidths(
    mus: np.ndarray,
    *,
    rule: BandwidthRule = "neighbor",
    n_dims: int = 1,
    min_bandwidth: float = 0.0,
    clip_count: int | None = None,
) -> np.ndarray:
    """Per-kernel bandwidths ``(n,)`` of one numeric column with centres ``mus`` in [0, 1].

    Args:
        mus: ``(n,)`` kernel centres (observations only, not the prior).
        rule: ``"neighbor"`` or ``"scott"`` (see the module docstring).
        n_dims: the number of columns modelled jointly (Scott's exponent).
        min_bandwidth: a floor besides the magic clip.
        clip_count: the ``n`` of the magic clip ``1 / min(100, n + 2)``; default ``len(mus)``.
    """
    n = len(mus)
    if n == 0:
        return np.zeros(0)
    if rule == "neighbor":
        order = np.argsort(mus, kind="stable")
        padded = np.concatenate([[0.0], mus[order], [1.0]])
        left = padded[1:-1] - padded[:-2]
        right = padded[2:] - padded[1:-1]
        sorted_sigmas = np.maximum(left, right)
        if n >= 2:
            # The outermost kernels look inwards only (Optuna's consider_endpoints=False).
            sorted_sigmas[0] = right[0]
            sorted_sigmas[-1] = left[-1]
        sigmas = np.empty(n)
        sigmas[order] = sorted_sigmas
    elif rule == "scott":
        sd = float(np.std(mus, ddof=1)) if n > 1 else 1.0
        q75, q25 = np.percentile(mus, [75.0, 25.0])
        spread = min(sd, float(q75 - q25) / 1.34) if q75 > q25 else sd
        sigmas = np.full(n, 1.059 * spread * n ** (-1.0 / (n_dims + 4)))
    else:
        raise ValueError(f"bandwidth rule must be 'neighbor' or 'scott', got {rule!r}")
    n_clip = n if clip_count is None else max(clip_count, n)
    floor = max(min_bandwidth, 1.0 / min(100.0, n_clip + 2.0))
    return np.asarray(np.clip(sigmas, floor, 1.0))


def categorical_bandwidth(n: int, n_choices: int, prior_weight: float = 1.0) -> float:
    """Aitchison-Aitken ``b``: the probability mass a kernel spreads over the other choices.

    Matches Optuna's categorical kernels (``prior_weight / (n + 1)`` pseudo-counts on every
    choice, one count on the observed one): ``b = (K-1) c / (1 + K c)``, ``c = pw / (n+1)``.
    """
    if n_choices <= 1:
        return 0.0
    c = prior_weight / (n + 1.0)
    return (n_choices - 1) * c / (1.0 + n_choices * c)


class ParzenEstimator:
    """A weighted mixture of product kernels over the columns ``columns``.

    Args:
        X: ``(n, d)`` observations (see the module notation); ``n`` may be 0 (prior only).
        columns: ``d`` column specs.
        weights: ``(n,)`` observation weights (uniform if None).
        prior_weight: weight of the prior kernel relative to the mean observation weight.
        bandwidth: numeric bandwidth rule.
        min_bandwidth: lower bound of numeric bandwidths (unit scale).
        clip_count: ``n`` of the magic clip (see :func:`numeric_bandwidths`).
    """

    def __init__(
        self,
        X: np.ndarray,
        columns: Sequence[ColumnSpec],
        weights: np.ndarray | None = None,
        *,
        prior_weight: float = 1.0,
        bandwidth: BandwidthRule = "neighbor",
        min_bandwidth: float = 0.0,
        clip_count: int | None = None,
    ) -> None:
        X = np.asarray(X, dtype=float).reshape(-1, len(columns))
        n = X.shape[0]
        if prior_weight <= 0:
            raise ValueError(f"prior_weight must be > 0, got {prior_weight}")
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(f"weights must be {n} finite non-negative numbers, got {w!r}")
        mean_w = float(w.mean()) if n and w.sum() > 0 else 1.0
        all_w = np.append(w, prior_weight * mean_w)
        self.log_weights = np.log(all_w / all_w.sum() + 1e-300)  # (n + 1,)
        self.columns = list(columns)
        self.n_kernels = n + 1
        d = len(self.columns)
        # Numeric kernels: centres and bandwidths, (n + 1,) per column, prior last.
        self._mus: list[np.ndarray] = []
        self._sigmas: list[np.ndarray] = []
        self._log_norm: list[np.ndarray] = []
        self._log_probs: list[np.ndarray] = []  # categorical: (n + 1, K)
        for k, col in enumerate(self.columns):
            x = X[:, k]
            if col.kind == "categorical":
                K = col.size
                b = categorical_bandwidth(n, K, prior_weight)
                probs = np.full((n + 1, K), b / max(K - 1, 1))
                idx = np.clip(x.astype(int), 0, K - 1)
                probs[np.arange(n), idx] = 1.0 - b if K > 1 else 1.0
                probs[n] = 1.0 / K
                self._log_probs.append(np.log(probs))
                self._mus.append(np.zeros(0))
                self._sigmas.append(np.zeros(0))
                self._log_norm.append(np.zeros(0))
                continue
            sig = numeric_bandwidths(
                x,
                rule=bandwidth,
                n_dims=d,
                min_bandwidth=max(min_bandwidth, col.min_bandwidth),
                clip_count=clip_count,
            )
            mus = np.append(x, 0.5)
            sigmas = np.append(sig, 1.0)
            self._mus.append(mus)
            self._sigmas.append(sigmas)
            self._log_norm.append(log_gauss_mass(-mus / sigmas, (1.0 - mus) / sigmas))
            self._log_probs.append(np.zeros((0, 0)))

    # ------------------------------------------------------------------ density
    def log_components(self, Y: np.ndarray) -> np.ndarray:
        """``(m, n + 1)`` log of weight times kernel density at each of ``m`` points."""
        Y = np.asarray(Y, dtype=float).reshape(-1, len(self.columns))
        out = np.broadcast_to(self.log_weights, (Y.shape[0], self.n_kernels)).copy()
        for k, col in enumerate(self.columns):
            y = Y[:, k : k + 1]
            if col.kind == "categorical":
                idx = np.clip(Y[:, k].astype(int), 0, col.size - 1)
                out += self._log_probs[k][:, idx].T
                continue
            mus, sigmas = self._mus[k], self._sigmas[k]
            if col.kind == "discrete":
                cell = np.clip(
                    np.searchsorted(col.edges, Y[:, k], side="right") - 1, 0, col.size - 1
                )
                lo = col.edges[cell][:, None]
                hi = col.edges[cell + 1][:, None]
                out += log_gauss_mass((lo - mus) / sigmas, (hi - mus) / sigmas)
            else:
                z = (y - mus) / sigmas
                out += -0.5 * z * z - np.log(sigmas) - _LOG_SQRT_2PI
            out -= self._log_norm[k]
        return out

    def log_pdf(self, Y: np.ndarray) -> np.ndarray:
        """``(m,)`` log density (log probability for discrete/categorical columns)."""
        comp = self.log_components(Y)
        top = comp.max(axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        return np.asarray(top[:, 0] + np.log(np.exp(comp - top).sum(axis=1)))

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``(size, d)`` draws: a kernel by weight, then every column from that kernel.

        Discrete columns come back at their cell's centre, categorical ones as indices.
        """
        p = np.exp(self.log_weights - self.log_weights.max())
        which = rng.choice(self.n_kernels, size=size, p=p / p.sum())
        out = np.empty((size, len(self.columns)))
        for k, col in enumerate(self.columns):
            if col.kind == "categorical":
                probs = np.exp(self._log_probs[k][which])  # (size, K)
                cum = np.cumsum(probs, axis=1)
                u = rng.random(size)[:, None] * cum[:, -1:]
                out[:, k] = np.minimum((cum < u).sum(axis=1), col.size - 1)
                continue
            mus, sigmas = self._mus[k][which], self._sigmas[k][which]
            lo = ndtr(-mus / sigmas)
            hi = ndtr((1.0 - mus) / sigmas)
            u = lo + rng.random(size) * (hi - lo)
            x = np.clip(mus + sigmas * ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), 0.0, 1.0)
            if col.kind == "discrete":
                cell = np.clip(np.searchsorted(col.edges, x, side="right") - 1, 0, col.size - 1)
                x = col.centres[cell]
            out[:, k] = x
        return out
