"""Compute budgets: ``raysearch.run(..., budget=500)`` runs trials until 500 steps of
training are spent over all of them, however many trials that takes.

A budget is counted in one of two units:

* a number (``budget=500``) is in the scheduler's ``time_attr`` (``training_iteration``
  unless the scheduler measures progress in another result key, e.g. ASHA with
  ``time_attr="epoch"``): the sum over all trials of the steps each trained;
* a duration (``budget="30m"``, ``"90s"``, ``"2h"``) is trial time: the sum over all trials
  of the seconds each spent training (Tune's ``time_this_iter_s``). Four trials at once
  spend a ``"30m"`` budget in about 7.5 minutes of wall time; ``time_budget_s`` is the
  wall-clock limit instead.

:class:`BudgetStop` counts what every result adds, stops the experiment (Tune's
``stop_all``: no new trial starts, the running ones stop) at the first result that
reaches the budget, so the run ends within one step of one trial of it, and saves what was
spent with the experiment's snapshots: a resumed run (``resume=True``) goes on from the
compute already spent.
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

from ray.tune import Callback, Stopper
from ray.tune.experiment import Trial

# Budget and parse_budget are Ray-free (raysearch.core.budget); imported from here as before
from raysearch.core.budget import SECONDS, Budget, parse_budget

__all__ = ["Budget", "BudgetStop", "parse_budget", "scheduler_time_attr", "SECONDS"]

logger = logging.getLogger("raysearch.progress")


def scheduler_time_attr(scheduler: Any) -> str:
    """The result key a Tune scheduler measures progress in (raysearch's ``time_attr``,
    Ray's ``_time_attr``), ``training_iteration`` for one that has none (FIFO)."""
    for name in ("time_attr", "_time_attr"):
        attr = getattr(scheduler, name, None)
        if isinstance(attr, str) and attr:
            return attr
    return "training_iteration"


class BudgetStop(Callback):
    """Counts the compute of every result and stops the experiment once ``amount`` is spent.

    What one result adds: one step for ``training_iteration``; ``time_this_iter_s`` for
    :data:`SECONDS`; for any other key, how far it moved past the trial's last value (a
    trial restarted from scratch counts again from its restart). Add :meth:`stopper` to the
    run's ``stop`` criteria.

    Args:
        amount: the budget, > 0.
        attr: the result key it is counted in.
    """

    #: set by :func:`raysearch.run` before a resumed fit: the budget given to the resumed
    #: run, which replaces the one the experiment was started with (Tune restores callbacks
    #: from the experiment, not from the new run's arguments)
    resume_budget: ClassVar[Budget | None] = None
    #: the callback Tune calls in the running (or last) experiment of this process. A
    #: resumed experiment's stopper comes out of Tune's saved state as a copy apart from the
    #: callback it was made with, so the stopper asks this one.
    current: ClassVar[BudgetStop | None] = None

    def __init__(self, amount: float, attr: str) -> None:
        self.amount = float(amount)
        self.attr = attr
        self.spent = 0.0
        self._last: dict[str, float] = {}
        self._said = False

    @classmethod
    def start(cls, budget: float | str | Budget | None) -> None:
        """Called before each fit: forgets the last experiment's count and sets the
        amount a resumed experiment's callback takes (None keeps the one it was saved with)."""
        cls.current = None
        cls.resume_budget = None if budget is None else parse_budget(budget)

    @classmethod
    def last(cls) -> tuple[float, float, str] | None:
        """What the last experiment of this process spent, of how much, in what unit
        (None without a budget)."""
        now = cls.current
        return None if now is None else (now.spent, now.amount, now.attr)

    @classmethod
    def log_summary(cls) -> None:
        """Logs what the last experiment spent of its budget (nothing without a budget)."""
        last = cls.last()
        if last is not None:
            spent, amount, attr = last
            unit = "s of trial time" if attr == SECONDS else attr
            logger.info("budget: %.6g of %.6g %s spent", spent, amount, unit)

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.amount

    def describe(self) -> str:
        """``budget 230/500 training_iteration``."""
        if self.attr == SECONDS:
            return f"budget {self.spent:.1f}/{self.amount:g} s of trial time"
        return f"budget {self.spent:g}/{self.amount:g} {self.attr}"

    def _take_resume_budget(self) -> None:
        given = BudgetStop.resume_budget
        if given is None or given.amount == self.amount:
            return
        if (given.attr == SECONDS) != (self.attr == SECONDS):
            logger.warning(
                "this experiment's budget is counted in %s; a resumed run can change its "
                "amount, not its unit: keeping %s",
                self.attr,
                self.describe(),
            )
            return
        self.amount = given.amount

    def setup(self, **info: Any) -> None:
        BudgetStop.current = self
        self._take_resume_budget()

    def _added(self, trial_id: str, result: dict[str, Any]) -> float:
        if self.attr == "training_iteration":
            return 1.0
        if self.attr == SECONDS:
            return max(float(result.get("time_this_iter_s") or 0.0), 0.0)
        try:
            value = float(result[self.attr])
        except (KeyError, TypeError, ValueError):
            return 0.0
        if not math.isfinite(value):
            return 0.0
        last = self._last.get(trial_id, 0.0)
        self._last[trial_id] = value
        return value - last if value >= last else value

    def on_trial_result(
        self,
        iteration: int,
        trials: list[Trial],
        trial: Trial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        self.spent += self._added(trial.trial_id, result)
        if self.exhausted and not self._said:
            self._said = True
            logger.info("%s spent: stopping the experiment", self.describe())

    def get_state(self) -> dict[str, Any] | None:
        return {"spent": self.spent, "last": dict(self._last), "attr": self.attr}

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("attr") != self.attr:
            return  # not this callback's state
        BudgetStop.current = self
        self.spent = float(state["spent"])
        self._last = {str(k): float(v) for k, v in state.get("last", {}).items()}
        self._take_resume_budget()
        logger.info("resumed with %s already spent", self.describe())

    def stopper(self) -> Stopper:
        """The Tune ``Stopper`` that ends the experiment once the budget is spent."""
        return _BudgetStopper(self)


class _BudgetStopper(Stopper):
    def __init__(self, budget: BudgetStop) -> None:
        self.budget = budget

    def _exhausted(self) -> bool:
        return (BudgetStop.current or self.budget).exhausted

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return self._exhausted()

    def stop_all(self) -> bool:
        return self._exhausted()
