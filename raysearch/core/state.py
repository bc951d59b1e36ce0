"""State is data: a versioned JSON envelope every searcher and scheduler saves and restores.

Envelope::

    {"format": "raysearch.state/1", "class": "raysearch.searchers.random:RandomSearch",
     "recipe": {...constructor arguments...}, "rng": {...bit generator state...}, "data": {...}}

Files are written atomically (temporary file + ``os.replace``) so a crash never leaves a
half-written state behind. Restoring into an object built with another recipe raises a
:class:`StateMismatchError` that lists the differences; it never prompts.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT = "raysearch.state/1"

__all__ = [
    "FORMAT",
    "StateMismatchError",
    "envelope",
    "check_envelope",
    "recipe_diff",
    "atomic_write_json",
    "read_json",
    "to_jsonable",
]


class StateMismatchError(ValueError):
    """A saved state does not belong to the object it is restored into."""


#: class paths written by earlier releases -> where the class lives now, so that a state
#: saved before a module moved still restores (the 2026-12 reshape moved PBT and PB2)
MOVED: dict[str, str] = {
    "raysearch.schedulers.pbt:PBTScheduler": "raysearch.schedulers.pbt.scheduler:PBTScheduler",
    "raysearch.schedulers.pb2:PB2Scheduler": "raysearch.schedulers.pbt.pb2:PB2Scheduler",
}


def class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def envelope(
    obj: object, recipe: dict[str, Any], rng: dict[str, Any] | None, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "class": class_path(obj),
        "recipe": to_jsonable(recipe),
        "rng": rng,
        "data": data,
    }


def check_envelope(obj: object, recipe: dict[str, Any], state: dict[str, Any]) -> None:
    """Raises StateMismatchError unless ``state`` was saved by an object like ``obj``."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise StateMismatchError(f"not a raysearch state (format {found!r}, expected {FORMAT!r})")
    saved = state.get("class")
    if MOVED.get(str(saved), saved) != class_path(obj):
        raise StateMismatchError(
            f"state was saved by {state.get('class')}, cannot restore it into {class_path(obj)}"
        )
    diff = recipe_diff(state.get("recipe", {}), to_jsonable(recipe))
    if diff:
        lines = "\n  ".join(diff)
        raise StateMismatchError(
            f"{class_path(obj)} was built with other arguments than the saved state:\n  {lines}"
        )


def recipe_diff(saved: Any, current: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON-like values."""
    where = path or "<root>"
    if isinstance(saved, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in sorted(set(saved) | set(current), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in current:
                out.append(f"{sub}: saved {saved[key]!r}, now missing")
            elif key not in saved:
                out.append(f"{sub}: not in the saved state, now {current[key]!r}")
            else:
                out.extend(recipe_diff(saved[key], current[key], sub))
        return out
    if isinstance(saved, list) and isinstance(current, list):
        if len(saved) != len(current):
            return [f"{where}: saved {saved!r}, now {current!r}"]
        out = []
        for i, (a, b) in enumerate(zip(saved, current)):
            out.extend(recipe_diff(a, b, f"{path}[{i}]"))
        return out
    if saved != current and not (_is_nan(saved) and _is_nan(current)):
        return [f"{where}: saved {saved!r}, now {current!r}"]
    return []


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def to_jsonable(value: Any) -> Any:
    """A JSON-able copy of ``value``: tuples become lists, numpy scalars Python numbers,
    and anything else that JSON cannot hold its ``repr`` (good enough for recipe checks)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return to_jsonable(item())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_jsonable(to_dict())
    return repr(value)


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes ``obj`` as JSON to ``path`` atomically (rename over the old file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path) as f:
        return json.load(f)


class Stateful:
    """Mixin for objects whose whole state is a JSON envelope.

    Subclasses provide ``rng`` (a Generator), :meth:`recipe` (constructor arguments that
    must match on restore) and :meth:`_state_data`/:meth:`_load_state_data`.
    """

    rng: Any

    def recipe(self) -> dict[str, Any]:
        """Constructor arguments that define the algorithm (not the seed: the rng state is
        saved, so a resumed run continues the same stream whatever seed it was built with)."""
        return {}

    def _state_data(self) -> dict[str, Any]:
        return {}

    def _load_state_data(self, data: dict[str, Any]) -> None:
        pass

    def get_state(self) -> dict[str, Any]:
        """The full state as a JSON-able envelope (see the module docstring)."""
        from raysearch.core.rng import rng_state

        return envelope(self, self.recipe(), rng_state(self.rng), self._state_data())

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores :meth:`get_state`'s output; raises StateMismatchError on another recipe."""
        from raysearch.core.rng import restore_rng

        check_envelope(self, self.recipe(), state)
        if state.get("rng") is not None:
            self.rng = restore_rng(state["rng"])
        self._load_state_data(state.get("data") or {})

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes :meth:`get_state` to ``path`` atomically."""
        atomic_write_json(path, self.get_state())

    def restore(self, path: str | os.PathLike[str]) -> None:
        """Loads a state written by :meth:`save`."""
        self.set_state(read_json(path))
