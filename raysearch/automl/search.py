"""The search AutoML runs: validation folds, one space across families, searcher, scheduler.

* :func:`make_folds`: k-fold cross-validation (stratified when every class can be) up to
  ``cv_max_rows`` rows, a holdout above;
* :func:`search_space`: one conditional space whose categorical ``learner`` holds each
  family's hyperparameters, and the points to evaluate first: every family's cheap default,
  cheapest families first, then the families' other zero-shot configurations;
* :func:`make_searcher` and :func:`make_scheduler`: the registered searcher (random search
  when it is missing) and ASHA over the folds (the folds a trial completed are its fidelity).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from raysearch.automl.features import DataError
from raysearch.automl.learners import LEARNERS

__all__ = ["make_folds", "usable_families", "search_space", "make_searcher", "make_scheduler"]

logger = logging.getLogger("raysearch.automl")

Folds = list[tuple[np.ndarray, np.ndarray]]


def make_folds(
    y: np.ndarray, task: str, n_folds: int, cv_max_rows: int, seed: int
) -> tuple[Folds, str]:
    """The (train, valid) row indices of the validation and its description in words."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    n = len(y)
    stratify = task != "regression" and np.bincount(y.astype(int)).min() >= n_folds
    if n <= cv_max_rows:
        splitter = (StratifiedKFold if stratify else KFold)(
            n_folds, shuffle=True, random_state=seed
        )
        return [
            (tr, va) for tr, va in splitter.split(np.zeros(n), y)
        ], f"{n_folds}-fold cross-validation"
    idx = np.arange(n)
    train, valid = train_test_split(
        idx,
        test_size=min(0.2, 10_000 / n),
        random_state=seed,
        stratify=y if stratify else None,
    )
    return [(np.sort(train), np.sort(valid))], f"holdout ({len(valid)} rows)"


def usable_families(families: list[str], n_rows: int) -> list[str]:
    """The ``families`` that handle ``n_rows`` rows (k-NN is skipped on large tables)."""
    return [
        f
        for f in families
        if LEARNERS[f].max_rows is None or n_rows <= (LEARNERS[f].max_rows or 0)
    ]


def search_space(families: list[str], n_rows: int, task: str) -> tuple[Any, list[dict[str, Any]]]:
    """The space across ``families`` and its points to evaluate first (the baselines)."""
    from raysearch.space import Categorical, Space
    from raysearch.space.spec import obj_from_spec

    usable = usable_families(families, n_rows)
    if not usable:
        raise DataError(f"no model family can handle {n_rows} rows among {families}")
    options = [{"name": f, **obj_from_spec(LEARNERS[f].space(n_rows, task))} for f in usable]
    space = Space({"learner": Categorical(options)})
    by_cost = sorted(usable, key=lambda f: LEARNERS[f].relative_cost)
    points = [{"learner": {"name": f, **LEARNERS[f].portfolio(n_rows, task)[0]}} for f in by_cost]
    points += [
        {"learner": {"name": f, **cfg}}
        for f in by_cost
        for cfg in LEARNERS[f].portfolio(n_rows, task)[1:]
    ]
    return space, points


def make_searcher(name: str, space: Any, points: list[dict[str, Any]], seed: int) -> Any:
    """The registered searcher ``name`` (random search if it is not available)."""
    from raysearch.core.registry import SEARCHERS

    chosen = name if name in SEARCHERS else "random"
    if chosen != name:
        logger.info("searcher %r is not available; using random search", name)
    return SEARCHERS.create(chosen, space=space, seed=seed, points_to_evaluate=points)


def make_scheduler(n_folds: int, n_baselines: int, seed: int) -> Any:
    """ASHA over the folds, or None (fewer than 3 folds, or no ASHA)."""
    from raysearch.core.registry import SCHEDULERS

    if n_folds < 3 or "asha" not in SCHEDULERS:
        return None
    try:
        return SCHEDULERS.create(
            "asha",
            seed=seed,
            max_t=n_folds,
            grace_period=1,
            reduction_factor=3,
            min_samples=max(1, n_baselines),  # the baselines all finish
        )
    except (TypeError, ValueError) as err:  # a scheduler with other argument names
        logger.info("not using ASHA on folds: %s", err)
        return None
