"""``raysearch.AutoML``: give it a table and a time budget, get the best model it can find.

How ``fit`` spends the budget (every step on Ray, so a cluster's CPUs/GPUs are all used when
``RAY_ADDRESS`` names one):

1. **Prepare** the table (:class:`~raysearch.automl.features.TablePrep`) and choose the
   validation: k-fold cross-validation for tables up to ``cv_max_rows`` rows (bagging: every
   fold's model is kept and their predictions averaged), a stratified holdout above that.
2. **Baselines first**: every family's cheap default configuration runs before any search
   (the searcher's ``points_to_evaluate``), cheapest families first, then the families'
   other zero-shot configurations.
3. **Search** one conditional space across families (the family is a categorical whose
   options hold each family's hyperparameters) with a model-based searcher (TPE when
   available), while a successive-halving scheduler stops configurations whose first folds
   are poor (folds completed are the fidelity).
4. **Ensemble**: greedy ensemble selection (Caruana) over the out-of-fold predictions of the
   best models, or stacking; it is used when it beats the best single model on the same
   out-of-fold rows.

Every trial gets an absolute deadline, so fit returns within the budget (the reserve for
ensembling is kept back from the search). The data goes to Ray's object store once.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import pickle
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from raysearch._version import __version__
from raysearch.automl.ensemble import GreedyEnsemble, StackedEnsemble
from raysearch.automl.features import DataError, TablePrep
from raysearch.automl.learners import LEARNERS
from raysearch.automl.metrics import Metric, default_metric, get_metric

__all__ = ["AutoML", "load_table"]

logger = logging.getLogger("raysearch.automl")


def load_table(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame, a pyarrow Table, or a CSV/Parquet path."""
    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith("pyarrow"):
        frame: pd.DataFrame = data.to_pandas()
        return frame
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise DataError(f"data file {str(path)!r} does not exist")
        suffix = "".join(path.suffixes).lower()
        if suffix.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
        if suffix.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
            return pd.read_csv(path, sep="\t" if suffix.endswith(".tsv") else ",")
        raise DataError(f"cannot read {str(path)!r}: expected .csv, .tsv or .parquet")
    raise DataError(
        f"expected a pandas DataFrame, a pyarrow Table or a CSV/Parquet path, got {type(data).__name__}"
    )


@dataclass
class _Member:
    """A trained configuration: its fold models and out-of-fold predictions."""

    name: str
    family: str
    config: dict[str, Any]
    models: list[Any] | None  # None: not an ensemble member, its models were not kept
    score: float
    fit_time: float
    predict_time: float
    oof: np.ndarray | None = field(default=None, repr=False)
    trial_id: str = ""


#: the most of the search time one trial may take (see _fit_trial)
_TRIAL_SHARE = 0.3


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


def _import_families(families: list[str]) -> None:
    import importlib

    modules = {
        "lightgbm": ["lightgbm"],
        "xgboost": ["xgboost"],
        "mlp": ["torch", "raysearch.automl._mlp"],
    }
    modules.update({f: ["sklearn.ensemble"] for f in ("extra_trees", "random_forest")})
    for family in families:
        for module in modules.get(family, []):
            try:
                importlib.import_module(module)
            except ImportError:  # reported by the trial that needs it
                pass


def _artifact_store() -> Any:
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


class AutoML:
    """Tabular AutoML on Ray with scikit-learn conventions.

    Args:
        label: the label column.
        metric: ``roc_auc``, ``log_loss``, ``accuracy``, ``f1`` (classification), ``rmse``,
            ``mae``, ``r2`` (regression); default roc_auc (binary), log_loss (multiclass),
            rmse (regression).
        problem_type: ``binary``, ``multiclass``, ``regression``, or None to infer it.
        time_budget_s: wall time of ``fit``, everything included.
        seed: seeds the folds, the searcher and the models.
        resources: per trial, e.g. ``{"cpu": 1}`` (default) or ``{"cpu": 2, "gpu": 0.5}``.
        families: model families to search (default all: lightgbm, xgboost, extra_trees,
            random_forest, linear, knn, mlp).
        n_folds: folds of the cross-validation.
        cv_max_rows: tables with more rows use a holdout instead of cross-validation.
        ensemble: ``"greedy"`` (default), ``"stack"`` or None.
        searcher: a registered searcher name (default ``"tpe"``, ``"random"`` if TPE is missing).
        verbose: 0 silent, 1 progress lines.

    Example::

        from raysearch import AutoML
        model = AutoML(label="price", time_budget_s=60).fit("train.csv")
        model.leaderboard()
        predictions = model.predict("test.csv")
    """

    def __init__(
        self,
        label: str,
        metric: str | None = None,
        problem_type: str | None = None,
        time_budget_s: float = 60.0,
        seed: int = 0,
        resources: dict[str, float] | None = None,
        families: list[str] | None = None,
        n_folds: int = 5,
        cv_max_rows: int = 20_000,
        ensemble: str | None = "greedy",
        searcher: str = "tpe",
        verbose: int = 1,
    ) -> None:
        if not isinstance(label, str) or not label:
            raise ValueError(f"label must be a column name, got {label!r}")
        if not time_budget_s or time_budget_s <= 0:
            raise ValueError(f"time_budget_s must be > 0, got {time_budget_s!r}")
        unknown = [f for f in families or [] if f not in LEARNERS]
        if unknown:
            import difflib

            hint = difflib.get_close_matches(unknown[0], list(LEARNERS), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(
                f"unknown model family {unknown[0]!r}{extra}; known: {', '.join(LEARNERS)}"
            )
        if ensemble not in ("greedy", "stack", None):
            raise ValueError(f"ensemble must be 'greedy', 'stack' or None, got {ensemble!r}")
        if n_folds < 2:
            raise ValueError(f"n_folds must be >= 2, got {n_folds}")
        self.label = label
        self.metric = metric
        self.problem_type = problem_type
        self.time_budget_s = float(time_budget_s)
        self.seed = int(seed)
        self.resources = dict(resources or {"cpu": 1.0})
        self.families = list(families or LEARNERS)
        self.n_folds = int(n_folds)
        self.cv_max_rows = int(cv_max_rows)
        self.ensemble = ensemble
        self.searcher = searcher
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _folds(self, y: np.ndarray, task: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
        from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

        n = len(y)
        stratify = task != "regression" and np.bincount(y.astype(int)).min() >= self.n_folds
        if n <= self.cv_max_rows:
            splitter = (StratifiedKFold if stratify else KFold)(
                self.n_folds, shuffle=True, random_state=self.seed
            )
            return [
                (tr, va) for tr, va in splitter.split(np.zeros(n), y)
            ], f"{self.n_folds}-fold cross-validation"
        idx = np.arange(n)
        train, valid = train_test_split(
            idx,
            test_size=min(0.2, 10_000 / n),
            random_state=self.seed,
            stratify=y if stratify else None,
        )
        return [(np.sort(train), np.sort(valid))], f"holdout ({len(valid)} rows)"

    def _space(self, n_rows: int, task: str) -> tuple[Any, list[dict[str, Any]]]:
        from raysearch.space import Categorical, Space
        from raysearch.space.spec import obj_from_spec

        families = [
            f
            for f in self.families
            if LEARNERS[f].max_rows is None or n_rows <= (LEARNERS[f].max_rows or 0)
        ]
        if not families:
            raise DataError(f"no model family can handle {n_rows} rows among {self.families}")
        options = [{"name": f, **obj_from_spec(LEARNERS[f].space(n_rows, task))} for f in families]
        space = Space({"learner": Categorical(options)})
        by_cost = sorted(families, key=lambda f: LEARNERS[f].relative_cost)
        points = [
            {"learner": {"name": f, **LEARNERS[f].portfolio(n_rows, task)[0]}} for f in by_cost
        ]
        points += [
            {"learner": {"name": f, **cfg}}
            for f in by_cost
            for cfg in LEARNERS[f].portfolio(n_rows, task)[1:]
        ]
        return space, points

    def _make_searcher(self, space: Any, points: list[dict[str, Any]]) -> Any:
        from raysearch.core.registry import SEARCHERS

        name = self.searcher if self.searcher in SEARCHERS else "random"
        if name != self.searcher:
            logger.info("searcher %r is not available; using random search", self.searcher)
        return SEARCHERS.create(name, space=space, seed=self.seed, points_to_evaluate=points)

    def _make_scheduler(self, n_folds: int, n_baselines: int = 1) -> Any:
        from raysearch.core.registry import SCHEDULERS

        if n_folds < 3 or "asha" not in SCHEDULERS:
            return None
        try:
            return SCHEDULERS.create(
                "asha",
                seed=self.seed,
                max_t=n_folds,
                grace_period=1,
                reduction_factor=3,
                min_samples=max(1, n_baselines),  # the baselines all finish
            )
        except (TypeError, ValueError) as err:  # a scheduler with other argument names
            logger.info("not using ASHA on folds: %s", err)
            return None

    def fit(self, data: Any) -> AutoML:
        """Searches models for ``data`` within ``time_budget_s`` (see the module docstring)."""
        import ray

        import raysearch
        from raysearch.tune.run import init_ray

        start = time.time()
        deadline = start + self.time_budget_s
        frame = load_table(data)
        prep = TablePrep(self.label, self.problem_type).fit(frame)  # type: ignore[arg-type]
        task = prep.problem_type_
        assert task is not None
        metric = get_metric(self.metric or default_metric(task), task)
        frame = frame[frame[self.label].notna()]
        y = prep.encode_label(frame[self.label])
        X = frame.drop(columns=[self.label])
        folds, plan = self._folds(y, task)
        sample_rng = np.random.default_rng(self.seed)
        keep = sample_rng.choice(len(frame), min(len(frame), 2000), replace=False)
        self._train_sample = frame.iloc[np.sort(keep)]
        fold_ids = np.full(len(y), -1)
        for i, (_, valid) in enumerate(folds):
            fold_ids[valid] = i
        views = {
            "native": prep.transform_native(X),
            "numeric": prep.transform_numeric(
                X, fold_ids=np.where(fold_ids < 0, 0, fold_ids), y=y
            ),
        }
        k = len(prep.classes_ or [])
        space, points = self._space(len(y), task)
        if self.verbose:
            logger.info(
                "%s %s, %d rows x %d columns, %s, metric %s, budget %.0f s",
                "AutoML:",
                task,
                len(y),
                X.shape[1],
                plan,
                metric.name,
                self.time_budget_s,
            )
        # Unpickling the trials' models imports their libraries in this process; do it while
        # the search runs instead of after it (torch alone takes seconds).
        warmup = threading.Thread(target=_import_families, args=(self.families,), daemon=True)
        warmup.start()
        init_ray()
        prepared = time.time()
        # Keep back what ensembling will cost: ~rounds x candidates metric evaluations.
        rows_all = np.concatenate([v for _, v in folds])
        probe = (
            np.zeros((len(rows_all), k)) + 1.0 / max(k, 1)
            if task != "regression"
            else np.zeros(len(rows_all))
        )
        if task != "regression":
            probe[:, 0] += 1e-3
        metric.loss(y[rows_all], probe)  # the first call pays for imports
        tick = time.time()
        metric.loss(y[rows_all], probe)
        per_call = time.time() - tick
        # ... plus Tune's stop after its timeout (measured 1-4 s on a busy 2-core machine)
        # and collecting the kept models.
        reserve = (
            2.5 + 0.06 * self.time_budget_s + min(20 * 40 * per_call, 0.2 * self.time_budget_s)
        )
        search_deadline = deadline - reserve
        store = _artifact_store().remote(keep=25, higher_is_better=metric.higher_is_better)
        threads = max(1, int(self.resources.get("cpu", 1)))
        payload = {
            **views,
            "y": y,
            "folds": folds,
            "task": task,
            "n_classes": k,
            "metric": metric,
            "deadline": search_deadline,
            "trial_cap_s": max(1.0, _TRIAL_SHARE * (search_deadline - time.time())),
            "seed": self.seed,
            "store": store,
            "threads": threads,
        }
        from ray import tune

        trainable = tune.with_parameters(_fit_trial, data=payload)
        budget_left = search_deadline - time.time()
        if budget_left <= 1.0:
            raise ValueError(
                f"time_budget_s={self.time_budget_s} is too small for this table: data preparation took {time.time() - start:.1f} s"
            )
        with tempfile.TemporaryDirectory(prefix="raysearch-automl-") as storage:
            result = raysearch.run(
                trainable,
                space,
                metric="score",
                mode=metric.mode,
                searcher=self._make_searcher(space, points),
                scheduler=self._make_scheduler(len(folds), len(points)),
                time_budget_s=budget_left,
                num_samples=-1,
                resources=self.resources,
                storage_path=storage,
                loggers="none",
                checkpoint_every_s=None,
                verbose=self.verbose,
            )
        searched = time.time()
        warmup.join()
        items = ray.get(store.summary.remote())
        collected = time.time()
        try:
            self._finish(items, result.leaderboard, prep, metric, task, k, y, folds, plan)
            used = [m for m in self.members_.values() if self._used(m)]
            fetched = ray.get(store.models.remote([m.trial_id for m in used]))
            for m in used:
                m.models = pickle.loads(fetched[m.trial_id])
        finally:
            ray.kill(store)
        self.fit_time_s_ = time.time() - start
        if self.verbose:
            top = self.leaderboard_.iloc[0]
            logger.info(
                "AutoML: best %s %s = %.6g (%d trials, %d models kept) in %.1f s",
                top["model"],
                metric.name,
                top["score"],
                len(self.trials_),
                len(self.members_),
                self.fit_time_s_,
            )
        self.timings_ = {
            "prepare_s": prepared - start,
            "search_s": searched - prepared,
            "collect_s": collected - searched,
            "ensemble_s": time.time() - collected,
        }
        return self

    def _finish(self, items, board, prep, metric, task, k, y, folds, plan):  # type: ignore[no-untyped-def]
        if not items:
            raise RuntimeError(
                "no model finished within the time budget; raise time_budget_s "
                f"(it was {self.time_budget_s} s for {len(y)} rows)"
            )
        members = []
        for trial_id, item in items.items():
            members.append(
                _Member(
                    f"{item['family']}_{trial_id}",
                    item["family"],
                    item["config"],
                    None,
                    float(item["score"]),
                    item["fit_time"],
                    item["predict_time"],
                    item["oof"],
                    trial_id,
                )
            )
        sign = -1.0 if metric.higher_is_better else 1.0
        members.sort(key=lambda m: sign * m.score)
        rows = np.concatenate([v for _, v in folds])
        self.prep_, self.metric_, self.task_, self.n_classes_ = prep, metric, task, k
        self.validation_ = plan
        self.members_ = {m.name: m for m in members}
        self.weights_: dict[str, float] = {members[0].name: 1.0}
        self.stack_: StackedEnsemble | None = None
        self.ensemble_score_: float | None = None
        best = members[0]
        if self.ensemble and len(members) > 1:
            preds = {m.name: m.oof[rows] for m in members if m.oof is not None}
            if self.ensemble == "greedy":
                greedy = GreedyEnsemble().fit(preds, y[rows], metric.loss, rounds=40)
                if greedy.loss < metric.loss(y[rows], best.oof[rows]) - 1e-12:  # type: ignore[index]
                    self.weights_ = greedy.weights
                    self.ensemble_score_ = sign * greedy.loss
            else:
                stack = StackedEnsemble(classification=task != "regression", seed=self.seed)
                stack.fit(preds, y[rows], metric.loss)
                if stack.loss < metric.loss(y[rows], best.oof[rows]):  # type: ignore[index]
                    self.stack_ = stack
                    self.ensemble_score_ = sign * stack.loss
        for m in members:
            m.oof = None  # not needed for prediction; keeps saved models small
        self.best_config_ = {"family": best.family, **best.config}
        self.classes_ = None if task == "regression" else list(prep.classes_)
        records = []
        for m in members:
            records.append(
                {
                    "model": m.name,
                    "family": m.family,
                    "score": m.score,
                    "fit_time_s": m.fit_time,
                    "predict_time_s": m.predict_time,
                    "in_ensemble": m.name in self.weights_
                    or (self.stack_ is not None and m.name in self.stack_.members),
                }
            )
        if self.ensemble_score_ is not None:
            names = list(self.stack_.members) if self.stack_ is not None else list(self.weights_)
            records.append(
                {
                    "model": "ensemble" if self.stack_ is None else "stack",
                    "family": "ensemble",
                    "score": self.ensemble_score_,
                    "fit_time_s": sum(self.members_[n].fit_time for n in names),
                    "predict_time_s": sum(self.members_[n].predict_time for n in names),
                    "in_ensemble": True,
                }
            )
        board_frame = pd.DataFrame(records)
        self.leaderboard_ = board_frame.sort_values(
            "score", ascending=not metric.higher_is_better, kind="stable"
        ).reset_index(drop=True)
        self.trials_ = board

    # ------------------------------------------------------------------ budget estimate
    def estimate(self, data: Any, time_budget_s: float | None = None) -> pd.DataFrame:
        """How many trials of each family fit in a budget, from measured baselines.

        Each family's cheap default configuration is fitted once on the first validation
        fold of ``data`` here (no Ray needed); a trial costs that times the number of folds.
        With ``slots`` trials running at once (Ray's CPUs, or this machine's, divided by the
        CPUs per trial) and the search's share of the budget, the table gives the trials
        each family would get alone (``trials_if_alone``), an equal share across the
        families (``expected_trials``) and, in the last row, the expected total.
        """
        budget = float(time_budget_s or self.time_budget_s)
        start = time.time()
        frame = load_table(data)
        prep = TablePrep(self.label, self.problem_type).fit(frame)  # type: ignore[arg-type]
        task = prep.problem_type_
        assert task is not None
        frame = frame[frame[self.label].notna()]
        y = prep.encode_label(frame[self.label])
        X = frame.drop(columns=[self.label])
        folds, plan = self._folds(y, task)
        views = {"native": prep.transform_native(X), "numeric": prep.transform_numeric(X)}
        k = len(prep.classes_ or [])
        prepare_s = time.time() - start
        train, valid = folds[0]
        rows = []
        families = [
            f
            for f in self.families
            if LEARNERS[f].max_rows is None or len(y) <= (LEARNERS[f].max_rows or 0)
        ]
        _import_families(families)  # time the fits, not the first import of their libraries
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
                    k,
                    time.time() + budget,
                    self.seed,
                )
                timings.append(time.time() - tick)
            rows.append({"family": family, "baseline_fold_s": min(timings)})
        slots = self._slots()
        search_s = max(
            0.0, budget - prepare_s - 3.0 - (2.5 + 0.12 * budget)
        )  # Ray start, Tune's stop, ensemble reserve
        out = pd.DataFrame(rows)
        out["trial_s"] = out["baseline_fold_s"] * len(folds)
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

    def _slots(self) -> int:
        cpus_per_trial = max(float(self.resources.get("cpu", 1.0)), 1e-9)
        try:
            import ray

            if ray.is_initialized():
                return max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_trial))
        except Exception:  # no Ray: count this machine's CPUs
            pass
        return max(1, int((os.cpu_count() or 1) // cpus_per_trial))

    # ------------------------------------------------------------------ predict
    def _used(self, member: _Member) -> bool:
        """Whether the final prediction uses this member."""
        if self.stack_ is not None:
            return member.name in self.stack_.members
        return member.name in self.weights_

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise RuntimeError("this AutoML is not fitted yet: call fit() first")

    def _member_pred(self, member: _Member, views: dict[str, pd.DataFrame]) -> np.ndarray:
        learner = LEARNERS[member.family]
        view = views[learner.view]
        if member.models is None:
            raise RuntimeError(f"{member.name} is not in the ensemble; its models were not kept")
        preds = [
            learner.predict(model, view, self.task_, self.n_classes_) for model in member.models
        ]
        return np.mean(preds, axis=0)

    def _raw_predict(self, data: Any) -> np.ndarray:
        self._check_fitted()
        frame = load_table(data)
        X = frame.drop(columns=[self.label]) if self.label in frame.columns else frame
        views = {
            "native": self.prep_.transform_native(X),
            "numeric": self.prep_.transform_numeric(X),
        }
        if self.stack_ is not None:
            preds = {
                name: self._member_pred(self.members_[name], views) for name in self.stack_.members
            }
            return self.stack_.predict(preds)
        total = sum(self.weights_.values())
        return sum(
            w / total * self._member_pred(self.members_[n], views)
            for n, w in self.weights_.items()
        )  # type: ignore[return-value]

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities ``(n, k)``, columns in the order of :attr:`classes_`."""
        if getattr(self, "task_", None) == "regression":
            raise AttributeError("predict_proba is for classification; this is a regression model")
        return self._raw_predict(data)

    def predict(self, data: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression)."""
        raw = self._raw_predict(data)
        if self.task_ == "regression":
            return np.asarray(raw, dtype=float)
        return self.prep_.decode_label(np.asarray(raw).argmax(axis=1))

    def score(self, data: Any) -> float:
        """The metric on labelled ``data`` (in the metric's own direction)."""
        frame = load_table(data)
        if self.label not in frame.columns:
            raise DataError(f"score() needs the label column {self.label!r}")
        y = self.prep_.encode_label(frame[self.label])
        return float(self.metric_(y, self._raw_predict(frame)))

    def leaderboard(self) -> pd.DataFrame:
        """Models by validation score (best first): model, family, score, fit and predict time."""
        self._check_fitted()
        return self.leaderboard_.copy()

    def feature_importance(
        self, data: Any = None, *, n_repeats: int = 3, max_rows: int = 2000
    ) -> pd.Series:
        """Permutation importance of each input column: how much the metric worsens when the
        column is shuffled, on labelled ``data`` (training data if None: an optimistic view)."""
        self._check_fitted()
        frame = load_table(data) if data is not None else self._train_sample
        if self.label not in frame.columns:
            raise DataError(f"feature_importance() needs the label column {self.label!r}")
        rng = np.random.default_rng(self.seed)
        if len(frame) > max_rows:
            frame = frame.iloc[rng.choice(len(frame), max_rows, replace=False)]
        y = self.prep_.encode_label(frame[self.label])
        base = self.metric_.loss(y, self._raw_predict(frame))
        out = {}
        for column in [c.name for c in self.prep_.columns_]:
            losses = []
            for _ in range(n_repeats):
                shuffled = frame.copy()
                shuffled[column] = frame[column].to_numpy()[rng.permutation(len(frame))]
                losses.append(self.metric_.loss(y, self._raw_predict(shuffled)))
            out[column] = float(np.mean(losses) - base)
        return pd.Series(out, name="importance").sort_values(ascending=False)

    # ------------------------------------------------------------------ persistence
    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the fitted model to the directory ``path`` (created)."""
        self._check_fitted()
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        (directory / "automl.pkl").write_bytes(buffer.getvalue())
        info = {
            "raysearch": __version__,
            "label": self.label,
            "metric": self.metric_.name,
            "problem_type": self.task_,
            "classes": [str(c) for c in self.classes_ or []],
            "members": {n: w for n, w in self.weights_.items()},
        }
        (directory / "info.json").write_text(json.dumps(info, indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AutoML:
        """Reads a model written by :meth:`save`."""
        directory = Path(path)
        file = directory / "automl.pkl"
        if not file.exists():
            raise FileNotFoundError(
                f"no saved AutoML model in {str(directory)!r} (automl.pkl missing)"
            )
        info = (
            json.loads((directory / "info.json").read_text())
            if (directory / "info.json").exists()
            else {}
        )
        if info.get("raysearch") not in (None, __version__):
            logger.warning(
                "model saved by raysearch %s, loading with %s", info.get("raysearch"), __version__
            )
        with open(file, "rb") as f:
            model = pickle.load(f)
        if not isinstance(model, cls):
            raise TypeError(f"{str(file)!r} does not hold a raysearch AutoML model")
        return model
