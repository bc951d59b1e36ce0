"""PBT's config projection: the mutable parameters of a (nested) trial config and back.

A trial's config holds more than the parameters PBT mutates (fixed settings, parameters it
leaves alone). :func:`params_from_config` reads the flat assignment of the mutable space
out of a config, :func:`config_with_params` writes one into a copy of a config (the
donor's, at an exploit), and :func:`as_mutation_space` turns ``hyperparam_mutations`` into a
:class:`~raysearch.space.Space`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raysearch.core.values import finite_float
from raysearch.space import Float, Int, Param, Space, SpaceError
from raysearch.space.mutation import grid_index, grid_value
from raysearch.space.space import Flat

__all__ = ["as_mutation_space", "config_with_params", "params_from_config"]


def _top_keys(space: Space) -> list[str]:
    return list(space.to_dict())


def _walk(config: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    node = config
    for key in path:
        if isinstance(key, str) and isinstance(node, Mapping) and key in node:
            node = node[key]
        elif isinstance(key, int) and isinstance(node, list | tuple) and 0 <= key < len(node):
            node = node[key]
        else:
            return False, None
    return True, node


def _project(p: Param, value: Any) -> tuple[bool, Any]:
    """``value`` if ``p`` contains it, a numeric value moved into ``p``'s range, or nothing."""
    if p.contains(value):
        return True, value
    number = finite_float(value)
    if number is None or not isinstance(p, Float | Int):
        return False, None
    number = min(max(number, float(p.low)), float(p.high))
    if p.cardinality is not None:
        return True, grid_value(p, grid_index(p, number))
    return True, number


def params_from_config(
    space: Space, config: Mapping[str, Any], rng: np.random.Generator | None = None
) -> Flat:
    """The flat assignment of ``space``'s parameters in a (nested) trial config.

    Keys of the config that are not in ``space`` are ignored; a numeric value outside its
    range is moved to the nearest bound (PBT then explores from there); a parameter the
    config lacks is sampled with ``rng`` (left out without one).
    """
    restricted = {k: config[k] for k in _top_keys(space) if k in config}
    try:
        flat = space.to_flat(restricted, partial=True)
    except SpaceError:
        flat = {}
        for entry in space.entries:
            if not space.is_active(entry, flat):
                continue
            found, value = _walk(config, entry.path)
            if found:
                ok, value = _project(entry.param, value)
                if ok:
                    flat[entry.name] = value
        flat = space.prune(flat)
    return space.complete(flat, rng) if rng is not None else flat


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)


def config_with_params(space: Space, config: Mapping[str, Any], params: Flat) -> dict[str, Any]:
    """A copy of ``config`` with ``space``'s parameters set to ``params`` (a complete flat
    assignment); keys outside ``space`` are kept, parameters ``params`` deactivates removed."""
    new = copy.deepcopy(dict(config))
    for entry in space.entries:
        path = entry.path
        if not path or not all(isinstance(k, str) for k in path):
            continue
        found, parent = _walk(new, path[:-1])
        if found and isinstance(parent, dict):
            parent.pop(path[-1], None)
    _deep_merge(new, space.to_config(params))
    return new


def as_mutation_space(mutations: Space | Mapping[str, Any] | None) -> Space | None:
    """None, a Space, or a dict of raysearch parameters / spec dicts -> a Space."""
    if mutations is None or isinstance(mutations, Space):
        return mutations
    if not isinstance(mutations, Mapping):
        raise TypeError(
            f"hyperparam_mutations must be a raysearch Space or a dict of parameters, "
            f"got {type(mutations).__name__}"
        )
    try:
        return Space(mutations)
    except SpaceError:
        return Space.from_dict(mutations)
