"""What a report reads: an experiment directory on disk, as plain data.

:func:`load_experiment` reads a raysearch experiment directory (``raysearch.run``), a plain
Ray Tune experiment directory (``tune.Tuner``) or a directory Tune is still writing (the
driver's staging directory during a run), without Ray:

* the trials: raysearch's trial log (``raysearch_trials.jsonl``: finished and failed trials,
  with their last metrics and error line), completed by Tune's newest experiment snapshot
  (``experiment_state-*.json``: every trial with its status, running ones included);
* each trial's learning curve from Tune's ``result.json`` (when the JSON logger ran) and the
  last line of its ``error.txt``;
* metric and mode (``raysearch_experiment.json``, else the snapshot's metric);
* the searcher's state (a raysearch searcher saves JSON: its space and objectives) and the
  scheduler's (rungs of ASHA/Hyperband, saved by raysearch's state callback in Tune's
  ``callback-states-*.pkl``, read with an unpickler that builds only plain containers);
* the PBT/PB2 lineage log.

Every file is optional: a report shows what is there.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysearch.core.jsonlines import read_jsonlines
from raysearch.core.values import flatten

__all__ = ["Trial", "Experiment", "load_experiment", "TRIAL_LOG", "EXPERIMENT_INFO"]

#: raysearch's trial log and experiment record (the names raysearch.tune.callbacks writes;
#: repeated here because this package reads files and never imports Ray)
TRIAL_LOG = "raysearch_trials.jsonl"
EXPERIMENT_INFO = "raysearch_experiment.json"
#: the keys of a result row kept for learning curves (the rest is Tune's bookkeeping)
_SKIP = {"config", "trial_id", "date", "hostname", "node_ip", "pid", "checkpoint_dir_name"}
#: at most this many rows of each learning curve are kept (evenly thinned beyond)
MAX_CURVE_POINTS = 200


@dataclass
class Trial:
    """One trial as the files record it.

    Attributes:
        trial_id: Tune's id.
        status: ``TERMINATED``, ``ERROR``, ``RUNNING``, ``PENDING`` or ``PAUSED``.
        config: the flat config (``a/b`` keys; an inactive conditional parameter is absent).
        metrics: the last reported result.
        error: the error line of a failed trial.
        curve: the trial's reported results in order (numeric values only).
        end_time: when it ended or last reported (Unix seconds), if known.
        directory: its trial directory, if any.
    """

    trial_id: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    end_time: float | None = None
    directory: Path | None = None

    def value(self, metric: str) -> float | None:
        """The trial's last finite value of ``metric``."""
        return _finite(self.metrics.get(metric))


@dataclass
class Experiment:
    """An experiment directory, read.

    Attributes:
        path: the directory.
        metric, mode: what was optimised (``mode`` None when no file says).
        trials: in the order they ended (those still running last).
        searcher: the raysearch searcher's core state envelope (``recipe``: space, ...).
        scheduler: the raysearch scheduler's core state envelope (``data``: rungs, ...).
        lineage: the PBT/PB2 lineage, if the run wrote one.
        objectives: ``[(metric, mode), ...]`` of a multi-objective run.
        info: raysearch's experiment record (searcher and scheduler descriptions).
    """

    path: Path
    metric: str | None
    mode: str | None
    trials: list[Trial]
    searcher: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    lineage: Any = None
    objectives: list[tuple[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def sign(self) -> float:
        """+1 to minimise, -1 to maximise (values times sign are losses)."""
        return -1.0 if self.mode == "max" else 1.0

    def finished(self) -> list[Trial]:
        """Trials that ended with a finite value of the metric."""
        if self.metric is None:
            return []
        return [
            t for t in self.trials if t.status == "TERMINATED" and t.value(self.metric) is not None
        ]

    def failed(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "ERROR"]

    def space_spec(self) -> dict[str, Any] | None:
        recipe = (self.searcher or {}).get("recipe") or {}
        spec = recipe.get("space")
        return spec if isinstance(spec, dict) else None


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class _PlainUnpickler(pickle.Unpickler):
    """Builds dicts, lists and scalars only: reading a state file never imports Ray (or runs
    anything the file names)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"not a plain state: {module}.{name}")


def _newest(directory: Path, pattern: str) -> Path | None:
    files = sorted(directory.glob(pattern), key=lambda p: (p.stat().st_mtime, p.name))
    return files[-1] if files else None


def _read_state_file(path: Path | None) -> Any:
    """A Tune state file: JSON (raysearch's searcher state) or a pickle of plain data."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:1] in (b"{", b"["):
        try:
            return json.loads(data)
        except ValueError:
            return None
    try:
        import io

        return _PlainUnpickler(io.BytesIO(data)).load()
    except Exception:  # another library's objects, or a file being written
        return None


def _scheduler_state(directory: Path) -> dict[str, Any] | None:
    states = _read_state_file(_newest(directory, "callback-states-*.pkl"))
    if not isinstance(states, Mapping):
        return None
    for state in states.values():
        if isinstance(state, Mapping) and isinstance(state.get("raysearch_scheduler"), dict):
            found: dict[str, Any] = state["raysearch_scheduler"]
            return found
    return None


def _searcher_state(directory: Path) -> dict[str, Any] | None:
    state = _read_state_file(_newest(directory, "searcher-state-*.pkl"))
    if isinstance(state, Mapping) and isinstance(state.get("core"), dict):
        core: dict[str, Any] = state["core"]
        return core
    return None


def _snapshot(directory: Path) -> tuple[list[dict[str, Any]], str | None]:
    """Tune's newest experiment snapshot: (trial dicts, the experiment's metric)."""
    path = _newest(directory, "experiment_state-*.json")
    if path is None:
        return [], None
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return [], None
    trials = []
    for entry in state.get("trial_data", []):
        raw = entry[0] if isinstance(entry, list | tuple) else entry
        try:
            trial = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except (TypeError, ValueError):
            continue
        trials.append(trial)
    runner = state.get("runner_data") or {}
    metric = runner.get("_metric") if isinstance(runner, Mapping) else None
    return trials, metric if isinstance(metric, str) else None


def _trial_dirs(directory: Path) -> dict[str, Path]:
    """Trial id -> trial directory, from each directory's params.json/result.json name."""
    out: dict[str, Path] = {}
    for sub in directory.iterdir() if directory.is_dir() else []:
        if not sub.is_dir() or not (
            (sub / "result.json").exists() or (sub / "params.json").exists()
        ):
            continue
        trial_id = _trial_id_of_dir(sub)
        if trial_id:
            out[trial_id] = sub
    return out


def _trial_id_of_dir(sub: Path) -> str | None:
    """A trial directory's id: from its first result, else from its name (``f_<id>_...``)."""
    result = sub / "result.json"
    if result.exists():
        try:
            with open(result) as f:
                first = f.readline()
            value = json.loads(first).get("trial_id") if first.strip() else None
            if isinstance(value, str):
                return value
        except (OSError, ValueError):
            pass
    parts = sub.name.split("_")
    return parts[1] if len(parts) > 2 else None


def _curve(path: Path) -> list[dict[str, float]]:
    """The numeric values of each row of a ``result.json``, thinned to MAX_CURVE_POINTS."""
    try:
        rows = read_jsonlines(path)
    except OSError:
        return []
    if len(rows) > MAX_CURVE_POINTS:
        step = len(rows) / MAX_CURVE_POINTS
        keep = sorted({int(i * step) for i in range(MAX_CURVE_POINTS)} | {len(rows) - 1})
        rows = [rows[i] for i in keep]
    curve = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        values = {k: float(v) for k, v in row.items() if k not in _SKIP and _finite(v) is not None}
        curve.append(values)
    return curve


def error_line(directory: Path | None) -> str | None:
    """The last non-empty line of a trial directory's ``error.txt``."""
    if directory is None or not (directory / "error.txt").exists():
        return None
    try:
        lines = [ln for ln in (directory / "error.txt").read_text().splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1].strip()[:300] if lines else None


def _from_log(directory: Path) -> dict[str, Trial]:
    trials: dict[str, Trial] = {}
    if not (directory / TRIAL_LOG).exists():
        return trials
    for rec in read_jsonlines(directory / TRIAL_LOG):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("trial_id"), str):
            continue
        trials.pop(rec["trial_id"], None)  # the last record of a trial counts, in its order
        trials[rec["trial_id"]] = Trial(
            trial_id=rec["trial_id"],
            status=str(rec.get("status") or "TERMINATED"),
            config=flatten(rec.get("config") or {}),
            metrics=dict(rec.get("metrics") or {}),
            error=rec.get("error"),
            end_time=_finite(rec.get("time")),
        )
    return trials


def _merge_snapshot(trials: dict[str, Trial], snapshot: list[dict[str, Any]]) -> None:
    """Adds the snapshot's trials the log lacks (running, pending, or a plain Tune run)."""
    for entry in snapshot:
        trial_id = entry.get("trial_id")
        if not isinstance(trial_id, str) or trial_id in trials:
            continue
        config = entry.get("config")
        trials[trial_id] = Trial(
            trial_id=trial_id,
            status=str(entry.get("status") or "PENDING"),
            config=flatten(config) if isinstance(config, Mapping) else {},
            metrics={},
        )


def _attach_files(trials: dict[str, Trial], directory: Path) -> None:
    """Learning curves, last results and error lines from the trial directories."""
    for trial_id, sub in _trial_dirs(directory).items():
        trial = trials.get(trial_id)
        if trial is None:
            trial = trials[trial_id] = Trial(trial_id, "TERMINATED", {}, {})
            params = sub / "params.json"
            if params.exists():
                try:
                    trial.config = flatten(json.loads(params.read_text()))
                except (OSError, ValueError):
                    pass
        trial.directory = sub
        if (sub / "result.json").exists():
            trial.curve = _curve(sub / "result.json")
        if trial.curve:
            if not trial.metrics:
                trial.metrics = dict(trial.curve[-1])
            if trial.end_time is None:
                trial.end_time = trial.curve[-1].get("timestamp")
        if trial.error is None:
            trial.error = error_line(sub)
            if trial.error and trial.status == "TERMINATED" and not trial.metrics:
                trial.status = "ERROR"


def _objectives(searcher: dict[str, Any] | None) -> list[tuple[str, str]]:
    spec = ((searcher or {}).get("recipe") or {}).get("objectives")
    if isinstance(spec, Mapping):
        spec = spec.get("objectives")
    out = []
    for item in spec or []:
        if isinstance(item, list | tuple) and len(item) == 2 and item[1] in ("min", "max"):
            out.append((str(item[0]), str(item[1])))
    return out


def _lineage(directory: Path) -> Any:
    from raysearch.schedulers.pbt.lineage import LINEAGE_FILE, read_lineage

    if not (directory / LINEAGE_FILE).exists():
        return None
    try:
        return read_lineage(directory)
    except (OSError, ValueError):
        return None


def load_experiment(
    path: str | os.PathLike[str],
    *,
    metric: str | None = None,
    mode: str | None = None,
    objectives: list[tuple[str, str]] | None = None,
) -> Experiment:
    """Reads an experiment directory (see the module docstring).

    Args:
        path: a raysearch or Ray Tune experiment directory.
        metric, mode: override what the files say (needed for a plain Tune directory
            whose searcher did not record its mode).
        objectives: ``[(metric, "min"|"max"), ...]`` to draw a Pareto front of (default:
            the searcher's objectives, if it has several).

    Raises:
        FileNotFoundError: ``path`` is not a directory, or holds no trial of any kind.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"{str(directory)!r} is not a directory")
    info: dict[str, Any] = {}
    if (directory / EXPERIMENT_INFO).exists():
        try:
            info = json.loads((directory / EXPERIMENT_INFO).read_text())
        except (OSError, ValueError):
            info = {}
    trials = _from_log(directory)
    snapshot, snapshot_metric = _snapshot(directory)
    _merge_snapshot(trials, snapshot)
    _attach_files(trials, directory)
    if not trials:
        raise FileNotFoundError(
            f"no trials in {str(directory)!r}: not a raysearch or Ray Tune experiment directory "
            "(or no trial has started yet)"
        )
    searcher = _searcher_state(directory)
    experiment = Experiment(
        path=directory,
        metric=metric or info.get("metric") or snapshot_metric,
        mode=mode or info.get("mode") or _searcher_mode(directory),
        trials=_ordered(list(trials.values())),
        searcher=searcher,
        scheduler=_scheduler_state(directory),
        lineage=_lineage(directory),
        objectives=list(objectives) if objectives is not None else _objectives(searcher),
        info=info,
    )
    return experiment


def _searcher_mode(directory: Path) -> str | None:
    state = _read_state_file(_newest(directory, "searcher-state-*.pkl"))
    mode = state.get("mode") if isinstance(state, Mapping) else None
    return mode if mode in ("min", "max") else None


def _ordered(trials: list[Trial]) -> list[Trial]:
    """Ended trials by end time (the log's order when times tie or are missing), then the
    rest."""
    ended = [t for t in trials if t.status in ("TERMINATED", "ERROR")]
    rest = [t for t in trials if t.status not in ("TERMINATED", "ERROR")]
    order = {id(t): i for i, t in enumerate(ended)}
    ended.sort(key=lambda t: (t.end_time if t.end_time is not None else math.inf, order[id(t)]))
    return ended + rest
