"""The steps of the evolutionary and RL searchers, as pure functions of their inputs.

Every function takes the random generator as a keyword-only ``rng`` and touches no other
state, so the searchers (:mod:`raysearch.nas.evolution`, :mod:`raysearch.nas.controller`)
only hold their populations and policies.

Notation:
    keys: ``(n,)`` one number per population member, lower is better.
    F: ``(n, m)`` objective vectors (losses); violation: ``(n,)`` constraint violations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from raysearch.nas.pareto import crowding_distance, non_dominated_sort
from raysearch.space import Flat, Space

__all__ = [
    "tournament",
    "guided_choice",
    "crowded_order",
    "worst_member",
    "mutate_unseen",
    "fresh_unseen",
    "finite_cardinality",
]


def tournament(keys: np.ndarray, sample_size: int, *, rng: np.random.Generator) -> int:
    """Index of the winner of a tournament of ``sample_size`` members drawn without
    replacement; ``keys`` ``(n,)``: lower is better (ties: the first drawn wins)."""
    n = len(keys)
    picks = rng.choice(n, size=min(int(sample_size), n), replace=False)
    return int(picks[int(np.argmin(keys[picks]))])


def crowded_order(F: np.ndarray, violation: np.ndarray) -> np.ndarray:
    """A key per point, lower is better: the front, then (within it) larger crowding
    distance first (NSGA-II's crowded comparison); ``(n,)`` floats."""
    ranks = non_dominated_sort(F, violation)
    crowd = np.zeros(len(F))
    for r in np.unique(ranks):
        members = np.flatnonzero(ranks == r)
        crowd[members] = crowding_distance(F[members])
    # rank dominates; crowding in (0, 1] breaks ties within a front (inf -> 0)
    return ranks + 1.0 / (1.0 + crowd)


def worst_member(F: np.ndarray, violation: np.ndarray) -> int:
    """The member steady-state NSGA-II drops: from the worst front, the one with the
    smallest crowding distance (ties: the oldest, i.e. the lowest index)."""
    return int(np.argmax(crowded_order(F, violation)))


def mutate_unseen(
    space: Space,
    parent: Flat,
    seen: Callable[[Flat], bool],
    *,
    rng: np.random.Generator,
    max_retries: int = 20,
) -> Flat | None:
    """A mutant of ``parent`` not ``seen`` before, or None after ``max_retries`` tries
    (one parameter per move for the first half, two after)."""
    for attempt in range(max_retries):
        n_params = 1 if attempt < max(1, max_retries // 2) else 2
        child = space.mutate(parent, rng, n_params=n_params)
        if not seen(child):
            return child
    return None


def guided_choice(
    space: Space,
    candidates: Sequence[Flat],
    ranked: Sequence[Flat],
    *,
    rng: np.random.Generator,
    beta: float = 2.0,
    gamma: float = 0.25,
) -> int:
    """Which of ``candidates`` to evaluate: drawn with probability proportional to
    ``(l(x) / g(x)) ** beta``, where ``l`` and ``g`` are smoothed per-parameter value
    frequencies among the best ``gamma`` fraction of ``ranked`` (best first) and the rest:
    a univariate TPE density ratio (Bergstra et al., NeurIPS 2011) over the parameters with
    at most 64 values (continuous ones do not count). Sampled, not maximised, so the search
    keeps exploring; ``beta=0`` draws uniformly.
    """
    n = len(candidates)
    if n <= 1 or beta == 0 or len(ranked) < 2:
        return int(rng.integers(0, n)) if n > 1 else 0
    n_good = max(1, int(np.ceil(gamma * len(ranked))))
    good: dict[tuple[str, Any], int] = {}
    bad: dict[tuple[str, Any], int] = {}
    for i, flat in enumerate(ranked):
        counts = good if i < n_good else bad
        for item in space.to_tokens(flat).items():
            counts[item] = counts.get(item, 0) + 1
    n_bad = len(ranked) - n_good
    score = np.zeros(n)
    for i, flat in enumerate(candidates):
        for name, token in space.to_tokens(flat).items():
            k = space[name].cardinality
            if k is None or k > 64:
                continue
            lg = (good.get((name, token), 0) + 1.0) / (n_good + k)
            lb = (bad.get((name, token), 0) + 1.0) / (n_bad + k)
            score[i] += np.log(lg / lb)
    weights = np.exp(beta * (score - score.max()))
    return int(rng.choice(n, p=weights / weights.sum()))


def finite_cardinality(space: Space, limit: int = 100_000) -> int | None:
    """The number of configs of ``space`` if it is finite and its parameters' values
    multiply to at most ``limit`` (then they are counted exactly); None otherwise (a space
    too large to enumerate is treated as unbounded: no FINISHED, duplicates only avoided
    by rejection)."""
    bound = 1
    for entry in space.entries:
        n = entry.param.cardinality
        if n is None:
            return None
        bound *= n
        if bound > limit:
            return None
    return space.cardinality(limit=limit)


def fresh_unseen(
    space: Space,
    seen: Callable[[Flat], bool],
    *,
    rng: np.random.Generator,
    finite: bool,
    tries: int = 100,
) -> Flat | None:
    """A uniform sample not ``seen`` before; on a finite space, an unseen config picked
    from the enumeration when rejection keeps failing (None when there is none left)."""
    sample: Flat = {}
    for _ in range(tries):
        sample = space.sample(rng)
        if not seen(sample):
            return sample
    if not finite:
        return sample  # a continuous space where every draw repeats: give up on novelty
    unseen = [p for p in space.enumerate() if not seen(p)]
    return unseen[int(rng.integers(0, len(unseen)))] if unseen else None
