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


class _Simulation:
    """The simulated clock's state, and the events that move it: new trials, results,
    exploits, completions, and a snapshot to resume from."""

    def __init__(
        self,
        scheduler: Scheduler,
        curve_fn: CurveFn,
        sim: dict[str, Any],
        *,
        n_trials: int,
        n_workers: int,
        configs: Callable[[int], dict[str, Any]] | None,
        n_pending: int,
    ) -> None:
        self.scheduler = scheduler
        self.curve_fn = curve_fn
        self.n_trials, self.n_workers, self.n_pending = n_trials, n_workers, n_pending
        self.configs = configs
        self.created = int(sim.get("created", 0))
        self.status: dict[str, str] = dict(sim.get("status", {}))
        self.steps: dict[str, int] = {k: int(v) for k, v in sim.get("steps", {}).items()}
        self.order: list[str] = list(sim.get("order", []))
        self.running: list[str] = list(sim.get("running", []))
        #: trial id -> the trial whose curve it follows after exploits
        self.source: dict[str, str] = dict(sim.get("source", {}))
        self.time = int(sim.get("time", 0))
        self.result = SimResult(
            compute=int(sim.get("compute", 0)), log=[list(x) for x in sim.get("log", [])]
        )
        self.result.completed = list(sim.get("completed", []))
        self.n_events = len(self.result.log)
        self.curves: dict[str, list[float]] = {}
        #: trials of a cut tick that had not advanced yet: they advance first on resume
        self.rest_of_tick: list[str] = [t for t in sim.get("tick_rest", []) if t in self.running]

    def config_of(self, index: int) -> dict[str, Any]:
        return self.configs(index) if self.configs is not None else {}

    def curve(self, tid: str) -> list[float]:
        """The curve ``tid`` follows (its own, or the one it took over by exploits)."""
        base = self.source.get(tid, tid)
        if base not in self.curves:
            self.curves[base] = self.curve_fn(base, self.config_of(int(base.rsplit("_", 1)[1])))
        return self.curves[base]

    def take_over(self, tid: str, donor: str) -> None:
        """``tid`` continues from the donor's step on the donor's curve."""
        self.steps[tid] = self.steps.get(donor, 0)
        self.source[tid] = self.source.get(donor, donor)

    def finish(self, tid: str) -> None:
        self.status[tid] = "done"
        self.result.completed.append(tid)

    def drain_exploits(self) -> None:
        """Applies the exploits the scheduler decided for other (waiting) trials."""
        take = getattr(self.scheduler, "take_exploits", None)
        if take is None:
            return
        queue = take()
        while queue:
            tid, exploit = queue.pop(0)
            self.take_over(tid, exploit.donor)
            self.result.log.append([tid, self.steps[tid], _decision_repr(exploit)])
            values = self.curve(tid)
            if self.steps[tid] >= len(values) and self.status.get(tid) in ("pending", "paused"):
                # it took over a donor at the end of its curve: it is finished too
                raw = values[-1]
                self.scheduler.on_complete(tid, raw if math.isfinite(raw) else None)
                self.finish(tid)
                queue.extend(take())

    def snapshot(self, rest: list[str]) -> dict[str, Any]:
        """The scheduler's and the clock's state, JSON-able, to resume from."""
        return {
            "scheduler": self.scheduler.get_state(),
            "sim": {
                "created": self.created,
                "status": self.status,
                "steps": self.steps,
                "order": self.order,
                "running": self.running,
                "source": self.source,
                "time": self.time,
                "compute": self.result.compute,
                "log": self.result.log,
                "completed": self.result.completed,
                # trials of the cut tick that have not advanced yet: a resume finishes
                # that tick first, so a cut anywhere resumes exactly
                "tick_rest": rest,
            },
        }

    def add_trials(self, pending: list[str]) -> None:
        """Creates trials (``on_add``) until ``n_pending`` wait or all are created."""
        while len(pending) < max(1, self.n_pending) and self.created < self.n_trials:
            tid = f"trial_{self.created}"
            self.created += 1
            self.order.append(tid)
            self.status[tid] = "pending"
            self.steps[tid] = 0
            self.scheduler.on_add(tid, self.config_of(self.created - 1))
            pending.append(tid)

    def next_tick(self) -> list[str]:
        """Fills free workers (``choose``), then the trials that advance this tick."""
        while len(self.running) < self.n_workers:
            pending = [t for t in self.order if self.status[t] == "pending"]
            self.add_trials(pending)
            paused = [t for t in self.order if self.status[t] == "paused"]
            choice = self.scheduler.choose(pending, paused)
            if choice is None or self.status.get(choice) not in ("pending", "paused"):
                break
            self.status[choice] = "running"
            self.running.append(choice)
        return list(self.running)

    def advance(self, tid: str) -> None:
        """One step of a running trial: its result, the scheduler's decision, applied."""
        values = self.curve(tid)
        step = self.steps[tid] + 1
        self.steps[tid] = step
        self.result.compute += 1
        raw = values[step - 1]
        value = raw if math.isfinite(raw) else None
        decision = self.scheduler.on_result(tid, step, value)
        self.result.events.append(SimEvent(self.time, tid, step, value, decision))
        self.result.log.append([tid, step, _decision_repr(decision)])
        self.n_events += 1
        if isinstance(decision, Exploit):
            self.take_over(tid, decision.donor)
            step = self.steps[tid]
            values = self.curve(tid)
        self.drain_exploits()
        done = step >= len(values)
        if decision is Decision.STOP or done:
            self.scheduler.on_complete(tid, value)
            self.drain_exploits()
            self.finish(tid)
            self.running.remove(tid)
        elif decision is Decision.PAUSE:
            self.status[tid] = "paused"
            self.running.remove(tid)

    def run(self, stop_after_events: int | None) -> SimResult:
        """Ticks until no trial runs, or until ``stop_after_events`` results (then the
        result carries the state to resume from)."""
        while True:
            if self.rest_of_tick:
                batch, self.rest_of_tick = self.rest_of_tick, []
            else:
                batch = self.next_tick()
                if not batch:
                    break
                self.time += 1
            for index, tid in enumerate(batch):
                self.advance(tid)
                if stop_after_events is not None and self.n_events >= stop_after_events:
                    self.result.state = self.snapshot(batch[index + 1 :])
                    return self.result
        return self.result


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
    simulation = _Simulation(
        scheduler,
        curve_fn,
        sim,
        n_trials=n_trials,
        n_workers=n_workers,
        configs=configs,
        n_pending=n_pending,
    )
    return simulation.run(stop_after_events)
