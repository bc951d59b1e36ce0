"""What AutoML's search runs on Ray: the trial, and the actor keeping the best models.

* :func:`trial_trainable`: the Tune trainable; a trial fits one configuration on every
  validation fold (under its own deadline) and reports after each fold, so a scheduler can
  stop a poor configuration after its first folds;
* :func:`artifact_store`: the actor class the finished trials send their fold models and
  out-of-fold predictions to; it keeps the best few per family;
* :func:`import_families`: imports the families' libraries (to time fits, not imports, and
  to unpickle models without waiting on them).
"""

from __future__ import annotations

import math
import pickle
import time
from typing import Any

import numpy as np

from raysearch.automl.learners import LEARNERS
from raysearch.automl.metrics import Metric

__all__ = ["TRIAL_SHARE", "trial_trainable", "artifact_store", "import_families"]

#: the most of the search time one trial may take (see _fit_trial)
TRIAL_SHARE = 0.3


def _fit_trial(config: dict[str, Any], data: dict[str, Any]) -> None:
    """A Tune trial: one configuration over the validation folds (reports after each fold)."""
    from ray import tune

    spec = dict(config["learner"])
    family = spec.pop("name")
    learner = LEARNERS[family]
    view = data[learner.view]
    y, folds, task, k = data["y"], data["folds"], data["task"], data["n_classes"]
    metric: Metric = data["metric"]
    oof = np.full((len(y), k) if task != "regression" else len(y), np.nan)
    models, fit_time, predict_time, scores = [], 0.0, 0.0, []
    # A trial's own deadline: at most a share of the whole search, so that one slow
    # configuration (low learning rate, big trees, 10 classes) cannot hold a worker for the
    # rest of the budget and then be cut off with no usable model.
    trial_deadline = min(data["deadline"], time.time() + data["trial_cap_s"])
    for i, (train, valid) in enumerate(folds):
        start = time.time()
        # a fold with hardly any time left is not started (its trial would be incomplete and
        # unusable anyway)
        if start > trial_deadline or (i and start + 0.25 * fit_time / i > trial_deadline):
            break
        # what is left is shared among the folds still to fit (less a margin for predicting):
        # boosting and forests stop early at their fold's deadline, so a slow configuration
        # still completes every fold (with fewer rounds or trees) and becomes a candidate
        fold_deadline = start + 0.85 * (trial_deadline - start) / (len(folds) - i)
        model = learner.fit(
            view.iloc[train],
            y[train],
            view.iloc[valid],
            y[valid],
            spec,
            task,
            k,
            fold_deadline,
            data["seed"] + i,
            threads=data["threads"],
        )
        mid = time.time()
        pred = learner.predict(model, view.iloc[valid], task, k)
        predict_time += time.time() - mid
        fit_time += mid - start
        oof[valid] = pred
        models.append(model)
        scores.append(metric(y[valid], pred))
        done = i + 1 == len(folds)
        result = {"score": float(np.mean(scores)), "folds": i + 1, "family": family}
        if done:
            rows = np.concatenate([v for _, v in folds])
            result["score"] = metric(y[rows], oof[rows])
            data["store"].put.remote(
                tune.get_context().get_trial_id(),
                {
                    "family": family,
                    "config": spec,
                    # pickled here, once: the store and the driver pass bytes around and only
                    # the members that are used are unpickled (big boosters are slow to load)
                    "models": pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL),
                    "oof": oof,
                    "score": result["score"],
                    "fit_time": fit_time,
                    "predict_time": predict_time,
                },
            )
        tune.report(result)
    if not scores:  # the deadline came before the first fold: say so rather than nothing
        tune.report({"score": float("nan"), "folds": 0, "family": family})


def trial_trainable(payload: dict[str, Any]) -> Any:
    """The Tune trainable of the search: trials read ``payload`` (the table views, labels,
    folds, metric, deadlines and the artifact store) from Ray's object store."""
    from ray import tune

    return tune.with_parameters(_fit_trial, data=payload)


def import_families(families: list[str]) -> None:
    """Imports the libraries of ``families`` (a missing one is left to the trial that needs it)."""
    import importlib

    modules = {
        "lightgbm": ["lightgbm"],
        "xgboost": ["xgboost"],
        "mlp": ["torch", "raysearch.automl.mlp"],
    }
    modules.update({f: ["sklearn.ensemble"] for f in ("extra_trees", "random_forest")})
    for family in families:
        for module in modules.get(family, []):
            try:
                importlib.import_module(module)
            except ImportError:  # reported by the trial that needs it
                pass


def artifact_store() -> Any:
    """The ``ArtifactStore`` actor class (``.remote(keep=..., higher_is_better=...)``)."""
    import ray

    @ray.remote(num_cpus=0)
    class ArtifactStore:
        """Keeps the fold models and out-of-fold predictions of the best trials."""

        def __init__(self, keep: int, higher_is_better: bool, per_family: int = 3) -> None:
            self.keep = keep
            self.per_family = per_family
            self.sign = -1.0 if higher_is_better else 1.0
            self.items: dict[str, dict[str, Any]] = {}

        def put(self, trial_id: str, payload: dict[str, Any]) -> None:
            if not math.isfinite(payload["score"]):
                return
            self.items[trial_id] = payload
            if len(self.items) <= self.keep:
                return
            # Evict the worst model that is not among the best few of its family: one strong
            # family must not crowd the others out of the leaderboard and the ensemble,
            # which gains most from diverse members.
            ranked = sorted(self.items, key=lambda t: self.sign * self.items[t]["score"])
            seen: dict[str, int] = {}
            evictable = []
            for t in ranked:
                family = self.items[t]["family"]
                seen[family] = seen.get(family, 0) + 1
                if seen[family] > self.per_family:
                    evictable.append(t)
            del self.items[(evictable or ranked)[-1]]

        def summary(self) -> dict[str, dict[str, Any]]:
            """Everything but the fold models (scores, configs, out-of-fold predictions)."""
            return {
                t: {k: v for k, v in p.items() if k != "models"} for t, p in self.items.items()
            }

        def models(self, trial_ids: list[str]) -> dict[str, bytes]:
            """The pickled fold models of these trials (only the ensemble's are fetched: a
            forest's folds can be tens of MB)."""
            return {t: self.items[t]["models"] for t in trial_ids}

    return ArtifactStore
