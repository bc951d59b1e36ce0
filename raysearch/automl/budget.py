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

__all__ = [
    "ensemble_reserve",
    "baseline_fold_times",
    "cpu_slots",
    "estimate_table",
    "folds_per_trial",
    "TRIAL_OVERHEAD_S",
]


def ensemble_reserve(
    metric: Metric,
    y_valid: np.ndarray,
    n_classes: int,
    task: str,
    time_budget_s: float,
    *,
    ray_start_s: float = 0.0,
) -> float:
    """The seconds to keep back from the search (``y_valid``: the out-of-fold labels;
    ``ray_start_s``: how long starting Ray took, a measure of how busy the machine is)."""
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
    # ... plus Tune's stop after its timeout, collecting the kept models and greedy
    # selection (which stops at fit's deadline: its share here is ~200 metric calls).
    # Measured on a 2-core machine: stop + ensemble 1-2 s when idle; 1.6-8 s at load 20,
    # when starting Ray is slow too (12-21 s instead of 3-5 s): a fifth of Ray's start-up
    # beyond 3 s is kept back for that. Fit ends within 5% of the budget, on either side
    # (issue #19; the bench's fit_s / budget_s).
    busy = min(0.2 * max(ray_start_s - 3.0, 0.0), 0.08 * time_budget_s)
    return _base_reserve(time_budget_s) + busy + min(200 * per_call, 0.05 * time_budget_s)


def _base_reserve(time_budget_s: float) -> float:
    """The reserve's fixed part, for an idle machine (``estimate_table`` counts it too)."""
    return 1.5 + 0.015 * time_budget_s


#: Tune's own time per trial beyond its folds (scheduling, reporting, the searcher's
#: suggestion): about 0.06 s measured on a busy 2-core machine
TRIAL_OVERHEAD_S = 0.06


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
    """Seconds a trial of each family spends on ``fold``: fitting and predicting, averaged
    over the family's starting configurations (those the search evaluates first; the cheap
    default alone is several times faster than the configurations the search goes on to)."""
    train, valid = fold
    rows = []
    for family in families:
        learner = LEARNERS[family]
        view = views[learner.view]
        per_config = []
        for config in learner.portfolio(len(y), task):
            timings: list[float] = []
            # A second fit when the first was quick: the first pays one-off costs (thread
            # pools, kernels) that the search's trials, in warm workers, do not.
            while not timings or (len(timings) == 1 and timings[0] < 2.0):
                tick = time.time()
                model = learner.fit(
                    view.iloc[train],
                    y[train],
                    view.iloc[valid],
                    y[valid],
                    config,
                    task,
                    n_classes,
                    time.time() + budget,
                    seed,
                )
                learner.predict(model, view.iloc[valid], task, n_classes)
                timings.append(time.time() - tick)
            per_config.append(min(timings))
        rows.append({"family": family, "baseline_fold_s": float(np.mean(per_config))})
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


def folds_per_trial(n_folds: int, reduction_factor: int = 3) -> float:
    """The mean folds a trial runs under the search's ASHA over folds (grace period 1, see
    ``make_scheduler``): every trial runs one fold, a ``1/reduction_factor`` share of them
    goes on to each next rung. All ``n_folds`` with fewer than 3 folds (no ASHA)."""
    if n_folds < 3:
        return float(n_folds)
    rungs = [1]
    while rungs[-1] * reduction_factor < n_folds:
        rungs.append(rungs[-1] * reduction_factor)
    rungs.append(n_folds)
    return float(
        rungs[0]
        + sum((rungs[k] - rungs[k - 1]) / reduction_factor**k for k in range(1, len(rungs)))
    )


def estimate_table(
    rows: list[dict[str, Any]],
    n_folds: int,
    plan: str,
    budget: float,
    prepare_s: float,
    slots: int,
) -> pd.DataFrame:
    """``AutoML.estimate``'s table from the baseline fold times of :func:`baseline_fold_times`.

    A trial costs its folds (the mean under ASHA, :func:`folds_per_trial`) plus Tune's
    overhead (``trial_s``). The searcher has no reason
    to prefer a family before it has scores, so the expected trials are an equal number per
    family (``expected_trials``): the search's slot-seconds over the mean trial time, shared
    out. ``trials_if_alone`` is what one family would get with the search to itself. The
    ``total`` row: the mean fold and trial times, and the whole search's trials (the sum of
    the families' expected trials, in both columns), so that its trials times its mean trial
    time is the search's slot-seconds.
    """
    search_s = max(
        0.0, budget - prepare_s - 3.0 - _base_reserve(budget)
    )  # Ray start, Tune's stop, ensemble reserve
    out = pd.DataFrame(rows)
    out["trial_s"] = out["baseline_fold_s"] * folds_per_trial(n_folds) + TRIAL_OVERHEAD_S
    slot_seconds = slots * search_s
    out["trials_if_alone"] = np.floor(slot_seconds / out["trial_s"]).astype(int)
    trials = int(slot_seconds / float(out["trial_s"].mean()))
    share = np.full(len(out), trials // len(out))
    share[: trials % len(out)] += 1  # the remainder to the first families
    out["expected_trials"] = share
    total = {
        "family": "total",
        "baseline_fold_s": float(out["baseline_fold_s"].mean()),
        "trial_s": float(out["trial_s"].mean()),
        "trials_if_alone": trials,
        "expected_trials": trials,
    }
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    out.attrs.update(
        {"validation": plan, "slots": slots, "search_s": search_s, "budget_s": budget}
    )
    return out
