"""Asynchronous successive halving (ASHA, Li et al. 2020), stopping and promotion variants.

Trials are assigned to a *bracket* when they are added (drawn with the scheduler's seeded
rng, weighted like Hyperband: aggressive brackets get more trials). Bracket ``b`` has rungs
at ``grace_period * reduction_factor ** (b + k)`` below ``max_t``, in the unit of the
resource the driver measures (``time_attr``: iterations, epochs, boosting rounds, samples
seen, seconds: any monotone number). A report that jumps past several rungs is recorded in
each of them.

``variant="stop"`` (Ray's ``ASHAScheduler``): at each rung a trial continues if it is in
the best ``ceil(n / rf)`` of the ``n`` trials recorded there so far, else it is stopped.

``variant="promote"`` (the ASHA paper): a trial *pauses* at each rung. Whenever a worker is
free, :meth:`choose` resumes (from its checkpoint) a paused trial that is in the top
``floor(n / rf)`` of its rung and was not promoted yet, highest rung first; only if there is
none does it start a new trial. When no new trial is pending and nothing runs, the best
paused trial is promoted anyway, so an experiment never stalls with paused trials and
nothing to run (ray-project/ray#6780, #37605).

``min_rank_corr`` (off by default): a rung selects only where early ranks are shown to
predict final ones (:class:`~raysearch.schedulers.rankcorr.RungGate`): the first ``warmup``
trials run to ``max_t``, and a rung stops or pauses trials only once the lower bound of the
Spearman correlation between its losses and the final ones (over trials it did not select)
is at least ``min_rank_corr``; closed rungs let every trial pass, so the grace period grows
where early ranks mislead.

Failed trials, NaN/inf reports (recorded as the worst loss, never promoted) and trials that
end or crash before their first rung are all handled; the whole state (brackets, rungs,
promotions, trial status) is JSON, so it survives an interrupted experiment.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.rng import SeedLike
from raysearch.core.scheduler import Scheduler
from raysearch.core.types import Decision
from raysearch.schedulers.rankcorr import RungGate
from raysearch.schedulers.rungs import Rung, check_resources, milestones, reached

__all__ = ["ASHAScheduler"]

logger = logging.getLogger(__name__)

_VARIANTS = ("stop", "promote")


class ASHAScheduler(Scheduler):
    """Asynchronous successive halving.

    Args:
        grace_period: the first rung (minimum resource a trial gets).
        max_t: trials stop at this resource.
        reduction_factor: keep the best ``1/reduction_factor`` at each rung.
        brackets: number of brackets (1: plain ASHA; more: asynchronous Hyperband).
        variant: ``"stop"`` or ``"promote"`` (see the module docstring; ``"promote"``
            needs trials that checkpoint).
        min_samples: the first ``min_samples`` trials that reach a rung pass it (e.g. the
            baseline configurations of an AutoML run all finish).
        min_rank_corr: None (default): every rung selects. A number: a rung selects only
            when the lower bound of the rank correlation between its losses and the final
            ones is at least this (see the module docstring; 0.3 in the bench's
            ``asha-corr`` methods).
        warmup: with ``min_rank_corr``, the first trials added, which run to ``max_t``.
        seed: seeds the bracket draw.
    """

    pauses: ClassVar[bool] = False

    def __init__(
        self,
        *,
        grace_period: float = 1,
        max_t: float = 100,
        reduction_factor: float = 4,
        brackets: int = 1,
        variant: str = "stop",
        min_samples: int = 0,
        min_rank_corr: float | None = None,
        warmup: int = 8,
        seed: SeedLike = None,
    ) -> None:
        super().__init__(seed=seed)
        if not (isinstance(min_samples, int) and min_samples >= 0):
            raise ValueError(f"min_samples must be an integer >= 0, got {min_samples!r}")
        self.min_samples = min_samples
        self.min_rank_corr = None if min_rank_corr is None else float(min_rank_corr)
        self.warmup = warmup
        self._gate = None if min_rank_corr is None else RungGate(min_rank_corr, warmup)
        check_resources(grace_period, max_t, reduction_factor)
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {_VARIANTS}, got {variant!r}")
        if not (isinstance(brackets, int) and brackets >= 1):
            raise ValueError(f"brackets must be a positive integer, got {brackets!r}")
        self.grace_period = grace_period
        self.max_t = max_t
        self.reduction_factor = reduction_factor
        self.brackets = brackets
        self.variant = variant
        self.pauses = variant == "promote"  # type: ignore[misc]
        self._rungs: list[list[Rung]] = []
        for b in range(brackets):
            ms = milestones(grace_period, max_t, reduction_factor, b)
            if not ms and b > 0:
                break
            self._rungs.append([Rung(m) for m in ms])
        sizes = [len(r) for r in self._rungs]
        weights = np.array([reduction_factor**s / (s + 1) for s in sizes], dtype=float)
        self._weights = weights / weights.sum()
        #: trial id -> {"bracket": b, "status": pending|running|paused|done, "rung": k}
        self._trials: dict[str, dict[str, Any]] = {}
        self._stops: list[str] = []

    def recipe(self) -> dict[str, Any]:
        return {
            "grace_period": self.grace_period,
            "max_t": self.max_t,
            "reduction_factor": self.reduction_factor,
            "brackets": self.brackets,
            "variant": self.variant,
            "min_samples": self.min_samples,
            "min_rank_corr": self.min_rank_corr,
            "warmup": self.warmup,
        }

    # ---------------------------------------------------------------- events
    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        if trial_id in self._trials:
            return
        b = int(self.rng.choice(len(self._rungs), p=self._weights)) if len(self._rungs) > 1 else 0
        self._trials[trial_id] = {"bracket": b, "status": "pending", "rung": -1}
        if self._gate is not None:
            self._gate.add(trial_id)

    def _info(self, trial_id: str) -> dict[str, Any]:
        if trial_id not in self._trials:
            self.on_add(trial_id)
        return self._trials[trial_id]

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision:
        info = self._info(trial_id)
        if info["status"] == "done":
            return Decision.STOP
        info["status"] = "running"
        rungs = self._rungs[info["bracket"]]
        crossed = [
            k
            for k, r in enumerate(rungs)
            if reached(step, r.milestone) and trial_id not in r.recorded
        ]
        for k in crossed:
            rungs[k].record(trial_id, value)
        if crossed:
            info["rung"] = crossed[-1]
        if reached(step, self.max_t):
            if self._gate is not None:
                self._gate.finish(trial_id, value)
            return self._stop(trial_id)
        if not crossed:
            if self.variant == "promote":
                at = [k for k, r in enumerate(rungs) if reached(step, r.milestone)]
                if at and trial_id not in rungs[at[-1]].promoted:
                    # run again without its checkpoint (e.g. after a crash): it does not get
                    # past a rung it was not promoted from
                    return self._wait_or_promote(trial_id, rungs[at[-1]])
            return Decision.CONTINUE
        rung = rungs[crossed[-1]]
        if value is None:
            return self._stop(trial_id)
        if len(rung.recorded) <= self.min_samples or (  # the first ones at a rung all pass
            self._gate is not None and self._gate.passes(trial_id, rung)
        ):
            if self.variant == "promote":
                rung.promoted.append(trial_id)
            return Decision.CONTINUE
        if self.variant == "stop":
            if rung.passes_cutoff(trial_id, self.reduction_factor):
                return Decision.CONTINUE
            return self._stop(trial_id)
        return self._wait_or_promote(trial_id, rung)

    def _wait_or_promote(self, trial_id: str, rung: Rung) -> Decision:
        if trial_id in rung.promotable(self.reduction_factor):
            rung.promoted.append(trial_id)
            return Decision.CONTINUE
        self._trials[trial_id]["status"] = "paused"
        return Decision.PAUSE

    def _stop(self, trial_id: str) -> Decision:
        self._trials[trial_id]["status"] = "done"
        return Decision.STOP

    def _end(self, trial_id: str) -> None:
        self._info(trial_id)["status"] = "done"

    def on_complete(self, trial_id: str, value: float | None) -> None:
        self._end(trial_id)

    def on_error(self, trial_id: str) -> None:
        self._end(trial_id)

    def on_remove(self, trial_id: str) -> None:
        self._end(trial_id)

    # ---------------------------------------------------------------- choose
    def _promotion(self, paused: Sequence[str], at_least_one: bool = False) -> str | None:
        """The paused trial to promote: highest rung first, then best loss."""
        waiting = {t for t in paused if self._trials.get(t, {}).get("status") == "paused"}
        best: tuple[int, float, str] | None = None
        for rungs in self._rungs:
            for k, rung in enumerate(rungs):
                for t in rung.promotable(
                    self.reduction_factor, at_least_one and not rung.promoted
                ):
                    if t in waiting and self._trials[t]["rung"] == k:
                        loss = rung.recorded[t]
                        key = (-k, math.inf if loss is None else loss, t)
                        if best is None or key < best:
                            best = key
                        break
        return None if best is None else best[2]

    def _closed_rung_waiter(self, paused: Sequence[str]) -> str | None:
        """A trial paused at a rung that has closed since (``min_rank_corr``): it passes."""
        if self._gate is None:
            return None
        for t in paused:
            info = self._trials.get(t, {})
            if info.get("status") == "paused" and info.get("rung", -1) >= 0:
                rung = self._rungs[info["bracket"]][info["rung"]]
                if t not in rung.promoted and self._gate.passes(t, rung):
                    return t
        return None

    def _resume(self, trial_id: str) -> str:
        info = self._trials[trial_id]
        rung = self._rungs[info["bracket"]][info["rung"]]
        if trial_id not in rung.promoted:
            rung.promoted.append(trial_id)
        info["status"] = "running"
        return trial_id

    def _sync(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        """Trusts the driver over a stale status (after a restore); returns a paused trial
        that is not waiting at a rung (it must just go on), if any."""
        for t in pending:
            if self._info(t)["status"] == "running":
                self._trials[t]["status"] = "pending"
        for t in paused:
            info = self._info(t)
            if info["status"] in ("running", "pending"):
                info["status"] = "paused"
            if info["status"] == "paused" and info["rung"] < 0:
                return t
        return None

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        stray = self._sync(pending, paused)
        if stray is not None:
            self._trials[stray]["status"] = "running"
            return stray
        if self.variant == "promote" and paused:
            chosen = self._closed_rung_waiter(paused) or self._promotion(paused)
            if chosen is not None:
                return self._resume(chosen)
        if pending:
            self._info(pending[0])["status"] = "running"
            return pending[0]
        if not paused:
            return None
        if any(i["status"] == "running" for i in self._trials.values()):
            return None  # running trials may still make a paused one promotable
        # nothing pending, nothing running: the end of the experiment. Promote the best
        # paused trial of a rung that promoted none (fewer than rf trials reached it), so
        # the experiment neither stalls nor ends without a trial at max_t; the others lost
        # and are stopped (take_stops).
        chosen = self._promotion(paused, at_least_one=True)
        if chosen is not None:
            logger.debug("no pending trial: promoting %s (best of its rung)", chosen)
            return self._resume(chosen)
        for t in paused:
            if t in self._trials and self._trials[t]["status"] == "paused":
                self._trials[t]["status"] = "done"
                self._stops.append(t)
        return None

    def take_stops(self) -> list[str]:
        """Paused trials that lost (end of the experiment): the driver stops them."""
        out, self._stops = self._stops, []
        return out

    # ---------------------------------------------------------------- state
    def _state_data(self) -> dict[str, Any]:
        return {
            "rungs": [[r.to_json() for r in rungs] for rungs in self._rungs],
            "trials": [[t, dict(i)] for t, i in self._trials.items()],
            "stops": list(self._stops),
            **({} if self._gate is None else {"gate": self._gate.to_json()}),
        }

    def _load_state_data(self, data: dict[str, Any]) -> None:
        if "rungs" in data:
            self._rungs = [[Rung.from_json(r) for r in rungs] for rungs in data["rungs"]]
        self._trials = {str(t): dict(i) for t, i in data.get("trials", [])}
        self._stops = [str(t) for t in data.get("stops", [])]
        if self._gate is not None:
            self._gate.load(data.get("gate", {}))

    # ---------------------------------------------------------------- introspection
    def rungs(self) -> list[list[dict[str, Any]]]:
        """Per bracket, per rung: milestone, recorded losses and promotions (a copy)."""
        return [[r.to_json() for r in rungs] for rungs in self._rungs]
