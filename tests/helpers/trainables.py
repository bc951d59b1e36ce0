"""Trainables used by the integration tests (importable by Ray workers and subprocesses)."""

from __future__ import annotations

import math
import time
from typing import Any

from ray import tune

from raysearch.core.scheduler import Scheduler
from raysearch.core.types import Decision


def quadratic(config: dict[str, Any]) -> dict[str, float]:
    return {"score": (config["x"] - 0.3) ** 2}


def sleepy(config: dict[str, Any]) -> dict[str, float]:
    time.sleep(0.25)
    return {"score": (config["x"] - 0.3) ** 2}


def flaky(config: dict[str, Any]) -> dict[str, float]:
    """Crashes for x < -0.5, reports NaN for x > 0.5."""
    if config["x"] < -0.5:
        raise RuntimeError("trial crashed on purpose")
    return {"score": math.nan if config["x"] > 0.5 else config["x"]}


def always_fails(config: dict[str, Any]) -> dict[str, float]:
    raise RuntimeError("always fails on purpose")


def curve(config: dict[str, Any]) -> None:
    """Reports a learning curve of 4 steps."""
    for step in range(1, 5):
        tune.report({"score": config["x"] / step})


def no_metric(config: dict[str, Any]) -> dict[str, float]:
    return {"other": 1.0}


class StepLogScheduler(Scheduler):
    """A stateful core scheduler for tests: remembers the last step of every trial."""

    def __init__(self, *, seed=None):
        super().__init__(seed=seed)
        self.steps: dict[str, float] = {}

    def recipe(self):
        return {}

    def on_result(self, trial_id, step, value):
        self.steps[trial_id] = max(step, self.steps.get(trial_id, 0.0))
        return Decision.CONTINUE

    def _state_data(self):
        return {"steps": self.steps}

    def _load_state_data(self, data):
        self.steps = dict(data["steps"])
