"""The one ``ray.tune.schedulers.TrialScheduler`` every raysearch scheduler plugs into,
and the callback that makes scheduler state survive ``Tuner.restore``.

Tune never saves a scheduler (ray-project/ray#30838: ASHA rungs and PBT populations are
lost on restore). Tune does save the state of callbacks, in the same experiment snapshot
as the trials, and restores callbacks *before* it re-adds the trials. So
:class:`SchedulerStateCallback` returns the scheduler's JSON state from ``get_state`` and
loads it in ``set_state``: the restored scheduler sees the restored trials. The callback
holds a reference to the scheduler; Tune pickles the whole Tuner (config and callbacks) in
one ``tuner.pkl``, so after ``Tuner.restore`` it still points at the restored scheduler.
``raysearch.run`` adds the callback by itself; with a plain ``tune.Tuner`` add
``callbacks=[scheduler.state_callback()]`` to the ``RunConfig``. An adapter with state of its
own (the PBT adapter's pending checkpoint hand-overs) saves it with the core's through
:meth:`TuneScheduler.adapter_state`.

A core that exploits (PBT, PB2) needs the adapter that carries out
:class:`~raysearch.core.types.Exploit` decisions (checkpoint hand-overs):
:class:`~raysearch.tune.exploit.ExploitingTuneScheduler`. Every place that wraps a core
scheduler it does not know (``raysearch.run``, experiment files) calls
:func:`raysearch.tune.exploit.wrap`, which picks the right adapter; ``TuneScheduler(core)``
refuses an exploiting core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from ray.tune import Callback
from ray.tune.experiment import Trial
from ray.tune.result import DEFAULT_METRIC
from ray.tune.schedulers import TrialScheduler

from raysearch.core.scheduler import Scheduler as CoreScheduler
from raysearch.core.types import Decision, Exploit
from raysearch.core.values import finite_float
from raysearch.tune.searcher import TuneSearcher, sign_for_mode

__all__ = [
    "TUNE_DECISIONS",
    "TuneScheduler",
    "SchedulerStateCallback",
    "find_tune_searcher",
    "request_snapshot",
]

logger = logging.getLogger(__name__)

#: a core scheduler's decision -> Tune's
TUNE_DECISIONS = {
    Decision.CONTINUE: TrialScheduler.CONTINUE,
    Decision.PAUSE: TrialScheduler.PAUSE,
    Decision.STOP: TrialScheduler.STOP,
}


def find_tune_searcher(tune_controller: Any) -> TuneSearcher | None:
    """The raysearch searcher behind Tune's search algorithm, if there is one."""
    try:
        node = tune_controller.search_alg
    except Exception:  # not every controller wrapper exposes it
        return None
    for _ in range(8):  # SearchGenerator -> ConcurrencyLimiter/Repeater -> TuneSearcher
        if node is None or isinstance(node, TuneSearcher):
            return node
        node = getattr(node, "searcher", None)
    return None


class TuneScheduler(TrialScheduler):
    """Adapts a raysearch core scheduler to Ray Tune.

    Args:
        scheduler: the core scheduler; not one that exploits (PBT, PB2): those need
            :class:`~raysearch.tune.exploit.ExploitingTuneScheduler`, and
            :func:`raysearch.tune.exploit.wrap` picks the adapter a core needs.
        metric, mode: as in Tune; may come from ``TuneConfig``.
        time_attr: the monotone resource results are measured in (a result key):
            ``training_iteration``, epochs, boosting rounds, samples, seconds...
    """

    #: whether this adapter carries out :class:`~raysearch.core.types.Exploit` decisions
    carries_out_exploits: ClassVar[bool] = False
    #: at most one experiment snapshot for ended trials per this many seconds
    SNAPSHOT_GAP_S: ClassVar[float] = 0.5

    def __init__(
        self,
        scheduler: CoreScheduler,
        metric: str | None = None,
        mode: str | None = None,
        *,
        time_attr: str = "training_iteration",
    ) -> None:
        if not isinstance(scheduler, CoreScheduler):
            raise TypeError(
                f"scheduler must be a raysearch core Scheduler, got {type(scheduler).__name__}"
            )
        if scheduler.exploits and not self.carries_out_exploits:
            raise TypeError(
                f"{type(scheduler).__name__} exploits (checkpoint hand-overs): wrap it with "
                "raysearch.tune.exploit.wrap(core) (or ExploitingTuneScheduler), not "
                f"{type(self).__name__}"
            )
        if mode is not None:
            sign_for_mode(mode)
        super().__init__()
        self.core = scheduler
        self._metric = metric
        self._mode = mode
        self.time_attr = time_attr
        self._persisted = False
        self._warned_persist = False
        self._supports_buffered_results = not scheduler.pauses
        #: trials the core dropped that are still to be stopped (see :meth:`_stop_dropped`)
        self._dropped: dict[str, None] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if self._metric and metric and metric != self._metric:
            return False
        if self._mode and mode and mode != self._mode:
            return False
        if mode is not None:
            sign_for_mode(mode)
        self._metric = metric or self._metric or DEFAULT_METRIC
        self._mode = mode or self._mode
        return True

    def state_callback(self) -> SchedulerStateCallback:
        """The callback that persists this scheduler across ``Tuner.restore``."""
        return SchedulerStateCallback(self)

    def adapter_state(self) -> dict[str, Any] | None:
        """State of this adapter itself, saved next to the core's (None: nothing to save)."""
        return None

    def load_adapter_state(self, state: dict[str, Any] | None) -> None:
        """Called after the core's state was restored, with what :meth:`adapter_state`
        saved (None if nothing)."""

    # ------------------------------------------------------------------ Tune hooks
    def _loss(self, result: Mapping[str, Any]) -> float | None:
        if self._mode is None:
            raise ValueError(f"{type(self.core).__name__} needs mode='min' or 'max'")
        value = finite_float(result.get(self._metric or DEFAULT_METRIC))
        return None if value is None else sign_for_mode(self._mode) * value

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        if not self._persisted and not self._warned_persist and self.core.stateful:
            self._warned_persist = True
            logger.warning(
                "%s state will not survive Tuner.restore: add callbacks=[scheduler.state_callback()] "
                "to the RunConfig, or use raysearch.run",
                type(self.core).__name__,
            )
        self.core.on_add(trial.trial_id, dict(trial.config))

    def _step(self, trial: Trial, result: Mapping[str, Any]) -> Any:
        """The result's value of :attr:`time_attr` (a result without it is an error)."""
        step = result.get(self.time_attr)
        if step is None:
            raise ValueError(
                f"{type(self.core).__name__} measures progress in {self.time_attr!r}, but trial "
                f"{trial.trial_id} reported no such key; set time_attr to one it reports"
            )
        return step

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        self._snapshot_ends(tune_controller)
        step = self._step(trial, result)
        decision = self.core.on_result(trial.trial_id, float(step), self._loss(result))
        if isinstance(decision, Exploit):
            return self._exploit(tune_controller, trial, decision)
        if decision is Decision.STOP:
            searcher = find_tune_searcher(tune_controller)
            if searcher is not None:
                searcher.mark_pruned(trial.trial_id)
        self._stop_dropped(tune_controller)
        return TUNE_DECISIONS[decision]

    def _stop_dropped(self, tune_controller: Any) -> None:
        """Stops the paused trials a pausing core dropped (its ``take_stops()``, e.g. the
        losers of a Hyperband rung): Tune never ends while a trial stays paused."""
        take = getattr(self.core, "take_stops", None)
        if take is None:
            return
        # an ordered set; setdefault: a scheduler pickled (tuner.pkl) before it existed
        pending: dict[str, None] = self.__dict__.setdefault("_dropped", {})
        pending.update(dict.fromkeys(take()))
        if not pending:
            return
        searcher = find_tune_searcher(tune_controller)
        by_id = {t.trial_id: t for t in tune_controller.get_trials()}
        for trial_id in list(pending):
            trial = by_id.get(trial_id)
            if trial is not None and trial.status == Trial.RUNNING:
                # Tune marks a paused trial PAUSED only once its pause checkpoint is saved;
                # dropped before that, it is stopped at a later hook (Tune calls
                # choose_trial_to_run every step). Forgetting it left it paused: a stall
                continue
            del pending[trial_id]
            if trial is None or trial.status not in (Trial.PAUSED, Trial.PENDING):
                continue
            if searcher is not None:
                searcher.mark_pruned(trial_id)
            tune_controller.stop_trial(trial)

    def _exploit(self, tune_controller: Any, trial: Trial, decision: Exploit) -> str:
        raise NotImplementedError(
            f"{type(self).__name__} cannot carry out an exploit decision; "
            "raysearch.tune.exploit.ExploitingTuneScheduler does"
        )

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any]
    ) -> None:
        self.core.on_complete(trial.trial_id, self._loss(result) if result else None)
        self._ended_unsaved = True
        self._snapshot_ends(tune_controller)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self.core.on_error(trial.trial_id)
        self._ended_unsaved = True
        self._snapshot_ends(tune_controller)

    def _snapshot_ends(self, tune_controller: Any) -> None:
        """Has Tune snapshot the experiment soon after a trial ended (see
        :func:`request_snapshot`), at most once every :attr:`SNAPSHOT_GAP_S` seconds: the
        hooks Tune calls often (results, choosing a trial) retry a deferred one."""
        if getattr(self, "_ended_unsaved", False) and request_snapshot(
            tune_controller, self.SNAPSHOT_GAP_S
        ):
            self._ended_unsaved = False

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self.core.on_remove(trial.trial_id)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        self._snapshot_ends(tune_controller)
        trials = tune_controller.get_trials()
        pending = [t for t in trials if t.status == Trial.PENDING]
        paused = [t for t in trials if t.status == Trial.PAUSED]
        if not pending and not paused:
            return None
        by_id = {t.trial_id: t for t in pending + paused}
        chosen = self.core.choose([t.trial_id for t in pending], [t.trial_id for t in paused])
        self._stop_dropped(tune_controller)
        return by_id.get(chosen) if chosen is not None else None

    def debug_string(self) -> str:
        return f"Using raysearch {self.core!r}."


def request_snapshot(tune_controller: Any, min_gap_s: float = 0.0) -> bool:
    """Asks Tune to write the experiment snapshot at the end of this step, unless it wrote
    one less than ``min_gap_s`` seconds ago; True if it asked (or there is nothing to ask).

    Tune snapshots trials, searcher and callbacks every ``TUNE_GLOBAL_CHECKPOINT_S``
    seconds; a trial that ended after the last snapshot was rerun by a resume after a
    crash (kill -9 of the driver). Tune marks the trial TERMINATED (or ERROR) right after
    this hook, in the same step, so the forced snapshot at the end of the step records it
    as ended: only a crash within that step (milliseconds) can still rerun it. Ray 2.60
    has no public call for this; the flag is what Tune sets itself after every
    ``sync_every_n_trial_checkpoints`` trial checkpoints. The gap bounds the cost when
    trials end many times a second (a snapshot of 300 trials takes ~0.1 s here).
    """
    # Tune hands schedulers a TrialRunnerWrapper that warns on every other attribute
    controller = vars(tune_controller).get("_tune_controller", tune_controller)
    manager = getattr(controller, "_checkpoint_manager", None)
    if manager is None or not hasattr(manager, "_should_force_sync_up"):
        return True  # not Tune's controller (nothing to ask)
    last = getattr(manager, "_last_save_time", None)
    if isinstance(last, float) and time.monotonic() - last < min_gap_s:
        return False
    manager._should_force_sync_up = True
    return True


class SchedulerStateCallback(Callback):
    """Saves and restores a raysearch scheduler with Tune's experiment snapshots."""

    def __init__(self, scheduler: TuneScheduler) -> None:
        if not isinstance(scheduler, TuneScheduler):
            raise TypeError(f"expected a raysearch TuneScheduler, got {type(scheduler).__name__}")
        self.scheduler = scheduler
        scheduler._persisted = True

    def get_state(self) -> dict[str, Any] | None:
        state = {"raysearch_scheduler": self.scheduler.core.get_state()}
        extra = self.scheduler.adapter_state()
        if extra is not None:
            state["raysearch_adapter"] = extra
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        saved = state.get("raysearch_scheduler")
        if saved is not None:
            self.scheduler.core.set_state(saved)
            logger.info("restored %s state", type(self.scheduler.core).__name__)
            self.scheduler.load_adapter_state(state.get("raysearch_adapter"))
