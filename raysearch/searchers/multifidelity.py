"""Model-based multi-fidelity search for any searcher (BOHB-style, Falkner et al. 2018).

:class:`MultiFidelitySearch` wraps a model-based searcher (GP, TPE, any registered one) and
lets it learn from intermediate results: before each suggestion it picks the *highest
fidelity* (step of the resource) that at least ``n_min`` trials have reached, and shows the
inner model a view in which every trial that reached it is observed with its loss at that
step (its last report at or below it), and every live (running or paused) trial is pending,
so a parallel-aware model spreads suggestions away from them. Before any step has enough
trials, the view is the plain one (final results only). Successive-halving schedulers make
many trials reach the low rungs early, so the model starts learning after a few rungs
instead of after many full trainings.

The inner searcher's own state (its rng, hyperparameters) is saved inside this one's, so
the pair round-trips through JSON like every searcher. Hooks that the inner searcher
updates in ``_on_tell`` (e.g. a GP's trust region) are not driven by the view.

An inner searcher that models the fidelity itself (``GPSearch(fidelity=True)``, see
:mod:`raysearch.surrogates.fidelity`; the ``"gp"`` model of the presets) sees every trial
with all its intermediate results instead of one rung's view, so every rung's data is used.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from raysearch.core.registry import SEARCHERS
from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.types import Trial, TrialStatus
from raysearch.surrogates.fidelity import value_at

__all__ = ["MultiFidelitySearch", "fidelity_view"]

logger = logging.getLogger(__name__)

#: fallbacks when a searcher is not registered (yet) under its short name
_PATHS = {"gp": "raysearch.searchers.gp:GPSearch", "tpe": "raysearch.searchers.tpe:TPESearch"}


def fidelity_view(
    trials: Mapping[str, Trial], n_min: int
) -> tuple[float | None, dict[str, Trial]]:
    """``(step, view)``: the highest step reached by at least ``n_min`` non-failed trials,
    and the trials as a model should see them there (None and the trials unchanged when no
    step has enough)."""
    reach: list[float] = []
    for t in trials.values():
        if t.status is not TrialStatus.FAILED and t.intermediate:
            reach.append(max(t.intermediate))
    steps = sorted({s for t in trials.values() for s in t.intermediate}, reverse=True)
    chosen = next((s for s in steps if sum(r >= s - 1e-9 for r in reach) >= n_min), None)
    if chosen is None:
        return None, dict(trials)
    view: dict[str, Trial] = {}
    for tid, t in trials.items():
        last = max(t.intermediate) if t.intermediate else None
        if t.status is not TrialStatus.FAILED and last is not None and last >= chosen - 1e-9:
            view[tid] = Trial(tid, t.params, TrialStatus.COMPLETE, value_at(t, chosen))
        elif t.status is TrialStatus.PENDING:
            view[tid] = Trial(tid, t.params)
    return chosen, view


class MultiFidelitySearch(Searcher):
    """A model-based searcher that learns from the highest well-sampled fidelity.

    Args:
        space, seed, points_to_evaluate, max_trials: as for every searcher.
        searcher: the inner model: a registered searcher name (``"gp"``, ``"tpe"``) or an
            import path.
        searcher_kwargs: keyword arguments for it (not ``space``/``seed``).
        n_min: trials a step needs before it is modelled (default: number of parameters
            + 1, at least 4).
    """

    uses_intermediate = True
    parallel_aware = True

    def __init__(
        self,
        space: Any = None,
        *,
        searcher: str = "gp",
        searcher_kwargs: Mapping[str, Any] | None = None,
        n_min: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(searcher, str) or not searcher:
            raise ValueError(
                f"searcher must be a registered name or import path, got {searcher!r}"
            )
        if n_min is not None and (int(n_min) != n_min or n_min < 2):
            raise ValueError(f"n_min must be an integer >= 2 or None, got {n_min!r}")
        self.searcher_name = searcher
        self.searcher_kwargs = dict(searcher_kwargs or {})
        self.n_min_arg = None if n_min is None else int(n_min)
        self.inner: Searcher | None = None
        self.last_fidelity: float | None = None
        super().__init__(space, **kwargs)

    def _recipe(self) -> dict[str, Any]:
        return {
            "searcher": self.searcher_name,
            "searcher_kwargs": self.searcher_kwargs,
            "n_min": self.n_min_arg,
        }

    def _on_setup(self) -> None:
        seed = int(self.rng.integers(2**31))
        name = self.searcher_name
        if name in SEARCHERS:
            inner = SEARCHERS.create(name, space=self.space, seed=seed, **self.searcher_kwargs)
        else:
            from raysearch.core.registry import import_object

            factory = import_object(_PATHS.get(name, name))
            inner = factory(self.space, seed=seed, **self.searcher_kwargs)
        if not isinstance(inner, Searcher):
            raise TypeError(f"searcher {name!r} did not build a raysearch Searcher")
        self.inner = inner

    @property
    def n_min(self) -> int:
        if self.n_min_arg is not None:
            return self.n_min_arg
        return max(4, len(self.space.names) + 1 if hasattr(self.space, "names") else 4)

    def _suggest(self, trial_id: str) -> Suggestion:
        inner = self.inner
        assert inner is not None
        if getattr(inner, "fidelity", False):  # a model of every rung: all the trials
            step, view = None, dict(self.trials)
        else:
            step, view = fidelity_view(self.trials, self.n_min)
        self.last_fidelity = step
        inner.trials = view
        inner._seen = set(self._seen)
        inner._n_asked = self._n_asked
        return inner._suggest(trial_id)

    def _strategy_state(self) -> dict[str, Any]:
        if self.inner is None:
            return {}
        state = self.inner.get_state()
        state["data"]["trials"] = []  # the view is rebuilt from this searcher's trials
        return {"inner": state, "fidelity": self.last_fidelity}

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        if "inner" in data and self.inner is not None:
            self.inner.set_state(data["inner"])
        self.last_fidelity = data.get("fidelity")
