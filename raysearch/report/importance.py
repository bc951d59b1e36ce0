"""Parameter importance from the finished trials: permutation importance of a random forest.

Why this method: it needs only scikit-learn (already a dependency), handles every kind of
parameter the spaces have (numeric, log-scaled, categorical, and conditional ones, whose
inactive value is a missing value the trees split on) and interactions, and it is honest
about noise: the forest is fitted on two thirds of the trials and the importance is measured
on the other third (3 folds, averaged), so a parameter the forest merely memorised scores
about 0. fANOVA (Hutter et al., ICML 2014) decomposes the same kind of forest's variance
exactly but needs its own package and a bounded box per parameter; on the few hundred trials
of a search, the two rank parameters alike in practice (both measure how much the predicted
metric moves with a parameter).

The metric is ranked first (quantiles), so that a few diverged trials do not decide which
parameter looks important. Importances are the mean drop of R^2 over the folds, clipped at
0 and normalised to sum to 1.

Notation: ``X: (n, d)`` one column per parameter (log10 of log-scaled values, category
codes, NaN where inactive), ``y: (n,)`` the metric as a loss (lower is better).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["permutation_importance", "MIN_TRIALS"]

#: fewer finished trials than this and no importance is computed
MIN_TRIALS = 8
#: at most this many trials are used (a random subset beyond: a report of a long search
#: should not take long)
MAX_TRIALS = 500


def permutation_importance(
    X: np.ndarray, y: np.ndarray, names: Sequence[str], *, seed: int = 0
) -> dict[str, float]:
    """The importance of each column of ``X`` for ``y`` (see the module docstring).

    Returns:
        ``{name: importance}`` summing to 1 (all 0 if nothing is predictable), or ``{}``
        with fewer than :data:`MIN_TRIALS` rows.
    """
    from scipy.stats import rankdata
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance as sk_permutation_importance
    from sklearn.model_selection import KFold

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(y) < MIN_TRIALS or X.shape[1] == 0:
        return {}
    rng = np.random.default_rng(seed)
    if len(y) > MAX_TRIALS:
        keep = np.sort(rng.choice(len(y), MAX_TRIALS, replace=False))
        X, y = X[keep], y[keep]
    y = rankdata(y) / len(y)
    totals = np.zeros(X.shape[1])
    folds = KFold(3, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    for train, test in folds.split(X):
        forest = RandomForestRegressor(
            n_estimators=48,
            min_samples_leaf=2,
            random_state=int(rng.integers(2**31 - 1)),
            n_jobs=1,
        ).fit(X[train], y[train])
        result = sk_permutation_importance(
            forest,
            X[test],
            y[test],
            n_repeats=3,
            random_state=int(rng.integers(2**31 - 1)),
            n_jobs=1,
        )
        totals += np.asarray(result.importances_mean)
    totals = np.clip(totals / 3, 0.0, None)
    total = float(totals.sum())
    shares = totals / total if total > 0 else totals
    return {str(n): float(v) for n, v in zip(names, shares)}
