"""The AutoML part of a report: leaderboard, ensemble weights, per-family scores, times.

It reads a fitted :class:`raysearch.AutoML` (or the model directory ``AutoML.save`` wrote:
``automl.pkl`` and ``info.json``): its ``leaderboard_`` (kept models: score, fit and predict
time, in the ensemble or not), ``weights_`` (greedy ensemble) or ``stack_`` (stacking) and
``trials_`` (every trial of the search, failed ones with their error line).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysearch.report.figures import DENSE, new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["AutoMLSummary", "is_model_dir", "load_automl", "summarize"]

_FAMILY = "config/learner/name"


@dataclass
class AutoMLSummary:
    """What a report shows of a fitted AutoML model.

    Attributes:
        metric: the validation metric; ``higher_is_better`` its direction.
        board: the models' leaderboard (best first).
        weights: the ensemble's weight per model ({} when the best model alone predicts).
        trials: the search's trials (Tune's leaderboard: score, config/..., error).
        facts: fit time, validation, phases, ... as ``(label, text)``.
    """

    metric: str
    higher_is_better: bool
    board: pd.DataFrame
    weights: dict[str, float]
    trials: pd.DataFrame | None
    facts: list[tuple[str, str]] = field(default_factory=list)


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / "automl.pkl").exists()


def load_automl(path: str | os.PathLike[str]) -> Any:
    """The AutoML model saved in ``path``."""
    from raysearch.automl.api import AutoML

    return AutoML.load(path)


def summarize(model: Any) -> AutoMLSummary:
    """The report's view of a fitted AutoML model."""
    metric = getattr(model, "metric_", None)
    stack = getattr(model, "stack_", None)
    if stack is not None:
        weights = {str(n): 1.0 / len(stack.members) for n in stack.members}
    else:
        weights = {str(k): float(v) for k, v in (getattr(model, "weights_", {}) or {}).items()}
    facts = [
        ("problem", f"{getattr(model, 'task_', '?')}, label {getattr(model, 'label', '?')!r}"),
        ("validation", str(getattr(model, "validation_", "?"))),
        ("fit time", f"{float(getattr(model, 'fit_time_s_', math.nan)):.1f} s"),
        ("ensemble", "stacking" if stack is not None else f"{len(weights)} model(s), greedy"),
    ]
    timings = getattr(model, "timings_", None) or {}
    if timings:
        facts.append(("phases", ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in timings.items())))
    return AutoMLSummary(
        metric=str(getattr(metric, "name", "score")),
        higher_is_better=bool(getattr(metric, "higher_is_better", False)),
        board=model.leaderboard_.copy(),
        weights=weights,
        trials=getattr(model, "trials_", None),
        facts=facts,
    )


def ensemble_weights(summary: AutoMLSummary) -> Figure | None:
    """The ensemble's weight per model."""
    if not summary.weights:
        return None
    items = sorted(summary.weights.items(), key=lambda kv: kv[1])
    fig = new_figure(6.0, 0.9 + 0.3 * len(items))
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items], color="C2")
    ax.set_xlabel("weight in the ensemble")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def family_scores(summary: AutoMLSummary) -> Figure | None:
    """Every finished trial's validation score, one column per model family; the kept
    models ringed."""
    trials = summary.trials
    if trials is None or len(trials) == 0 or _FAMILY not in trials.columns:
        return None
    ok = trials[(trials["status"] == "TERMINATED") & trials["score"].notna()]
    families = sorted(ok[_FAMILY].astype(str).unique())
    if not families:
        return None
    fig = new_figure(max(5.0, 1.1 * len(families) + 1.5), 3.8)
    ax = fig.subplots()
    rng = np.random.default_rng(0)  # jitter only: the same picture every time
    dense = len(ok) > DENSE
    for i, family in enumerate(families):
        scores = ok.loc[ok[_FAMILY].astype(str) == family, "score"].to_numpy(dtype=float)
        x = i + rng.uniform(-0.18, 0.18, len(scores))
        ax.scatter(x, scores, s=14, alpha=0.6, color=f"C{i % 10}", rasterized=dense)
        kept = summary.board[summary.board["family"] == family]["score"].to_numpy(dtype=float)
        ax.scatter(np.full(len(kept), i), kept, s=60, facecolors="none", edgecolors="k", lw=1)
    ax.set_xticks(range(len(families)), families, rotation=15, fontsize=8)
    better = "higher" if summary.higher_is_better else "lower"
    ax.set_ylabel(f"{summary.metric} ({better} is better)")
    ax.set_title("validation score of every trial by family (rings: models kept)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    return fig


def fit_predict_times(summary: AutoMLSummary) -> Figure | None:
    """Fit time against predict time of the kept models (ensemble members filled)."""
    board = summary.board[summary.board["family"] != "ensemble"]
    if len(board) == 0:
        return None
    fig = new_figure(5.5, 4.0)
    ax = fig.subplots()
    for i, (family, group) in enumerate(board.groupby("family", sort=True)):
        fit = group["fit_time_s"].to_numpy(dtype=float)
        predict = group["predict_time_s"].to_numpy(dtype=float)
        used = group["in_ensemble"].to_numpy(dtype=bool)
        color = f"C{i % 10}"
        ax.scatter(fit[used], predict[used], s=40, color=color, label=str(family))
        ax.scatter(fit[~used], predict[~used], s=40, facecolors="none", edgecolors=color)
    positive = board[["fit_time_s", "predict_time_s"]].to_numpy(dtype=float)
    if (positive > 0).all():
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("fit time (s, all folds)")
    ax.set_ylabel("predict time (s)")
    ax.legend(fontsize=8, title="filled: in the ensemble", title_fontsize=8)
    ax.grid(alpha=0.3)
    return fig
