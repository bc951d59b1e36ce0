"""Tune callbacks raysearch adds to every run: a trial log and a compact progress line."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from raysearch.core.jsonlines import read_jsonlines
from raysearch.core.state import atomic_write_json, read_json
from raysearch.core.values import finite_float

__all__ = [
    "TrialLog",
    "Progress",
    "TRIAL_LOG",
    "EXPERIMENT_INFO",
    "read_trial_log",
    "read_experiment_info",
]

logger = logging.getLogger("raysearch.progress")

#: One JSON line per finished trial, in the experiment directory.
TRIAL_LOG = "raysearch_trials.jsonl"
#: metric, mode and searcher of the experiment, in the experiment directory.
EXPERIMENT_INFO = "raysearch_experiment.json"

_SKIP_KEYS = {"config", "trial_id", "experiment_tag", "date", "timestamp", "pid", "hostname"}


def _jsonable_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in result.items():
        if k in _SKIP_KEYS or k.startswith("config/"):
            continue
        if isinstance(v, bool | int | str) or v is None:
            out[k] = v
        elif isinstance(v, float):
            out[k] = v if math.isfinite(v) else None
        else:
            item = getattr(v, "item", None)
            if callable(item):
                try:
                    value = item()
                except (TypeError, ValueError):
                    continue
                if isinstance(value, float) and not math.isfinite(value):
                    value = None
                if isinstance(value, bool | int | float | str) or value is None:
                    out[k] = value
    return out


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, Mapping):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_jsonable(v) for v in value]
        return repr(value)


class TrialLog(Callback):
    """Appends one JSON line per finished or failed trial to ``raysearch_trials.jsonl`` in
    the experiment directory: trial id, status, config, last metrics, error.

    ``raysearch leaderboard EXPERIMENT_DIR`` reads it; it works whatever Tune loggers are on.
    """

    def __init__(self, info: Mapping[str, Any] | None = None) -> None:
        self.info = dict(info or {})
        self._path: Path | None = None

    def _file(self, trial: Trial) -> Path:
        if self._path is None:
            # The driver staging directory is synced to storage_path with the experiment
            # state, so the log reaches cloud/NFS storage too.
            storage = trial.storage
            if storage is None:
                raise RuntimeError(f"trial {trial.trial_id} has no storage context")
            directory = Path(storage.experiment_driver_staging_path)
            directory.mkdir(parents=True, exist_ok=True)
            if self.info and not (directory / EXPERIMENT_INFO).exists():
                atomic_write_json(directory / EXPERIMENT_INFO, _jsonable(self.info))
            self._path = directory / TRIAL_LOG
        return self._path

    def _write(self, trial: Trial, status: str, error: str | None = None) -> None:
        record = {
            "trial_id": trial.trial_id,
            "status": status,
            "config": _jsonable(trial.config),
            "metrics": _jsonable_metrics(trial.last_result or {}),
            "error": error,
            "time": time.time(),
        }
        with open(self._file(trial), "a") as f:
            f.write(json.dumps(record, allow_nan=False) + "\n")

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._write(trial, "TERMINATED")

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        error = None
        path = getattr(trial, "error_file", None)
        if path and os.path.exists(path):
            try:
                with open(path) as f:
                    lines = [ln for ln in f.read().strip().splitlines() if ln.strip()]
                error = lines[-1] if lines else None
            except OSError:
                error = None
        self._write(trial, "ERROR", error)


def read_experiment_info(experiment_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The metric/mode/searcher record :class:`TrialLog` wrote ({} if there is none)."""
    path = Path(experiment_dir) / EXPERIMENT_INFO
    if not path.exists():
        return {}
    info: dict[str, Any] = read_json(path)
    return info


def read_trial_log(experiment_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of :class:`TrialLog`, the last one per trial id."""
    path = Path(experiment_dir) / TRIAL_LOG
    if not path.exists():
        raise FileNotFoundError(
            f"no {TRIAL_LOG} in {experiment_dir}: not a raysearch experiment directory "
            "(or no trial has finished yet)"
        )
    records: dict[str, dict[str, Any]] = {}
    for rec in read_jsonlines(path):
        records[rec["trial_id"]] = rec
    return list(records.values())


class Progress(Callback):
    """Logs one line every ``interval_s`` seconds: trials done/running/failed, best value."""

    def __init__(self, metric: str, mode: str, total: int | None, interval_s: float = 5.0) -> None:
        self.metric = metric
        self.mode = mode
        self.total = total
        self.interval_s = interval_s
        self._start = time.monotonic()
        self._last = 0.0
        self._done = 0
        self._errors = 0
        self._best: float | None = None
        self._best_trial: str | None = None

    def _consider(self, trial: Trial) -> None:
        v = finite_float((trial.last_result or {}).get(self.metric))
        if v is None:
            return
        better = self._best is None or (v < self._best if self.mode == "min" else v > self._best)
        if better:
            self._best, self._best_trial = v, trial.trial_id

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._done += 1
        self._consider(trial)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._errors += 1

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            self._log(trials)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self._log(trials, final=True)

    def _log(self, trials: list[Trial], final: bool = False) -> None:
        elapsed = time.monotonic() - self._start
        running = sum(1 for t in trials if t.status == Trial.RUNNING)
        total = f"/{self.total}" if self.total and self.total > 0 else ""
        best = (
            f"best {self.metric}={self._best:.6g} ({self._best_trial})"
            if self._best is not None
            else "no result yet"
        )
        rate = self._done / elapsed if elapsed > 0 else 0.0
        logger.info(
            "%s%d%s trials done, %d running, %d failed | %s | %.1f s, %.2f trials/s",
            "finished: " if final else "",
            self._done,
            total,
            running,
            self._errors,
            best,
            elapsed,
            rate,
        )
