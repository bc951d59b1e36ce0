"""A deterministic, simulated-clock driver for schedulers (no Ray, no sleeping).

Every running trial advances one step per tick; ``n_workers`` trials run at once. A
scheduler's decisions are applied as Tune applies them: STOP ends a trial, PAUSE parks it
until ``choose`` resumes it, and a trial that reaches the end of its curve completes.
An :class:`~raysearch.core.types.Exploit` makes the trial continue from the donor's state: it
takes the donor's step and follows the donor's curve from there (exploits a scheduler
decides for other, paused trials come from its ``take_exploits()``, if it has one).
The run can be cut after ``stop_after_events`` results and resumed from the returned
state, which is how the conformance suite checks that a scheduler's JSON state is
complete. Benchmarks use the compute count (total steps) as the x-axis of anytime curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raysearch.core.scheduler import Scheduler
from raysearch.core.types import Decision, Exploit

__all__ = ["simulate", "synthetic_curves", "SimEvent", "SimResult"]

CurveFn = Callable[[str, dict[str, Any]], list[float]]


@dataclass(frozen=True)
class SimEvent:
    time: int
    trial_id: str
    step: int
    value: float | None
    decision: Decision | Exploit


@dataclass
class SimResult:
    events: list[SimEvent] = field(default_factory=list)
    compute: int = 0
    completed: list[str] = field(default_factory=list)
    #: set when the run was cut short: {"scheduler": ..., "sim": ...} (JSON-able)
    state: dict[str, Any] | None = None
    log: list[list[Any]] = field(default_factory=list)

    def decision_log(self) -> list[list[Any]]:
        """[trial_id, step, decision] for every result, including those before a resume."""
        return list(self.log)


def _decision_repr(decision: Decision | Exploit) -> str:
    if isinstance(decision, Exploit):
        return f"exploit:{decision.donor}:{sorted(decision.params.items())!r}"
    return decision.value


def synthetic_curves(seed: int = 0, max_steps: int = 27, nan_rate: float = 0.05) -> CurveFn:
    """Learning curves (losses) that cross: ``final + (start - final) * exp(-rate * t)``.

    Each trial id gets its own parameters from a generator seeded by ``(seed, id)``; a
    few curves turn NaN part way (diverged training), as real ones do.
    """

    def curve(trial_id: str, config: dict[str, Any]) -> list[float]:
        digest = sum((i + 1) * ord(c) for i, c in enumerate(trial_id))
        rng = np.random.default_rng([seed, digest])
        final = float(rng.uniform(0.0, 1.0))
        start = final + float(rng.uniform(0.5, 2.0))
        rate = float(rng.uniform(0.05, 0.6))
        t = np.arange(1, max_steps + 1)
        values = (
            final + (start - final) * np.exp(-rate * t) + rng.normal(0.0, 0.01, size=max_steps)
        )
        out = [float(v) for v in values]
        if rng.random() < nan_rate:
            k = int(rng.integers(1, max_steps))
            out[k:] = [math.nan] * (max_steps - k)
        return out

    return curve


def simulate(
    scheduler: Scheduler,
    curve_fn: CurveFn,
    *,
    n_trials: int,
    n_workers: int = 1,
    configs: Callable[[int], dict[str, Any]] | None = None,
    stop_after_events: int | None = None,
    resume_from: dict[str, Any] | None = None,
    n_pending: int = 1,
) -> SimResult:
    """Runs ``n_trials`` simulated trials under ``scheduler``.

    Args:
        scheduler: the scheduler (restored already, when resuming).
        curve_fn: ``(trial_id, config) -> list of losses`` (one per step).
        n_trials: trials created in total.
        n_workers: trials running at once.
        configs: ``index -> config`` given to ``on_add`` (empty dicts by default).
        stop_after_events: stop after this many results and return the state.
        resume_from: a state returned by a cut-short run (its ``sim`` part is used).
        n_pending: trials kept created (``on_add``) ahead of a free worker. Tune's
            controller keeps up to 16 with its random-search generator
            (``TUNE_MAX_PENDING_TRIALS_PG``), and Ray's Hyperband fills its brackets with
            the trials added so far, so emulating Ray's schedulers needs more than 1.
    """
    sim = dict((resume_from or {}).get("sim") or {})
    created = int(sim.get("created", 0))
    status: dict[str, str] = dict(sim.get("status", {}))
    steps: dict[str, int] = {k: int(v) for k, v in sim.get("steps", {}).items()}
    order: list[str] = list(sim.get("order", []))
    running: list[str] = list(sim.get("running", []))
    #: trial id -> the trial whose curve it follows after exploits
    source: dict[str, str] = dict(sim.get("source", {}))
    time = int(sim.get("time", 0))
    result = SimResult(
        compute=int(sim.get("compute", 0)), log=[list(x) for x in sim.get("log", [])]
    )
    result.completed = list(sim.get("completed", []))
    n_events = len(result.log)
    curves: dict[str, list[float]] = {}

    def config_of(index: int) -> dict[str, Any]:
        return configs(index) if configs is not None else {}

    def curve(tid: str) -> list[float]:
        base = source.get(tid, tid)
        if base not in curves:
            curves[base] = curve_fn(base, config_of(int(base.rsplit("_", 1)[1])))
        return curves[base]

    def take_over(tid: str, donor: str) -> None:
        steps[tid] = steps.get(donor, 0)
        source[tid] = source.get(donor, donor)

    def drain_exploits() -> None:
        take = getattr(scheduler, "take_exploits", None)
        if take is None:
            return
        queue = take()
        while queue:
            tid, exploit = queue.pop(0)
            take_over(tid, exploit.donor)
            result.log.append([tid, steps[tid], _decision_repr(exploit)])
            values = curve(tid)
            if steps[tid] >= len(values) and status.get(tid) in ("pending", "paused"):
                # it took over a donor at the end of its curve: it is finished too
                raw = values[-1]
                scheduler.on_complete(tid, raw if math.isfinite(raw) else None)
                status[tid] = "done"
                result.completed.append(tid)
                queue.extend(take())

    def snapshot(rest: list[str]) -> dict[str, Any]:
        return {
            "scheduler": scheduler.get_state(),
            "sim": {
                "created": created,
                "status": status,
                "steps": steps,
                "order": order,
                "running": running,
                "source": source,
                "time": time,
                "compute": result.compute,
                "log": result.log,
                "completed": result.completed,
                # trials of the cut tick that have not advanced yet: a resume finishes
                # that tick first, so a cut anywhere resumes exactly
                "tick_rest": rest,
            },
        }

    def _next_tick() -> list[str]:
        """Fills free workers (``choose``), then the trials that advance this tick."""
        nonlocal created
        while len(running) < n_workers:
            pending = [t for t in order if status[t] == "pending"]
            while len(pending) < max(1, n_pending) and created < n_trials:
                tid = f"trial_{created}"
                created += 1
                order.append(tid)
                status[tid] = "pending"
                steps[tid] = 0
                scheduler.on_add(tid, config_of(created - 1))
                pending.append(tid)
            paused = [t for t in order if status[t] == "paused"]
            choice = scheduler.choose(pending, paused)
            if choice is None or status.get(choice) not in ("pending", "paused"):
                break
            status[choice] = "running"
            running.append(choice)
        return list(running)

    rest_of_tick: list[str] = [t for t in sim.get("tick_rest", []) if t in running]
    while True:
        if rest_of_tick:
            batch, rest_of_tick = rest_of_tick, []
        else:
            batch = _next_tick()
            if not batch:
                break
            time += 1
        for index, tid in enumerate(batch):
            values = curve(tid)
            step = steps[tid] + 1
            steps[tid] = step
            result.compute += 1
            raw = values[step - 1]
            value = raw if math.isfinite(raw) else None
            decision = scheduler.on_result(tid, step, value)
            result.events.append(SimEvent(time, tid, step, value, decision))
            result.log.append([tid, step, _decision_repr(decision)])
            n_events += 1
            if isinstance(decision, Exploit):
                take_over(tid, decision.donor)
                step = steps[tid]
                values = curve(tid)
            drain_exploits()
            done = step >= len(values)
            if decision is Decision.STOP or done:
                scheduler.on_complete(tid, value)
                drain_exploits()
                status[tid] = "done"
                result.completed.append(tid)
                running.remove(tid)
            elif decision is Decision.PAUSE:
                status[tid] = "paused"
                running.remove(tid)
            if stop_after_events is not None and n_events >= stop_after_events:
                result.state = snapshot(batch[index + 1 :])
                return result
    return result
