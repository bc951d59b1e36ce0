"""Ray Tune plugins. The only package of raysearch that imports ``ray.tune``.

``from raysearch.tune import RandomSearch, GridSearch, FIFOScheduler, PBTScheduler,
PB2Scheduler`` and drop them into ``tune.TuneConfig(search_alg=..., scheduler=...)``.

Each plugin is built from its core class (:mod:`raysearch.tune.plugins`): it takes Tune's
arguments and then every argument of the core. A strategy of your own gets one the same way,
``class MySearch(SearcherPlugin, core=MyCoreSearch)``, or is wrapped at run time with
``TuneSearcher(core)`` / ``TuneScheduler(core)``.
"""

from __future__ import annotations

from raysearch.tune.asha import ASHAScheduler, HyperbandScheduler
from raysearch.tune.gp import GPSearch
from raysearch.tune.nas import ControllerSearch, EvolutionSearch, nas_trainable
from raysearch.tune.pbt import PB2Scheduler, PBTScheduler
from raysearch.tune.plugins import (
    FIFOScheduler,
    GridSearch,
    RandomSearch,
    SchedulerPlugin,
    SearcherPlugin,
    TunePlugin,
    as_space,
)
from raysearch.tune.scheduler import SchedulerStateCallback, TuneScheduler
from raysearch.tune.searcher import TuneSearcher
from raysearch.tune.space import from_tune, to_tune
from raysearch.tune.tpe import TPESearch

__all__ = [
    "ControllerSearch",
    "EvolutionSearch",
    "nas_trainable",
    "ASHAScheduler",
    "FIFOScheduler",
    "GPSearch",
    "GridSearch",
    "HyperbandScheduler",
    "PB2Scheduler",
    "PBTScheduler",
    "RandomSearch",
    "SchedulerPlugin",
    "SchedulerStateCallback",
    "SearcherPlugin",
    "TPESearch",
    "TunePlugin",
    "TuneScheduler",
    "TuneSearcher",
    "as_space",
    "from_tune",
    "to_tune",
]
