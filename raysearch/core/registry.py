"""Name -> factory registries: the CLI and experiment files resolve strategies through them.

Entries point at ``"module:attribute"`` strings, so listing names imports nothing heavy.
A new strategy registers itself with one line here (or ``SEARCHERS.register(...)`` from
user code for a custom one). Registering is all it takes for it to be checked: the
conformance suites (``tests/testing/test_registered.py``) and the check that its Ray Tune
plugin takes every argument of the core (``tests/testing/test_plugins.py``) run over these
registries.

:func:`init_parameters` (the arguments a class takes, through the ``**kwargs`` its
constructor passes on to its bases) and :func:`reject_unknown` (an unknown argument named,
with the closest known one) serve both the registries and the Tune plugins
(:mod:`raysearch.tune.plugins`), which are built from the same constructors.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "Registry",
    "SEARCHERS",
    "SCHEDULERS",
    "import_object",
    "import_path",
    "init_parameters",
    "reject_unknown",
]


def import_object(path: str) -> Any:
    """Imports ``"package.module:attr"`` (or ``"package.module.attr"``).

    Raises:
        ImportError: with the path in the message when the module or attribute is missing.
    """
    if not isinstance(path, str) or not path.strip():
        raise ImportError(f"expected an import path like 'package.module:function', got {path!r}")
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"expected an import path like 'package.module:function', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(f"cannot import {path!r}: {err}") from err
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(module) if not n.startswith("_")]
            hint = difflib.get_close_matches(part, names, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ImportError(
                f"cannot import {path!r}: module {module_name!r} has no {part!r}{extra}"
            ) from None
    return obj


def import_path(target: str | Callable[..., Any]) -> str:
    """The ``"module:attribute"`` path of an import path or of a module-level callable."""
    if isinstance(target, str):
        return target
    return f"{target.__module__}:{target.__qualname__}"


def init_parameters(factory: Callable[..., Any]) -> list[inspect.Parameter] | None:
    """The named parameters a factory takes, or None if it takes arbitrary keywords.

    For a class, the ``__init__`` of each class in its MRO in turn, for as long as they
    pass ``**kwargs`` on (``RandomSearch(space, *, sampler, dedupe, **kwargs)`` takes
    :class:`~raysearch.core.Searcher`'s ``seed``, ``points_to_evaluate`` and
    ``max_trials`` too). A name declared twice keeps its first (most derived) declaration;
    ``self`` and ``*args`` are left out.
    """
    targets = (
        [vars(c)["__init__"] for c in inspect.getmro(factory) if "__init__" in vars(c)]
        if inspect.isclass(factory)
        else [factory]
    )
    found: dict[str, inspect.Parameter] = {}
    for target in targets:
        if target is object.__init__:
            continue
        open_ended = False
        for p in inspect.signature(target).parameters.values():
            if p.kind is p.VAR_KEYWORD:
                open_ended = True
            elif p.name != "self" and p.kind is not p.VAR_POSITIONAL:
                found.setdefault(p.name, p)
        if not open_ended:
            return list(found.values())
    return None


def reject_unknown(
    owner: str,
    given: Iterable[str],
    allowed: Sequence[str],
    error: type[Exception] = ValueError,
) -> None:
    """Raises ``error`` for the first name of ``given`` not in ``allowed``, naming the
    closest allowed one (``"scheduler 'asha' takes no argument 'maxt' (did you mean
    'max_t'?); it takes ..."``)."""
    for key in given:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise error(f"{owner} takes no argument {key!r}{extra}; it takes {', '.join(allowed)}")


class Registry:
    """A dict of named factories with helpful errors for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, tuple[str | Callable[..., Any], dict[str, Any]]] = {}

    def register(self, name: str, target: str | Callable[..., Any], **defaults: Any) -> None:
        """Registers ``target`` (a factory or its import path) under ``name`` with default kwargs."""
        self._entries[name.lower()] = (target, defaults)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._entries

    def _lookup(self, name: str) -> tuple[str | Callable[..., Any], dict[str, Any]]:
        key = name.lower() if isinstance(name, str) else name
        if key not in self._entries:
            hint = difflib.get_close_matches(str(key), self.names(), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(
                f"unknown {self.kind} {name!r}{extra} (known: {', '.join(self.names())})"
            )
        return self._entries[key]

    def get(self, name: str) -> Callable[..., Any]:
        target, _ = self._lookup(name)
        return import_object(target) if isinstance(target, str) else target

    def path(self, name: str) -> str:
        """The ``"module:attribute"`` import path of the registered factory (what a spawned
        process can rebuild it from)."""
        return import_path(self._lookup(name)[0])

    def defaults(self, name: str) -> dict[str, Any]:
        """The keyword arguments registered with the name (``{"sampler": "sobol"}``)."""
        return dict(self._lookup(name)[1])

    def parameters(self, name: str) -> list[str] | None:
        """Keyword arguments the factory accepts (through ``**kwargs`` chains of classes),
        or None if it takes arbitrary ones."""
        found = init_parameters(self.get(name))
        return None if found is None else sorted(p.name for p in found)

    def create(self, name: str, **kwargs: Any) -> Any:
        """Builds the registered object: registered defaults, overridden by ``kwargs``.

        Raises:
            ValueError: for an unknown name or an argument the factory does not take.
        """
        _, defaults = self._lookup(name)
        allowed = self.parameters(name)
        if allowed is not None:
            reject_unknown(f"{self.kind} {name!r}", kwargs, allowed)
        return self.get(name)(**{**defaults, **kwargs})


SEARCHERS = Registry("searcher")
SEARCHERS.register("random", "raysearch.searchers.random:RandomSearch")
SEARCHERS.register("sobol", "raysearch.searchers.random:RandomSearch", sampler="sobol")
SEARCHERS.register("grid", "raysearch.searchers.grid:GridSearch")
SEARCHERS.register("tpe", "raysearch.searchers.tpe:TPESearch")
SEARCHERS.register("gp", "raysearch.searchers.gp:GPSearch")
SEARCHERS.register("evolution", "raysearch.nas.evolution:EvolutionSearch")
SEARCHERS.register("controller", "raysearch.nas.controller:ControllerSearch")

SCHEDULERS = Registry("scheduler")
SCHEDULERS.register("fifo", "raysearch.core.scheduler:FIFOScheduler")
SCHEDULERS.register("pbt", "raysearch.schedulers.pbt.scheduler:PBTScheduler")
SCHEDULERS.register("pb2", "raysearch.schedulers.pbt.pb2:PB2Scheduler")
SCHEDULERS.register("asha", "raysearch.schedulers.asha:ASHAScheduler")
SCHEDULERS.register("hyperband", "raysearch.schedulers.hyperband:HyperbandScheduler")
