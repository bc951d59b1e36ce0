"""Name -> factory registries: the CLI and experiment files resolve strategies through them.

Entries point at ``"module:attribute"`` strings, so listing names imports nothing heavy.
A new strategy registers itself with one line here (or ``SEARCHERS.register(...)`` from
user code for a custom one).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["Registry", "SEARCHERS", "SCHEDULERS", "import_object"]


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

    def parameters(self, name: str) -> list[str] | None:
        """Keyword arguments the factory accepts (through ``**kwargs`` chains of classes),
        or None if it takes arbitrary ones."""
        factory = self.get(name)
        targets = (
            [vars(c)["__init__"] for c in inspect.getmro(factory) if "__init__" in vars(c)]
            if inspect.isclass(factory)
            else [factory]
        )
        names: list[str] = []
        for target in targets:
            if target is object.__init__:
                continue
            open_ended = False
            for p in inspect.signature(target).parameters.values():
                if p.kind is p.VAR_KEYWORD:
                    open_ended = True
                elif p.name != "self" and p.kind is not p.VAR_POSITIONAL:
                    names.append(p.name)
            if not open_ended:
                return sorted(set(names))
        return None

    def create(self, name: str, **kwargs: Any) -> Any:
        """Builds the registered object: registered defaults, overridden by ``kwargs``.

        Raises:
            ValueError: for an unknown name or an argument the factory does not take.
        """
        _, defaults = self._lookup(name)
        allowed = self.parameters(name)
        if allowed is not None:
            for key in kwargs:
                if key not in allowed:
                    hint = difflib.get_close_matches(key, allowed, n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise ValueError(
                        f"{self.kind} {name!r} takes no argument {key!r}{extra}; it takes {', '.join(allowed)}"
                    )
        return self.get(name)(**{**defaults, **kwargs})


SEARCHERS = Registry("searcher")
SEARCHERS.register("random", "raysearch.searchers.random:RandomSearch")
SEARCHERS.register("sobol", "raysearch.searchers.random:RandomSearch", sampler="sobol")
SEARCHERS.register("grid", "raysearch.searchers.grid:GridSearch")
SEARCHERS.register("tpe", "raysearch.searchers.tpe:TPESearch")
SEARCHERS.register("gp", "raysearch.searchers.gp:GPSearch")

SCHEDULERS = Registry("scheduler")
SCHEDULERS.register("fifo", "raysearch.core.scheduler:FIFOScheduler")
SCHEDULERS.register("pbt", "raysearch.schedulers.pbt.scheduler:PBTScheduler")
SCHEDULERS.register("pb2", "raysearch.schedulers.pbt.pb2:PB2Scheduler")
SCHEDULERS.register("asha", "raysearch.schedulers.asha:ASHAScheduler")
SCHEDULERS.register("hyperband", "raysearch.schedulers.hyperband:HyperbandScheduler")
