"""``searcher="auto"``: which searcher to run for a space, a budget and a parallelism.

Pure rules (no Ray, no randomness): :func:`choose` reads the space's shape (dimension,
conditional parameters, share of unordered categorical parameters, finite size), the number
of trials it may run and how many run at once, and returns the registry name of a searcher
with one line saying why. :func:`raysearch.run` (and ``raysearch run`` without a
``searcher``) build that searcher and log the line.

The rules, in order (the first that applies wins; the numbers behind them are in the
README's "Choosing a searcher" section, from ``python -m raysearch.bench hpo`` and
``python -m raysearch.bench nas``):

0. No parameter to search: ``random`` (every trial runs the same configuration).
1. Parameters marked for grid search (Tune's ``grid_search``) and no trial count: ``grid``:
   the grid decides the number of trials, as in Tune (with a trial count, the rules below
   pick a searcher that treats them as ordinary choices).
2. A finite space with no more configurations than the trials: ``grid``: every
   configuration runs once, which no model can beat.
3. A space of only unordered categorical parameters (an architecture cell, a choice of
   components), or of discrete parameters of at most ``MAX_LEVELS`` values each (a table of
   ordinal levels) with ``parallelism >= 4``: ``evolution``. On NAS-Bench-201 it is level
   with TPE and GP at 50 and 100 trials; on the hpo bench's tabular MLP and FCNet tasks with
   4 trials pending it is within 0.1 log10 regret of the best of the three in 8 of 12 cells
   (seeds 0-9; GP in 4, TPE in 1). It costs a millisecond per suggestion and does not slow
   down with many trials in flight. The same discrete space run sequentially
   (``parallelism == 1``): ``tpe``, whose per-level densities model such a grid directly;
   on those tables (seeds 0-9, 50 and 100 trials) TPE is within 0.1 of the best in 8 of
   12 cells (sum of gaps 3.9), GP in 5 (6.9), evolution in 4 (6.3). The tables are noisy
   (an exact hit floors the regret at 1e-8): on seeds 0-4 alone GP has the smaller sum of
   gaps (4.0 against 10.2) though TPE still wins more cells (7 against 6); on seeds 5-9
   TPE leads in both (9 against 2 cells, 3.0 against 15.1). 2 or 3 in flight: unmeasured,
   the rules below apply.
4. Many trials in flight (``parallelism > MAX_GP_PARALLELISM``) or many trials
   (``n_trials > MAX_GP_TRIALS``, or no trial limit under a compute budget with
   ``parallelism > 4``): ``tpe``. GPSearch fits one model on at most 250 points and spends
   0.05-0.3 s per suggestion; with dozens of workers that is the bottleneck, and beyond a
   few hundred trials its fixed training cap throws away what TPE keeps using.
5. More than ``MAX_GP_DIMENSION`` parameters: ``tpe`` (a GP's hyperparameters are
   poorly determined with fewer trials than a few times the dimension). From
   ``MIN_EVOLUTION_DIMENSION`` (8) parameters on, none an unordered choice, one at least
   continuous, none conditional, with 4 or more trials in flight: ``evolution``. On the
   hpo bench's Levy10 and Styblinski-Tang 8 with 4 pending (seeds 0-9, 50 and 100 trials)
   it is within 0.1 log10 regret of the best of GP, TPE and evolution in 4 of 4 cells
   (on seeds 0-4 and 5-9 alike), GP in 2; on two functions outside the bench (Ackley10,
   Rosenbrock8, seeds 0-9) they tie, 3 of 4 cells each (sums of gaps 0.26 and 0.17); over
   all four, evolution 7 of 8 (0.27), GP 5 of 8 (0.61). Sequentially the GP stays:
   evolution wins Levy10 and Styblinski8 at 50 trials but trails the GP by 0.1-0.5 on
   Ackley10 and Rosenbrock8 (seeds 0-4).
6. Otherwise (a small or medium space, numeric or mixed, conditional or not): ``gp``, the
   best raysearch searcher on every problem of the hpo bench but a few where TPE is ahead
   by a small margin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from raysearch.space import Space, space_from_dict

__all__ = [
    "Choice",
    "SpaceShape",
    "choose",
    "describe",
    "MAX_GP_DIMENSION",
    "MAX_GP_PARALLELISM",
    "MAX_GP_TRIALS",
    "MAX_LEVELS",
    "MIN_EVOLUTION_DIMENSION",
]

#: above this many parameters, TPE (rule 5)
MAX_GP_DIMENSION = 20
#: above this many trials in flight, TPE (rule 4)
MAX_GP_PARALLELISM = 16
#: above this many trials, TPE (rule 4)
MAX_GP_TRIALS = 1000
#: a space whose parameters all take at most this many values is discrete (rule 3)
MAX_LEVELS = 10
#: from this many numeric, unconditional parameters, with 4+ in flight: evolution (rule 5)
MIN_EVOLUTION_DIMENSION = 8


@dataclass(frozen=True)
class SpaceShape:
    """What the rules read from a space.

    Attributes:
        dimension: searched parameters (conditional ones included, constants not).
        conditional: whether some parameter is active only under a condition.
        categorical_share: the fraction of parameters that are unordered choices.
        cardinality: the number of configurations, None if infinite (or over a million).
        grid: parameters marked for grid search.
        levels: the most values a parameter takes, None if one is continuous.
    """

    dimension: int
    conditional: bool
    categorical_share: float
    cardinality: int | None
    grid: int
    levels: int | None = None

    @classmethod
    def of(cls, space: Space) -> SpaceShape:
        params = [e.param for e in space.entries]
        unordered = sum(1 for p in params if not p.numeric and not p.ordered)
        sizes = [p.cardinality for p in params]
        levels = None if any(n is None for n in sizes) else max((n or 0 for n in sizes), default=0)
        return cls(
            dimension=len(params),
            conditional=space.is_conditional,
            categorical_share=unordered / len(params) if params else 0.0,
            cardinality=space.cardinality(limit=10**6),
            grid=len(space.grid_names),
            levels=levels,
        )


@dataclass(frozen=True)
class Choice:
    """The searcher :func:`choose` picked.

    Attributes:
        name: its registry name (``raysearch.core.registry.SEARCHERS``).
        reason: one line on why, naming the space's shape, the budget and the parallelism.
        rule: the number of the rule that decided (see the module docstring).
    """

    name: str
    reason: str
    rule: int

    def line(self) -> str:
        """The progress line: ``searcher auto -> gp: ...``."""
        return f"searcher auto -> {self.name}: {self.reason}"


def describe(shape: SpaceShape) -> str:
    """The space's shape in a few words (``6 parameters, 1 of 3 categorical, conditional``)."""
    parts = [f"{shape.dimension} parameter{'s' if shape.dimension != 1 else ''}"]
    n_cat = round(shape.categorical_share * shape.dimension)
    if n_cat:
        parts.append(f"{n_cat} categorical")
    if shape.conditional:
        parts.append("conditional")
    return ", ".join(parts)


def _budget_words(n_trials: int | None, parallelism: int) -> str:
    trials = f"{n_trials} trials" if n_trials is not None else "no trial limit"
    return f"{trials}, {parallelism} at a time"


def choose(
    space: Space | Mapping[str, Any],
    n_trials: int | None = None,
    parallelism: int = 1,
) -> Choice:
    """The searcher to run on ``space`` (rules in the module docstring).

    Args:
        space: a :class:`~raysearch.space.Space` or its YAML/JSON form (``Space.to_dict()``).
        n_trials: trials the run may start; None for no limit (a compute or time budget).
        parallelism: trials evaluated at once.

    Returns:
        the :class:`Choice`; the same arguments always give the same choice.

    Raises:
        ValueError: ``n_trials`` or ``parallelism`` below 1.
    """
    if n_trials is not None and (isinstance(n_trials, bool) or int(n_trials) < 1):
        raise ValueError(f"n_trials must be a positive integer or None, got {n_trials!r}")
    if isinstance(parallelism, bool) or int(parallelism) < 1:
        raise ValueError(f"parallelism must be a positive integer, got {parallelism!r}")
    shape = SpaceShape.of(space if isinstance(space, Space) else space_from_dict(space))
    what = f"{describe(shape)}; {_budget_words(n_trials, parallelism)}"
    if shape.dimension == 0:
        return Choice("random", f"{what}: nothing to model", 0)
    if shape.grid and n_trials is None:
        return Choice("grid", f"{what}: {shape.grid} parameter(s) marked grid_search", 1)
    if shape.cardinality is not None and n_trials is not None and shape.cardinality <= n_trials:
        return Choice(
            "grid", f"{what}: all {shape.cardinality} configurations fit in the trials", 2
        )
    if shape.categorical_share == 1.0:
        return Choice(
            "evolution", f"{what}: only unordered choices (an architecture-like space)", 3
        )
    if shape.levels is not None and shape.levels <= MAX_LEVELS and parallelism >= 4:
        return Choice(
            "evolution", f"{what}: at most {shape.levels} values per parameter, run in parallel", 3
        )
    if shape.levels is not None and shape.levels <= MAX_LEVELS and parallelism == 1:
        return Choice(
            "tpe", f"{what}: at most {shape.levels} values per parameter, run in sequence", 3
        )
    many_trials = n_trials is not None and n_trials > MAX_GP_TRIALS
    unbounded_wide = n_trials is None and parallelism > 4
    if parallelism > MAX_GP_PARALLELISM or many_trials or unbounded_wide:
        return Choice(
            "tpe", f"{what}: too many trials for a GP's cost per suggestion and training cap", 4
        )
    if shape.dimension > MAX_GP_DIMENSION:
        return Choice("tpe", f"{what}: over {MAX_GP_DIMENSION} parameters for a GP", 5)
    numeric = shape.categorical_share == 0.0 and not shape.conditional and shape.levels is None
    if numeric and shape.dimension >= MIN_EVOLUTION_DIMENSION and parallelism >= 4:
        return Choice(
            "evolution",
            f"{what}: {MIN_EVOLUTION_DIMENSION}+ numeric parameters with 4+ trials in flight, "
            "where evolution matched or beat a GP",
            5,
        )
    return Choice("gp", f"{what}: small or medium space, a GP is the best model here", 6)
