"""Small dict helpers (Ray's own are deprecated); ``/`` is the delimiter, as in Tune results."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["flatten", "unflatten", "finite_float"]


def flatten(d: Mapping[str, Any], delimiter: str = "/", prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a/b": 1}`` (lists are kept as values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{delimiter}{k}" if prefix else str(k)
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, delimiter, key))
        else:
            out[key] = v
    return out


def unflatten(d: Mapping[str, Any], delimiter: str = "/") -> dict[str, Any]:
    """Inverse of :func:`flatten`."""
    out: dict[str, Any] = {}
    for key, v in d.items():
        parts = key.split(delimiter)
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"key {key!r} collides with a value at {part!r}")
            node = child
        node[parts[-1]] = v
    return out


def finite_float(value: Any) -> float | None:
    """``value`` as a float if it is a finite number (numpy scalars included), else None.

    Metrics come from user code: None, NaN, inf, strings and booleans all mean "no usable
    value", which callers record as a failure rather than raise.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
