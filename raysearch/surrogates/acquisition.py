"""Maximising the GP's acquisition over a mixed, conditional space (pure functions).

A :class:`Domain` is a space as the GP sees it (fixed for a searcher): the shared
:class:`~raysearch.space.Encoding` (unit cube, one-hot categoricals, NaN where a parameter
is inactive), the model inputs made from it (:meth:`Domain.features`: inactive columns set
to 0.5, plus one "active" indicator column per group of parameters with the same
conditions) and the search budget. A :class:`Problem` is one suggestion's question: the GP,
LogEI's threshold ``best`` (or ``greedy``: the posterior mean), the observations (for
local candidates) and the optional trust region.

:func:`maximise`:

1. **Candidates** (:func:`candidates`): ``n_candidates`` random points; in a space without
   conditions they are encoded straight from the unit cube in numpy
   (:meth:`~raysearch.space.Encoding.encode_unit`) and only the rows that are looked at are
   decoded. In a trust region (TuRBO), half as many copies of the incumbent with each
   parameter moved inside the box with probability ``min(1, 20 / n_params)``
   (:func:`raysearch.space.mutation.in_box`). Last, 8 mutations of each of the 5 best
   observations (local exploitation).
2. **Scores** (:func:`score`): LogEI below ``best`` (Ament et al. 2023) or the negated
   posterior mean.
3. **Gradient search** (:func:`gradient_search`): multi-start L-BFGS-B over the continuous
   and integer columns of the ``n_restarts`` best (half of them from the random candidates,
   so the incumbent's neighbourhood is not the only one polished; all starts in one
   vectorised problem, :data:`GRAD_MAXITER` iterations; other columns held fixed), then
   snapped to valid values by decoding.
4. **Local search** (:func:`local_search`): from the best two, greedy one-parameter moves
   over integer/ordered cells and categorical choices
   (:func:`raysearch.space.mutation.neighbours`, re-completing activated sub-spaces).
5. The best point that is new (``is_new``: on finite spaces, not tried yet), else None.

All randomness comes from the ``rng`` passed in, in a fixed order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np
from scipy import optimize

from raysearch.space import Encoding, Space
from raysearch.space.mutation import in_box, neighbours
from raysearch.space.space import Flat
from raysearch.surrogates.gp import Posterior, log_ei

__all__ = [
    "GRAD_MAXITER",
    "Box",
    "Domain",
    "Problem",
    "candidates",
    "gradient_search",
    "local_search",
    "maximise",
    "score",
    "trust_region",
]

#: L-BFGS-B iterations of the acquisition search. All starts share one problem, so at 200
#: observations 100 iterations always ran to the cap (LogEI is rugged there) and took half
#: a suggestion's time. Measured, seeds 0-9, mean log10 regret over the 9 functions of
#: ``python -m raysearch.bench hpo``, 100 against 40 iterations: 50 trials -1.57 against
#: -1.55 (25 iterations: -1.58), 100 trials -2.77 against -2.82, 50 trials with 4
#: pending -1.35 against -1.36; median suggest time at 200 observations 77 ms against 36.
GRAD_MAXITER = 40
#: the model input of an inactive column
INACTIVE = 0.5
#: the 5 best observations give 8 local candidates each
_N_TOP, _PER_TOP, _LOCAL_SCALE = 5, 8, 0.05
_LOCAL_STEPS = 5

#: ``(lo, hi)``: bounds of a trust region, one per encoding column
Box: TypeAlias = tuple[np.ndarray, np.ndarray]
IsNew: TypeAlias = Callable[[Flat], bool]


@dataclass(frozen=True, eq=False)
class Domain:
    """A space as the GP searcher sees it (see the module docstring).

    Attributes:
        space, encoding: the space and its encoding.
        n_candidates: random points scored per suggestion.
        n_restarts: starts of the gradient search.
        group_cols: per group of parameters with the same conditions, the first encoding
            column of its first parameter (whose NaN says the group is inactive).
        movable: ``(d,)`` bool, the columns the gradient search moves (continuous and
            ordered discrete ones).
    """

    space: Space
    encoding: Encoding
    n_candidates: int
    n_restarts: int
    group_cols: list[int]
    movable: np.ndarray

    @classmethod
    def of(cls, space: Space, n_candidates: int, n_restarts: int) -> Domain:
        encoding = Encoding(space)
        groups: dict[tuple[str, ...], list[int]] = {}
        for e in space.entries:
            if e.conditions:
                s = encoding.slices[e.name]
                groups.setdefault(tuple(str(c) for c in e.conditions), []).append(s.start)
        kinds = [c.kind for c in encoding.columns]
        movable = np.array([k in ("continuous", "discrete") for k in kinds], dtype=bool)
        group_cols = [cols[0] for cols in groups.values()]
        return cls(space, encoding, n_candidates, n_restarts, group_cols, movable)

    @property
    def n_features(self) -> int:
        """Columns of the model inputs: the encoding's and one indicator per group."""
        return self.encoding.dim + len(self.group_cols)

    def features(self, E: np.ndarray) -> np.ndarray:
        """Model inputs of encoded rows (NaN inactive): imputed plus indicator columns."""
        E = np.atleast_2d(E)
        ind = (~np.isnan(E[:, self.group_cols])).astype(float)
        return np.hstack([np.where(np.isnan(E), INACTIVE, E), ind])


class Surrogate(Protocol):
    """What the acquisition needs of a model: a :class:`~raysearch.surrogates.gp.
    GaussianProcess`, or :class:`~raysearch.surrogates.fidelity.AtFidelity`."""

    @property
    def lengthscales(self) -> np.ndarray: ...

    def predict(self, Z: np.ndarray, *, grad: bool = False) -> Posterior: ...


@dataclass(frozen=True, eq=False)
class Problem:
    """One suggestion's acquisition problem, shared by every step of the search.

    Attributes:
        gp: the fitted (and, with pending trials, conditioned) GP.
        best: LogEI's threshold, the best (believed) warped output.
        train: the observed assignments, aligned with ``values``.
        values: their losses (the best 5 get local candidates).
        incumbent: the best observed assignment (the trust region's centre).
        box: the trust region, or None for the whole cube.
        greedy: maximise the negated posterior mean instead of LogEI.
    """

    gp: Surrogate
    best: float
    train: list[Flat]
    values: np.ndarray
    incumbent: Flat
    box: Box | None = None
    greedy: bool = False


def trust_region(gp: Surrogate, centre: np.ndarray, length: float) -> Box:
    """TuRBO's box around the encoded ``centre`` (NaN inactive, taken as 0.5): side
    ``length`` scaled per column by the GP's lengthscales over their geometric mean
    (clipped to [0.1, 10]), cut to the unit cube."""
    d = len(centre)
    ls = gp.lengthscales[:d]
    w = ls / math.exp(float(np.mean(np.log(ls))))
    w = np.clip(w, 0.1, 10.0)
    half = 0.5 * length * w
    centre = np.where(np.isnan(centre), 0.5, centre)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def score(domain: Domain, problem: Problem, E: np.ndarray) -> np.ndarray:
    """LogEI below ``best`` of encoded rows or, if ``greedy``, the negated posterior mean."""
    p = problem.gp.predict(domain.features(E))
    if problem.greedy:
        return -p.mean
    return log_ei(p.mean, p.var, problem.best)[0]


# ----------------------------------------------------------------------------- candidates
def _in_region(domain: Domain, incumbent: Flat, box: Box, rng: np.random.Generator) -> Flat:
    """A copy of ``incumbent`` with each parameter moved inside ``box`` with probability
    ``min(1, 20 / n_params)``, re-completed."""
    space = domain.space
    lo, hi = box
    p_move = min(1.0, 20.0 / max(len(space.entries), 1))
    flat = dict(incumbent)
    for e in space.entries:
        if e.name not in flat or rng.random() >= p_move:
            continue
        col = domain.encoding.slices[e.name].start
        flat[e.name] = in_box(e.param, rng, lo[col], hi[col])
    return space.complete(space.prune(flat), rng)


def candidates(
    domain: Domain, problem: Problem, rng: np.random.Generator
) -> tuple[np.ndarray, list[Flat | None], int]:
    """``(E, flats, n_local)``: encoded candidates, their assignments (None stands for
    "decode the row": the random candidates of an unconditional space, most of which are
    never looked at) and how many of the last ones are local (near the best observations)."""
    space, n = domain.space, domain.n_candidates
    built: list[Flat] = []  # assignments built one by one, encoded below
    E_unit = np.empty((0, domain.encoding.dim))  # rows encoded straight from the cube
    if problem.box is not None:
        built = [_in_region(domain, problem.incumbent, problem.box, rng) for _ in range(n // 2)]
    elif not space.is_conditional and len(space.entries) > 0:
        E_unit = domain.encoding.encode_unit(rng.random((n, len(space.entries))))
    else:
        built = [space.sample(rng) for _ in range(n // 2)]
    top = np.argsort(problem.values, kind="stable")[:_N_TOP]
    for i in top:
        for _ in range(_PER_TOP):
            built.append(space.mutate(problem.train[int(i)], rng, scale=_LOCAL_SCALE))
    E = np.vstack([E_unit, domain.encoding.encode_many(built)])
    flats: list[Flat | None] = [None] * len(E_unit)
    flats += built
    return E, flats, _PER_TOP * len(top)


# ----------------------------------------------------------------------------- search
def _starts(order: np.ndarray, n_global: int, n_restarts: int) -> list[int]:
    """Rows to start the gradient search from: half the starts are the best global
    (random) candidates, so the search does not only polish the incumbent's
    neighbourhood; the rest are the overall best."""
    starts = [int(i) for i in order if i < n_global][: n_restarts // 2]
    starts += [int(i) for i in order if int(i) not in starts][: n_restarts - len(starts)]
    return starts


def gradient_search(domain: Domain, problem: Problem, E0: np.ndarray) -> list[Flat]:
    """L-BFGS-B from the encoded rows ``E0`` (all in one problem) over their active movable
    columns, inside the trust region if any; the results decoded (invalid ones dropped)."""
    gp, box = problem.gp, problem.box
    k, d = E0.shape
    active = ~np.isnan(E0)
    X0 = np.where(active, E0, INACTIVE)
    ind = domain.features(E0)[:, d:]
    movable = active & domain.movable[None, :]
    lo = np.zeros((k, d))
    hi = np.ones((k, d))
    if box is not None:
        lo = np.broadcast_to(box[0], (k, d)).copy()
        hi = np.broadcast_to(box[1], (k, d)).copy()
        X0 = np.clip(X0, lo, hi)
    lo = np.where(movable, lo, X0)
    hi = np.where(movable, hi, X0)

    def f(v: np.ndarray) -> tuple[float, np.ndarray]:
        Xk = v.reshape(k, d)
        p = gp.predict(np.hstack([Xk, ind]) if ind.shape[1] else Xk, grad=True)
        g: np.ndarray | None
        if problem.greedy:
            val, g = -p.mean, None if p.dmean is None else -p.dmean
        else:
            val, g = log_ei(p.mean, p.var, problem.best, p.dmean, p.dvar)
        assert g is not None
        grad = -g[:, :d] * movable
        return -float(val.sum()), grad.ravel()

    res = optimize.minimize(
        f,
        X0.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(lo.ravel(), hi.ravel())),
        options={"maxiter": GRAD_MAXITER},
    )
    Xk = np.where(active, np.asarray(res.x).reshape(k, d), np.nan)
    out: list[Flat] = []
    for row in Xk:
        try:
            out.append(domain.encoding.decode(np.where(np.isnan(row), 0.5, row)))
        except Exception:
            continue
    return out


def local_search(
    domain: Domain,
    problem: Problem,
    flat: Flat,
    value: float,
    rng: np.random.Generator,
    is_new: IsNew,
) -> tuple[float, Flat]:
    """Up to 5 greedy steps to the best new one-parameter neighbour of ``flat`` (score
    ``value``) while it improves; the final ``(score, assignment)``."""
    for _ in range(_LOCAL_STEPS):
        nbrs = [n for n in neighbours(domain.space, flat, rng) if is_new(n)]
        if not nbrs:
            break
        scores = score(domain, problem, domain.encoding.encode_many(nbrs))
        i = int(np.argmax(scores))
        if scores[i] <= value + 1e-9:
            break
        flat, value = nbrs[i], float(scores[i])
    return value, flat


def maximise(
    domain: Domain, problem: Problem, rng: np.random.Generator, is_new: IsNew
) -> Flat | None:
    """The new point that maximises the acquisition (see the module docstring); None if
    every point looked at was tried already."""
    E, flats, n_local = candidates(domain, problem, rng)

    def flat_at(i: int) -> Flat:
        flat = flats[i]
        if flat is None:
            flat = flats[i] = domain.encoding.decode(E[i])
        return flat

    scores = score(domain, problem, E)
    order = np.argsort(-scores, kind="stable")
    starts = _starts(order, len(flats) - n_local, domain.n_restarts)
    results: list[tuple[float, Flat]] = []
    if starts and domain.movable.any():
        for flat in gradient_search(domain, problem, E[starts]):
            value = score(domain, problem, domain.encoding.encode(flat)[None])[0]
            results.append((float(value), flat))
    for i in order[: max(domain.n_restarts, 1)]:
        results.append((float(scores[i]), flat_at(int(i))))
    # local search over discrete and categorical values from the best few
    results.sort(key=lambda r: -r[0])
    polished = [local_search(domain, problem, f, v, rng, is_new) for v, f in results[:2]]
    # every candidate, by score; an int is a candidate's row, decoded when reached
    pool: list[tuple[float, Flat | int]] = [*polished, *results]
    pool += [(float(scores[i]), int(i)) for i in order]
    pool.sort(key=lambda r: -r[0])
    for _, item in pool:
        flat = flat_at(item) if isinstance(item, int) else item
        if is_new(flat):
            return flat
    return None
