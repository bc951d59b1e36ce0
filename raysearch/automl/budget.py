"""How AutoML spends its time budget, and how many trials a budget buys.

* :func:`ensemble_reserve`: the seconds ``fit`` keeps back from the search for ensembling
  (measured: the metric's cost on the out-of-fold rows), Tune's stop and collecting models;
* :func:`baseline_fold_times`, :func:`cpu_slots` and :func:`estimate_table`: the pieces of
  ``AutoML.estimate`` (each family's default fitted on one fold, the trials that run at once,
  and the trials each family gets in the search's share of the budget).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.learners import LEARNERS
from raysearch.automl.metrics import Metric

__all__ = ["ensemble_reserve", "baseline_fold_times", "cpu_slots", "estimate_table"]


def ensemble_reserve(
    metric: Metric, y_valid: np.ndarray, n_classes: int, task: str, time_budget_s: float
) -> float:
    """The seconds to keep back from the search (``y_valid``: the out-of-fold labels)."""
    # Keep back what ensembling will cost: ~rounds x candidates metric evaluations.
    k = n_classes
    probe = (
        np.zeros((len(y_valid), k)) + 1.0 / max(k, 1)
        if task != "regression"
        else np.zeros(len(y_valid))
    )
    if task != "regression":
        probe[:, 0] += 1e-3
    metric.loss(y_valid, probe)  # the first call pays for imports
    tick = time.time()
    metric.loss(y_valid, probe)
    per_call = time.time() - tick
    # ... plus Tune's stop after its timeout (measured 1-4 s on a busy 2-core machine)
    # and collecting the kept models.
    return 2.5 + 0.06 * time_budget_s + min(20 * 40 * per_call, 0.2 * time_budget_s)


def baseline_fold_times(
    families: list[str],
    views: Mapping[str, pd.DataFrame],
    y: np.ndarray,
    fold: tuple[np.ndarray, np.ndarray],
    task: str,
    n_classes: int,
    budget: float,
    seed: int,
) -> list[dict[str, Any]]:
    """Seconds each family's cheap default configuration takes to fit on ``fold``."""
    train, valid = fold
    rows = []
    for family in families:
        learner = LEARNERS[family]
        view = views[learner.view]
        timings: list[float] = []
        # A second fit when the first was quick: the first pays one-off costs (thread
        # pools, kernels) that the search's trials, in warm workers, do not.
        while not timings or (len(timings) == 1 and timings[0] < 2.0):
            tick = time.time()
            learner.fit(
                view.iloc[train],
                y[train],
                view.iloc[valid],
                y[valid],
                learner.portfolio(len(y), task)[0],
                task,
                n_classes,
                time.time() + budget,
                seed,
            )
            timings.append(time.time() - tick)
        rows.append({"family": family, "baseline_fold_s": min(timings)})
    return rows


def cpu_slots(resources: Mapping[str, float]) -> int:
    """Trials of ``resources`` that run at once: Ray's CPUs (or this machine's) per trial."""
    cpus_per_trial = max(float(resources.get("cpu", 1.0)), 1e-9)
    try:
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_trial))
    except Exception:  # no Ray: count this machine's CPUs
        pass
    return max(1, int((os.cpu_count() or 1) // cpus_per_trial))


def estimate_table(
    rows: list[dict[str, Any]],
    n_folds: int,
    plan: str,
    budget: float,
    prepare_s: float,
    slots: int,
) -> pd.DataFrame:
    """``AutoML.estimate``'s table from the baseline fold times of :func:`baseline_fold_times`."""
    search_s = max(
        0.0, budget - prepare_s - 3.0 - (2.5 + 0.12 * budget)
    )  # Ray start, Tune's stop, ensemble reserve
    out = pd.DataFrame(rows)
    out["trial_s"] = out["baseline_fold_s"] * n_folds
    out["trials_if_alone"] = np.floor(slots * search_s / out["trial_s"]).astype(int)
    out["expected_trials"] = np.floor(out["trials_if_alone"] / len(out)).astype(int)
    total = {
        "family": "total",
        "baseline_fold_s": float(out["baseline_fold_s"].sum()),
        "trial_s": float(out["trial_s"].mean()),
        "trials_if_alone": int(slots * search_s / float(out["trial_s"].mean())),
        "expected_trials": int(out["expected_trials"].sum()),
    }
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out.attrs.update(
        {"validation": plan, "slots": slots, "search_s": search_s, "budget_s": budget}
    )
    return out
