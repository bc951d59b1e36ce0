"""A compute budget and its parser, Ray-free: checking an experiment file's ``budget``
loads no Ray. :class:`raysearch.tune.budget.BudgetStop` spends it in a Tune experiment.

A budget is counted in one of two units:

* a number (``500``) is in the scheduler's ``time_attr``: the sum over all trials of the
  steps each trained;
* a duration (``"30m"``, ``"90s"``, ``"2h"``) is trial time (:data:`SECONDS`): the sum over
  all trials of the seconds each spent training.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Budget", "parse_budget", "SECONDS"]

#: the unit of a budget given as a duration: the seconds trials spent training
SECONDS = "time_total_s"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs)\s*$")
_FACTOR = {"s": 1, "sec": 1, "secs": 1, "m": 60, "min": 60, "mins": 60}
_FACTOR.update({"h": 3600, "hr": 3600, "hrs": 3600})


@dataclass(frozen=True)
class Budget:
    """A compute budget.

    Attributes:
        amount: how much may be spent, > 0.
        attr: the result key it is counted in; None for the scheduler's ``time_attr``,
            :data:`SECONDS` for trial time.
    """

    amount: float
    attr: str | None = None

    def describe(self, attr: str) -> str:
        """``500 training_iteration`` or ``1800 s of trial time``."""
        if attr == SECONDS:
            return f"{self.amount:g} s of trial time"
        return f"{self.amount:g} {attr}"


def parse_budget(value: Any) -> Budget:
    """A budget from a number (units of the scheduler's ``time_attr``) or a duration
    string (``"90s"``, ``"30m"``, ``"1.5h"``: seconds of trial time).

    Raises:
        ValueError: naming the value, for anything else or an amount that is not > 0.
    """
    if isinstance(value, Budget):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(
            f"budget must be a number of time_attr steps (500) or a duration ('30m', '90s', "
            f"'2h'), got {value!r}"
        )
    if isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match is None:
            try:
                return parse_budget(float(value))
            except ValueError:
                raise ValueError(
                    f"budget must be a number of time_attr steps (500) or a duration ('30m', "
                    f"'90s', '2h'), got {value!r}"
                ) from None
        return _seconds(float(match.group(1)) * _FACTOR[match.group(2)], value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"budget must be > 0, got {value!r}")
    return Budget(float(value))


def _seconds(seconds: float, given: Any) -> Budget:
    if not seconds > 0:
        raise ValueError(f"budget must be > 0, got {given!r}")
    return Budget(seconds, SECONDS)
