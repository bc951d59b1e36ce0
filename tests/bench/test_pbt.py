"""The PBT bench's paired comparison over seeds (no Ray, no torch)."""

import math

import pytest
from scipy.stats import ttest_rel

from raysearch.bench.pbt import paired


def _runs(losses: dict[int, float]) -> list[dict[str, float]]:
    return [{"seed": s, "test_loss": v} for s, v in losses.items()]


def test_paired_counts_wins_and_tests_by_seed():
    mine = _runs({0: 0.10, 1: 0.20, 2: 0.15, 3: 0.30})
    other = _runs({3: 0.25, 2: 0.18, 1: 0.22, 0: 0.12})  # another order: paired by seed
    wins, n, p = paired(mine, other)
    assert (wins, n) == (3, 4)
    assert p == pytest.approx(ttest_rel([0.10, 0.20, 0.15, 0.30], [0.12, 0.22, 0.18, 0.25]).pvalue)


def test_paired_skips_unmatched_and_nan_seeds():
    mine = _runs({0: 0.1, 1: math.nan, 2: 0.3, 5: 0.0})
    other = _runs({0: 0.2, 1: 0.1, 2: 0.2})
    wins, n, p = paired(mine, other)
    assert (wins, n) == (1, 2)
    assert math.isnan(p)  # fewer than 3 pairs: no test
    assert math.isnan(paired(_runs({0: 0.1, 1: 0.2, 2: 0.3}), _runs({0: 0.1, 1: 0.2, 2: 0.3}))[2])
