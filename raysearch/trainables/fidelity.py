"""Data-subsample fidelity: the fraction of training rows as the resource (10% -> 100%).

For models with no natural iteration count (forests, k-NN, SVMs, linear models), successive
halving can still save compute by training on a growing share of the rows. Step
``1, 2, ..., max_t`` of a trial maps to a fraction of the rows (geometric from
``min_fraction`` to 1 by default, so every step roughly multiplies the cost), and the rows
of a smaller fraction are a subset of those of a larger one (one seeded permutation), so
the fidelities are nested and a promoted trial sees strictly more data.

Use ``step`` (``training_iteration``) or the reported ``rows`` as the scheduler's
``time_attr``; every scheduler (ASHA, Hyperband, FIFO) works unchanged::

    fid = SubsampleFidelity(len(X_train), max_t=4, min_fraction=0.1, seed=0)
    for step in range(1, fid.max_t + 1):
        rows = fid.rows(step)
        model.fit(X_train[rows], y_train[rows])
        tune.report({"loss": loss(model), "fraction": fid.fraction(step), "rows": len(rows)})

:func:`subsample_trainable` builds such a function trainable (with checkpoints, so the
promotion variant of ASHA and Hyperband can pause and resume it).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.core.rng import SeedLike, make_rng

__all__ = ["fraction_at", "SubsampleFidelity", "subsample_trainable"]


def fraction_at(step: float, max_t: float, min_fraction: float = 0.1, scale: str = "log") -> float:
    """The fraction of rows at ``step`` (1 -> ``min_fraction``, ``max_t`` -> 1).

    Args:
        step: the fidelity step (clipped into ``[1, max_t]``).
        max_t: the last step (full data).
        min_fraction: the fraction at step 1, in (0, 1].
        scale: ``"log"`` (geometric: the cost grows by a constant factor per step, as the
            rungs of successive halving do) or ``"linear"``.
    """
    if not 0 < min_fraction <= 1:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction!r}")
    if not max_t >= 1:
        raise ValueError(f"max_t must be >= 1, got {max_t!r}")
    if scale not in ("log", "linear"):
        raise ValueError(f"scale must be 'log' or 'linear', got {scale!r}")
    if max_t == 1:
        return 1.0
    u = (min(max(float(step), 1.0), float(max_t)) - 1.0) / (float(max_t) - 1.0)
    if scale == "linear":
        return float(min_fraction + (1.0 - min_fraction) * u)
    return float(math.exp(math.log(min_fraction) * (1.0 - u)))


class SubsampleFidelity:
    """Nested row subsets of a training set, one per step.

    Args:
        n_rows: rows of the full training set.
        max_t: steps (the last uses every row).
        min_fraction: fraction of rows at step 1.
        scale: ``"log"`` or ``"linear"`` (see :func:`fraction_at`).
        min_rows: never fewer rows than this.
        seed: seeds the row permutation (same seed, same subsets in every trial, so
            trials are compared on the same data).
    """

    def __init__(
        self,
        n_rows: int,
        max_t: int = 4,
        min_fraction: float = 0.1,
        *,
        scale: str = "log",
        min_rows: int = 10,
        seed: SeedLike = 0,
    ) -> None:
        if int(n_rows) != n_rows or n_rows < 1:
            raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
        if int(max_t) != max_t or max_t < 1:
            raise ValueError(f"max_t must be a positive integer, got {max_t!r}")
        fraction_at(1, max_t, min_fraction, scale)  # validates
        self.n_rows = int(n_rows)
        self.max_t = int(max_t)
        self.min_fraction = float(min_fraction)
        self.scale = scale
        self.min_rows = int(min_rows)
        self._order = make_rng(seed).permutation(self.n_rows)

    def fraction(self, step: float) -> float:
        return fraction_at(step, self.max_t, self.min_fraction, self.scale)

    def n_at(self, step: float) -> int:
        n = int(math.ceil(self.fraction(step) * self.n_rows - 1e-9))
        return int(min(self.n_rows, max(n, self.min_rows, 1)))

    def rows(self, step: float) -> np.ndarray:
        """Row indices at ``step`` (sorted); a prefix of one fixed permutation."""
        return np.sort(self._order[: self.n_at(step)])

    def cost(self, step: float) -> int:
        """Rows trained on in total up to ``step`` (models retrain at every step)."""
        return int(sum(self.n_at(s) for s in range(1, int(step) + 1)))


def subsample_trainable(
    fit_score: Callable[[dict[str, Any], np.ndarray], float],
    n_rows: int,
    *,
    max_t: int = 4,
    min_fraction: float = 0.1,
    scale: str = "log",
    seed: SeedLike = 0,
    metric: str = "loss",
) -> Callable[[dict[str, Any]], None]:
    """A Ray Tune function trainable over a data-subsample fidelity.

    Args:
        fit_score: ``(config, row_indices) -> score``: trains on those rows of your training
            set and returns the validation score (the data is yours to close over, or put
            it in Ray's object store and pass the reference in ``config``).
        n_rows, max_t, min_fraction, scale, seed: of the :class:`SubsampleFidelity`.
        metric: the result key of the score.
    Returns:
        ``trainable(config)`` reporting ``{metric, "fraction", "rows", "rows_seen"}`` at each
        step with a checkpoint (the step), so pausing schedulers resume it.
    """
    fidelity = SubsampleFidelity(
        n_rows, max_t, min_fraction, scale=scale, seed=seed if isinstance(seed, int) else 0
    )

    def trainable(config: dict[str, Any]) -> None:
        from ray import tune
        from ray.tune import Checkpoint

        step = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as d:
                with open(os.path.join(d, "fidelity.json")) as f:
                    step = int(json.load(f)["step"])
        while step < fidelity.max_t:
            step += 1
            rows = fidelity.rows(step)
            score = float(fit_score(config, rows))
            with tempfile.TemporaryDirectory() as d:
                with open(os.path.join(d, "fidelity.json"), "w") as f:
                    json.dump({"step": step}, f)
                tune.report(
                    {
                        metric: score,
                        "fraction": fidelity.fraction(step),
                        "rows": len(rows),
                        "rows_seen": fidelity.cost(step),
                    },
                    checkpoint=Checkpoint.from_directory(d),
                )

    return trainable
