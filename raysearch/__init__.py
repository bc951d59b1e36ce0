"""raysearch: Ray-native hyperparameter search, NAS and AutoML.

Public names are imported lazily, so ``import raysearch`` (and the whole search-space and
strategy core) works without importing Ray; ``raysearch.run`` and ``raysearch.tune`` do.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from raysearch._version import __version__

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs
    from raysearch.automl import AutoML as AutoML
    from raysearch.core import Scheduler as Scheduler
    from raysearch.core import Searcher as Searcher
    from raysearch.core import optimize as optimize
    from raysearch.space import Categorical as Categorical
    from raysearch.space import Constant as Constant
    from raysearch.space import Float as Float
    from raysearch.space import Int as Int
    from raysearch.space import Normal as Normal
    from raysearch.space import Space as Space
    from raysearch.space import repeat as repeat
    from raysearch.space import when as when
    from raysearch.tune.run import RunResult as RunResult
    from raysearch.tune.run import run as run

_LAZY = {
    "AutoML": "raysearch.automl",
    "run": "raysearch.tune.run",
    "RunResult": "raysearch.tune.run",
    "Space": "raysearch.space",
    "Float": "raysearch.space",
    "Int": "raysearch.space",
    "Categorical": "raysearch.space",
    "Normal": "raysearch.space",
    "Constant": "raysearch.space",
    "when": "raysearch.space",
    "repeat": "raysearch.space",
    "Searcher": "raysearch.core",
    "Scheduler": "raysearch.core",
    "optimize": "raysearch.core",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'raysearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
