"""The trial plots of a report: best so far, parallel coordinates, importance, Pareto front.

Each function takes the :class:`~raysearch.report.data.Experiment` (and what it needs) and
returns a matplotlib ``Figure``, or None when the experiment has nothing to draw there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from raysearch.report.data import Experiment, Trial
from raysearch.report.figures import DENSE, ParamColumn, losses, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["best_so_far", "parallel_coordinates", "importance_bars", "pareto_front"]


def _times(trials: list[Trial]) -> tuple[np.ndarray, np.ndarray] | None:
    """(wall-clock seconds since the first trial started, cumulative trial seconds) at the
    end of each trial; None without end times."""
    ends = np.array([math.nan if t.end_time is None else t.end_time for t in trials])
    spent = np.array([float(t.metrics.get("time_total_s") or 0.0) for t in trials])
    if not np.isfinite(ends).any():
        return None
    start = float(np.nanmin(ends - spent))
    return ends - start, np.cumsum(spent)


def best_so_far(experiment: Experiment) -> Figure | None:
    """The metric of every finished trial and the best so far, against trials ended (failed
    ones included), wall time and compute (the trials' summed run time)."""
    trials = [t for t in experiment.trials if t.status in ("TERMINATED", "ERROR")]
    loss = losses(experiment, trials)
    # a failed trial's last report is no result: it counts as a trial, not as a value
    loss[[t.status == "ERROR" for t in trials]] = math.nan
    if not np.isfinite(loss).any():
        return None
    value = experiment.sign * loss
    best = experiment.sign * np.fmin.accumulate(np.where(np.isfinite(loss), loss, np.inf))
    best[~np.isfinite(best)] = math.nan
    times = _times(trials)
    axes_x: list[tuple[str, np.ndarray]] = [("trials ended", np.arange(1, len(trials) + 1))]
    if times is not None:
        axes_x += [("wall time (s)", times[0]), ("compute: trial time summed (s)", times[1])]
    fig = new_figure(4.0 * len(axes_x), 3.2)
    axes = fig.subplots(1, len(axes_x), sharey=True, squeeze=False)[0]
    dense = len(trials) > DENSE
    for ax, (label, x) in zip(axes, axes_x):
        ax.scatter(x, value, s=8, color="0.6", alpha=0.6, label="trial", rasterized=dense)
        ax.step(x, best, where="post", color="C3", lw=1.8, label="best so far")
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(experiment.metric or "")
    axes[0].legend(fontsize=8, loc="best")
    finite = loss[np.isfinite(loss)]
    if finite.size and finite.min() * experiment.sign > 0 and _spread(finite) >= 100:
        axes[0].set_yscale("log")
    fig.suptitle(f"{experiment.metric} ({experiment.mode}), {len(trials)} trials", fontsize=10)
    return fig


def _spread(values: np.ndarray) -> float:
    a = np.abs(values)
    return float(a.max() / a.min()) if a.min() > 0 else 0.0


def parallel_coordinates(
    experiment: Experiment, trials: list[Trial], columns: list[ParamColumn]
) -> Figure | None:
    """One line per finished trial across the parameters' axes and the metric's, colored by
    the metric's rank (best: yellow, drawn on top). A conditional parameter's axis is
    crossed only by the trials where it is active (the line skips the others' axes)."""
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection

    loss = losses(experiment, trials)
    if not columns or not np.isfinite(loss).any():
        return None
    n = len(trials)
    axes_units = [c.unit() for c in columns]
    metric_unit = ParamColumn("metric", experiment.sign * loss, False, None).unit()
    grid = np.vstack([*axes_units, metric_unit]).T  # (n, k + 1)
    ranks = np.argsort(np.argsort(-np.nan_to_num(loss, nan=np.inf)))  # 0: worst
    order = np.argsort(ranks)  # worst first: the best are drawn last, on top
    cmap = colormaps["viridis"]
    lines, colors = [], []
    for i in order:
        xs = np.flatnonzero(np.isfinite(grid[i]))
        if len(xs) >= 2:
            lines.append(np.column_stack([xs, grid[i, xs]]))
            colors.append(cmap(ranks[i] / max(1, n - 1)))
    k = len(columns) + 1
    fig = new_figure(max(6.0, 1.25 * k + 1.0), 4.2)
    ax = fig.subplots()
    ax.add_collection(
        LineCollection(lines, colors=colors, linewidths=0.9, alpha=0.7, rasterized=n > DENSE)
    )
    for x, column in enumerate([*columns, None]):
        ax.axvline(x, color="0.3", lw=0.8)
        if column is not None and column.categories is not None:
            span = max(1, len(column.categories) - 1)
            for j, label in enumerate(column.categories[:12]):
                y = j / span if len(column.categories) > 1 else 0.5
                ax.text(x + 0.03, y, label[:14], fontsize=7, va="center")
        elif column is not None:
            for y in (0.0, 1.0):
                ax.text(x + 0.03, y, column.label(y), fontsize=7, va="center")
        else:
            finite = (experiment.sign * loss)[np.isfinite(loss)]
            for y, v in ((0.0, finite.min()), (1.0, finite.max())):
                ax.text(x + 0.03, y, f"{v:.4g}", fontsize=7, va="center")
    names = [c.name + (" (log)" if c.log else "") for c in columns]
    ax.set_xticks(range(k), [*names, experiment.metric or "metric"], rotation=20, fontsize=8)
    ax.set_xlim(-0.2, k - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_yticks([])
    ax.set_title(
        f"{n} finished trials; color: rank of {experiment.metric} (best yellow)", fontsize=9
    )
    return fig


def importance_bars(importance: dict[str, float]) -> Figure | None:
    """Horizontal bars of the parameters' importance, largest on top."""
    if not importance:
        return None
    items = sorted(importance.items(), key=lambda kv: kv[1])[-20:]
    fig = new_figure(6.0, 0.9 + 0.28 * len(items))
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set_xlabel("share of the permutation importance (random forest, held-out trials)")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def pareto_front(experiment: Experiment) -> Figure | None:
    """The first two objectives of every finished trial, with the Pareto front."""
    from raysearch.nas.pareto import pareto_mask, plot_pareto

    if len(experiment.objectives) < 2:
        return None
    (m1, d1), (m2, d2) = experiment.objectives[:2]
    points = [(t.value(m1), t.value(m2)) for t in experiment.trials if t.status == "TERMINATED"]
    P = np.array([p for p in points if p[0] is not None and p[1] is not None], dtype=float)
    if len(P) == 0:
        return None
    signs = np.array([-1.0 if d1 == "max" else 1.0, -1.0 if d2 == "max" else 1.0])
    front = pareto_mask(P * signs)
    fig = new_figure(5.5, 4.2)
    ax = fig.subplots()
    plot_pareto(P, labels=(f"{m1} ({d1})", f"{m2} ({d2})"), front=front, ax=ax)
    ax.set_title(f"{int(front.sum())} of {len(P)} trials on the Pareto front", fontsize=9)
    ax.grid(alpha=0.3)
    return fig
