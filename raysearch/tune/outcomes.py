"""What Tune says during and after a fit, said the raysearch way.

* :class:`TuneLogs`: Tune's and Ray's log levels for a fit at a given verbosity, without
  their noise, and noticing an interrupted experiment (Ctrl-C: Tune ends the fit gracefully,
  saves the experiment and returns as if it had finished);
* :class:`Interrupted`: what :func:`raysearch.run` raises then, with the ``resume=True`` hint
  in place of Tune's ``Tuner.restore`` one;
* :func:`reraise_clearly`: Tune's errors that have a clearer raysearch message;
* :class:`SilentTrialProgress`: Tune's per-trial console lines, switched off.
"""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath
from types import TracebackType

from ray.tune.progress_reporter import TrialProgressCallback

__all__ = ["Interrupted", "TuneLogs", "reraise_clearly", "SilentTrialProgress"]

#: Tune's logger that says the experiment was interrupted and lists unfinished trials
_RUN_LOGGER = "ray.tune.tune"
_ANALYSIS_LOGGER = "ray.tune.analysis.experiment_analysis"
_INTERRUPTED = ("Experiment has been interrupted", "Training has been interrupted")
_NOISE = ("Failed to fetch metrics", "Trials did not complete")


class Interrupted(KeyboardInterrupt):
    """An experiment interrupted by Ctrl-C (SIGINT); its state was saved for a resume.

    Attributes:
        experiment_path: the experiment's directory (``storage_path/name``).
    """

    def __init__(self, experiment_path: str) -> None:
        self.experiment_path = experiment_path
        path = PurePosixPath(experiment_path)
        self.name, self.storage_path = path.name, str(path.parent)
        super().__init__(
            f"interrupted; the experiment's state is saved in {experiment_path}: continue it "
            f"with raysearch.run(..., storage_path={self.storage_path!r}, name={self.name!r}, "
            "resume=True)"
        )


class _Filter(logging.Filter):
    def __init__(self, drop_noise: bool) -> None:
        super().__init__()
        self.drop_noise = drop_noise
        self.interrupted = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(_INTERRUPTED):  # with Tune's Tuner.restore hint: ours instead
            self.interrupted = True
            return False
        return not (self.drop_noise and message.startswith(_NOISE))


class TuneLogs:
    """A context for one fit: Tune's logs at ``verbose``, and :attr:`interrupted`.

    ``verbose`` <= 1 keeps Tune's INFO lines off (raysearch logs its own progress) and drops
    its noise: "Failed to fetch metrics" (no result.json with ``loggers="none"``, or a trial
    a stopped experiment never started) and the list of the trials that did not complete
    (the leaderboard says it); ``verbose`` <= 0 also Ray's INFO lines such as Tune's
    "Reached timeout".
    """

    def __init__(self, verbose: int, loggers: str) -> None:
        self.verbose = verbose
        self._filter = _Filter(drop_noise=loggers == "none" or verbose <= 1)
        self._levels: dict[str, int] = {}

    @property
    def interrupted(self) -> bool:
        """Whether Tune said the experiment was interrupted (Ctrl-C)."""
        return self._filter.interrupted

    def __enter__(self) -> TuneLogs:
        levels = {"ray.tune": logging.WARNING if self.verbose <= 1 else None}
        levels["ray"] = logging.WARNING if self.verbose <= 0 else None
        for name, level in levels.items():
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if level is not None:
                logger.setLevel(level)
        for name in (_RUN_LOGGER, _ANALYSIS_LOGGER):
            logging.getLogger(name).addFilter(self._filter)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        for name in (_RUN_LOGGER, _ANALYSIS_LOGGER):
            logging.getLogger(name).removeFilter(self._filter)


_AUTO_KEYS = {
    "timestamp",
    "checkpoint_dir_name",
    "done",
    "training_iteration",
    "trial_id",
    "date",
    "time_this_iter_s",
    "time_total_s",
    "pid",
    "hostname",
    "node_ip",
    "config",
    "time_since_restore",
    "iterations_since_restore",
    "experiment_tag",
    "should_checkpoint",
}


def reraise_clearly(err: Exception, metric: str) -> None:
    """Raises the clearer raysearch error for Tune's ``err`` if there is one."""
    text = str(err)
    if "did not include the specified metric" in text:
        reported = ""
        if "Result:" in text:
            keys = re.findall(r"'([^']+)':", text.split("Result:", 1)[1])
            user_keys = [k for k in dict.fromkeys(keys) if k not in _AUTO_KEYS and "/" not in k]
            reported = f" It reported: {', '.join(user_keys) or 'nothing but Tune bookkeeping'}."
        raise ValueError(
            f"the trainable never reported the metric {metric!r}; report it with "
            f"tune.report({{{metric!r}: value}}) or return {{{metric!r}: value}}.{reported}"
        ) from None


class SilentTrialProgress(TrialProgressCallback):
    """Tune's per-trial console lines ("Trial X completed. Last result: ..."), which it
    prints whatever the verbosity, switched off: given one, Tune does not add its own.
    raysearch's progress line and summary say what they said."""

    def _print(self, msg: str) -> None:
        return None
