"""Regularized (aging) evolution, and its multi-objective, constrained, steady-state form.

Real, Aggarwal, Huang & Le, "Regularized Evolution for Image Classifier Architecture
Search", AAAI 2019 (single objective); steady-state NSGA-II (Deb et al., IEEE TEC 2002;
Durillo et al., "On the effect of the steady-state selection scheme in multi-objective
genetic algorithms", EMO 2009) with constrained domination (Deb 2000) for several.

Each suggestion, asynchronously (no generation barrier: with trials pending it keeps
proposing from the population as it stands):

1. **Initial population.** The first ``n_init`` suggestions come from ``init_searcher``:
   any raysearch searcher (a registered name such as ``"sobol"`` or ``"tpe"``, seeded from
   this searcher's generator, or an instance), or None for uniform samples of the space;
   the default ``"auto"`` is TPE for one objective and uniform samples for several.
2. **Tournament.** ``sample_size`` members of the population, drawn *without* replacement;
   the best is the parent (single objective: lowest loss; several: lowest front, then
   largest crowding distance).
3. **Mutation.** The space's own operator (:meth:`raysearch.space.Space.mutate`): one active
   parameter moves, so conditions hold and changing a ``repeat`` count adds or removes
   blocks. A child that was already suggested is mutated again (after ``max_retries // 2``
   attempts, two parameters at a time); after ``max_retries`` a fresh unseen sample is
   taken. No architecture is evaluated twice; a finite space ends with FINISHED.
   With ``n_candidates > 1``, that many distinct unseen mutants are made and one is drawn
   with probability ``(l/g) ** guidance`` (:func:`~raysearch.nas.operators.guided_choice`: per-value frequencies
   among the best quarter of the results against the rest, a univariate TPE ratio). The
   draw stays random, so the search still explores; what it buys is fewer evaluations of
   mutants that move to values the results already speak against, which matters most
   with trials pending (the population then lags behind the results).
4. **Survival**, when a trial completes: it joins the population. Single objective: the
   oldest member leaves (aging; Real et al.). Several objectives or constraints: the
   member of the worst front with the smallest crowding distance leaves.

Pruned trials (stopped early by ASHA/Hyperband) join the population with the value they
reached; failed ones never do.

Several objectives come with :meth:`EvolutionSearch.tell_metrics` (the scalar
:meth:`~raysearch.core.Searcher.tell` holds one loss); :meth:`EvolutionSearch.pareto_front`,
:meth:`EvolutionSearch.hypervolume` and :meth:`EvolutionSearch.plot_pareto` report the
result. The first completed trial must report every objective and constrained metric
(else :class:`~raysearch.nas.objectives.MetricsError` names them, with a "did you mean");
a later trial lacking one, or reporting NaN/inf, is recorded as failed with a warning.

Defaults (``population_size=20``, ``sample_size=20``, ``n_init=20`` from TPE,
``n_candidates=8``, ``guidance=2``) were tuned on the NAS-Bench-201 tables
(``python -m raysearch.bench nas``, 100 seeds, mean best val_acc after 50/100 evaluations,
sequential): CIFAR-10 91.46/91.54, CIFAR-100 72.92/73.34, ImageNet-16 46.13/46.55, against
91.32/91.50, 72.40/73.06, 45.87/46.34 for Optuna's multivariate TPE on the same seeds, and
91.11/91.48, 71.98/73.00, 45.53/46.28 for plain REA (this class with
``sample_size=5, n_candidates=1, init_searcher=None``). What each choice bought: a
tournament as large as the population (the parent is the best of the last 20 results)
beat 5-of-20 on all three tables; TPE's 20 suggestions as the initial population
(``init_searcher="auto"``) sent fewer runs into CIFAR-10's two local optima at 91.13 and
91.15 (11 of 100 runs, against 15 from a uniform start); guided mutation cut the loss
from 4 pending trials on CIFAR-100 from 0.2 to under 0.1 accuracy points at 100
evaluations. For several objectives the initial population is uniform (TPE would chase
the first objective only).

Example::

    from ray import tune
    from raysearch.nas import macro_chain
    from raysearch.tune.nas import EvolutionSearch

    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=EvolutionSearch(macro_chain(), seed=0,
                                       objectives=[("val_acc", "max"), ("latency_ms", "min")],
                                       constraints={"latency_ms": ("<=", 5)}),
            num_samples=100, max_concurrent_trials=4),
    )
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.registry import SEARCHERS
from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.state import class_path, to_jsonable
from raysearch.core.types import FINISHED, Trial, TrialStatus
from raysearch.core.values import finite_float
from raysearch.nas.objectives import Objectives, parse_objectives
from raysearch.nas.operators import (
    crowded_order,
    finite_cardinality,
    fresh_unseen,
    guided_choice,
    mutate_unseen,
    tournament,
    worst_member,
)
from raysearch.nas.pareto import hypervolume, pareto_mask, plot_pareto
from raysearch.space import Flat, Space

__all__ = ["EvolutionSearch"]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- the searcher
class EvolutionSearch(Searcher):
    """Regularized evolution for architecture (and hyperparameter) search.

    See the module docstring for the algorithm. Args:
        space, seed, points_to_evaluate, max_trials: see :class:`~raysearch.core.Searcher`.
        population_size: members kept (the last ``population_size`` completed trials for a
            single objective).
        sample_size: tournament size, at most ``population_size`` (default: equal to it).
        n_init: suggestions of the initial population (default ``population_size``).
        init_searcher: where the initial population comes from: None (uniform samples), a
            registered searcher name (``"sobol"``, ``"tpe"``, ...; seeded from this
            searcher's generator) or a :class:`~raysearch.core.Searcher` instance;
            ``"auto"``: ``"tpe"`` for one objective, uniform samples for several.
        objectives: ``[(metric, "min"|"max"), ...]`` for :meth:`tell_metrics`; None: one loss
            through :meth:`tell`.
        constraints: ``{metric: (op, bound)}``, op one of ``<=``, ``>=``, ``<``, ``>``.
        n_candidates: unseen mutants made per suggestion; 1: plain mutation.
        guidance: the exponent of the density ratio the candidate is drawn with (0: uniform).
        max_retries: mutations tried per candidate before giving up on the parent.
    """

    parallel_aware: ClassVar[bool] = True
    multi_objective: ClassVar[bool] = True
    exhausts_finite_space: ClassVar[bool] = True

    def __init__(
        self,
        space: Space | Mapping[str, Any] | None = None,
        *,
        population_size: int = 20,
        sample_size: int | None = None,
        n_init: int | None = None,
        init_searcher: Searcher | str | None = "auto",
        n_candidates: int = 8,
        guidance: float = 2.0,
        objectives: Sequence[Sequence[str]] | None = None,
        constraints: Mapping[str, Sequence[Any]] | None = None,
        max_retries: int = 20,
        **kwargs: Any,
    ) -> None:
        if sample_size is None:
            sample_size = population_size
        for name, value in (("population_size", population_size), ("sample_size", sample_size)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if sample_size > population_size:
            raise ValueError(
                f"sample_size must be <= population_size={population_size}, got {sample_size}"
            )
        if n_init is not None and (int(n_init) != n_init or n_init < 0):
            raise ValueError(f"n_init must be a non-negative integer or None, got {n_init!r}")
        if isinstance(n_candidates, bool) or int(n_candidates) != n_candidates or n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer, got {n_candidates!r}")
        if not (isinstance(guidance, int | float) and 0 <= guidance < float("inf")):
            raise ValueError(f"guidance must be a finite number >= 0, got {guidance!r}")
        if int(max_retries) != max_retries or max_retries < 0:
            raise ValueError(f"max_retries must be a non-negative integer, got {max_retries!r}")
        if init_searcher is not None and not isinstance(init_searcher, Searcher | str):
            raise TypeError(
                "init_searcher must be None, a searcher name or a raysearch Searcher, "
                f"got {type(init_searcher).__name__}"
            )
        if (
            isinstance(init_searcher, str)
            and init_searcher != "auto"
            and init_searcher not in SEARCHERS
        ):
            SEARCHERS.get(init_searcher)  # raises, listing the known names
        self.population_size = int(population_size)
        self.sample_size = int(sample_size)
        self.n_init = self.population_size if n_init is None else int(n_init)
        self.max_retries = int(max_retries)
        self.n_candidates = int(n_candidates)
        self.guidance = float(guidance)
        self.objectives: Objectives | None = parse_objectives(objectives, constraints)
        self._init_spec = init_searcher
        self._init: Searcher | None = None
        self._init_ids: dict[str, str] = {}
        self._n_init_asked = 0
        self._population: list[str] = []
        self._metrics: dict[str, dict[str, float]] = {}
        self._staged: dict[str, Mapping[str, Any]] = {}
        self._checked = False
        self._cardinality: int | None = None
        super().__init__(space, **kwargs)

    # ------------------------------------------------------------------ set-up and recipe
    @property
    def is_multi(self) -> bool:
        """Survival by fronts (several objectives, or constraints) rather than by age."""
        o = self.objectives
        return o is not None and (len(o.names) > 1 or bool(o.constraints))

    def _recipe(self) -> dict[str, Any]:
        init = self._init_spec
        if isinstance(init, Searcher):
            init_recipe: Any = {"class": class_path(init), "recipe": to_jsonable(init.recipe())}
        else:
            init_recipe = init
        return {
            "population_size": self.population_size,
            "sample_size": self.sample_size,
            "n_init": self.n_init,
            "max_retries": self.max_retries,
            "n_candidates": self.n_candidates,
            "guidance": self.guidance,
            "init_searcher": init_recipe,
            "objectives": self.objectives.spec() if self.objectives else None,
        }

    def _on_setup(self) -> None:
        self._cardinality = finite_cardinality(self.space)
        spec = self._init_spec
        if spec == "auto":
            spec = None if self.is_multi else "tpe"
        if isinstance(spec, str):
            seed = int(self.rng.integers(0, 2**63 - 1))
            self._init = SEARCHERS.create(spec, seed=seed)
        elif isinstance(spec, Searcher):
            self._init = spec
        if self._init is not None:
            self._init.setup(self.space)

    # ------------------------------------------------------------------ suggestions
    def _suggest(self, trial_id: str) -> Suggestion:
        finite = self._cardinality is not None
        if finite and len(self._seen) >= int(self._cardinality or 0):
            return FINISHED
        if self._n_init_asked < self.n_init:
            self._n_init_asked += 1
            params = self._init_suggest(trial_id)
            if params is not None:
                return params
        parent = self._select_parent()
        if parent is not None:
            child = self._child(parent)
            if child is not None:
                return child
        fresh = fresh_unseen(self.space, self.seen, rng=self.rng, finite=finite)
        return FINISHED if fresh is None else fresh

    def _child(self, parent: Flat) -> Flat | None:
        """Up to ``n_candidates`` distinct unseen mutants of ``parent``, one of them chosen
        by :func:`~raysearch.nas.operators.guided_choice` (None when no unseen mutant was found)."""
        keys: set[Any] = set()

        def taken(flat: Flat) -> bool:
            return self.seen(flat) or self.space.key(flat) in keys

        candidates: list[Flat] = []
        for _ in range(self.n_candidates):
            child = mutate_unseen(
                self.space, parent, taken, rng=self.rng, max_retries=self.max_retries
            )
            if child is None:
                break
            candidates.append(child)
            keys.add(self.space.key(child))
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        pick = guided_choice(
            self.space, candidates, self._ranked(), rng=self.rng, beta=self.guidance
        )
        return candidates[pick]

    def _ranked(self) -> list[Flat]:
        """Every finished trial's params, best first (by loss, or by front and crowding)."""
        if self.is_multi:
            ids = self._evaluated()
            if not ids:
                return []
            keys = crowded_order(*self._vectors(ids))
            return [self.trials[ids[i]].params for i in np.argsort(keys, kind="stable")]
        done = sorted(self.finished_trials, key=lambda t: math.inf if t.value is None else t.value)
        return [t.params for t in done]

    def _init_suggest(self, trial_id: str) -> Flat | None:
        """A member of the initial population from ``init_searcher`` (skipping configs
        already suggested: the init searcher is told the earlier result) or a sample."""
        if self._init is None:
            return fresh_unseen(
                self.space, self.seen, rng=self.rng, finite=self._cardinality is not None
            )
        for k in range(10):
            tid = trial_id if k == 0 else f"{trial_id}#{k}"
            params = self._init.ask(tid)
            if not isinstance(params, dict):
                return None
            if not self.seen(params):
                self._init_ids[trial_id] = tid
                return params
            # a config suggested before: the init searcher learns its known result
            twin = self._twin(params)
            if twin is None:
                self._init.tell(tid, None, status=TrialStatus.FAILED)
            else:
                self._init.tell(tid, twin.value, status=twin.status)
        return None

    def _twin(self, params: Flat) -> Trial | None:
        key = self.space.key(params)
        for t in self.trials.values():
            if self.space.key(t.params) == key and t.value is not None:
                return t
        return None

    def _select_parent(self) -> Flat | None:
        if not self._population:
            return None
        if self.is_multi:
            F, violation = self._vectors(self._population)
            keys = crowded_order(F, violation)
        else:
            keys = np.array([self.trials[t].value for t in self._population], dtype=float)
        winner = tournament(keys, self.sample_size, rng=self.rng)
        return dict(self.trials[self._population[winner]].params)

    # ------------------------------------------------------------------ results
    def stage_metrics(self, trial_id: str, metrics: Mapping[str, Any]) -> None:
        """For adapters: the metrics dict the next :meth:`tell` of ``trial_id`` uses."""
        self._staged[trial_id] = dict(metrics)

    def tell_metrics(
        self,
        trial_id: str,
        metrics: Mapping[str, Any],
        *,
        status: TrialStatus | str = TrialStatus.COMPLETE,
    ) -> None:
        """Records a trial's final metrics (every objective and constrained metric).

        Raises:
            ValueError: if the searcher has no ``objectives``.
            MetricsError: if the first completed trial lacks an objective or constrained
                metric (later ones are recorded as failed, with a warning).
        """
        if self.objectives is None:
            raise ValueError(
                "tell_metrics needs objectives=[(metric, 'min'|'max'), ...]; "
                "without them, tell(trial_id, loss)"
            )
        first = metrics.get(self.objectives.names[0])
        value = finite_float(first)
        self._staged[trial_id] = dict(metrics)
        self.tell(
            trial_id, None if value is None else self.objectives.signs[0] * value, status=status
        )

    def tell(
        self,
        trial_id: str,
        value: float | None,
        *,
        status: TrialStatus | str = TrialStatus.COMPLETE,
    ) -> None:
        status = TrialStatus(status)
        metrics = self._staged.pop(trial_id, None)
        trial = self.trials.get(trial_id)
        checked = (
            self.objectives is not None
            and trial is not None
            and trial.status is TrialStatus.PENDING
            and status is not TrialStatus.FAILED
        )
        # a trial stopped without a final result (Tune removed it while paused) keeps its
        # last intermediate loss, but without metrics it stays out of the fronts
        if checked and not (metrics is None and value is None and status is TrialStatus.PRUNED):
            value = self._check_metrics(trial_id, metrics, value)
            if value is None:
                status = TrialStatus.FAILED
        super().tell(trial_id, value, status=status)

    def _check_metrics(
        self, trial_id: str, metrics: Mapping[str, Any] | None, value: float | None
    ) -> float | None:
        """The loss to record for a trial told with ``metrics`` (None: failed), after
        checking them; keeps the metric values for the fronts."""
        obj = self.objectives
        assert obj is not None
        if metrics is None:
            if len(obj.metrics) == 1 and value is not None:
                metrics = {obj.names[0]: obj.signs[0] * value}
            else:
                raise ValueError(
                    f"{type(self).__name__} has objectives {obj.metrics}: tell trial "
                    f"{trial_id!r} with tell_metrics(trial_id, metrics), not a single value"
                )
        if obj.missing(metrics):
            if not self._checked:
                raise obj.unknown_error(metrics)
            logger.warning(
                "trial %s did not report %s (it reported %s); recorded as failed",
                trial_id,
                obj.missing(metrics),
                sorted(str(k) for k in metrics)[:20],
            )
            return None
        self._checked = True
        values = obj.values(metrics)
        if values is None:
            logger.warning(
                "trial %s reported a non-finite objective or constrained metric; recorded as failed",
                trial_id,
            )
            return None
        self._metrics[trial_id] = values
        return obj.losses(values)[0]

    def _on_tell(self, trial: Trial) -> None:
        init_id = self._init_ids.pop(trial.trial_id, None)
        if init_id is not None and self._init is not None:
            self._init.tell(init_id, trial.value, status=trial.status)
        if trial.status not in (TrialStatus.COMPLETE, TrialStatus.PRUNED) or trial.value is None:
            self._metrics.pop(trial.trial_id, None)
            return
        if self.is_multi and trial.trial_id not in self._metrics:
            return
        self._population.append(trial.trial_id)
        while len(self._population) > self.population_size:
            if self.is_multi:
                F, violation = self._vectors(self._population)
                self._population.pop(worst_member(F, violation))
            else:
                self._population.pop(0)

    def _vectors(self, ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Objective vectors ``(n, m)`` (losses) and violations ``(n,)`` of trials."""
        obj = self.objectives
        assert obj is not None
        values = [self._metrics[t] for t in ids]
        F = np.array([obj.losses(v) for v in values], dtype=float).reshape(len(ids), -1)
        return F, np.array([obj.violation(v) for v in values], dtype=float)

    # ------------------------------------------------------------------ fronts
    @property
    def population(self) -> list[Trial]:
        """The current population (oldest first)."""
        return [self.trials[t] for t in self._population]

    def _evaluated(self) -> list[str]:
        return [t for t in self.trials if t in self._metrics]

    def pareto_front(self, *, feasible_only: bool = True) -> list[dict[str, Any]]:
        """The non-dominated trials among all evaluated ones (feasible ones only unless
        ``feasible_only=False``): ``[{"trial_id", "config", "metrics"}]``, sorted by the
        first objective (best first)."""
        obj = self._require_objectives("pareto_front")
        ids = self._evaluated()
        if not ids:
            return []
        F, violation = self._vectors(ids)
        keep = pareto_mask(F, violation)
        if feasible_only:
            keep &= violation <= 0
        chosen = [ids[i] for i in np.flatnonzero(keep)]
        chosen.sort(key=lambda t: obj.losses(self._metrics[t])[0])
        return [
            {
                "trial_id": t,
                "config": self.space.to_config(self.trials[t].params),
                "metrics": dict(self._metrics[t]),
            }
            for t in chosen
        ]

    def hypervolume(self, reference: Mapping[str, float] | Sequence[float]) -> float:
        """Hypervolume of the feasible evaluated trials up to ``reference`` (in the metrics'
        own units: a dict by objective name or a sequence in objective order)."""
        obj = self._require_objectives("hypervolume")
        ref = obj.to_losses(reference)
        ids = self._evaluated()
        if not ids:
            return 0.0
        F, violation = self._vectors(ids)
        return hypervolume(F[violation <= 0], ref)

    def plot_pareto(self, ax: Any = None) -> Any:
        """Scatter of the first two objectives of every evaluated trial with the Pareto
        front (matplotlib ``Axes``)."""
        obj = self._require_objectives("plot_pareto")
        if len(obj.names) < 2:
            raise ValueError(f"plot_pareto needs two objectives, this searcher has {obj.names}")
        ids = self._evaluated()
        P = np.array([[self._metrics[t][n] for n in obj.names[:2]] for t in ids]).reshape(-1, 2)
        F, violation = self._vectors(ids) if ids else (np.zeros((0, 2)), np.zeros(0))
        front = pareto_mask(F, violation) & (violation <= 0)
        return plot_pareto(P, labels=obj.names[:2], front=front, ax=ax)

    def _require_objectives(self, what: str) -> Objectives:
        if self.objectives is None:
            raise ValueError(f"{what}() needs objectives=[(metric, 'min'|'max'), ...]")
        return self.objectives

    # ------------------------------------------------------------------ state
    def _strategy_state(self) -> dict[str, Any]:
        return {
            "population": list(self._population),
            "n_init_asked": self._n_init_asked,
            "init_ids": dict(self._init_ids),
            "init": self._init.get_state() if self._init is not None else None,
            "metrics": {t: dict(v) for t, v in self._metrics.items()},
            "checked": self._checked,
        }

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self._population = [str(t) for t in data.get("population", [])]
        self._n_init_asked = int(data.get("n_init_asked", 0))
        self._init_ids = {str(k): str(v) for k, v in data.get("init_ids", {}).items()}
        if self._init is not None and data.get("init") is not None:
            self._init.set_state(data["init"])
        self._metrics = {
            str(t): {str(k): float(x) for k, x in v.items()}
            for t, v in data.get("metrics", {}).items()
        }
        self._checked = bool(data.get("checked", False))
        self._staged = {}
