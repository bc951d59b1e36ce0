"""Pareto tools for several objectives, all minimised: sorting, crowding, hypervolume, plot.

Notation:
    F: ``(n, m)`` objective vectors of ``n`` points, every objective a loss (lower is
       better; a metric to maximise enters negated).
    violation: ``(n,)`` total constraint violation, 0 for a feasible point.

Constrained domination (Deb, "An efficient constraint handling method for genetic
algorithms", CMAME 2000; NSGA-II, Deb et al., IEEE TEC 2002): a feasible point dominates
every infeasible one; of two infeasible points the one with the smaller violation
dominates; two feasible points compare by Pareto dominance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "dominance_matrix",
    "non_dominated_sort",
    "crowding_distance",
    "pareto_mask",
    "hypervolume",
    "plot_pareto",
]


def dominance_matrix(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """``D[i, j]``: point ``i`` (constrained-)dominates point ``j``; ``(n, n)`` bools."""
    F = np.asarray(F, dtype=float)
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    D = le & lt
    if violation is not None:
        v = np.asarray(violation, dtype=float)
        feasible = v <= 0
        both = feasible[:, None] & feasible[None, :]
        D = np.where(both, D, False)
        D |= feasible[:, None] & ~feasible[None, :]
        D |= (~feasible[:, None] & ~feasible[None, :]) & (v[:, None] < v[None, :])
    return D


def non_dominated_sort(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """The front index of each point (0: non-dominated), ``(n,)`` ints (Deb et al. 2002)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    ranks = np.full(n, -1, dtype=int)
    if n == 0:
        return ranks
    D = dominance_matrix(F, violation)
    dominated_by = D.sum(axis=0)
    front = np.flatnonzero(dominated_by == 0)
    rank = 0
    while front.size:
        ranks[front] = rank
        dominated_by = dominated_by - D[front].sum(axis=0)
        dominated_by[ranks >= 0] = -1
        front = np.flatnonzero(dominated_by == 0)
        rank += 1
    return ranks


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II's crowding distance of the points of one front, ``(n,)``; the extremes of
    every objective get ``inf``."""
    F = np.asarray(F, dtype=float)
    n, m = F.shape if F.ndim == 2 else (len(F), 0)
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        lo, hi = F[order[0], k], F[order[-1], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if hi > lo:
            gaps = (F[order[2:], k] - F[order[:-2], k]) / (hi - lo)
            dist[order[1:-1]] += gaps
    return dist


def pareto_mask(F: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """``(n,)`` bools: the points no other point (constrained-)dominates.

    Without constraints, two objectives take a sort and a sweep (O(n log n)) and more
    take one pass per point (O(n^2 m) time, O(n m) memory), so a whole benchmark table of
    thousands of points is fine; with constraints the ``(n, n)`` dominance matrix is used.
    """
    F = np.asarray(F, dtype=float)
    n = len(F)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if violation is None and F.ndim == 2 and F.shape[1] == 2:
        return _pareto_mask_2d(F)
    if violation is None and n > 256:
        mask = np.ones(n, dtype=bool)
        for i in range(n):
            mask[i] = not np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1))
        return mask
    dominated = np.asarray(dominance_matrix(F, violation).any(axis=0), dtype=bool)
    return ~dominated


def _pareto_mask_2d(F: np.ndarray) -> np.ndarray:
    """Sweep in order of the first objective (ties: the second): a point is on the front
    if its second objective beats every earlier one, or it equals the last front point."""
    mask = np.zeros(len(F), dtype=bool)
    best = np.inf
    last: tuple[float, float] | None = None
    for i in np.lexsort((F[:, 1], F[:, 0])):
        x, y = float(F[i, 0]), float(F[i, 1])
        if y < best or (last is not None and (x, y) == last):
            mask[i] = True
            best, last = y, (x, y)
    return mask


def hypervolume(F: np.ndarray, reference: Sequence[float] | np.ndarray) -> float:
    """The volume dominated by ``F`` and bounded by ``reference`` (all objectives minimised).

    Points that do not strictly dominate the reference point add nothing. Exact: a sweep in
    2-D (O(n log n)); in more dimensions, slicing along the last objective (Hypervolume by
    Slicing Objectives, While et al., IEEE TEC 2006), exponential in the dimension but fine
    for the fronts of a search (tens of points, a handful of objectives).
    """
    F = np.asarray(F, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if F.ndim != 2 or ref.shape != (F.shape[1],):
        raise ValueError(
            f"points must be (n, m) and reference (m,), got {F.shape} and {ref.shape}"
        )
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be finite, got {reference!r}")
    F = F[np.all(np.isfinite(F), axis=1) & np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    F = F[pareto_mask(F)]
    return float(_hso(F, ref))


def _hso(F: np.ndarray, ref: np.ndarray) -> float:
    m = F.shape[1]
    if m == 1:
        return float(ref[0] - F[:, 0].min())
    if m == 2:
        order = np.argsort(F[:, 0], kind="stable")
        volume, best_y = 0.0, ref[1]
        for x, y in F[order]:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    order = np.argsort(F[:, -1], kind="stable")
    F = F[order]
    volume = 0.0
    for i in range(len(F)):
        upper = F[i + 1, -1] if i + 1 < len(F) else ref[-1]
        depth = upper - F[i, -1]
        if depth <= 0:
            continue
        sub = F[: i + 1, :-1]
        sub = sub[pareto_mask(sub)]
        volume += depth * _hso(sub, ref[:-1])
    return volume


def plot_pareto(
    points: np.ndarray,
    *,
    labels: Sequence[str] = ("objective 1", "objective 2"),
    front: np.ndarray | None = None,
    ax: Any = None,
    maximize: Sequence[bool] = (False, False),
    **scatter: Any,
) -> Any:
    """A scatter of 2-D ``points`` (in the metrics' own units) with their Pareto front as a
    step line; returns the matplotlib ``Axes`` (matplotlib is imported here).

    Args:
        points: ``(n, 2)`` metric values.
        labels: axis labels.
        front: ``(n,)`` bools marking the front; computed from ``maximize`` when None.
        ax: an existing Axes to draw on.
        maximize: per metric, whether larger is better.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # an optional dependency: say which
        raise ImportError("plot_pareto needs matplotlib: pip install matplotlib") from err
    P = np.asarray(points, dtype=float)
    if P.ndim != 2 or P.shape[1] != 2:
        raise ValueError(f"plot_pareto draws 2 objectives, got points of shape {P.shape}")
    if front is None:
        signs = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
        front = pareto_mask(P * signs)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(P[:, 0], P[:, 1], s=12, alpha=0.5, label="evaluated", **scatter)
    F = P[np.asarray(front, dtype=bool)]
    F = F[np.argsort(F[:, 0])]
    ax.step(F[:, 0], F[:, 1], where="post", color="C3", lw=1.5)
    ax.scatter(F[:, 0], F[:, 1], s=24, color="C3", label="Pareto front")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend()
    return ax
