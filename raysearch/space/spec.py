"""The JSON/YAML form of a space, as written in experiment files and saved states.

A parameter is a dict with exactly one *distribution key* plus optional modifiers::

    lr:        {float: [1.0e-4, 1.0e-1], log: true}
    depth:     {int: [2, 12]}                       # both bounds inclusive
    optimizer: {choice: [sgd, adam]}
    momentum:  {float: [0.0, 0.99], when: {optimizer: sgd}}
    batch:     {choice: [32, 64, 128], ordered: true}
    seed:      {grid: [0, 1, 2]}                    # enumerated by grid search
    noise:     {normal: [0.0, 1.0]}
    layers:    {repeat: {width: {int: [16, 256], log: true}}, count: n_layers, max: 6}
    head:      {space: {dropout: {float: [0, 0.5]}}, when: [[depth, ">=", 4]]}
    epochs:    10                                   # anything else is a constant
    opt:       {constant: {floats: [0.9, 0.99]}}    # a dict that reads as a misspelled spec

Ray Tune's names are accepted with Tune's semantics: ``uniform``, ``loguniform``,
``quniform [l, h, q]``, ``qloguniform``, ``randint [l, h)`` (upper bound excluded, as in
Tune), ``lograndint``, ``qrandint [l, h, q]`` (inclusive), ``qlograndint``, ``randn``,
``qrandn``, ``grid_search``. A dict that must stay a constant although it uses one of these
keys is written ``{constant: {...}}``; so is one that reads as a spec with a misspelled
distribution key (one key close to a distribution's name, holding a list or beside ``log``,
``step``, ``ordered`` or ``when``), which is refused with a did-you-mean rather than passed
to the trainable as a constant. Values are never evaluated: there is no ``eval``.

This module maps specs to the Python objects a :class:`~raysearch.space.Space` is built from
and back (:func:`obj_from_spec`, :func:`obj_to_spec`); :func:`raysearch.space.space_from_dict`
and :meth:`~raysearch.space.Space.to_dict` use it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from raysearch.space.conditions import Repeat, When, parse_when, repeat
from raysearch.space.params import (
    Categorical,
    Constant,
    Float,
    Int,
    Normal,
    Param,
    SpaceError,
    number,
)

__all__ = ["obj_from_spec", "obj_to_spec", "param_from_spec", "DIST_KEYS"]


def _args(value: Any, n: int | tuple[int, ...], key: str) -> list[Any]:
    counts = (n,) if isinstance(n, int) else n
    if not isinstance(value, list | tuple) or len(value) not in counts:
        want = " or ".join(str(c) for c in counts)
        raise SpaceError(f"'{key}' needs a list of {want} numbers, got {value!r}")
    return list(value)


def _q_bounds(low: Any, high: Any, q: Any, key: str) -> tuple[float, float, float]:
    """Tune's quantized bounds: values are multiples of q inside [low, high]."""
    lo, hi, step = number(low, f"{key} low"), number(high, f"{key} high"), number(q, f"{key} q")
    if not step > 0:
        raise SpaceError(f"'{key}' needs q > 0, got {q!r}")
    k_lo = math.ceil(lo / step - 1e-9)
    k_hi = math.floor(hi / step + 1e-9)
    if k_lo >= k_hi:
        raise SpaceError(f"'{key}' [{low}, {high}] holds fewer than two multiples of q={q}")
    return k_lo * step, k_hi * step, step


def _int_q_bounds(low: Any, high: Any, q: Any, key: str) -> tuple[int, int, int]:
    lo, hi, step = _q_bounds(low, high, q, key)
    if step != int(step):
        raise SpaceError(f"'{key}' needs an integer q, got {q!r}")
    return int(round(lo)), int(round(hi)), int(step)


def _float(v: Any, m: Mapping[str, Any]) -> Param:
    low, high = _args(v, 2, "float")
    return Float(low, high, log=bool(m.get("log", False)), step=m.get("step"))


def _int(v: Any, m: Mapping[str, Any]) -> Param:
    low, high = _args(v, 2, "int")
    return Int(low, high, log=bool(m.get("log", False)), step=m.get("step"))


def _choice(v: Any, m: Mapping[str, Any]) -> Param:
    if not isinstance(v, list | tuple):
        raise SpaceError(f"'choice' needs a list of values, got {v!r}")
    return Categorical(
        [obj_from_spec(c) for c in v], ordered=bool(m.get("ordered", False)), grid=False
    )


def _grid(v: Any, m: Mapping[str, Any]) -> Param:
    if not isinstance(v, list | tuple):
        raise SpaceError(f"'grid' needs a list of values, got {v!r}")
    return Categorical(
        [obj_from_spec(c) for c in v], ordered=bool(m.get("ordered", False)), grid=True
    )


def _normal(v: Any, m: Mapping[str, Any]) -> Param:
    mean, sd = _args(v, 2, "normal")
    return Normal(mean, sd, step=m.get("step"))


def _tune_uniform(v: Any, m: Mapping[str, Any]) -> Param:
    return Float(*_args(v, 2, "uniform"))


def _tune_loguniform(v: Any, m: Mapping[str, Any]) -> Param:
    return Float(*_args(v, 2, "loguniform"), log=True)


def _tune_quniform(v: Any, m: Mapping[str, Any]) -> Param:
    a = _args(v, 3, "quniform")
    lo, hi, q = _q_bounds(a[0], a[1], a[2], "quniform")
    return Float(lo, hi, step=q)


def _tune_qloguniform(v: Any, m: Mapping[str, Any]) -> Param:
    a = _args(v, 3, "qloguniform")
    lo, hi, q = _q_bounds(a[0], a[1], a[2], "qloguniform")
    return Float(lo, hi, step=q, log=True)


def _tune_randint(v: Any, m: Mapping[str, Any]) -> Param:
    low, high = _args(v, 2, "randint")
    return Int(low, int(number(high, "randint high")) - 1)


def _tune_lograndint(v: Any, m: Mapping[str, Any]) -> Param:
    low, high = _args(v, 2, "lograndint")
    return Int(low, int(number(high, "lograndint high")) - 1, log=True)


def _tune_qrandint(v: Any, m: Mapping[str, Any]) -> Param:
    args = _args(v, (2, 3), "qrandint")
    lo, hi, q = _int_q_bounds(args[0], args[1], args[2] if len(args) == 3 else 1, "qrandint")
    return Int(lo, hi, step=q if q != 1 else None)


def _tune_qlograndint(v: Any, m: Mapping[str, Any]) -> Param:
    a = _args(v, 3, "qlograndint")
    lo, hi, q = _int_q_bounds(a[0], a[1], a[2], "qlograndint")
    return Int(lo, hi, step=q if q != 1 else None, log=True)


def _tune_randn(v: Any, m: Mapping[str, Any]) -> Param:
    mean, sd = _args(v, (2,), "randn") if v is not None else (0.0, 1.0)
    return Normal(mean, sd)


def _tune_qrandn(v: Any, m: Mapping[str, Any]) -> Param:
    mean, sd, q = _args(v, 3, "qrandn")
    return Normal(mean, sd, step=q)


#: distribution key -> (factory(value, modifiers), allowed modifiers besides ``when``)
DIST_KEYS: dict[str, tuple[Callable[[Any, Mapping[str, Any]], Param], frozenset[str]]] = {
    "float": (_float, frozenset({"log", "step"})),
    "int": (_int, frozenset({"log", "step"})),
    "choice": (_choice, frozenset({"ordered"})),
    "grid": (_grid, frozenset({"ordered"})),
    "grid_search": (_grid, frozenset()),
    "normal": (_normal, frozenset({"step"})),
    "uniform": (_tune_uniform, frozenset()),
    "loguniform": (_tune_loguniform, frozenset()),
    "quniform": (_tune_quniform, frozenset()),
    "qloguniform": (_tune_qloguniform, frozenset()),
    "randint": (_tune_randint, frozenset()),
    "lograndint": (_tune_lograndint, frozenset()),
    "qrandint": (_tune_qrandint, frozenset()),
    "qlograndint": (_tune_qlograndint, frozenset()),
    "randn": (_tune_randn, frozenset()),
    "qrandn": (_tune_qrandn, frozenset()),
}
_STRUCT_KEYS: dict[str, frozenset[str]] = {
    "constant": frozenset(),
    "repeat": frozenset({"count", "max", "min"}),
    "space": frozenset(),
}
_ALL_KEYS = set(DIST_KEYS) | set(_STRUCT_KEYS)
#: the keys that go beside a distribution key (``log``, ``step``, ``ordered``, ``when``)
_MODIFIERS = frozenset().union(*(mods for _, mods in DIST_KEYS.values())) | {"when"}


def _misspelled_key(d: Mapping[Any, Any]) -> tuple[str, str] | None:
    """``(key, distribution)`` if ``d`` reads as a parameter spec whose distribution key is
    misspelled (``{floot: [0, 1]}``, ``{Float: [0, 1], log: true}``), else None.

    That is: one key besides modifiers, close to a distribution's name, holding a list (the
    arguments of every distribution) or written beside a modifier. Other dicts, such as
    ``{init: xavier}`` or ``{range: [0, 10]}``, are constants.
    """
    if any(k in _ALL_KEYS for k in d):
        return None
    others = [k for k in d if k not in _MODIFIERS]
    if len(others) != 1 or not isinstance(others[0], str):
        return None
    key = others[0]
    if not isinstance(d[key], list | tuple) and len(d) == 1:
        return None
    hint = difflib.get_close_matches(key.lower(), list(DIST_KEYS), n=1, cutoff=0.75)
    return (key, hint[0]) if hint else None


def _refuse_misspelled(name: str, value: Any) -> None:
    """Raises for a parameter ``name`` whose spec has a misspelled distribution key."""
    found = _misspelled_key(value) if isinstance(value, Mapping) else None
    if found is not None:
        key, hint = found
        raise SpaceError(
            f"parameter {name!r}: {key!r} in {dict(value)!r} is not a distribution; did you "
            f"mean {hint!r}? (known distributions: {', '.join(sorted(DIST_KEYS))}; a dict that "
            f"is a constant is written {{constant: {{{key}: ...}}}})"
        )


def _spec_key(d: Mapping[str, Any]) -> str | None:
    keys = [k for k in d if k in _ALL_KEYS]
    if not keys:
        return None
    if len(keys) > 1:
        raise SpaceError(f"a parameter spec has one distribution key, {d!r} has {keys}")
    key = keys[0]
    allowed = (DIST_KEYS[key][1] if key in DIST_KEYS else _STRUCT_KEYS[key]) | {"when", key}
    extra = [k for k in d if k not in allowed]
    if extra:
        hint = difflib.get_close_matches(str(extra[0]), sorted(allowed - {key}), n=1)
        extra_hint = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise SpaceError(
            f"unknown key {extra[0]!r} in the '{key}' parameter {dict(d)!r}{extra_hint}; "
            f"allowed: {sorted(allowed - {key})}"
        )
    return key


def param_from_spec(spec: Mapping[str, Any]) -> Param:
    """A single parameter from its spec dict (no ``when``/``repeat``)."""
    key = _spec_key(spec)
    if key is None or key not in DIST_KEYS:
        raise SpaceError(
            f"{dict(spec)!r} is not a parameter spec; known distributions: {sorted(DIST_KEYS)}"
        )
    factory, _ = DIST_KEYS[key]
    return factory(spec[key], spec)


def obj_from_spec(spec: Any) -> Any:
    """Turns a JSON/YAML spec into the Python objects :class:`Space` is built from."""
    if isinstance(spec, Mapping):
        key = _spec_key(spec)
        if key is None:
            for k in spec:
                if not isinstance(k, str):
                    raise SpaceError(f"config keys must be strings, got {k!r}")
            for k, v in spec.items():
                _refuse_misspelled(k, v)
            return {k: obj_from_spec(v) for k, v in spec.items()}
        node: Any
        if key == "constant":
            node = Constant(spec[key])
        elif key == "space":
            node = obj_from_spec(spec[key])
        elif key == "repeat":
            if "count" not in spec or "max" not in spec:
                raise SpaceError(
                    f"'repeat' needs 'count' (a parameter name) and 'max', got {dict(spec)!r}"
                )
            node = repeat(
                obj_from_spec(spec[key]),
                count=spec["count"],
                max_count=spec["max"],
                min_count=spec.get("min", 1),
            )
        else:
            factory, _ = DIST_KEYS[key]
            node = factory(spec[key], spec)
        if "when" in spec:
            node = When(parse_when(spec["when"]), node)
        return node
    if isinstance(spec, list):
        return [obj_from_spec(v) for v in spec]
    return spec


def obj_to_spec(obj: Any) -> Any:
    """The JSON/YAML spec of the Python objects a :class:`Space` is built from."""
    if isinstance(obj, When):
        inner = obj_to_spec(obj.node)
        when = [c.to_spec() for c in obj.conditions]
        if isinstance(inner, dict) and _is_param_spec(inner):
            return {**inner, "when": when}
        return {"space": inner, "when": when}
    if isinstance(obj, Repeat):
        return {
            "repeat": obj_to_spec(obj.template),
            "count": obj.count,
            "max": obj.max_count,
            "min": obj.min_count,
        }
    if isinstance(obj, Constant):
        return {"constant": obj.value}
    if isinstance(obj, Categorical):
        key = "grid" if obj.is_grid else "choice"
        out: dict[str, Any] = {key: [obj_to_spec(c) for c in obj.choices]}
        if obj.ordered:
            out["ordered"] = True
        return out
    if isinstance(obj, Param):
        spec = obj.to_spec()
        kind = spec.pop("type")
        if kind == "normal":
            return {"normal": [spec.pop("mean"), spec.pop("sd")], **spec}
        return {kind: [spec.pop("low"), spec.pop("high")], **spec}
    if isinstance(obj, Mapping):
        out = {k: obj_to_spec(v) for k, v in obj.items()}
        if _is_param_spec(out) or _misspelled_key(out) is not None:
            return {"constant": dict(obj)}
        return out
    if isinstance(obj, tuple):
        return [obj_to_spec(v) for v in obj]
    if isinstance(obj, list):
        return [obj_to_spec(v) for v in obj]
    return obj


def _is_param_spec(d: Mapping[str, Any]) -> bool:
    return any(k in _ALL_KEYS for k in d)
