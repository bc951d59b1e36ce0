"""Tune callbacks raysearch adds to every run: a trial log, a compact progress line, and
:class:`FailFast`, which stops an experiment whose first trials all fail."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from ray.tune import Callback, Stopper
from ray.tune.experiment import Trial
from ray.tune.stopper import CombinedStopper, FunctionStopper
from ray.tune.utils import flatten_dict

from raysearch.core.jsonlines import read_jsonlines
from raysearch.core.state import atomic_write_json, read_json
from raysearch.core.values import finite_float
from raysearch.tune.budget import BudgetStop

__all__ = [
    "TrialLog",
    "Progress",
    "FailFast",
    "TrialsFailedError",
    "DictStopper",
    "trial_error_line",
    "stop_criteria",
    "TRIAL_LOG",
    "EXPERIMENT_INFO",
    "read_trial_log",
    "read_experiment_info",
    "LiveReport",
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
            if not self._path.exists():
                # A resumed (or re-run) experiment starts in a fresh staging directory,
                # whose log would replace the stored one at the next sync: start from the
                # stored log, so the trials that finished earlier stay in it.
                _copy_stored(storage, TRIAL_LOG, self._path)
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
        self._write(trial, "ERROR", trial_error_line(trial))


def _copy_stored(storage: Any, name: str, destination: Path) -> None:
    """Copies the file ``name`` of the experiment's storage (local or cloud) to
    ``destination``; nothing if there is none."""
    source = f"{storage.experiment_fs_path}/{name}"
    try:
        with storage.storage_filesystem.open_input_stream(source) as f:
            data = f.read()
    except OSError:  # FileNotFoundError: a new experiment
        return
    destination.write_bytes(data)


def trial_error_line(trial: Trial) -> str | None:
    """The last line of a failed trial's error file (``RuntimeError: ...``), if any."""
    path = getattr(trial, "error_file", None)
    if not path or not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            lines = [ln for ln in f.read().strip().splitlines() if ln.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None


class TrialsFailedError(RuntimeError):
    """The first trials of an experiment all failed, so :func:`raysearch.run` stopped it.

    Attributes:
        reason: which trials failed, with what, and where the traceback is.
        experiment_path: the experiment's directory.
    """

    def __init__(self, reason: str, experiment_path: str) -> None:
        self.reason, self.experiment_path = reason, experiment_path
        super().__init__(
            f"{reason}. Fix the trainable and run again (or pass fail_fast=None to run every "
            f"trial anyway); the trials are in {experiment_path}"
        )


class FailFast(Callback):
    """Stops the experiment when the first ``after`` trials to end all failed and no trial
    has reported a result yet: a trainable that raises every time is reported once, not run
    for every trial.

    Add :meth:`stopper` to the run's ``stop`` criteria. After the fit, :attr:`stopped`
    holds why the last experiment of this process was stopped (also when Tune restored
    this callback from an experiment's saved state rather than using this object).
    """

    #: why the last experiment of this process was stopped early; None if it was not
    stopped: ClassVar[str | None] = None

    def __init__(self, after: int) -> None:
        self.after = after
        self._ok = 0
        self._errors = 0
        self._first: tuple[str, str | None, str | None] | None = None
        self.reason: str | None = None

    def on_trial_result(
        self,
        iteration: int,
        trials: list[Trial],
        trial: Trial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        self._ok += 1  # a trainable that reports works (PBT members end only at the end)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._ok += 1

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._errors += 1
        line = trial_error_line(trial)
        logger.info("trial %s failed: %s", trial.trial_id, line or "(no error message)")
        if self._first is None:
            # where the traceback ends up: the trial's directory under storage_path
            name = getattr(trial.run_metadata, "error_filename", None)
            stored = f"{trial.path}/{name}" if trial.path and name else trial.error_file
            self._first = (trial.trial_id, line, stored)
        if (
            self.reason is None
            and self._ok == 0
            and self._errors >= self.after
            # a resumed experiment's trials that ended well before
            and not any(t.status == Trial.TERMINATED for t in trials)
        ):
            trial_id, first_line, error_file = self._first
            where = f"; its traceback is in {error_file}" if error_file else ""
            self.reason = (
                f"the first {self._errors} trials all failed, so the experiment was stopped "
                f"early: trial {trial_id} raised {first_line or 'an error'}{where}"
            )
            FailFast.stopped = self.reason

    @classmethod
    def raise_if_stopped(cls, experiment_path: str) -> None:
        """Raises :class:`TrialsFailedError` if the last experiment was stopped early."""
        if cls.stopped is not None:
            raise TrialsFailedError(cls.stopped, experiment_path)

    def stopper(self) -> Stopper:
        """The Tune ``Stopper`` that ends the experiment once this callback says so."""
        return _FailFastStopper(self)


class _FailFastStopper(Stopper):
    def __init__(self, fail_fast: FailFast) -> None:
        self.fail_fast = fail_fast

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.fail_fast.reason is not None


class DictStopper(Stopper):
    """Tune's per-trial ``stop={"metric": threshold}`` criteria as a ``Stopper`` (so that
    they combine with other stoppers): a trial stops once a reported value reaches its
    threshold (keys of nested results as ``a/b``)."""

    def __init__(self, criteria: Mapping[str, Any]) -> None:
        for key in criteria:
            if isinstance(criteria[key], Mapping):
                raise ValueError(
                    f"stop[{key!r}] is a dict: write nested stopping criteria flat, as 'a/b'"
                )
        self.criteria = dict(criteria)

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        flat = flatten_dict(result)
        return any(k in flat and flat[k] >= v for k, v in self.criteria.items())

    def stop_all(self) -> bool:
        return False


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
    """Logs one line every ``interval_s`` seconds: trials done/running/failed, best value,
    rate, and an ETA when the run has a budget or a number of trials."""

    def __init__(
        self,
        metric: str,
        mode: str,
        total: int | None,
        interval_s: float = 5.0,
        budget: BudgetStop | None = None,
    ) -> None:
        self.budget = budget  # its spent compute joins the line
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
        if self.budget is not None:
            best += f" | {self.budget.describe()}"
        eta = "" if final else self._eta(elapsed)
        logger.info(
            "%s%d%s trials done, %d running, %d failed | %s | %.1f s, %.2f trials/s%s",
            "finished: " if final else "",
            self._done,
            total,
            running,
            self._errors,
            best,
            elapsed,
            rate,
            eta,
        )

    def _eta(self, elapsed: float) -> str:
        """The ETA suffix (", ETA 42 s") from the share of the budget (or of the trials) used so far."""
        share = 0.0
        if self.budget is not None and self.budget.amount > 0:
            share = self.budget.spent / self.budget.amount
        elif self.total:
            share = (self._done + self._errors) / self.total
        if not 0.0 < share < 1.0 or elapsed <= 0:
            return ""
        return f", ETA {elapsed * (1.0 - share) / share:.0f} s"


def stop_criteria(stop: Any, run_callbacks: list[Any]) -> Any:
    """The user's ``stop`` criteria, with the stoppers of the :class:`FailFast` and
    :class:`~raysearch.tune.budget.BudgetStop` callbacks if any."""
    ours = [cb.stopper() for cb in run_callbacks if isinstance(cb, FailFast | BudgetStop)]
    if not ours:
        return stop
    if stop is None:
        return ours[0] if len(ours) == 1 else CombinedStopper(*ours)
    if isinstance(stop, Mapping):
        return CombinedStopper(DictStopper(stop), *ours)
    if isinstance(stop, Stopper):
        return CombinedStopper(stop, *ours)
    if isinstance(stop, list):  # Tune takes a list of stoppers too
        return CombinedStopper(*stop, *ours)
    if callable(stop):
        return CombinedStopper(FunctionStopper(stop), *ours)
    return stop  # Tune reports what is wrong with it


class LiveReport(Callback):
    """Rewrites the experiment's report page (:mod:`raysearch.report`) every ``interval_s``
    seconds during a run, and once more at its end, so a long job can be watched in a
    browser from the driver's machine (``raysearch run EXP.yaml --report``).

    The page is made from the driver's staging copy of the experiment directory (where Tune
    and raysearch write the trial log, results and scheduler state first), in a background
    thread so that the run never waits on it (a render still going when the next is due is
    skipped); while the run goes on, the page reloads itself every ``interval_s``. A report
    that fails is logged once and the run continues.

    Args:
        out: the HTML file (default ``<experiment name>-report.html`` in the working
            directory).
        interval_s: seconds between two pages.
        **report_kwargs: passed to :func:`raysearch.report.write_report` (``metric``,
            ``mode``, ``objectives``).
    """

    def __init__(
        self,
        out: str | os.PathLike[str] | None = None,
        interval_s: float = 30.0,
        **report_kwargs: Any,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self.out = None if out is None else Path(out).expanduser().resolve()
        self.interval_s = float(interval_s)
        self.report_kwargs = report_kwargs
        self._last = time.monotonic()
        self._thread: Any = None
        self._failed = False
        self.pages = 0  #: pages written so far

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles the run's callbacks with the Tuner (tuner.pkl): no thread in there
        return {**self.__dict__, "_thread": None}

    def _target(self, trials: list[Trial]) -> tuple[Path, Path] | None:
        storage = next((t.storage for t in trials if t.storage is not None), None)
        if storage is None:
            return None
        directory = Path(storage.experiment_driver_staging_path)
        out = self.out or Path.cwd() / f"{storage.experiment_dir_name}-report.html"
        return directory, out

    def _write(self, directory: Path, out: Path, refresh_s: float | None) -> None:
        from raysearch.report import write_report

        try:
            write_report(directory, out, refresh_s=refresh_s, **self.report_kwargs)
            self.pages += 1
        except FileNotFoundError:
            pass  # no trial has started yet
        except Exception as err:  # a report must never stop the run
            if not self._failed:
                logger.warning("the live report failed (the run goes on): %r", err)
            self._failed = True

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s or (self._thread and self._thread.is_alive()):
            return
        target = self._target(trials)
        if target is None:
            return
        import threading

        self._last = now
        self._thread = threading.Thread(
            target=self._write, args=(*target, self.interval_s), daemon=True
        )
        self._thread.start()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        if self._thread is not None:
            self._thread.join()
        target = self._target(trials)
        if target is not None:
            self._write(*target, None)
            logger.info("report: %s", target[1])
