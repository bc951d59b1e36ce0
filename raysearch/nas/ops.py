"""The op registry: names in architecture configs -> functions that build torch modules.

An op factory takes ``(c_in, c_out, stride, *, dim, **options)`` and returns an
``nn.Module`` mapping ``(N, c_in, *spatial)`` to ``(N, c_out, *spatial / stride)``;
``dim`` is the number of spatial dimensions (1 for sequences such as MNIST-1D, 2 for
images) and ``options`` are the block's other choices (``kernel``, ``expansion``; ignore the
ones you do not use). Users add ops with a decorator::

    from raysearch.nas import register_op
    from raysearch.nas.ops import layers

    @register_op("sep_conv5x5")
    def sep_conv5x5(c_in, c_out, stride, *, dim, **_):
        conv, norm, _ = layers(dim)
        return nn.Sequential(conv(c_in, c_in, 5, stride, 2, groups=c_in), conv(c_in, c_out, 1),
                             norm(c_out), nn.ReLU())

Built-in ops: NAS-Bench-201's ``none``, ``skip_connect``, ``nor_conv_1x1``,
``nor_conv_3x3``, ``avg_pool_3x3`` (ReLU-Conv-BN, as in Dong & Yang, ICLR 2020), and the
macro blocks ``conv`` (Conv-BN-ReLU), ``sep_conv`` (depthwise-separable, Howard et al. 2017)
and ``mbconv`` (inverted bottleneck, Sandler et al. 2018). torch is imported when an op is
built, never when this module is imported.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

__all__ = ["register_op", "get_op", "make_op", "registered_ops", "layers", "UnknownOpError"]

OpFactory = Callable[..., Any]

_REGISTRY: dict[str, OpFactory] = {}


class UnknownOpError(ValueError):
    """An architecture names an op that is not registered."""


def register_op(name: str, *, overwrite: bool = False) -> Callable[[OpFactory], OpFactory]:
    """Decorator: registers ``factory(c_in, c_out, stride, *, dim, **options)`` as ``name``.

    Raises:
        ValueError: if ``name`` is empty or already registered (unless ``overwrite``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an op name must be a non-empty string, got {name!r}")

    def decorator(factory: OpFactory) -> OpFactory:
        if not callable(factory):
            raise TypeError(f"register_op({name!r}) needs a function, got {factory!r}")
        if name in _REGISTRY and not overwrite and _REGISTRY[name] is not factory:
            raise ValueError(
                f"op {name!r} is already registered; pass overwrite=True to replace it"
            )
        _REGISTRY[name] = factory
        return factory

    return decorator


def registered_ops() -> list[str]:
    """The names of every registered op, sorted."""
    return sorted(_REGISTRY)


def get_op(name: str) -> OpFactory:
    """The factory of op ``name``.

    Raises:
        UnknownOpError: naming the op and listing the registered ones.
    """
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise UnknownOpError(
            f"op {name!r} is not registered{extra}; registered ops: {', '.join(registered_ops())}"
            " (add one with @raysearch.nas.register_op(name))"
        )
    return _REGISTRY[name]


def make_op(name: str, c_in: int, c_out: int, stride: int = 1, *, dim: int, **options: Any) -> Any:
    """Builds op ``name`` as a module (see the module docstring for the contract)."""
    module = get_op(name)(int(c_in), int(c_out), int(stride), dim=int(dim), **options)
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"op {name!r} returned {type(module).__name__}, not a torch.nn.Module")
    return module


def layers(dim: int) -> tuple[Any, Any, Any]:
    """``(Conv, BatchNorm, AvgPool)`` classes for ``dim`` spatial dimensions (1 or 2)."""
    from torch import nn

    if dim == 1:
        return nn.Conv1d, nn.BatchNorm1d, nn.AvgPool1d
    if dim == 2:
        return nn.Conv2d, nn.BatchNorm2d, nn.AvgPool2d
    raise ValueError(f"dim must be 1 or 2 (spatial dimensions), got {dim!r}")


# ----------------------------------------------------------------------------- NAS-Bench-201 ops
def _relu_conv_bn(c_in: int, c_out: int, kernel: int, stride: int, dim: int) -> Any:
    from torch import nn

    conv, norm, _ = layers(dim)
    return nn.Sequential(
        nn.ReLU(),
        conv(c_in, c_out, kernel, stride, kernel // 2, bias=False),
        norm(c_out),
    )


@register_op("none")
def none_op(c_in: int, c_out: int, stride: int, *, dim: int, **_: Any) -> Any:
    """Zeros (the edge is absent)."""
    from raysearch.nas.modules import torch_modules

    return torch_modules().Zero(c_out, stride)


@register_op("skip_connect")
def skip_connect(c_in: int, c_out: int, stride: int, *, dim: int, **_: Any) -> Any:
    """The identity; a ReLU-Conv1x1-BN when the shape changes."""
    from torch import nn

    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return _relu_conv_bn(c_in, c_out, 1, stride, dim)


@register_op("nor_conv_1x1")
def nor_conv_1x1(c_in: int, c_out: int, stride: int, *, dim: int, **_: Any) -> Any:
    """ReLU-Conv(1)-BN."""
    return _relu_conv_bn(c_in, c_out, 1, stride, dim)


@register_op("nor_conv_3x3")
def nor_conv_3x3(c_in: int, c_out: int, stride: int, *, dim: int, **_: Any) -> Any:
    """ReLU-Conv(3)-BN."""
    return _relu_conv_bn(c_in, c_out, 3, stride, dim)


@register_op("avg_pool_3x3")
def avg_pool_3x3(c_in: int, c_out: int, stride: int, *, dim: int, **_: Any) -> Any:
    """3-wide average pooling (a ReLU-Conv1x1-BN first when the channel count changes)."""
    from torch import nn

    _, _, pool = layers(dim)
    pooling = pool(3, stride, 1, count_include_pad=False)
    if c_in == c_out:
        return pooling
    return nn.Sequential(_relu_conv_bn(c_in, c_out, 1, 1, dim), pooling)


# ----------------------------------------------------------------------------- macro blocks
@register_op("conv")
def conv_op(c_in: int, c_out: int, stride: int, *, dim: int, kernel: int = 3, **_: Any) -> Any:
    """Conv(kernel)-BN-ReLU."""
    from torch import nn

    conv, norm, _ = layers(dim)
    return nn.Sequential(
        conv(c_in, c_out, kernel, stride, kernel // 2, bias=False), norm(c_out), nn.ReLU()
    )


@register_op("sep_conv")
def sep_conv(c_in: int, c_out: int, stride: int, *, dim: int, kernel: int = 3, **_: Any) -> Any:
    """Depthwise Conv(kernel)-BN-ReLU, then pointwise Conv1x1-BN-ReLU."""
    from torch import nn

    conv, norm, _ = layers(dim)
    return nn.Sequential(
        conv(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False),
        norm(c_in),
        nn.ReLU(),
        conv(c_in, c_out, 1, bias=False),
        norm(c_out),
        nn.ReLU(),
    )


@register_op("mbconv")
def mbconv(
    c_in: int,
    c_out: int,
    stride: int,
    *,
    dim: int,
    kernel: int = 3,
    expansion: int = 3,
    **_: Any,
) -> Any:
    """Inverted bottleneck: Conv1x1 to ``expansion * c_in`` (skipped at 1), depthwise
    Conv(kernel), linear Conv1x1 to ``c_out`` (MobileNetV2's block, without its residual:
    the block's ``skip`` adds one)."""
    from torch import nn

    conv, norm, _ = layers(dim)
    hidden = max(1, int(expansion) * c_in)
    parts: list[Any] = []
    if hidden != c_in:
        parts += [conv(c_in, hidden, 1, bias=False), norm(hidden), nn.ReLU()]
    parts += [
        conv(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
        norm(hidden),
        nn.ReLU(),
        conv(hidden, c_out, 1, bias=False),
        norm(c_out),
    ]
    return nn.Sequential(*parts)
