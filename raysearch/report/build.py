"""Assembles a report: the sections that fit what ran, in the page's order.

* an experiment (raysearch or Ray Tune): summary, best so far, learning curves (with rungs),
  PBT lineage and schedule, Pareto front, parallel coordinates, importance, leaderboard,
  failed trials;
* an AutoML model: summary, leaderboard of the models, ensemble weights, scores by family,
  fit/predict times, failed trials of its search.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from raysearch.report import automl as automl_plots
from raysearch.report import curves, pbt, plots
from raysearch.report.data import Experiment, Trial
from raysearch.report.figures import fmt, losses, param_columns
from raysearch.report.importance import MIN_TRIALS, permutation_importance
from raysearch.report.page import Section, figure_section, frame_table, page, table_section

__all__ = ["experiment_page", "automl_page"]

#: leaderboard rows shown
TOP = 20


def _facts(experiment: Experiment) -> list[tuple[str, str]]:
    trials = experiment.trials
    count: dict[str, int] = {}
    for t in trials:
        count[t.status] = count.get(t.status, 0) + 1
    facts = [
        ("directory", str(experiment.path)),
        ("metric", f"{experiment.metric} ({experiment.mode or 'mode unknown: pass --mode'})"),
        ("trials", ", ".join(f"{n} {s.lower()}" for s, n in sorted(count.items()))),
    ]
    best = _best(experiment)
    if best is not None:
        facts.append(
            (
                "best",
                f"{experiment.metric} = {fmt(best.value(experiment.metric or ''))} "
                f"(trial {best.trial_id})",
            )
        )
        facts.append(("best config", ", ".join(f"{k}={fmt(v)}" for k, v in best.config.items())))
    for key in ("searcher", "scheduler"):
        state = getattr(experiment, key)
        if isinstance(state, dict) and state.get("class"):
            facts.append((key, str(state["class"]).rsplit(":", 1)[-1]))
        elif experiment.info.get(key) and "object at 0x" not in str(experiment.info[key]):
            facts.append((key, str(experiment.info[key])[:160]))
    return facts


def _best(experiment: Experiment) -> Trial | None:
    finished = experiment.finished()
    if not finished:
        return None
    loss = losses(experiment, finished)
    return finished[int(np.nanargmin(loss))]


def _importance(experiment: Experiment, trials: list[Trial], columns: list[Any]) -> Section | None:
    if len(trials) < MIN_TRIALS or not columns:
        return None
    X = np.column_stack([c.values for c in columns])
    shares = permutation_importance(X, losses(experiment, trials), [c.name for c in columns])
    return figure_section(
        "importance",
        "Parameter importance",
        plots.importance_bars(shares),
        "Permutation importance of a random forest fitted to the finished trials (3 folds: "
        "the importance is measured on the trials the forest did not see, so noise scores "
        "about 0); the metric is ranked first. It shows which parameters mattered in the "
        "region the search explored, not everywhere.",
    )


def _leaderboard(experiment: Experiment, trials: list[Trial]) -> Section | None:
    if not trials:
        return None
    metric = experiment.metric or ""
    ranked = sorted(trials, key=lambda t: experiment.sign * (t.value(metric) or math.inf))
    names: dict[str, None] = {}
    for t in ranked[:TOP]:
        names.update(dict.fromkeys(t.config))
    others = [m for m, _ in experiment.objectives if m != metric]
    columns = ["trial", metric, *others, *names, "iterations", "seconds"]
    rows = [
        [
            t.trial_id,
            t.value(metric),
            *[t.value(m) for m in others],
            *[t.config.get(n) for n in names],
            t.metrics.get("training_iteration"),
            t.metrics.get("time_total_s"),
        ]
        for t in ranked[:TOP]
    ]
    note = f"the best {min(TOP, len(ranked))} of {len(ranked)} finished trials"
    return table_section("leaderboard", "Leaderboard", columns, rows, note)


def _failed(trials: list[tuple[str, Any]]) -> Section | None:
    if not trials:
        return None
    rows = [[trial_id, ("err", error or "(no error line recorded)")] for trial_id, error in trials]
    return table_section(
        "failed-trials",
        f"Failed trials ({len(trials)})",
        ["trial", "error"],
        rows[:200],
        "the last line of each trial's error; the traceback is in its directory's error.txt",
    )


def experiment_page(experiment: Experiment, refresh_s: float | None = None) -> str:
    """The report page of an experiment."""
    finished = experiment.finished()
    columns = param_columns(experiment, finished)
    importance = _importance(experiment, finished, columns)
    lineage = experiment.lineage
    sections: list[Section | None] = [
        figure_section(
            "best-so-far",
            "Best so far",
            plots.best_so_far(experiment),
            "each dot a trial's final value; the red line the best up to then. Compute is "
            "the trials' own run time summed (what the search cost on one worker).",
        ),
        figure_section("learning-curves", "Learning curves", curves.learning_curves(experiment)),
        figure_section(
            "pbt-lineage", "PBT lineage", pbt.exploit_graph(lineage) if lineage else None
        ),
        figure_section(
            "pbt-schedule",
            "Hyperparameter schedule of the best member",
            pbt.schedule(lineage) if lineage else None,
            "the best member's schedule (red, inherited from its donors) over the population's "
            "(grey); circles mark its exploits",
        ),
        figure_section("pareto-front", "Pareto front", plots.pareto_front(experiment)),
        figure_section(
            "parallel-coordinates",
            "Parallel coordinates",
            plots.parallel_coordinates(experiment, finished, columns),
            "conditional parameters are crossed only by the trials where they were active",
        ),
        importance,
        _leaderboard(experiment, finished),
        _failed([(t.trial_id, t.error) for t in experiment.failed()]),
    ]
    name = experiment.path.resolve().name
    return page(
        f"raysearch report: {name}",
        f"{len(experiment.trials)} trials, {experiment.metric} ({experiment.mode})",
        _facts(experiment),
        sections,
        refresh_s,
    )


def automl_page(model: Any, name: str) -> str:
    """The report page of a fitted AutoML model."""
    summary = automl_plots.summarize(model)
    board = frame_table(
        summary.board,
        ["model", "family", "score", "fit_time_s", "predict_time_s", "in_ensemble"],
        TOP,
    )
    board = board.replace(
        "<table>", '<table data-plot="automl-leaderboard" id="plot-automl-leaderboard">', 1
    )
    failed = []
    trials = summary.trials
    if trials is not None and len(trials) and "status" in trials.columns:
        bad = trials[trials["status"] == "ERROR"]
        failed = [(str(r["trial_id"]), r.get("error")) for _, r in bad.iterrows()]
    sections: list[Section | None] = [
        Section("automl-leaderboard", "Models", board, f"validation {summary.metric}, best first"),
        figure_section(
            "ensemble-weights", "Ensemble weights", automl_plots.ensemble_weights(summary)
        ),
        figure_section("family-scores", "Scores by family", automl_plots.family_scores(summary)),
        figure_section(
            "fit-predict-times", "Fit and predict times", automl_plots.fit_predict_times(summary)
        ),
        _failed(failed),
    ]
    n_trials = 0 if trials is None else len(trials)
    best = summary.board.iloc[0]
    facts = [
        *summary.facts,
        ("best", f"{best['model']}: {summary.metric} = {fmt(float(best['score']))}"),
        ("trials", str(n_trials)),
    ]
    return page(
        f"raysearch AutoML report: {name}",
        f"{len(summary.board)} models kept from {n_trials} trials, {summary.metric}",
        facts,
        sections,
    )
