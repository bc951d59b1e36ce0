"""Rungs that open only where early ranks predict final ones (ASHA's ``min_rank_corr``).

Successive halving assumes that a trial's rank at a rung predicts its rank at ``max_t``.
Where it does not (on the multifidelity bench's health_insurance task the Spearman
correlation between step 1 and step 27 over all 120 configurations is 0.07, and the best
configuration ranks 43rd after one step), every rung stops the eventual winner whatever
proposes it. :class:`RungGate` measures that correlation on the trials themselves, as
PASHA (Bohdal et al. 2023) and ASHA with an adaptive grace period do, and opens a rung (lets it
stop or pause trials) only when the evidence says it ranks well:

* the first ``warmup`` trials added pass every rung, so their curves run to ``max_t``;
* at each rung, the Spearman correlation between the rung's losses and the final ones is
  taken over the trials that reached ``max_t`` *without being selected by that rung*
  (warm-up trials and trials that passed it while it was closed), so survivors of the rung
  do not bias it;
* the rung is open when the lower one-sided bound of that correlation (Fisher's z with
  Spearman's standard error ``sqrt(1.06 / (n - 3))``, ``z`` standard errors) is at least
  ``min_corr``; with fewer than 4 pairs it is closed. A closed rung lets every trial pass
  (the grace period grows to the first open rung), so the search promotes more
  conservatively while the correlation is low or unknown; a rung can open later as more
  unselected trials finish, and close again.

Everything is plain JSON-able data; the decisions depend only on the reports, so a run is
deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from raysearch.schedulers.rungs import Rung

__all__ = ["RungGate", "spearman", "correlation_bound"]

#: fewest (rung, final) pairs a rung's correlation is estimated from
MIN_PAIRS = 4


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties; 0 if either side is constant)."""
    from scipy.stats import rankdata  # scipy.stats takes ~1 s to import: only when used

    ra, rb = rankdata(np.asarray(a, dtype=float)), rankdata(np.asarray(b, dtype=float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def correlation_bound(rho: float, n: int, z: float = 1.0) -> float:
    """Lower one-sided bound of a Spearman correlation from ``n`` pairs: Fisher's z minus
    ``z`` standard errors ``sqrt(1.06 / (n - 3))`` (Fieller et al. 1957); -1 for n <= 3."""
    if n <= 3:
        return -1.0
    r = min(max(rho, -0.9999), 0.9999)
    return math.tanh(math.atanh(r) - z * math.sqrt(1.06 / (n - 3)))


def _key(milestone: float) -> str:
    return repr(float(milestone))


class RungGate:
    """Which rungs may select trials (see the module docstring).

    Args:
        min_corr: the lower bound of the rung-vs-final rank correlation a rung needs to open.
        warmup: the first trials added, which pass every rung.
        z: standard errors below the estimate (1: a one-sided 84% bound).
    """

    def __init__(self, min_corr: float, warmup: int = 8, z: float = 1.0) -> None:
        if not -1.0 <= float(min_corr) <= 1.0:
            raise ValueError(f"min_rank_corr must be in [-1, 1], got {min_corr!r}")
        if not (isinstance(warmup, int) and warmup >= 0):
            raise ValueError(f"warmup must be an integer >= 0, got {warmup!r}")
        self.min_corr, self.warmup, self.z = float(min_corr), warmup, float(z)
        self.warm: list[str] = []
        #: milestone key -> trials that passed that rung unselected
        self.free: dict[str, list[str]] = {}
        #: trial id -> loss at max_t
        self.finals: dict[str, float] = {}

    def add(self, trial_id: str) -> None:
        if len(self.warm) < self.warmup and trial_id not in self.warm:
            self.warm.append(trial_id)

    def finish(self, trial_id: str, value: float | None) -> None:
        """Records a trial's loss at ``max_t`` (NaN/inf reports are left out)."""
        if value is not None and math.isfinite(value):
            self.finals.setdefault(trial_id, float(value))

    def correlation(self, rung: Rung) -> tuple[float, int]:
        """``(Spearman, pairs)`` between the rung's losses and the final ones, over the
        trials that passed the rung unselected and reached ``max_t``."""
        pairs = [
            (rung.recorded[t], self.finals[t])
            for t in self.free.get(_key(rung.milestone), [])
            if t in self.finals and rung.recorded.get(t) is not None
        ]
        if len(pairs) < MIN_PAIRS:
            return 0.0, len(pairs)
        a, b = zip(*pairs)
        return spearman(a, b), len(pairs)

    def is_open(self, rung: Rung) -> bool:
        rho, n = self.correlation(rung)
        return n >= MIN_PAIRS and correlation_bound(rho, n, self.z) >= self.min_corr

    def passes(self, trial_id: str, rung: Rung) -> bool:
        """True if the trial passes the rung unselected (warm-up trial or closed rung);
        the pass is remembered for the rung's correlation."""
        if trial_id in self.warm or not self.is_open(rung):
            free = self.free.setdefault(_key(rung.milestone), [])
            if trial_id not in free:
                free.append(trial_id)
            return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {
            "warm": list(self.warm),
            "free": [[k, list(v)] for k, v in self.free.items()],
            "finals": [[t, v] for t, v in self.finals.items()],
        }

    def load(self, data: dict[str, Any]) -> None:
        self.warm = [str(t) for t in data.get("warm", [])]
        self.free = {str(k): [str(t) for t in v] for k, v in data.get("free", [])}
        self.finals = {str(t): float(v) for t, v in data.get("finals", [])}
