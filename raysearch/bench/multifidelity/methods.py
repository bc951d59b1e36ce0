"""The compared methods (scheduler x searcher pairs) and one simulated experiment of each.

Every method runs on the recorded curves with :func:`raysearch.testing.simulate.simulate`
(``n_workers`` trials at once, one step per tick, no Ray); compute is the number of steps
trained. Searchers see every intermediate result (through :class:`_Feed`), so model-based
ones (BOHB's TPE, ASHA+GP) learn from the rungs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from raysearch.bench.multifidelity.grids import MAX_T, config_key, grid_points, task_space
from raysearch.bench.multifidelity.ray_shim import ray_asha, ray_hyperband
from raysearch.core.scheduler import FIFOScheduler, Scheduler
from raysearch.core.searcher import Searcher
from raysearch.core.types import Decision, Exploit, TrialStatus
from raysearch.testing.simulate import simulate

__all__ = ["METHODS", "MIN_RANK_CORR", "run_method"]


class _Feed(Scheduler):
    """Forwards to a scheduler and feeds every result to the searcher (so model-based
    searchers see intermediate results, and paused trials stay pending to them)."""

    stateful = False

    def __init__(
        self,
        inner: Scheduler,
        searcher: Searcher,
        trace: list[tuple[int, float]],
        max_t: int,
        budget: int | None = None,
    ):
        super().__init__(seed=0)
        self.inner, self.searcher, self.trace, self.max_t = inner, searcher, trace, max_t
        #: total steps allowed (None: no limit): once spent, running trials stop at their
        #: next result and no trial starts or resumes
        self.budget = budget
        self.compute = 0
        self.best = math.inf
        self.last: dict[str, float] = {}

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        self.inner.on_add(trial_id, config)

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        self.compute += 1
        if value is not None:
            self.searcher.report(trial_id, step, value)
            self.last[trial_id] = step
            if value < self.best:
                self.best = value
                self.trace.append((self.compute, value))
        decision = self.inner.on_result(trial_id, step, value)
        if self.spent:
            return Decision.STOP
        return decision

    @property
    def spent(self) -> bool:
        return self.budget is not None and self.compute >= self.budget

    def _tell(self, trial_id: str, value: float | None, failed: bool = False) -> None:
        trial = self.searcher.trials.get(trial_id)
        if trial is None or trial.status is not TrialStatus.PENDING:
            return
        if failed or value is None:
            status = TrialStatus.PRUNED if trial.intermediate else TrialStatus.FAILED
            self.searcher.tell(trial_id, None, status=status)
        elif self.last.get(trial_id, 0) >= self.max_t:
            self.searcher.tell(trial_id, value)
        else:
            self.searcher.tell(trial_id, value, status=TrialStatus.PRUNED)

    def on_complete(self, trial_id: str, value: float | None) -> None:
        self.inner.on_complete(trial_id, value)
        self._tell(trial_id, value)

    def on_error(self, trial_id: str) -> None:
        self.inner.on_error(trial_id)
        self._tell(trial_id, None, failed=True)

    def on_remove(self, trial_id: str) -> None:
        self.inner.on_remove(trial_id)

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        if self.spent:
            return None
        return self.inner.choose(pending, paused)


def _random(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.random import RandomSearch

    return RandomSearch(space, seed=seed)


def _bohb_searcher(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.tpe import TPESearch

    return TPESearch(space, seed=seed, multi_fidelity=True, n_startup=8, n_min=8)


def _gp_searcher(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.multifidelity import MultiFidelitySearch

    return MultiFidelitySearch(
        space, searcher="gp", searcher_kwargs={"n_init": 8, "fidelity": True}, n_min=8, seed=seed
    )


#: ``min_rank_corr`` of the ``-corr`` methods: a rung selects once the lower bound of its
#: rank correlation with the final step is at least this (raysearch.schedulers.rankcorr)
MIN_RANK_CORR = 0.3


def _asha(variant: str, min_rank_corr: float | None = None) -> Callable[[int, int], Scheduler]:
    from raysearch.schedulers.asha import ASHAScheduler

    return lambda seed, max_t: ASHAScheduler(
        grace_period=1,
        max_t=max_t,
        reduction_factor=3,
        variant=variant,
        min_rank_corr=min_rank_corr,
        seed=seed,
    )


def _hyperband(seed: int, max_t: int) -> Scheduler:
    from raysearch.schedulers.hyperband import HyperbandScheduler

    return HyperbandScheduler(grace_period=1, max_t=max_t, reduction_factor=3)


#: method -> (scheduler factory(seed, max_t), searcher factory(space, seed))
METHODS: dict[str, tuple[Callable[[int, int], Scheduler], Callable[[Any, int], Searcher]]] = {
    "fifo+random": (lambda seed, max_t: FIFOScheduler(), _random),
    "ray-asha": (ray_asha, _random),
    "ray-hyperband": (ray_hyperband, _random),
    "asha-stop": (_asha("stop"), _random),
    "asha-promote": (_asha("promote"), _random),
    "hyperband": (_hyperband, _random),
    "bohb": (_asha("stop"), _bohb_searcher),
    "bohb-promote": (_asha("promote"), _bohb_searcher),
    "asha+gp": (_asha("stop"), _gp_searcher),
    # rungs select only where early ranks predict final ones (adaptive grace period)
    "asha-corr": (_asha("stop", MIN_RANK_CORR), _random),
    "bohb-corr": (_asha("stop", MIN_RANK_CORR), _bohb_searcher),
    "bohb-promote-corr": (_asha("promote", MIN_RANK_CORR), _bohb_searcher),
    "asha+gp-corr": (_asha("stop", MIN_RANK_CORR), _gp_searcher),
}


def run_method(
    method: str,
    task: str,
    curves: dict[str, list[float]],
    *,
    seed: int,
    n_trials: int,
    n_workers: int,
    grid: str = "default",
    max_t: int = MAX_T,
    budget: int | None = None,
) -> dict[str, Any]:
    """One simulated experiment: the trace of best-so-far (compute, loss) and totals.

    ``budget`` (steps): the method starts trials until it has trained this many steps
    (``n_trials`` is then only an upper bound), and running trials stop there."""
    make_scheduler, make_searcher = METHODS[method]
    space = task_space(task, grid)
    searcher = make_searcher(space, seed)
    trace: list[tuple[int, float]] = []
    scheduler = make_scheduler(seed, max_t)
    feed = _Feed(scheduler, searcher, trace, max_t, budget)
    configs: dict[int, dict[str, Any]] = {}
    fallback = np.random.default_rng([seed, 1])
    points = grid_points(task, grid)

    def config_of(index: int) -> dict[str, Any]:
        if index not in configs:
            params = searcher.ask(f"trial_{index}")
            if not isinstance(params, dict):  # finite space exhausted: any grid point
                params = points[int(fallback.integers(len(points)))]
            configs[index] = space.to_config(params) if isinstance(params, dict) else params
        return configs[index]

    def curve(trial_id: str, config: dict[str, Any]) -> list[float]:
        return [math.nan if v is None else float(v) for v in curves[config_key(config)]]

    start = time.perf_counter()
    result = simulate(
        feed,
        curve,
        n_trials=n_trials,
        n_workers=n_workers,
        configs=config_of,
        n_pending=getattr(scheduler, "n_pending", 1),  # Ray's see trials as Tune adds them
    )
    return {
        "method": method,
        "task": task,
        "seed": seed,
        "trace": trace,
        "compute": result.compute,
        "trials": len({e.trial_id for e in result.events}),  # trials that trained
        "best": feed.best,
        "seconds": time.perf_counter() - start,
    }
