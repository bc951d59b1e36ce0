"""Ray's own ``ASHAScheduler`` and ``HyperBandScheduler`` on the simulated clock.

:class:`RayShim` plays Tune's controller for one of Ray's schedulers: pause, resume, stop
of waiting trials through ``on_trial_remove``, and up to 16 trials added ahead of a free
worker, as Tune does with random search. Ray's Hyperband fills its brackets with the trials
added so far; with trials added only as workers free up, its first (``max_t``) bracket
would be refilled as its trials finish, so all trials would run to ``max_t``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from raysearch.bench.multifidelity.grids import MAX_T
from raysearch.core.scheduler import Scheduler
from raysearch.core.types import Decision, Exploit

__all__ = ["RayShim", "ray_asha", "ray_hyperband"]


class _FakeTrial:
    """What Ray's schedulers read from a Tune trial."""

    PENDING, RUNNING, PAUSED, TERMINATED = "PENDING", "RUNNING", "PAUSED", "TERMINATED"

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = config
        self.status = "PENDING"
        self.is_saving = False
        self.last_result: dict[str, Any] = {}
        self.evaluated_params = config
        self.run_metadata = None

    def __repr__(self) -> str:
        return self.trial_id

    def __hash__(self) -> int:
        return hash(self.trial_id)


class _FakeController:
    """The part of Tune's controller that Ray's schedulers call back into."""

    def __init__(self, shim: RayShim) -> None:
        self.shim = shim

    def get_trials(self) -> list[_FakeTrial]:
        return list(self.shim.trials.values())

    def stop_trial(self, trial: _FakeTrial) -> None:
        # As Tune's controller: a trial stopped while it waits (PENDING/PAUSED) leaves the
        # scheduler through ``on_trial_remove`` (Hyperband's brackets drop it there); the
        # running trial's STOP reaches the scheduler as ``on_trial_complete``.
        waiting = trial.status in ("PENDING", "PAUSED")
        self.shim.stopped.add(trial.trial_id)
        trial.status = "TERMINATED"
        if waiting:
            self.shim.ray.on_trial_remove(self, trial)

    def pause_trial(self, trial: _FakeTrial, should_checkpoint: bool = True) -> None:
        trial.status = "PAUSED"

    # Ray's schedulers call this private hook of Tune's controller by this name.
    def _set_trial_status(self, trial: _FakeTrial, status: str) -> None:
        trial.status = status

    @property
    def search_alg(self) -> None:
        return None


class RayShim(Scheduler):
    """Plays Tune's part for one of Ray's own schedulers on the simulated clock."""

    stateful = False
    #: trials Tune keeps added ahead of a free worker with its random-search generator
    #: (``TUNE_MAX_PENDING_TRIALS_PG``); see :func:`simulate`'s ``n_pending``
    n_pending = 16

    def __init__(self, ray_scheduler: Any) -> None:
        super().__init__(seed=0)
        self.ray = ray_scheduler
        self.trials: dict[str, _FakeTrial] = {}
        self.stopped: set[str] = set()
        self.controller = _FakeController(self)

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        trial = _FakeTrial(trial_id, dict(config or {}))
        self.trials[trial_id] = trial
        self.ray.on_trial_add(self.controller, trial)

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        trial = self.trials[trial_id]
        trial.status = "RUNNING"
        result = {
            "t": step,
            "training_iteration": step,
            "loss": math.nan if value is None else value,
        }
        trial.last_result = result
        action = self.ray.on_trial_result(self.controller, trial, result)
        if trial_id in self.stopped:
            return Decision.STOP
        if action == "PAUSE":
            trial.status = "PAUSED"
            return Decision.PAUSE
        if action == "STOP":
            return Decision.STOP
        return Decision.CONTINUE

    def on_complete(self, trial_id: str, value: float | None) -> None:
        trial = self.trials[trial_id]
        if trial.status != "TERMINATED":
            trial.status = "TERMINATED"
            self.ray.on_trial_complete(self.controller, trial, trial.last_result)

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        chosen = self.ray.choose_trial_to_run(self.controller)
        if chosen is None:
            return None
        if chosen.trial_id in self.stopped:
            return None
        chosen.status = "RUNNING"
        return str(chosen.trial_id)


def ray_asha(seed: int = 0, max_t: int = MAX_T) -> Scheduler:
    """Ray's ``ASHAScheduler`` (grace period 1, reduction factor 3) behind the shim."""
    from ray.tune.schedulers import ASHAScheduler

    return RayShim(
        ASHAScheduler(
            time_attr="t",
            metric="loss",
            mode="min",
            max_t=max_t,
            grace_period=1,
            reduction_factor=3,
        )
    )


def ray_hyperband(seed: int = 0, max_t: int = MAX_T) -> Scheduler:
    """Ray's ``HyperBandScheduler`` (reduction factor 3) behind the shim."""
    from ray.tune.schedulers import HyperBandScheduler

    return RayShim(
        HyperBandScheduler(
            time_attr="t", metric="loss", mode="min", max_t=max_t, reduction_factor=3
        )
    )
