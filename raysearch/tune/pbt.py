"""PBT and PB2 for Ray Tune: the scheduler plugins users import.

``from raysearch.tune import PBTScheduler, PB2Scheduler`` and drop one into
``tune.TuneConfig(scheduler=...)``; unlike Ray's ``PopulationBasedTraining`` it works with
any search algorithm (the initial population can come from Sobol, TPE, ...), perturbs within
the search space, is seeded, and its population survives ``Tuner.restore`` (add
``callbacks=[scheduler.state_callback()]`` to the ``RunConfig``; ``raysearch.run`` does it).

Each is a plugin built from its core scheduler (:mod:`raysearch.schedulers.pbt`) by
:class:`~raysearch.tune.plugins.SchedulerPlugin` (the core's arguments, written once there),
in the adapter that carries out exploits by handing checkpoints over
(:class:`~raysearch.tune.exploit.ExploitingTuneScheduler`, which documents how).
:func:`mutation_space` reads Ray's ``hyperparam_mutations`` conventions.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from raysearch.schedulers.pbt import pb2 as core_pb2
from raysearch.schedulers.pbt import scheduler as core_pbt
from raysearch.space import Categorical, Space
from raysearch.tune.exploit import ExploitingTuneScheduler
from raysearch.tune.plugins import SchedulerPlugin, adapter_parameter
from raysearch.tune.space import from_tune

__all__ = ["PBTScheduler", "PB2Scheduler", "mutation_space"]


def _to_space(value: Any, where: str, *, lists: str) -> Any:
    """Ray's ``hyperparam_mutations`` conventions -> raysearch parameters."""
    if isinstance(value, Mapping):
        return {
            k: _to_space(v, f"{where}/{k}" if where else str(k), lists=lists)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        if lists == "refuse":
            raise ValueError(
                f"hyperparam_bounds[{where!r}] is a raw list {list(value)!r}: give a search "
                "space definition instead, e.g. tune.uniform(low, high), "
                "tune.loguniform(low, high) or raysearch.space.Float(low, high, log=True)"
            )
        # Ray's PBT shifts list values to a neighbour: an ordered choice.
        return Categorical(list(value), ordered=True)
    if callable(value) and not hasattr(value, "sample"):
        raise ValueError(
            f"hyperparam_mutations[{where!r}] is a function; raysearch perturbs within a "
            "search space: give a Tune domain or a raysearch parameter"
        )
    return value


def mutation_space(
    mutations: Space | Mapping[str, Any] | None, *, lists: str = "choices"
) -> Space | None:
    """``hyperparam_mutations`` as a :class:`Space`: a Space, or a dict of Tune domains,
    raysearch parameters, nested dicts and (PBT only, as in Ray) lists of choices, which
    become ordered choices."""
    if mutations is None or isinstance(mutations, Space):
        return mutations
    if not isinstance(mutations, Mapping):
        raise TypeError(
            f"expected a raysearch Space or a dict of Tune domains, got {type(mutations).__name__}"
        )
    return from_tune(_to_space(dict(mutations), "", lists=lists))


#: the exploit adapter's arguments besides Tune's: crashed members are replaced
EXPLOIT_PARAMETERS: tuple[inspect.Parameter, ...] = (
    *SchedulerPlugin.adapter_parameters,
    adapter_parameter("replace_crashed", 1, "int"),
)


class PBTScheduler(SchedulerPlugin, ExploitingTuneScheduler, core=core_pbt.PBTScheduler):
    """Population-based training (Jaderberg et al. 2017) for Ray Tune.

    Arguments keep the names of Ray's ``PopulationBasedTraining``; ``hyperparam_mutations``
    may be a dict of Tune domains (``tune.loguniform(...)``), raysearch parameters, nested
    dicts or lists (ordered choices, as in Ray), or a raysearch :class:`Space`; None: the
    searcher's space (every searched parameter mutates). ``replace_crashed``: how many times
    a crashed member is run again, each time *replaced* (it continues from a top member's
    checkpoint with explored hyperparameters; 0: it just leaves the population). The rest
    are documented on the core class. Unlike Ray's, any ``search_alg`` may create the
    initial population. Example::

        scheduler = PBTScheduler(perturbation_interval=4, seed=0,
                                 hyperparam_mutations={"lr": tune.loguniform(1e-4, 1e-1)})
        tuner = tune.Tuner(train, tune_config=tune.TuneConfig(scheduler=scheduler, ...),
                           run_config=tune.RunConfig(callbacks=[scheduler.state_callback()]))
    """

    adapter_parameters: ClassVar[tuple[inspect.Parameter, ...]] = EXPLOIT_PARAMETERS
    converters: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "hyperparam_mutations": mutation_space
    }


class PB2Scheduler(SchedulerPlugin, ExploitingTuneScheduler, core=core_pb2.PB2Scheduler):
    """Population-based bandits (PB2, Parker-Holder et al. 2020) for Ray Tune: PBT whose
    explore step is a GP-UCB bandit with a time-varying kernel.

    ``hyperparam_bounds``: the parameters PB2 chooses, as search-space definitions (Tune
    domains, raysearch parameters or a :class:`Space`; raw ``[low, high]`` lists are refused:
    say whether the axis is log-scale); None: the searcher's space. ``replace_crashed`` as
    for :class:`PBTScheduler`; the rest are documented on the core class.
    """

    adapter_parameters: ClassVar[tuple[inspect.Parameter, ...]] = EXPLOIT_PARAMETERS
    converters: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "hyperparam_bounds": functools.partial(mutation_space, lists="refuse")
    }
