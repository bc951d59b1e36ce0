"""The ask/tell searcher every raysearch search strategy implements.

Life cycle of a trial as a searcher sees it::

    params = searcher.ask("t1")          # a flat assignment, None (not now) or FINISHED
    searcher.report("t1", step, loss)    # optional intermediate results
    searcher.tell("t1", loss)            # final result: complete, pruned or failed

Values are *losses*: lower is better. The Ray adapter and :func:`raysearch.core.optimize`
turn ``mode="max"`` metrics into losses, so strategies never branch on the direction.
NaN, inf and None values are recorded as failed trials, never raised.

A subclass implements :meth:`Searcher._suggest` and, when it learns from results,
:meth:`Searcher._on_tell`. The base class keeps the trial records, the queue of
``points_to_evaluate``, the ``max_trials`` budget, the random generator, and the full
JSON state (:meth:`get_state`/:meth:`set_state`), so a subclass saves only its own extra
data (:meth:`_state_data`).
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.binding import BindsSpace
from raysearch.core.rng import SeedLike, make_rng
from raysearch.core.state import Stateful, to_jsonable
from raysearch.core.types import FINISHED, Finished, Trial, TrialStatus
from raysearch.core.values import finite_float
from raysearch.space import Space, SpaceError
from raysearch.space.space import Flat

__all__ = ["Searcher", "Suggestion"]

logger = logging.getLogger(__name__)

Suggestion = Flat | None | Finished


class Searcher(BindsSpace, Stateful, ABC):
    """Base class of ask/tell searchers.

    Args:
        space: the search space (a :class:`Space` or a dict it can be built from); may be
            given later with :meth:`setup` (the Ray adapter does so from ``param_space``).
        seed: int, ``numpy.random.Generator`` or None.
        points_to_evaluate: configs (nested, possibly partial: missing parameters are
            sampled) to try first, in order.
        max_trials: ask returns FINISHED after this many suggestions; None for no limit.

    Capability flags (class attributes) tell drivers what a strategy can use:
        ``parallel_aware``: suggestions account for pending trials.
        ``uses_intermediate``: learns from :meth:`report` (multi-fidelity).
        ``multi_objective``: accepts vector values.
        ``exhausts_finite_space``: returns FINISHED once every config of a finite space
        was suggested.
    """

    parallel_aware: ClassVar[bool] = False
    uses_intermediate: ClassVar[bool] = False
    multi_objective: ClassVar[bool] = False
    exhausts_finite_space: ClassVar[bool] = False

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        *,
        seed: SeedLike = None,
        points_to_evaluate: Sequence[Mapping[str, Any]] | None = None,
        max_trials: int | None = None,
    ) -> None:
        if max_trials is not None and (int(max_trials) != max_trials or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer or None, got {max_trials!r}")
        if points_to_evaluate is not None and (
            isinstance(points_to_evaluate, Mapping | str)
            or not all(isinstance(p, Mapping) for p in points_to_evaluate)
        ):
            raise ValueError(
                f"points_to_evaluate must be a list of config dicts, got {points_to_evaluate!r}"
            )
        self.rng: np.random.Generator = make_rng(seed)
        self.max_trials = None if max_trials is None else int(max_trials)
        self._raw_points = [dict(p) for p in points_to_evaluate or []]
        self._queue: list[Flat] = []
        self._space: Space | None = None
        self.trials: dict[str, Trial] = {}
        self._seen: set[tuple[tuple[str, Any], ...]] = set()
        self._n_asked = 0
        if space is not None:
            self.setup(space)

    # ------------------------------------------------------------------ set-up
    def setup(self, space: Space | Mapping[str, Any]) -> None:
        """Binds the search space (once). Raises ValueError if another space is bound."""
        new = space if isinstance(space, Space) else Space(space)
        if self.already_bound(new):
            return
        self._space = new
        queue = []
        for i, point in enumerate(self._raw_points):
            try:
                queue.append(new.to_flat(point, partial=True))
            except SpaceError as err:
                raise ValueError(
                    f"points_to_evaluate[{i}] does not fit the space: {err}"
                ) from None
        self._queue = queue
        self._on_setup()

    def _on_setup(self) -> None:
        """Hook: called once the space is known (build encodings, initial designs...)."""

    # ------------------------------------------------------------------ ask / tell
    def ask(self, trial_id: str | None = None) -> Suggestion:
        """The next flat assignment to evaluate, None if there is nothing to suggest right
        now (ask again later), or :data:`~raysearch.core.types.FINISHED` if never again."""
        if trial_id is None:
            trial_id = f"trial_{self._n_asked}"
        if trial_id in self.trials:
            raise ValueError(f"trial id {trial_id!r} was already asked for")
        if self.max_trials is not None and self._n_asked >= self.max_trials:
            return FINISHED
        params: Suggestion
        if self._queue:
            params = self.space.complete(self._queue.pop(0), self.rng)
        else:
            params = self._suggest(trial_id)
        if params is None or isinstance(params, Finished):
            return params
        self._register(trial_id, params)
        return dict(params)

    def _register(self, trial_id: str, params: Flat) -> Trial:
        space = self.space
        for name, value in params.items():
            if name not in space or not space[name].contains(value):
                where = repr(space[name]) if name in space else "no parameter of the space"
                raise RuntimeError(
                    f"{type(self).__name__} suggested {name}={value!r}, outside {where} (a strategy bug)"
                )
        trial = Trial(trial_id, dict(params))
        self.trials[trial_id] = trial
        self._seen.add(self.space.key(params))
        self._n_asked += 1
        return trial

    @abstractmethod
    def _suggest(self, trial_id: str) -> Suggestion:
        """Strategy-specific suggestion for a new trial (see :meth:`ask`)."""

    def tell(
        self,
        trial_id: str,
        value: float | None,
        *,
        status: TrialStatus | str = TrialStatus.COMPLETE,
    ) -> None:
        """Records the final result of a trial.

        Args:
            trial_id: an id returned by :meth:`ask` (or :meth:`add_observation`).
            value: the loss; None, NaN or inf mark the trial failed.
            status: ``complete``, ``pruned`` (stopped early; ``value`` None means its last
                intermediate value) or ``failed``.
        """
        status = TrialStatus(status)
        trial = self.trials.get(trial_id)
        if trial is None:
            raise KeyError(f"unknown trial {trial_id!r}: tell() needs an id that ask() returned")
        if trial.status is not TrialStatus.PENDING:
            logger.debug("trial %s was already told (%s); ignoring", trial_id, trial.status.value)
            return
        v = finite_float(value)
        if status is TrialStatus.PRUNED and v is None and trial.intermediate:
            v = trial.intermediate[max(trial.intermediate)]
        if status is TrialStatus.FAILED or v is None:
            if status is not TrialStatus.FAILED:
                logger.warning(
                    "trial %s reported a non-finite value %r; recorded as failed", trial_id, value
                )
            trial.status, trial.value = TrialStatus.FAILED, None
        else:
            trial.status, trial.value = status, v
        self._on_tell(trial)

    def _on_tell(self, trial: Trial) -> None:
        """Hook: a trial got its final status (learn from it here)."""

    def report(self, trial_id: str, step: float, value: float | None) -> None:
        """Records an intermediate result (non-finite values are ignored)."""
        trial = self.trials.get(trial_id)
        v = finite_float(value)
        if trial is None or v is None or trial.status is not TrialStatus.PENDING:
            return
        trial.intermediate[float(step)] = v
        self._on_report(trial, float(step), v)

    def _on_report(self, trial: Trial, step: float, value: float) -> None:
        """Hook for multi-fidelity strategies."""

    def add_observation(
        self,
        config: Mapping[str, Any],
        value: float | None,
        *,
        status: TrialStatus | str = TrialStatus.COMPLETE,
        trial_id: str | None = None,
        flat: bool = False,
    ) -> str:
        """Adds a result evaluated elsewhere (warm start, or a trial Tune restarted).

        Args:
            config: a nested config, or a flat assignment if ``flat``.
            value: its loss (None/NaN/inf: failed).
            status: as in :meth:`tell`.
            trial_id: an id for the record (generated if None).
        Returns:
            The trial id under which it was recorded.
        """
        params = self.space.prune(config) if flat else self.space.to_flat(config)
        if flat:
            for name, v in params.items():
                self.space[name].validate(v, name)
        if trial_id is None:
            trial_id = f"observed_{len(self.trials)}"
            while trial_id in self.trials:
                trial_id += "_"
        if trial_id in self.trials:
            raise ValueError(f"trial id {trial_id!r} is already recorded")
        trial = Trial(trial_id, dict(params))
        self.trials[trial_id] = trial
        self._seen.add(self.space.key(params))
        self.tell(trial_id, value, status=status)
        return trial_id

    # ------------------------------------------------------------------ views
    @property
    def n_asked(self) -> int:
        return self._n_asked

    @property
    def pending(self) -> list[Trial]:
        return [t for t in self.trials.values() if t.status is TrialStatus.PENDING]

    @property
    def finished_trials(self) -> list[Trial]:
        """Complete and pruned trials, with values."""
        return [
            t
            for t in self.trials.values()
            if t.status in (TrialStatus.COMPLETE, TrialStatus.PRUNED) and t.value is not None
        ]

    def best(self) -> Trial | None:
        """The complete trial with the lowest loss (pruned ones count if none is complete)."""
        complete = [t for t in self.trials.values() if t.status is TrialStatus.COMPLETE]
        pool = complete or self.finished_trials
        return min(pool, key=lambda t: t.value if t.value is not None else math.inf, default=None)

    def is_finite(self) -> bool:
        """Whether this searcher will return FINISHED by itself (a budget, or a finite space
        it exhausts), so a driver may run it without a trial count."""
        if self.max_trials is not None:
            return True
        return (
            self.exhausts_finite_space and self.is_setup and self.space.cardinality() is not None
        )

    def seen(self, params: Flat) -> bool:
        """Whether an identical assignment was already suggested or observed."""
        return self.space.key(params) in self._seen

    # ------------------------------------------------------------------ state
    def recipe(self) -> dict[str, Any]:
        return {
            "space": to_jsonable(self._space.to_dict()) if self._space is not None else None,
            "max_trials": self.max_trials,
            "points_to_evaluate": to_jsonable(self._raw_points),
            **self._recipe(),
        }

    def _recipe(self) -> dict[str, Any]:
        """Strategy arguments that must be equal when a state is restored."""
        return {}

    def _state_data(self) -> dict[str, Any]:
        space = self._space
        trials = []
        for t in self.trials.values():
            trials.append(
                {
                    "id": t.trial_id,
                    "params": space.to_tokens(t.params) if space is not None else {},
                    "status": t.status.value,
                    "value": t.value,
                    "intermediate": [[s, v] for s, v in t.intermediate.items()],
                }
            )
        return {
            "trials": trials,
            "queue": [space.to_tokens(p) for p in self._queue] if space is not None else [],
            "n_asked": self._n_asked,
            "extra": self._strategy_state(),
        }

    def _load_state_data(self, data: dict[str, Any]) -> None:
        space = self.space
        self.trials = {}
        self._seen = set()
        for rec in data.get("trials", []):
            params = space.from_tokens(rec["params"])
            trial = Trial(
                rec["id"],
                params,
                TrialStatus(rec["status"]),
                rec["value"],
                {float(s): float(v) for s, v in rec.get("intermediate", [])},
            )
            self.trials[trial.trial_id] = trial
            self._seen.add(space.key(params))
        self._queue = [space.from_tokens(p) for p in data.get("queue", [])]
        self._n_asked = int(data.get("n_asked", len(self.trials)))
        self._load_strategy_state(data.get("extra") or {})

    def _strategy_state(self) -> dict[str, Any]:
        """Hook: the strategy's own JSON-able state besides trials and rng."""
        return {}

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        """Hook: restore what :meth:`_strategy_state` returned."""

    def set_state(self, state: dict[str, Any]) -> None:
        if self._space is None:
            recipe_space = (state.get("recipe") or {}).get("space")
            if recipe_space is not None:
                self.setup(Space.from_dict(recipe_space))
        super().set_state(state)

    def __repr__(self) -> str:
        space = repr(self._space) if self._space is not None else "unset"
        return f"{type(self).__name__}(space={space}, asked={self._n_asked})"
