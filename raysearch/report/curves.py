"""Learning curves of every trial, with the rungs of ASHA/Hyperband and their decisions.

The curves come from each trial's ``result.json``; the rungs from the raysearch scheduler's
saved state (``milestone``, the value each trial ``recorded`` there, who was ``promoted``).
The state does not name the resource the rungs count (``time_attr``), so it is found from the
data: the monotone result key at whose milestones the trials' recorded values match their
reported metric (``training_iteration`` when no rung says otherwise).

Marked on the plot: each rung (a dashed vertical line), a trial promoted out of a rung
(Hyperband, ASHA's promotion variant: a triangle), a trial that ended before the longest
ones did (stopped by the scheduler or a stopper: a cross), a failed trial (red).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from raysearch.report.data import Experiment, Trial
from raysearch.report.figures import DENSE, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["rungs", "time_attr", "learning_curves", "promotions"]

_CANDIDATES = ("training_iteration", "epoch", "step", "iteration", "time_total_s")


def rungs(state: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every rung (``{"milestone", "recorded", "promoted"}``) in a scheduler's state data,
    ASHA's brackets and Hyperband's alike."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, Mapping):
            if "milestone" in node and "recorded" in node:
                yield dict(node)
                return
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    return list(walk((state or {}).get("data")))


def _first_at(
    curve: list[dict[str, float]], key: str, milestone: float
) -> dict[str, float] | None:
    for row in curve:
        if key in row and row[key] >= milestone - 1e-9:
            return row
    return None


def time_attr(experiment: Experiment, found: list[dict[str, Any]]) -> str:
    """The result key the rungs count (see the module docstring)."""
    by_id = {t.trial_id: t for t in experiment.trials if t.curve}
    keys = [k for k in _CANDIDATES if any(k in t.curve[0] for t in by_id.values())]
    if not found or experiment.metric is None:
        return keys[0] if keys else "training_iteration"
    metric, sign = experiment.metric, experiment.sign
    scores: dict[str, int] = {}
    for key in keys + sorted({k for t in by_id.values() for k in t.curve[0]} - set(keys)):
        hits = 0
        for rung in found[:6]:
            for trial_id, value in list(rung["recorded"])[:20]:
                t = by_id.get(trial_id)
                row = _first_at(t.curve, key, rung["milestone"]) if t else None
                if row is not None and value is not None and metric in row:
                    hits += math.isclose(sign * row[metric], value, rel_tol=1e-9, abs_tol=1e-12)
        scores[key] = hits
    best = max(scores, key=lambda k: scores[k], default="training_iteration")
    return best if scores.get(best) else "training_iteration"


def _xy(trial: Trial, key: str, metric: str) -> np.ndarray:
    pts = [(row[key], row[metric]) for row in trial.curve if key in row and metric in row]
    return np.array(pts, dtype=float).reshape(-1, 2)


def learning_curves(experiment: Experiment) -> Figure | None:
    """Every trial's metric against its resource, rungs and decisions marked; None when no
    trial reported more than once."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    metric = experiment.metric
    if metric is None or not any(len(t.curve) > 1 for t in experiment.trials):
        return None
    found = rungs(experiment.scheduler)
    key = time_attr(experiment, found)
    lineage = experiment.lineage
    if lineage is not None and any(
        lineage.time_attr in t.curve[0] for t in experiment.trials if t.curve
    ):
        key = lineage.time_attr  # PBT's steps
    curves = {t.trial_id: _xy(t, key, metric) for t in experiment.trials}
    curves = {k: v for k, v in curves.items() if len(v)}
    if not curves:
        return None
    longest = max(float(v[:, 0].max()) for v in curves.values())
    status = {t.trial_id: t.status for t in experiment.trials}
    fig = new_figure(8.0, 4.2)
    ax = fig.subplots()
    dense = len(curves) > DENSE
    groups: dict[str, list[np.ndarray]] = {"ended": [], "stopped": [], "failed": []}
    stops = []
    for trial_id, xy in curves.items():
        if status.get(trial_id) == "ERROR":
            groups["failed"].append(xy)
        elif xy[-1, 0] < longest - 1e-9 and status.get(trial_id) == "TERMINATED":
            groups["stopped"].append(xy)
            stops.append(xy[-1])
        else:
            groups["ended"].append(xy)
    style = {"ended": ("C0", 1.0), "stopped": ("0.55", 0.8), "failed": ("C3", 1.0)}
    for name, lines in groups.items():
        color, width = style[name]
        if lines:
            ax.add_collection(
                LineCollection(lines, colors=color, linewidths=width, alpha=0.6, rasterized=dense)
            )
    if stops:
        s = np.array(stops)
        ax.scatter(s[:, 0], s[:, 1], marker="x", s=14, color="0.3", zorder=3, rasterized=dense)
    promoted = promotions(found, curves)
    if len(promoted):
        ax.scatter(promoted[:, 0], promoted[:, 1], marker="^", s=22, color="C2", zorder=4)
    for rung in found:
        ax.axvline(float(rung["milestone"]), color="0.4", ls="--", lw=0.8)
    ax.autoscale_view()
    values = np.concatenate([v[:, 1] for v in curves.values()])
    if values.min() > 0 and values.max() / values.min() >= 100:
        ax.set_yscale("log")
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    handles = [
        Line2D([], [], color="C0", label="ran to the end"),
        Line2D([], [], color="0.55", marker="x", label=f"stopped early ({len(stops)})"),
        Line2D([], [], color="C3", label=f"failed ({len(experiment.failed())})"),
    ]
    if found:
        handles.append(Line2D([], [], color="0.4", ls="--", label="rung"))
    if len(promoted):
        handles.append(
            Line2D([], [], color="C2", marker="^", ls="none", label=f"promoted ({len(promoted)})")
        )
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_title(f"learning curves of {len(curves)} trials", fontsize=9)
    return fig


def promotions(found: list[dict[str, Any]], curves: dict[str, np.ndarray]) -> np.ndarray:
    """(milestone, value there) of every promotion out of a rung."""
    points = []
    for rung in found:
        milestone = float(rung["milestone"])
        for trial_id in rung.get("promoted") or []:
            xy = curves.get(str(trial_id))
            if xy is None:
                continue
            at = np.flatnonzero(xy[:, 0] >= milestone - 1e-9)
            if len(at):
                points.append(xy[at[0]])
    return np.array(points, dtype=float).reshape(-1, 2)
