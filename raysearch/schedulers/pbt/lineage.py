"""PBT lineage: the JSON-lines log of a population's history, and a plot of its schedules.

The Ray adapter of :class:`~raysearch.schedulers.pbt.scheduler.PBTScheduler` appends one JSON object
per event to ``raysearch_pbt_lineage.jsonl`` in the experiment directory:

* ``header``: metric, mode, time attribute and the mutable space (once);
* ``start``: a member joined, with its initial hyperparameters;
* ``ready``: a member reached a perturbation point (its score and rank);
* ``exploit``: a member continued from a donor's checkpoint at the donor's step, with new
  hyperparameters (old and donor values, what explore did to each);
* ``exploit_failed``, ``complete``, ``error``, ``removed``;
* ``restore``: the experiment was restored; events with an ``id`` at or after
  ``next_id`` written before it were lost with the driver and are superseded.

:func:`read_lineage` rebuilds every member's schedule, the donor's history included (a
member that exploits inherits the schedule that produced the weights it copied), and
:func:`plot_lineage` draws the schedules of the final best member over the population's
(``raysearch pbt-lineage EXPERIMENT_DIR`` from the shell).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.core.jsonlines import read_jsonlines

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["LINEAGE_FILE", "Lineage", "LineageWriter", "read_lineage", "plot_lineage"]

#: the lineage log, in the experiment directory
LINEAGE_FILE = "raysearch_pbt_lineage.jsonl"


class LineageWriter:
    """Appends lineage records (dicts) to a JSON-lines file, one flushed line each."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            for record in records:
                f.write(json.dumps(_clean(record), allow_nan=False) + "\n")
            f.flush()


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, unknown objects their repr."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _clean(item())
        except (TypeError, ValueError):
            pass
    return repr(value)


@dataclass
class Lineage:
    """A population's history, rebuilt from the lineage log.

    Attributes:
        header: metric, mode, time_attr and space of the run ({} if absent).
        events: the events in order, superseded ones dropped.
    """

    header: dict[str, Any]
    events: list[dict[str, Any]]
    _schedules: dict[str, list[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    _scores: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _exploits: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    _final: dict[str, dict[str, Any]] = field(default_factory=dict)
    _own: dict[str, list[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    _own_scores: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    _own_ends: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        undo: dict[str, tuple[Any, Any, Any]] = {}
        for ev in self.events:
            kind, tid = ev.get("event"), ev.get("trial_id")
            if not isinstance(tid, str):
                continue
            step = float(ev.get("step") or 0.0)
            if kind == "start":
                self._schedules[tid] = [(0.0, dict(ev.get("params") or {}))]
                self._own[tid] = [(0.0, dict(ev.get("params") or {}))]
                self._scores.setdefault(tid, [])
                self._exploits.setdefault(tid, [])
            elif kind == "ready":
                score = _score(ev, "score", "loss")
                if score is not None:
                    self._scores.setdefault(tid, []).append((step, score))
                    self._own_scores.setdefault(tid, []).append((step, score))
            elif kind == "exploit":
                donor = str(ev.get("donor"))
                self._final.pop(tid, None)  # a crashed member that was replaced is live
                undo[tid] = (
                    self._schedules.get(tid),
                    self._scores.get(tid),
                    self._exploits.get(tid),
                )
                inherited = [s for s in self._schedules.get(donor, []) if s[0] < step]
                self._schedules[tid] = [*inherited, (step, dict(ev.get("params") or {}))]
                self._own.setdefault(tid, []).append((step, dict(ev.get("params") or {})))
                old = ev.get("old_step")
                self._own_ends.setdefault(tid, []).append(
                    float(old) if isinstance(old, int | float) else step
                )
                self._scores[tid] = [s for s in self._scores.get(donor, []) if s[0] <= step]
                self._exploits[tid] = [
                    *[e for e in self._exploits.get(donor, []) if e[0] <= step],
                    (step, donor),
                ]
            elif kind == "exploit_failed" and tid in undo:
                schedule, scores, exploits = undo.pop(tid)
                if self._own.get(tid):
                    self._own[tid].pop()
                if self._own_ends.get(tid):
                    self._own_ends[tid].pop()
                if schedule is not None:
                    self._schedules[tid] = schedule
                    self._scores[tid] = scores or []
                    self._exploits[tid] = exploits or []
            elif kind in ("complete", "error", "removed"):
                score = _score(ev, "score", "loss")
                self._final[tid] = {"status": kind, "step": step, "score": score}
                if score is not None and kind == "complete":
                    self._scores.setdefault(tid, []).append((step, score))
                    self._own_scores.setdefault(tid, []).append((step, score))

    # ------------------------------------------------------------------ queries
    @property
    def mode(self) -> str:
        return str(self.header.get("mode") or "min")

    @property
    def metric(self) -> str:
        return str(self.header.get("metric") or "score")

    @property
    def time_attr(self) -> str:
        return str(self.header.get("time_attr") or "step")

    def members(self) -> list[str]:
        return list(self._schedules)

    def schedule(self, trial_id: str) -> list[tuple[float, dict[str, Any]]]:
        """``(from_step, hyperparameters)`` segments of a member, inherited ones included."""
        return list(self._schedules.get(trial_id, []))

    def scores(self, trial_id: str) -> list[tuple[float, float]]:
        """``(step, score)`` at the member's perturbation points, inherited ones included."""
        return list(self._scores.get(trial_id, []))

    def timeline(self, trial_id: str) -> list[tuple[float, dict[str, Any]]]:
        """``(from_step, hyperparameters)`` as the member itself trained: its initial values,
        then the values of each exploit (at the donor's step, which may jump back)."""
        return list(self._own.get(trial_id, []))

    def own_scores(self, trial_id: str) -> list[tuple[float, float]]:
        """``(step, score)`` the member itself reported at its perturbation points."""
        return list(self._own_scores.get(trial_id, []))

    def exploits(self, trial_id: str) -> list[tuple[float, str]]:
        """``(step, donor)`` of the exploits in a member's ancestry."""
        return list(self._exploits.get(trial_id, []))

    def final(self, trial_id: str) -> dict[str, Any]:
        """Status, step and score at the end (``{}`` for a member still running)."""
        return dict(self._final.get(trial_id, {}))

    def last_score(self, trial_id: str) -> float | None:
        scores = self._scores.get(trial_id)
        return scores[-1][1] if scores else None

    def best(self) -> str | None:
        """The member with the best last score (finished members first)."""
        sign = -1.0 if self.mode == "max" else 1.0
        ranked = []
        for tid in self._schedules:
            score = self.last_score(tid)
            if score is None:
                continue
            finished = self._final.get(tid, {}).get("status") == "complete"
            ranked.append((0 if finished else 1, sign * score, tid))
        return min(ranked)[2] if ranked else None

    def parameter_names(self) -> list[str]:
        names: dict[str, None] = {}
        for schedule in self._schedules.values():
            for _, params in schedule:
                names.update(dict.fromkeys(params))
        return list(names)

    def end_step(self, trial_id: str) -> float:
        steps = [s for s, _ in self._scores.get(trial_id, [])]
        steps += [s for s, _ in self._schedules.get(trial_id, [])]
        final = self._final.get(trial_id, {}).get("step")
        if final is not None:
            steps.append(float(final))
        return max(steps, default=0.0)

    def n_exploits(self) -> int:
        return sum(1 for e in self.events if e.get("event") == "exploit") - sum(
            1 for e in self.events if e.get("event") == "exploit_failed"
        )


def _score(ev: Mapping[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = ev.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                return float(value)
    return None


def read_lineage(path: str | os.PathLike[str]) -> Lineage:
    """Reads the lineage log of an experiment directory (or the ``.jsonl`` file itself).

    Raises:
        FileNotFoundError: if there is no log (not a PBT experiment, or nothing ran yet).
    """
    path = Path(path)
    file = path / LINEAGE_FILE if path.is_dir() else path
    if not file.exists():
        raise FileNotFoundError(
            f"no {LINEAGE_FILE} in {path}: not a raysearch PBT/PB2 experiment directory "
            "(or no member has started yet)"
        )
    header: dict[str, Any] = {}
    by_id: dict[int, dict[str, Any]] = {}
    for record in read_jsonlines(file):
        if not isinstance(record, dict):
            continue
        kind = record.get("event")
        if kind == "header":
            header = {**header, **record}
        elif kind == "restore":
            cut = int(record.get("next_id", 0))
            by_id = {i: r for i, r in by_id.items() if i < cut}
        elif isinstance(record.get("id"), int):
            by_id[record["id"]] = record
    events = [by_id[i] for i in sorted(by_id)]
    return Lineage(header=header, events=events)


def _param_kind(header: Mapping[str, Any], name: str) -> tuple[bool, list[Any] | None]:
    """(log axis, choices) of a parameter from the header's space spec."""
    spec = header.get("space")
    if not isinstance(spec, Mapping):
        return False, None
    try:
        from raysearch.space import Categorical, Float, Int, Space

        space = Space.from_dict(spec)
        param = space[name]
    except Exception:  # an old or foreign header: plot on a linear axis
        return False, None
    if isinstance(param, Categorical):
        return False, list(param.choices)
    return bool(isinstance(param, Float | Int) and param.log), None


def _numeric(value: Any, choices: list[Any] | None) -> float | None:
    if choices is not None:
        for i, c in enumerate(choices):
            if c == value:
                return float(i)
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def _steps_xy(
    schedule: Sequence[tuple[float, Mapping[str, Any]]],
    name: str,
    end: float,
    choices: list[Any] | None,
) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for i, (start, params) in enumerate(schedule):
        stop = schedule[i + 1][0] if i + 1 < len(schedule) else max(end, start)
        y = _numeric(params.get(name), choices)
        if y is None:
            continue
        xs += [start, stop]
        ys += [y, y]
    return xs, ys


def _timeline_xy(
    lineage: Lineage, trial_id: str, name: str, choices: list[Any] | None
) -> tuple[list[float], list[float]]:
    """A member's own timeline; NaN breaks the line where an exploit jumps."""
    segments = lineage.timeline(trial_id)
    ends = [*lineage._own_ends.get(trial_id, []), lineage.end_step(trial_id)]
    xs: list[float] = []
    ys: list[float] = []
    for (start, params), end in zip(segments, ends):
        y = _numeric(params.get(name), choices)
        if y is None:
            continue
        if xs:
            xs.append(math.nan)
            ys.append(math.nan)
        xs += [start, max(end, start)]
        ys += [y, y]
    return xs, ys


def plot_lineage(
    source: Lineage | str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    params: Sequence[str] | None = None,
    member: str | None = None,
) -> Figure:
    """Draws the hyperparameter schedules of the best member (or ``member``) over those of
    the whole population, with the score at each perturbation point on top.

    Args:
        source: a :class:`Lineage` or an experiment directory / lineage file.
        out: write a PNG there too.
        params: the hyperparameters to draw (default: all in the log).
        member: the member to highlight (default: :meth:`Lineage.best`).

    Returns:
        The matplotlib Figure.
    """
    from matplotlib.figure import Figure  # no pyplot: works without a display

    lineage = source if isinstance(source, Lineage) else read_lineage(source)
    names = list(params) if params is not None else lineage.parameter_names()
    best = member or lineage.best()
    fig = Figure(figsize=(8, 2.0 * (len(names) + 1) + 0.6), layout="constrained")
    axes = fig.subplots(len(names) + 1, 1, sharex=True, squeeze=False)[:, 0]
    members = lineage.members()

    ax = axes[0]
    for tid in members:
        scores = lineage.own_scores(tid)
        if scores:
            ax.plot(*zip(*scores), color="0.75", lw=0.8, ls="none", marker=".", ms=4)
    if best is not None and lineage.scores(best):
        ax.plot(*zip(*lineage.scores(best)), color="C3", lw=2, marker="o", ms=4, label=best)
        ax.legend(loc="best", fontsize=8, title="best member", title_fontsize=8)
    ax.set_ylabel(lineage.metric)
    title = f"PBT lineage: {len(members)} members, {lineage.n_exploits()} exploits"
    ax.set_title(title, fontsize=10)

    for ax, name in zip(axes[1:], names):
        log, choices = _param_kind(lineage.header, name)
        for tid in members:
            xs, ys = _timeline_xy(lineage, tid, name, choices)
            if xs:
                ax.plot(xs, ys, color="0.75", lw=0.8)
        if best is not None:
            xs, ys = _steps_xy(lineage.schedule(best), name, lineage.end_step(best), choices)
            if xs:
                ax.plot(xs, ys, color="C3", lw=2)
            for step, _ in lineage.exploits(best):
                seg = [p for s, p in lineage.schedule(best) if s == step]
                y = _numeric(seg[-1].get(name), choices) if seg else None
                if y is not None:
                    ax.plot([step], [y], "o", color="C3", ms=5, mfc="white")
        if log:
            ax.set_yscale("log")
        if choices is not None:
            ax.set_yticks(range(len(choices)), [str(c) for c in choices])
        ax.set_ylabel(name)
    axes[-1].set_xlabel(lineage.time_attr)
    if out is not None:
        fig.savefig(out, dpi=110)
    return fig
