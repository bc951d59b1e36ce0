"""A plain, Ray-free driver for searchers (and simple schedulers).

Used by the conformance tests and the benchmarks: thousands of trials of a synthetic
function take seconds. ``n_parallel`` simulates concurrent workers deterministically: the
loop keeps ``n_parallel`` trials pending and completes them first-in first-out, so every
suggestion after the first ``n_parallel`` is made with ``n_parallel - 1`` trials pending.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raysearch.core.scheduler import Scheduler
from raysearch.core.searcher import Searcher
from raysearch.core.types import Decision, Exploit, Finished, TrialStatus
from raysearch.core.values import finite_float

__all__ = ["optimize", "LoopResult", "TrialRecord"]

logger = logging.getLogger(__name__)

Objective = Callable[[dict[str, Any]], Any]


@dataclass
class TrialRecord:
    trial_id: str
    params: dict[str, Any]
    config: dict[str, Any]
    value: float | None  # in the objective's own direction
    status: TrialStatus
    steps: int = 0  # intermediate results consumed (the compute it used)
    suggest_time: float = 0.0
    error: str | None = None


@dataclass
class LoopResult:
    mode: str
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def values(self) -> np.ndarray:
        """Final values in trial order (NaN for failed trials), objective's direction."""
        return np.array([np.nan if t.value is None else t.value for t in self.trials], dtype=float)

    def best_so_far(self) -> np.ndarray:
        """Running best value after each trial (objective's direction; NaN until one succeeds)."""
        sign = 1.0 if self.mode == "min" else -1.0
        losses = np.where(np.isnan(self.values), np.inf, sign * self.values)
        best = np.minimum.accumulate(losses) if len(losses) else losses
        return np.where(np.isinf(best), np.nan, sign * best)

    @property
    def best(self) -> TrialRecord | None:
        ok = [t for t in self.trials if t.value is not None and t.status is TrialStatus.COMPLETE]
        if not ok:
            return None
        sign = 1.0 if self.mode == "min" else -1.0
        return min(ok, key=lambda t: sign * (t.value if t.value is not None else math.inf))

    @property
    def suggest_times(self) -> np.ndarray:
        return np.array([t.suggest_time for t in self.trials])


def optimize(
    searcher: Searcher,
    objective: Objective,
    n_trials: int,
    *,
    mode: str = "min",
    n_parallel: int = 1,
    scheduler: Scheduler | None = None,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> LoopResult:
    """Runs ``n_trials`` trials of ``objective`` driven by ``searcher``.

    Args:
        searcher: a set-up :class:`Searcher` (its space bound).
        objective: ``config -> value``, or ``config -> iterable of values`` (a learning
            curve, one value per step, the last one final); the config is nested.
        n_trials: number of trials (fewer if the searcher returns FINISHED).
        mode: ``"min"`` or ``"max"``: the objective's direction.
        n_parallel: simulated concurrent trials (see the module docstring).
        scheduler: optional; gets every step of learning curves. PAUSE is treated as STOP
            (this loop never resumes trials); Exploit is not supported here.
        catch: exceptions from ``objective`` recorded as failed trials.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if n_parallel < 1:
        raise ValueError(f"n_parallel must be >= 1, got {n_parallel}")
    sign = 1.0 if mode == "min" else -1.0
    result = LoopResult(mode)
    pending: deque[tuple[str, dict[str, Any], float]] = deque()
    asked = 0
    finished = False
    while True:
        while not finished and asked < n_trials and len(pending) < n_parallel:
            trial_id = f"trial_{asked}"
            t0 = time.perf_counter()
            params = searcher.ask(trial_id)
            dt = time.perf_counter() - t0
            if isinstance(params, Finished):
                finished = True
                break
            if params is None:
                if not pending:
                    raise RuntimeError(
                        f"{type(searcher).__name__}.ask returned None with no trial pending; "
                        "it would wait forever"
                    )
                break
            if scheduler is not None:
                scheduler.on_add(trial_id, searcher.space.to_config(params))
            pending.append((trial_id, params, dt))
            asked += 1
        if not pending:
            break
        trial_id, params, dt = pending.popleft()
        result.trials.append(
            _evaluate(searcher, scheduler, objective, trial_id, params, dt, sign, catch)
        )
    return result


def _evaluate(
    searcher: Searcher,
    scheduler: Scheduler | None,
    objective: Objective,
    trial_id: str,
    params: dict[str, Any],
    dt: float,
    sign: float,
    catch: tuple[type[BaseException], ...],
) -> TrialRecord:
    config = searcher.space.to_config(params)
    record = TrialRecord(trial_id, params, config, None, TrialStatus.FAILED, suggest_time=dt)
    try:
        out = objective(config)
        if isinstance(out, Iterable) and not isinstance(out, str | bytes | Mapping):
            last: float | None = None
            status = TrialStatus.COMPLETE
            for step, v in enumerate(out, start=1):
                record.steps = step
                last = finite_float(v)
                loss = None if last is None else sign * last
                searcher.report(trial_id, step, loss)
                if scheduler is not None:
                    decision = scheduler.on_result(trial_id, step, loss)
                    if isinstance(decision, Exploit):
                        raise NotImplementedError("optimize() cannot exploit; use Ray for PBT")
                    if decision in (Decision.STOP, Decision.PAUSE):
                        status = TrialStatus.PRUNED
                        break
            value = last
        else:
            record.steps = 1
            value = finite_float(out)
            status = TrialStatus.COMPLETE
    except catch as err:  # the objective failed: a failed trial, never a crash
        logger.debug("trial %s failed: %r", trial_id, err)
        record.error = repr(err)
        searcher.tell(trial_id, None, status=TrialStatus.FAILED)
        if scheduler is not None:
            scheduler.on_error(trial_id)
        return record
    loss = None if value is None else sign * value
    searcher.tell(trial_id, loss, status=status)
    if scheduler is not None:
        scheduler.on_complete(trial_id, loss)
    final = searcher.trials[trial_id]
    record.status = final.status
    record.value = None if final.value is None else sign * final.value
    return record
