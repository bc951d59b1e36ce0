"""A GP with the fidelity as an input, and its training rows from learning curves.

Multi-fidelity model-based search (BOHB, ASHA+GP) used to model only the highest rung that
enough trials had reached, throwing away every lower rung. Here the GP's inputs are the
configuration's features plus one column ``z = log(step / bottom) / log(top / bottom)`` in
[0, 1] (bottom and top: the smallest and largest step reported)
(a Matern ARD kernel over both: a product-like kernel whose ``z`` lengthscale says how
much low rungs tell about the top one), trained on every trial's loss at each step of a
geometric ladder (the rungs of a successive-halving scheduler). Predictions are made at
``z = 1``, the full training: :class:`AtFidelity` is that view of the GP, with the interface
the acquisition optimiser uses (``predict`` with gradients, ``lengthscales``,
``condition``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from raysearch.core.types import Trial, TrialStatus
from raysearch.surrogates.gp import GaussianProcess, Posterior

__all__ = ["AtFidelity", "ladder", "curve_rows", "value_at"]


class AtFidelity:
    """A GP over ``[features, z]`` seen as a function of the features at a fixed ``z``."""

    def __init__(self, gp: GaussianProcess, z: float = 1.0) -> None:
        self.gp, self.z = gp, float(z)

    def _with_z(self, Z: np.ndarray) -> np.ndarray:
        Z = np.atleast_2d(np.asarray(Z, dtype=float))
        return np.hstack([Z, np.full((len(Z), 1), self.z)])

    @property
    def lengthscales(self) -> np.ndarray:
        return self.gp.lengthscales[:-1]

    def predict(self, Z: np.ndarray, *, grad: bool = False) -> Posterior:
        p = self.gp.predict(self._with_z(Z), grad=grad)
        if not grad:
            return p
        assert p.dmean is not None and p.dvar is not None
        return Posterior(p.mean, p.var, p.dmean[:, :-1], p.dvar[:, :-1])

    def condition(self, Xf: np.ndarray, yf: np.ndarray) -> AtFidelity:
        return AtFidelity(self.gp.condition(self._with_z(Xf), yf), self.z)


def ladder(top: float, bottom: float, factor: float = 3.0) -> list[float]:
    """Steps ``top / factor**k`` down to ``bottom`` (ascending; ``top`` always in it):
    the rungs of a successive-halving scheduler whose largest step is ``top``."""
    out = [float(top)]
    while out[-1] / factor >= bottom - 1e-9:
        out.append(out[-1] / factor)
    return sorted(out)


def value_at(trial: Trial, step: float) -> float | None:
    """The trial's loss at ``step``: its last report at or below it (None if none)."""
    below = [s for s in trial.intermediate if s <= step + 1e-9]
    return trial.intermediate[max(below)] if below else None


def curve_rows(trials: Iterable[Trial]) -> tuple[list[Trial], np.ndarray, np.ndarray]:
    """``(trials, z, values)``, one row per trial and ladder step it reached: the loss it
    reported at or below that step. Every non-failed trial with reports counts, running and
    paused ones too (their reports are real observations). A trial without reports but
    with a final value (no intermediate results) is a row at ``z = 1``.

    The ladder runs from the top step any trial reached down to the smallest one, by
    factors of 3 (``z = log(step / ladder[0]) / log(top / ladder[0])``; 1 when the top
    step is the only one).
    """
    trials = [t for t in trials if t.status is not TrialStatus.FAILED]
    steps = [s for t in trials for s in t.intermediate]
    out_t: list[Trial] = []
    out_z: list[float] = []
    out_v: list[float] = []
    rungs: list[float] = []
    scale = 0.0
    if steps:
        top, bottom = max(steps), min(steps)
        rungs = ladder(top, max(bottom, 1e-9))
        scale = math.log(top / rungs[0]) if len(rungs) > 1 else 0.0
    for t in trials:
        if not t.intermediate:
            if t.value is not None and t.status is not TrialStatus.PENDING:
                out_t.append(t)
                out_z.append(1.0)
                out_v.append(float(t.value))
            continue
        last = max(t.intermediate)
        for step in rungs:
            if step > last + 1e-9:
                break
            value = value_at(t, step)
            if value is None:
                continue
            out_t.append(t)
            out_z.append(math.log(step / rungs[0]) / scale if scale else 1.0)
            out_v.append(float(value))
    return out_t, np.array(out_z, dtype=float), np.array(out_v, dtype=float)
