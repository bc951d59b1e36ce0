"""``AutoML.estimate``'s table (no Ray: the baseline times are given)."""

from __future__ import annotations

import pytest

from raysearch.automl.budget import TRIAL_OVERHEAD_S, estimate_table, folds_per_trial


def test_folds_per_trial_under_asha_on_folds():
    assert folds_per_trial(2) == 2.0  # no ASHA below 3 folds
    assert folds_per_trial(5) == pytest.approx(1 + 2 / 3 + 2 / 9)  # rungs 1, 3, 5


def test_total_row_is_consistent_with_the_families():
    """A cheap family (linear, 1 ms a fold) beside a slow one (1 s a fold) used to give a
    total of expected trials dominated by the cheap family's share of the budget alone,
    ten times what the search runs, and contradicting the total's own trials_if_alone."""
    rows = [
        {"family": "lightgbm", "baseline_fold_s": 1.0},
        {"family": "linear", "baseline_fold_s": 0.001},
    ]
    table = estimate_table(rows, 5, "5-fold", budget=120.0, prepare_s=1.0, slots=2)
    families, total = table.iloc[:2], table.iloc[2]
    assert total["family"] == "total"
    slot_seconds = table.attrs["slots"] * table.attrs["search_s"]
    folds = folds_per_trial(5)
    assert families["trial_s"].tolist() == pytest.approx(
        [1.0 * folds + TRIAL_OVERHEAD_S, 0.001 * folds + TRIAL_OVERHEAD_S]
    )
    # the total row: the mean times and the whole search's trials, which are the sum of
    # the families' and fill the search's slot-seconds
    assert total["trial_s"] == pytest.approx(families["trial_s"].mean())
    assert total["baseline_fold_s"] == pytest.approx(families["baseline_fold_s"].mean())
    assert total["expected_trials"] == families["expected_trials"].sum()
    assert total["trials_if_alone"] == total["expected_trials"]
    assert total["expected_trials"] == int(slot_seconds / total["trial_s"])
    spent = (families["expected_trials"] * families["trial_s"]).sum()
    assert slot_seconds - total["trial_s"] <= spent <= slot_seconds + families["trial_s"].max()
    # an equal number per family (the searcher has no scores to prefer one yet)
    assert abs(families["expected_trials"].iloc[0] - families["expected_trials"].iloc[1]) <= 1
    # alone, each family gets the whole search
    alone = (slot_seconds / families["trial_s"]).astype(int).tolist()
    assert families["trials_if_alone"].tolist() == alone
    assert total["expected_trials"] < families["trials_if_alone"].max()
