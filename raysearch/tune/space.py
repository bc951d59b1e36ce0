"""Ray Tune ``param_space`` <-> :class:`raysearch.space.Space`.

Conversion keeps the values Tune itself would sample (measured on Ray 2.60):

=============================  ====================================================
Tune                           raysearch
=============================  ====================================================
``uniform(l, u)``              ``Float(l, u)``
``loguniform(l, u)``           ``Float(l, u, log=True)``
``quniform(l, u, q)``          ``Float(l', u', step=q)``, multiples of q in [l, u]
``qloguniform(l, u, q)``       the same with ``log=True``
``randn(m, s)``                ``Normal(m, s)``; ``qrandn`` adds ``step=q``
``randint(l, u)``              ``Int(l, u - 1)`` (Tune excludes ``u``)
``lograndint(l, u)``           ``Int(l, u - 1, log=True)``
``qrandint(l, u, q)``          q > 1: ``Int(l', u', step=q)``, multiples of q, ``u`` included;
                               q == 1: Tune 2.60 samples ``[l, u)``, so ``Int(l, u - 1)``
``choice(cs)``                 ``Categorical(cs)`` (choices holding Domains become
                               conditional sub-spaces)
``grid_search(vs)``            ``Categorical(vs, grid=True)``
``sample_from`` / objects      passed through untouched (Tune has already replaced them
                               by ``("__fn_ph", hash)``/``("__ref_ph", hash)`` placeholders,
                               which it resolves after the searcher suggested)
=============================  ====================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray.tune.search import sample as tune_sample

from raysearch.space import Categorical, Constant, Float, Int, Normal, Param, Space, SpaceError
from raysearch.space.conditions import Repeat, When

__all__ = ["from_tune", "to_tune", "has_domains", "is_placeholder"]

_PLACEHOLDER_TOKENS = ("__fn_ph", "__ref_ph")


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` is one of Tune's ``(token, hash)`` placeholders."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and value[0] in _PLACEHOLDER_TOKENS
    )


def has_domains(config: Any) -> bool:
    """Whether a (Tune) config still holds something to search over."""
    if isinstance(config, tune_sample.Domain | Param | When | Repeat):
        return not isinstance(config, Constant)
    if isinstance(config, Mapping):
        if len(config) == 1 and "grid_search" in config:
            return True
        return any(has_domains(v) for v in config.values())
    if isinstance(config, list | tuple) and not is_placeholder(config):
        return any(has_domains(v) for v in config)
    return False


def _q_inward(lower: float, upper: float, q: float) -> tuple[float, float]:
    """Tune's quantized bounds: the multiples of q inside [lower, upper]."""

    def index(bound: float, round_fn: Any) -> float:
        scaled = bound / q
        nearest = round(scaled)
        return float(nearest) if math.isclose(scaled, nearest) else float(round_fn(scaled))

    low, high = index(lower, math.ceil) * q, index(upper, math.floor) * q
    if low > high:
        raise SpaceError(f"no multiple of q={q} lies in [{lower}, {upper}]")
    return low, high


def _convert_domain(domain: Any, where: str) -> Any:
    sampler = domain.get_sampler()
    q = None
    if isinstance(sampler, tune_sample.Quantized):
        q = sampler.q
        sampler = sampler.get_sampler()
    if isinstance(domain, tune_sample.Categorical):
        categories = [_convert(c, f"{where}[{i}]") for i, c in enumerate(domain.categories)]
        return Categorical(categories, grid=isinstance(sampler, tune_sample.Grid))
    if isinstance(domain, tune_sample.Function):
        raise SpaceError(
            f"{where}: tune.sample_from cannot be converted into a searchable parameter; pass "
            "it in Tune's param_space (Tune resolves it after the searcher suggests) instead"
        )
    log = isinstance(sampler, tune_sample.LogUniform)
    if isinstance(domain, tune_sample.Float):
        if isinstance(sampler, tune_sample.Normal):
            return Normal(sampler.mean, sampler.sd, step=q)
        if q is not None:
            low, high = _q_inward(domain.lower, domain.upper, q)
            if low >= high:  # a single multiple of q: Tune always samples it
                return Categorical([float(low)])
            return Float(low, high, log=log, step=q)
        return Float(domain.lower, domain.upper, log=log)
    if isinstance(domain, tune_sample.Integer):
        if q is None or q == 1:
            return Int(domain.lower, domain.upper - 1, log=log)
        low, high = _q_inward(domain.lower, domain.upper, q)
        if low >= high:
            return Categorical([int(round(low))])
        return Int(int(round(low)), int(round(high)), log=log, step=int(q))
    raise SpaceError(f"{where}: unsupported Tune domain {domain!r}")


def _convert(value: Any, where: str) -> Any:
    if isinstance(value, tune_sample.Domain):
        return _convert_domain(value, where)
    if is_placeholder(value):
        return Constant(value)
    if isinstance(value, Mapping):
        if len(value) == 1 and "grid_search" in value:
            values = value["grid_search"]
            if not isinstance(values, list | tuple):
                raise SpaceError(f"{where}: grid_search needs a list, got {values!r}")
            return Categorical(
                [_convert(v, f"{where}[{i}]") for i, v in enumerate(values)], grid=True
            )
        if "eval" in value and len(value) == 1:
            raise SpaceError(
                f"{where}: {{'eval': ...}} would be evaluated as code by Tune; raysearch refuses it"
            )
        return {k: _convert(v, f"{where}/{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_convert(v, f"{where}/{i}") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return tuple(_convert(v, f"{where}/{i}") for i, v in enumerate(value))
    return value


def from_tune(param_space: Mapping[str, Any]) -> Space:
    """A :class:`Space` from a Tune ``param_space`` (Domains, grid_search, constants,
    placeholders; raysearch parameters may be mixed in)."""
    if not isinstance(param_space, Mapping):
        raise SpaceError(f"param_space must be a dict, got {type(param_space).__name__}")
    return Space(_convert(dict(param_space), ""))


def to_tune(space: Space) -> dict[str, Any]:
    """A Tune ``param_space`` for a space without conditions (for Tune's own searchers).

    Raises:
        SpaceError: if the space has conditions, or a parameter Tune cannot express (an
            ``Int``/``Float`` step grid that is not made of multiples of the step).
    """
    if space.is_conditional:
        raise SpaceError(
            "Tune's param_space cannot express conditional parameters; give the raysearch "
            "Space to a raysearch searcher instead"
        )
    return _obj_to_tune(space._spec)


def _obj_to_tune(obj: Any) -> Any:
    if isinstance(obj, Constant):
        return obj.value
    if isinstance(obj, Categorical):
        values = [_obj_to_tune(c) for c in obj.choices]
        return {"grid_search": values} if obj.is_grid else tune_sample.choice(values)
    if isinstance(obj, Param):
        return _param_to_tune(obj)
    if isinstance(obj, Mapping):
        return {k: _obj_to_tune(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_obj_to_tune(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_obj_to_tune(v) for v in obj)
    return obj


def _param_to_tune(p: Param) -> Any:
    if isinstance(p, Normal):
        return (
            tune_sample.qrandn(p.mean, p.sd, p.step) if p.step else tune_sample.randn(p.mean, p.sd)
        )
    if isinstance(p, Float):
        if p.step is not None:
            _check_multiples(p.low, p.high, p.step, p)
            fn = tune_sample.qloguniform if p.log else tune_sample.quniform
            return fn(p.low, p.high, p.step)
        return (
            tune_sample.loguniform(p.low, p.high) if p.log else tune_sample.uniform(p.low, p.high)
        )
    if isinstance(p, Int):
        if p.step is not None and p.step != 1:
            _check_multiples(p.low, p.high, p.step, p)
            fn = tune_sample.qlograndint if p.log else tune_sample.qrandint
            return fn(int(p.low), int(p.high), int(p.step))
        fn = tune_sample.lograndint if p.log else tune_sample.randint
        return fn(int(p.low), int(p.high) + 1)
    raise SpaceError(f"cannot express {p!r} in Tune")


def _check_multiples(low: float, high: float, step: float, p: Param) -> None:
    for bound in (low, high):
        k = bound / step
        if not math.isclose(k, round(k), abs_tol=1e-9):
            raise SpaceError(
                f"{p!r}: Tune quantizes to multiples of the step, and {bound} is not one"
            )
