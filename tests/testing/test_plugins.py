"""Every registered strategy's Ray Tune plugin takes every argument of its core.

The plugins are built from their cores (:mod:`raysearch.tune.plugins`); this checks the
outcome for each name in the registries, hand-written plugins included: the plugin's
signature is the core's (same names, same defaults) plus the adapter's own arguments. So a
core argument added later cannot be forgotten by a plugin, and a strategy registered
without a row in :data:`PLUGINS` fails here.
"""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest

from raysearch.core.registry import SCHEDULERS, SEARCHERS, import_object, init_parameters

pytest.importorskip("ray.tune")

from raysearch.tune.plugins import (
    SchedulerPlugin,
    SearcherPlugin,
    adapter_parameter,
)
from raysearch.tune.scheduler import TuneScheduler
from raysearch.tune.searcher import TuneSearcher

SEARCHER = ("metric", "mode", "max_concurrent", "time_attr")
SCHEDULER = ("time_attr", "metric", "mode")
#: registry name -> (the plugin, the arguments only its adapter takes)
PLUGINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "random": ("raysearch.tune:RandomSearch", SEARCHER),
    "sobol": ("raysearch.tune:RandomSearch", SEARCHER),
    "grid": ("raysearch.tune:GridSearch", SEARCHER),
    "tpe": ("raysearch.tune:TPESearch", SEARCHER),
    "gp": ("raysearch.tune:GPSearch", SEARCHER),
    "evolution": ("raysearch.tune.nas:EvolutionSearch", SEARCHER),
    "controller": ("raysearch.tune.nas:ControllerSearch", SEARCHER),
    "fifo": ("raysearch.tune:FIFOScheduler", ("metric", "mode")),
    "asha": ("raysearch.tune:ASHAScheduler", SCHEDULER),
    "hyperband": ("raysearch.tune:HyperbandScheduler", SCHEDULER),
    # the core takes time_attr too
    "pbt": ("raysearch.tune:PBTScheduler", ("metric", "mode", "replace_crashed")),
    "pb2": ("raysearch.tune:PB2Scheduler", ("metric", "mode", "replace_crashed")),
}
#: plugins still written by hand that miss core arguments (name -> what); strict, so the
#: entry must go when the plugin is built with raysearch.tune.plugins.SchedulerPlugin
NOT_YET_BUILT: dict[str, str] = {}
REGISTERED = [("searcher", n) for n in SEARCHERS.names()] + [
    ("scheduler", n) for n in SCHEDULERS.names()
]


def _defaults(parameters: Any) -> dict[str, Any]:
    return {p.name: p.default for p in parameters}


def test_every_registered_strategy_has_a_plugin_row() -> None:
    missing = [name for _, name in REGISTERED if name not in PLUGINS]
    assert not missing, f"no Tune plugin listed for {missing} in tests/testing/test_plugins.py"


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        pytest.param(kind, name, marks=pytest.mark.xfail(reason=NOT_YET_BUILT[name], strict=True))
        if name in NOT_YET_BUILT
        else (kind, name)
        for kind, name in REGISTERED
    ],
)
def test_plugin_takes_every_core_argument(kind: str, name: str) -> None:
    registry = SEARCHERS if kind == "searcher" else SCHEDULERS
    path, adapter_only = PLUGINS[name]
    plugin = import_object(path)
    core = init_parameters(registry.get(name))
    assert core is not None
    expected = {**_defaults(core), **{n: None for n in adapter_only}}
    got = _defaults(inspect.signature(plugin).parameters.values())
    assert sorted(got) == sorted(expected), (
        f"{path} misses {sorted(set(expected) - set(got))} "
        f"and has no {sorted(set(got) - set(expected))} of the core"
    )
    for p in core:
        assert got[p.name] == p.default, f"{path}({p.name}=...) defaults differently"
    assert issubclass(plugin, TuneSearcher if kind == "searcher" else TuneScheduler)


@pytest.mark.parametrize("name", ["random", "tpe", "gp", "asha", "hyperband", "fifo"])
def test_plugin_is_a_picklable_class_with_its_core(name: str) -> None:
    plugin = import_object(PLUGINS[name][0])
    registry = SEARCHERS if name in SEARCHERS else SCHEDULERS
    obj = plugin(seed=0)
    assert isinstance(obj, plugin) and isinstance(obj.core, registry.get(name))
    assert type(pickle.loads(pickle.dumps(obj))) is plugin
    assert plugin.core_class is registry.get(name)
    assert f":class:`{plugin.core_class.__module__}." in plugin.__doc__


def test_arguments_reach_core_and_adapter() -> None:
    from raysearch.tune import ASHAScheduler, FIFOScheduler, TPESearch

    search = TPESearch(None, "loss", "max", n_startup=3, seed=1)
    assert (search.core.n_startup, search._metric, search._mode) == (3, "loss", "max")
    assert search.time_attr == "training_iteration" and search.max_concurrent is None
    search = TPESearch(max_concurrent=2, time_attr="epoch", liar_weight=1.0)
    assert (search.max_concurrent, search.time_attr, search.core.liar_weight) == (2, "epoch", 1.0)
    asha = ASHAScheduler("epoch", "loss", "min", max_t=9, reduction_factor=3)
    assert (asha.time_attr, asha._metric, asha._mode) == ("epoch", "loss", "min")
    assert (asha.core.max_t, asha.core.reduction_factor, asha.core.grace_period) == (9, 3, 1)
    fifo = FIFOScheduler("loss", "min")
    assert (fifo._metric, fifo._mode, fifo.time_attr) == ("loss", "min", "training_iteration")


def test_a_tune_space_is_converted() -> None:
    from ray import tune

    from raysearch.space import Space
    from raysearch.tune import RandomSearch

    search = RandomSearch({"lr": tune.loguniform(1e-4, 1e-1)}, seed=0)
    assert isinstance(search.core.space, Space) and search.core.space.names == ["lr"]


def test_unknown_argument_is_named_with_the_closest() -> None:
    from raysearch.tune import ASHAScheduler, GPSearch

    with pytest.raises(
        TypeError,
        match=r"GPSearch takes no argument 'n_candidate' \(did you mean 'n_candidates'\?\)",
    ):
        GPSearch(n_candidate=5)
    with pytest.raises(TypeError, match="'maxt'.*'max_t'"):
        ASHAScheduler(maxt=5)
    with pytest.raises(TypeError, match="ASHAScheduler: too many positional"):
        ASHAScheduler("a", "b", "min", 4)


def test_a_plugin_of_an_exploiting_core_needs_the_exploiting_adapter() -> None:
    from raysearch.schedulers.pbt import PBTScheduler

    with pytest.raises(TypeError, match="exploits"):

        class Wrong(SchedulerPlugin, core=PBTScheduler):
            pass


def test_an_argument_both_take_must_default_alike() -> None:
    from raysearch.searchers.random import RandomSearch

    class Seeded(SearcherPlugin):
        adapter_parameters = (adapter_parameter("seed", 0, "int"),)

    with pytest.raises(TypeError, match="'seed' defaults to None in the core but to 0"):

        class Bad(Seeded, core=RandomSearch):
            pass
