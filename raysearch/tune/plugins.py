"""The Ray Tune plugins users import, each built from its ask/tell core class.

A plugin is a class that names its core and nothing else::

    class TPESearch(SearcherPlugin, core=raysearch.searchers.tpe.TPESearch):
        \"\"\"What it is, and an example.\"\"\"

:class:`TunePlugin` derives the rest from the core's constructor (followed through the
``**kwargs`` it passes to its bases, :func:`raysearch.core.registry.init_parameters`):

* the signature (``__signature__``, so ``help()`` and IDEs show the real arguments): Tune's
  arguments first, by position or by name (``space, metric, mode`` for a searcher,
  ``time_attr, metric, mode`` for a scheduler), then every argument of the core by name,
  with the core's defaults, then the adapter's own (``max_concurrent``, ``time_attr``);
* the check of what it is given: an unknown argument is a ``TypeError`` that names it and
  the closest known one;
* the paragraph of the docstring that lists the arguments and points to the core class.

So an argument added to a core reaches its plugin without a line written here, and
``tests/testing/test_plugins.py`` checks it for every registered strategy. The plugins are
ordinary module-level classes: ``isinstance`` works and Ray pickles them by name.

Each keeps Ray's argument names where Ray has them (``metric``, ``mode``,
``points_to_evaluate``, ``max_concurrent``) and adds one ``seed``. ``space`` is optional:
by default the Tune ``param_space`` is the search space; pass a
:class:`raysearch.space.Space` for what Tune cannot express (conditional and nested
architecture spaces).

A scheduler whose core exploits (PBT, PB2) needs the adapter that carries out exploits
(a plugin built on plain :class:`TuneScheduler` is refused when its class is made)::

    class PBTScheduler(SchedulerPlugin, ExploitingTuneScheduler, core=core_pbt.PBTScheduler):
        adapter_parameters = (
            *SchedulerPlugin.adapter_parameters, adapter_parameter("replace_crashed", 1, "int")
        )
        converters = {"hyperparam_mutations": mutation_space}

(``time_attr``, which that core takes too, goes to both.)
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from raysearch import searchers
from raysearch.core import scheduler as core_scheduler
from raysearch.core.registry import init_parameters, reject_unknown
from raysearch.space import Space
from raysearch.tune.scheduler import TuneScheduler
from raysearch.tune.searcher import TuneSearcher
from raysearch.tune.space import from_tune

__all__ = [
    "TunePlugin",
    "SearcherPlugin",
    "SchedulerPlugin",
    "adapter_parameter",
    "plugin_signature",
    "RandomSearch",
    "GridSearch",
    "FIFOScheduler",
    "as_space",
    "TIME_ATTR",
]

TIME_ATTR = "training_iteration"


def as_space(space: Space | Mapping[str, Any] | None) -> Space | None:
    """None, a Space, or a dict of raysearch parameters and/or Tune domains -> a Space."""
    if space is None or isinstance(space, Space):
        return space
    return from_tune(space)


def adapter_parameter(name: str, default: Any, annotation: str) -> inspect.Parameter:
    """An argument of a plugin that the adapter takes (keyword-only unless the plugin
    names it in ``positional``)."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def plugin_signature(
    core: Sequence[inspect.Parameter],
    adapter: Sequence[inspect.Parameter],
    positional: Sequence[str],
) -> inspect.Signature:
    """``positional`` (in that order), then the core's parameters, then the adapter's
    others; all but the positional ones keyword-only.

    Raises:
        TypeError: an argument that both take has two defaults, or a positional name is
            neither's.
    """
    by_name = {p.name: p for p in core}
    for p in adapter:
        known = by_name.get(p.name)
        if known is not None and known.default != p.default:
            raise TypeError(
                f"argument {p.name!r} defaults to {known.default!r} in the core but to "
                f"{p.default!r} in the adapter"
            )
    own = {p.name: p for p in adapter if p.name not in by_name}
    every = {**by_name, **own}
    missing = [n for n in positional if n not in every]
    if missing:
        raise TypeError(
            f"positional argument(s) {missing} are neither the core's nor the adapter's"
        )
    lead = [every[n].replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in positional]
    rest = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in [*by_name.values(), *own.values()]
        if p.name not in positional
    ]
    return inspect.Signature([*lead, *rest])


class TunePlugin:
    """Mixin that builds a Tune adapter around a core strategy from the plugin's arguments.

    Put it before the adapter class in the bases and name the core in the class statement
    (``class X(TunePlugin, TuneScheduler, core=CoreX)``). Class attributes a family sets:

    Attributes:
        positional: the arguments taken by position, in order.
        adapter_parameters: the adapter's keyword arguments (:func:`adapter_parameter`); an
            argument the core takes too (PBT's ``time_attr``) goes to both.
        converters: core argument -> function applied to its value first (a Tune
            ``param_space`` dict into a :class:`~raysearch.space.Space`).
        core_class: the core class (set from ``core=``).
        core_arguments: the names of the core's arguments (set from ``core=``).
    """

    positional: ClassVar[tuple[str, ...]] = ()
    adapter_parameters: ClassVar[tuple[inspect.Parameter, ...]] = ()
    converters: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    core_class: ClassVar[type[Any]]
    core_arguments: ClassVar[tuple[str, ...]]
    __signature__: ClassVar[inspect.Signature]

    def __init_subclass__(cls, core: type[Any] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if core is None:  # a family's base (SearcherPlugin), not a plugin
            return
        if (
            getattr(core, "exploits", False)
            and issubclass(cls, TuneScheduler)
            and cls._exploit is TuneScheduler._exploit
        ):
            raise TypeError(
                f"{core.__name__} exploits: {cls.__name__} must derive from an adapter that "
                "carries out exploits (ExploitingTuneScheduler)"
            )
        parameters = init_parameters(core)
        if parameters is None:
            raise TypeError(f"{core.__name__} takes arbitrary keywords: name its arguments")
        # A converted argument accepts what its converter accepts (a dict of Tune domains).
        parameters = [
            p.replace(annotation=_accepts(cls.converters[p.name]))
            if p.name in cls.converters
            else p
            for p in parameters
        ]
        cls.core_class = core
        cls.core_arguments = tuple(p.name for p in parameters)
        cls.__signature__ = plugin_signature(parameters, cls.adapter_parameters, cls.positional)
        cls.__doc__ = _with_arguments(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        signature = cls.__signature__
        reject_unknown(cls.__name__, kwargs, list(signature.parameters), error=TypeError)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:  # too many positional arguments, or one given twice
            raise TypeError(f"{cls.__name__}: {err}") from None
        bound.apply_defaults()  # the core's own defaults: as if each were passed explicitly
        values = bound.arguments
        core = cls.core_class(
            **{name: cls.converters.get(name, _same)(values[name]) for name in cls.core_arguments}
        )
        adapter = {p.name: values[p.name] for p in cls.adapter_parameters}
        # A mixin: the adapter's __init__ (TuneSearcher, TuneScheduler...) is next in the MRO.
        super().__init__(core, **adapter)  # type: ignore[call-arg]


def _same(value: Any) -> Any:
    return value


def _accepts(converter: Callable[[Any], Any]) -> Any:
    """The annotation of a converter's first parameter."""
    first = next(iter(inspect.signature(converter).parameters.values()))
    return first.annotation


def _with_arguments(cls: type[TunePlugin]) -> str:
    """The class docstring followed by the paragraph that lists its arguments."""
    core = cls.core_class
    adapter = next(b for b in cls.__mro__ if not issubclass(b, TunePlugin))
    by_name = [n for n in cls.core_arguments if n not in cls.positional]
    own = [
        p.name
        for p in cls.adapter_parameters
        if p.name not in cls.positional and p.name not in cls.core_arguments
    ]

    def names(items: Sequence[str]) -> str:
        return ", ".join(f"``{n}``" for n in items) or "none"

    text = (
        f"Arguments: {names(cls.positional)} by position or name; by name, those of "
        f":class:`{core.__module__}.{core.__qualname__}` ({names(by_name)}), and "
        f"{names(own)} of :class:`{adapter.__module__}.{adapter.__qualname__}`."
    )
    paragraph = textwrap.fill(text, width=88)
    return f"{inspect.cleandoc(cls.__doc__ or '')}\n\n{paragraph}\n"


class SearcherPlugin(TunePlugin, TuneSearcher):
    """Base of the searcher plugins: ``(space, metric, mode, *, <core arguments>,
    max_concurrent, time_attr)``; ``space`` may be a Space or a dict of Tune domains."""

    positional: ClassVar[tuple[str, ...]] = ("space", "metric", "mode")
    adapter_parameters: ClassVar[tuple[inspect.Parameter, ...]] = (
        adapter_parameter("metric", None, "str | None"),
        adapter_parameter("mode", None, "str | None"),
        adapter_parameter("max_concurrent", None, "int | None"),
        adapter_parameter("time_attr", TIME_ATTR, "str"),
    )
    converters: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"space": as_space}


class SchedulerPlugin(TunePlugin, TuneScheduler):
    """Base of the scheduler plugins: ``(time_attr, metric, mode, *, <core arguments>)``,
    Ray's order."""

    positional: ClassVar[tuple[str, ...]] = ("time_attr", "metric", "mode")
    adapter_parameters: ClassVar[tuple[inspect.Parameter, ...]] = (
        adapter_parameter("time_attr", TIME_ATTR, "str"),
        adapter_parameter("metric", None, "str | None"),
        adapter_parameter("mode", None, "str | None"),
    )


class RandomSearch(SearcherPlugin, core=searchers.RandomSearch):
    """Random search, i.i.d. or scrambled Sobol (quasi-random), for Ray Tune.

    See :class:`raysearch.searchers.RandomSearch`. Example::

        tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                           tune_config=tune.TuneConfig(search_alg=RandomSearch(sampler="sobol", seed=0),
                                                       metric="loss", mode="min", num_samples=64))
    """


class GridSearch(SearcherPlugin, core=searchers.GridSearch):
    """Grid over ``grid_search``/categorical parameters crossed with random sampling of
    the rest, for Ray Tune; returns FINISHED after the grid (use ``num_samples=-1``).

    See :class:`raysearch.searchers.GridSearch`.
    """


class FIFOScheduler(SchedulerPlugin, core=core_scheduler.FIFOScheduler):
    """Runs every trial to the end (the default). Takes ``(metric, mode)`` by position: it
    measures no progress, so it has no ``time_attr``."""

    positional = ("metric", "mode")
    adapter_parameters = SchedulerPlugin.adapter_parameters[1:]
