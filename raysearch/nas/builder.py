"""Architecture config -> ``torch.nn.Module``, and what the network costs.

:func:`build` turns an architecture config (see :mod:`raysearch.nas.spaces`) into a network
for inputs of ``input_shape`` (one sample, without the batch dimension):

* ``(L,)``: a sequence of length ``L`` (MNIST-1D: ``(40,)``), seen as one channel;
* ``(C, L)``: ``C`` channels of length ``L``; 1-D convolutions;
* ``(C, H, W)``: images (8x8 digits: ``(1, 8, 8)``); 2-D convolutions.

MLPs flatten any input. The same config, shape, class count and seed always give the same
network: the same modules and the same initial weights (the weights are drawn under
:func:`torch.random.fork_rng` from a ``torch.Generator``; the caller's global generator is
left untouched).

:func:`cost` measures parameters, FLOPs and latency on the device the trial runs on.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from raysearch.core.rng import make_rng, torch_generator
from raysearch.nas.ops import get_op, make_op
from raysearch.nas.spaces import NB201_EDGES
from raysearch.space import Space, SpaceError

__all__ = [
    "build",
    "cost",
    "check_arch",
    "network_key",
    "stem_layers",
    "reduction_block",
    "head_layers",
    "weight_generator",
    "ArchitectureError",
    "ActivePath",
    "KINDS",
    "ACTIVATION_NAMES",
]

#: activation name -> torch.nn class name
ACTIVATION_NAMES: dict[str, str] = {
    "relu": "ReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "silu": "SiLU",
    "elu": "ELU",
    "sigmoid": "Sigmoid",
}


class ArchitectureError(ValueError):
    """An architecture config outside its space, or one no network can be built from."""


# ----------------------------------------------------------------------------- validation
def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ArchitectureError(f"{where} must be a positive integer, got {value!r}")
    return int(value)


def _keys(obj: Any, required: Sequence[str], where: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ArchitectureError(f"{where} must be a dict, got {obj!r}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ArchitectureError(f"{where} lacks {missing} (it has {sorted(obj)})")
    extra = [k for k in obj if k not in required]
    if extra:
        raise ArchitectureError(f"{where} has unknown keys {extra}; expected {list(required)}")
    return obj


def _check_cell(arch: Mapping[str, Any]) -> None:
    _keys(arch, ("kind", "edges", "channels", "cells_per_stage"), "a cell architecture")
    edges = arch["edges"]
    if not isinstance(edges, list | tuple) or len(edges) != len(NB201_EDGES):
        raise ArchitectureError(
            f"edges must list {len(NB201_EDGES)} ops (one per edge {list(NB201_EDGES)}), "
            f"got {edges!r}"
        )
    for i, op in enumerate(edges):
        _op(op, f"edges[{i}]")
    _positive_int(arch["channels"], "channels")
    _positive_int(arch["cells_per_stage"], "cells_per_stage")


def _op(name: Any, where: str) -> None:
    if not isinstance(name, str):
        raise ArchitectureError(f"{where} must be an op name, got {name!r}")
    try:
        get_op(name)
    except ValueError as err:
        raise ArchitectureError(f"{where}: {err}") from None


_BLOCK_KEYS = ("op", "width", "kernel", "expansion", "stride", "skip")


def _check_macro(arch: Mapping[str, Any]) -> None:
    _keys(arch, ("kind", "stem_width", "n_blocks", "blocks"), "a macro architecture")
    _positive_int(arch["stem_width"], "stem_width")
    n = _positive_int(arch["n_blocks"], "n_blocks")
    blocks = arch["blocks"]
    if not isinstance(blocks, list | tuple) or len(blocks) != n:
        raise ArchitectureError(f"blocks must list n_blocks={n} blocks, got {blocks!r}")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        _keys(block, _BLOCK_KEYS, where)
        _op(block["op"], f"{where}.op")
        for key in ("width", "kernel", "expansion"):
            _positive_int(block[key], f"{where}.{key}")
        if block["stride"] not in (1, 2) or isinstance(block["stride"], bool):
            raise ArchitectureError(f"{where}.stride must be 1 or 2, got {block['stride']!r}")
        if not isinstance(block["skip"], bool | np.bool_):
            raise ArchitectureError(f"{where}.skip must be true or false, got {block['skip']!r}")


def network_key(arch: Mapping[str, Any]) -> str:
    """A string equal for architectures that build the same network: a macro block's
    ``kernel``/``expansion`` are left out where its op's factory takes no such parameter
    (``conv`` ignores ``expansion``), so candidates that differ only there count once."""
    import inspect
    import json

    arch = dict(arch)
    if arch.get("kind") == "macro":
        blocks = []
        for block in arch["blocks"]:
            used = inspect.signature(get_op(block["op"])).parameters
            blocks.append(
                {k: v for k, v in block.items() if k not in ("kernel", "expansion") or k in used}
            )
        arch["blocks"] = blocks
    return json.dumps(arch, sort_keys=True, default=str)


def _check_mlp(arch: Mapping[str, Any]) -> None:
    _keys(arch, ("kind", "n_layers", "layers", "batch_norm"), "an mlp architecture")
    n = _positive_int(arch["n_layers"], "n_layers")
    layers = arch["layers"]
    if not isinstance(layers, list | tuple) or len(layers) != n:
        raise ArchitectureError(f"layers must list n_layers={n} layers, got {layers!r}")
    for i, layer in enumerate(layers):
        where = f"layers[{i}]"
        _keys(layer, ("width", "activation", "dropout"), where)
        _positive_int(layer["width"], f"{where}.width")
        if layer["activation"] not in ACTIVATION_NAMES:
            raise ArchitectureError(
                f"{where}.activation must be one of {sorted(ACTIVATION_NAMES)}, "
                f"got {layer['activation']!r}"
            )
        p = layer["dropout"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
            raise ArchitectureError(f"{where}.dropout must be in [0, 1), got {p!r}")
    if not isinstance(arch["batch_norm"], bool | np.bool_):
        raise ArchitectureError(f"batch_norm must be true or false, got {arch['batch_norm']!r}")


_CHECKS: dict[str, Callable[[Mapping[str, Any]], None]] = {
    "cell": _check_cell,
    "macro": _check_macro,
    "mlp": _check_mlp,
}


def check_arch(arch: Mapping[str, Any], space: Space | None = None) -> None:
    """Raises :class:`ArchitectureError` unless ``arch`` is a buildable architecture (and,
    with ``space``, a point of that space), naming the offending key and value."""
    if not isinstance(arch, Mapping):
        raise ArchitectureError(f"an architecture must be a dict, got {type(arch).__name__}")
    kind = arch.get("kind")
    if kind not in _CHECKS:
        raise ArchitectureError(
            f"architecture kind must be one of {sorted(_CHECKS)}, got kind={kind!r}"
        )
    if space is not None:
        try:
            space.to_flat(arch)
        except SpaceError as err:
            raise ArchitectureError(f"architecture is outside its space: {err}") from None
    _CHECKS[str(kind)](arch)


class ActivePath:
    """What every supernet shares (mixed into its ``nn.Module``): the architecture its
    forward pass computes, checked against its space ``self.space`` when it is set."""

    space: Space
    active: dict[str, Any] | None

    def check(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """``arch`` as a plain dict, if it is a point of this supernet's space."""
        check_arch(arch, self.space)
        return copy.deepcopy(dict(arch))

    def set_active(self, arch: Mapping[str, Any]) -> None:
        """The path :meth:`forward` computes from now on."""
        self.active = self.check(arch)

    def path(self, arch: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """``arch``, or the active architecture when it is None."""
        arch = self.active if arch is None else arch
        if arch is None:
            raise ArchitectureError("no active architecture: call set_active(arch) first")
        return arch


# ----------------------------------------------------------------------------- networks
def _spatial(input_shape: Sequence[int]) -> tuple[int, tuple[int, ...], bool]:
    """(channels, spatial size, needs a channel axis) of an input shape."""
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape) or len(shape) > 3:
        raise ArchitectureError(
            f"input_shape must be (L,), (C, L) or (C, H, W) with positive sizes, got {input_shape!r}"
        )
    if len(shape) == 1:
        return 1, shape, True
    return shape[0], shape[1:], False


def stem_layers(input_shape: Sequence[int], c_out: int, act: bool) -> tuple[list[Any], int]:
    """Input adapter and a Conv3-BN(-ReLU) stem; returns (modules, spatial dims)."""
    from torch import nn

    from raysearch.nas.ops import layers

    c_in, size, add_channel = _spatial(input_shape)
    dim = len(size)
    conv, norm, _ = layers(dim)
    mods: list[Any] = [nn.Unflatten(1, (1, size[0]))] if add_channel else []
    mods += [conv(c_in, c_out, 3, 1, 1, bias=False), norm(c_out)]
    if act:
        mods.append(nn.ReLU())
    return mods, dim


def head_layers(c: int, dim: int, num_classes: int, *, norm_act: bool) -> list[Any]:
    """(BN-ReLU,) global pooling, flatten, linear."""
    from torch import nn

    from raysearch.nas.ops import layers

    _, norm, _ = layers(dim)
    pool = nn.AdaptiveAvgPool1d(1) if dim == 1 else nn.AdaptiveAvgPool2d(1)
    pre = [norm(c), nn.ReLU()] if norm_act else []
    return [*pre, pool, nn.Flatten(), nn.Linear(c, num_classes)]


def _build_cell(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> Any:
    """NAS-Bench-201's skeleton: stem, 3 stages of cells with a residual reduction block
    (stride 2, channels doubled) between them, then BN-ReLU, global pooling, linear."""
    from torch import nn

    from raysearch.nas.modules import torch_modules

    mods = torch_modules()
    c = int(arch["channels"])
    stem, dim = stem_layers(input_shape, c, act=False)
    body: list[Any] = list(stem)
    for stage in range(3):
        if stage:
            body.append(reduction_block(c, 2 * c, dim))
            c *= 2
        for _ in range(int(arch["cells_per_stage"])):
            edges = {
                f"{to}<-{src}": make_op(op, c, c, 1, dim=dim)
                for (to, src), op in zip(NB201_EDGES, arch["edges"])
                if op != "none"
            }
            body.append(mods.Cell(4, edges))
    return nn.Sequential(*body, *head_layers(c, dim, num_classes, norm_act=True))


def reduction_block(c_in: int, c_out: int, dim: int) -> Any:
    """NAS-Bench-201's ResNet basic block between stages (stride 2)."""
    from torch import nn

    from raysearch.nas.modules import torch_modules
    from raysearch.nas.ops import layers

    conv, _, pool = layers(dim)
    body = nn.Sequential(
        make_op("nor_conv_3x3", c_in, c_out, 2, dim=dim),
        make_op("nor_conv_3x3", c_out, c_out, 1, dim=dim),
    )
    shortcut = nn.Sequential(pool(2, 2, ceil_mode=True), conv(c_in, c_out, 1, bias=False))
    return torch_modules().Residual(body, shortcut)


def _build_macro(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> Any:
    """Stem, then the blocks in order (stride 2 only while the spatial size is >= 2; a
    residual connection where ``skip``), then global pooling and a linear classifier."""
    from torch import nn

    from raysearch.nas.modules import torch_modules
    from raysearch.nas.ops import layers

    c = int(arch["stem_width"])
    stem, dim = stem_layers(input_shape, c, act=True)
    size = list(_spatial(input_shape)[1])
    body: list[Any] = list(stem)
    conv, norm, _ = layers(dim)
    for block in arch["blocks"]:
        stride = 2 if int(block["stride"]) == 2 and min(size) >= 2 else 1
        width = int(block["width"])
        options = {"kernel": int(block["kernel"]), "expansion": int(block["expansion"])}
        op = make_op(block["op"], c, width, stride, dim=dim, **options)
        if block["skip"]:
            shortcut = None
            if stride != 1 or c != width:
                shortcut = nn.Sequential(conv(c, width, 1, stride, bias=False), norm(width))
            op = torch_modules().Residual(op, shortcut)
        body.append(op)
        size = [math.ceil(s / stride) for s in size]
        c = width
    return nn.Sequential(*body, *head_layers(c, dim, num_classes, norm_act=False))


def _build_mlp(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> Any:
    from torch import nn

    width = int(np.prod([int(s) for s in input_shape]))
    body: list[Any] = [nn.Flatten()]
    for layer in arch["layers"]:
        out = int(layer["width"])
        body.append(nn.Linear(width, out))
        if arch["batch_norm"]:
            body.append(nn.BatchNorm1d(out))
        body.append(getattr(nn, ACTIVATION_NAMES[layer["activation"]])())
        if float(layer["dropout"]) > 0:
            body.append(nn.Dropout(float(layer["dropout"])))
        width = out
    body.append(nn.Linear(width, num_classes))
    return nn.Sequential(*body)


#: architecture kind -> builder ``(arch, input_shape, num_classes) -> nn.Module``
KINDS: dict[str, Callable[[Mapping[str, Any], Sequence[int], int], Any]] = {
    "cell": _build_cell,
    "macro": _build_macro,
    "mlp": _build_mlp,
}


def weight_generator(seed: Any) -> Any:
    """The ``torch.Generator`` of ``seed`` (int, numpy or torch Generator, None)."""
    import torch

    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, np.random.Generator) or seed is None:
        return torch_generator(make_rng(seed))
    return torch.Generator().manual_seed(int(make_rng(seed).integers(0, 2**63 - 1)))


def build(
    arch: Mapping[str, Any],
    input_shape: Sequence[int],
    num_classes: int,
    *,
    space: Space | None = None,
    seed: Any = 0,
) -> Any:
    """The network of an architecture config.

    Args:
        arch: a config of :func:`~raysearch.nas.nb201_cell`, :func:`~raysearch.nas.
            macro_chain` or :func:`~raysearch.nas.mlp_space` (nested, JSON-able).
        input_shape: one sample's shape: ``(L,)``, ``(C, L)`` or ``(C, H, W)``.
        num_classes: outputs of the final linear layer.
        space: when given, ``arch`` must be a point of it.
        seed: int, ``numpy.random.Generator``, ``torch.Generator`` or None: the initial
            weights (the same seed gives the same weights).

    Returns:
        A ``torch.nn.Module`` on the CPU mapping ``(N, *input_shape)`` to ``(N, num_classes)``.

    Raises:
        ArchitectureError: an unknown kind or op, a malformed config, a point outside
            ``space``, or a bad ``input_shape``.
    """
    import torch

    check_arch(arch, space)
    _spatial(input_shape)
    n_out = _positive_int(num_classes, "num_classes")
    generator = weight_generator(seed)
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        model = KINDS[str(arch["kind"])](arch, input_shape, n_out)
    return model


# ----------------------------------------------------------------------------- cost
def count_flops(model: Any, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of one forward pass of one sample through convolutions and
    linear layers (the "FLOPs" of NAS-Bench-201 and most NAS papers)."""
    import torch
    from torch import nn

    total = 0

    def hook(module: Any, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            per_out = (module.in_channels // module.groups) * int(np.prod(module.kernel_size))
            total += int(output.numel()) * per_out
        elif isinstance(module, nn.Linear):
            total += int(output.numel()) * module.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear)
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *[int(s) for s in input_shape]))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def measure_latency(
    model: Any,
    input_shape: Sequence[int],
    *,
    device: str = "cpu",
    batch_size: int = 1,
    warmup: int = 3,
    repeats: int = 10,
) -> float:
    """Median milliseconds of a forward pass of ``batch_size`` samples on ``device``
    (eval mode, no gradients; CUDA synchronised around each pass)."""
    import torch

    if repeats < 1 or warmup < 0 or batch_size < 1:
        raise ValueError(
            f"need repeats >= 1, warmup >= 0, batch_size >= 1; got {repeats}, {warmup}, {batch_size}"
        )
    dev = torch.device(device)
    was_training = model.training
    model = model.to(dev).eval()
    x = torch.zeros(batch_size, *[int(s) for s in input_shape], device=dev)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            sync()
            t0 = time.perf_counter()
            model(x)
            sync()
            if i >= warmup:
                times.append(1000.0 * (time.perf_counter() - t0))
    model.train(was_training)
    return float(statistics.median(times))


def cost(
    arch: Mapping[str, Any],
    input_shape: Sequence[int],
    num_classes: int,
    *,
    device: str = "cpu",
    latency: bool = True,
    batch_size: int = 1,
    repeats: int = 10,
    space: Space | None = None,
) -> dict[str, float]:
    """``{"params", "flops", "latency_ms"}`` of an architecture.

    ``params``: trainable parameters; ``flops``: multiply-accumulates per sample
    (:func:`count_flops`); ``latency_ms``: median forward time of ``batch_size`` samples on
    ``device`` (:func:`measure_latency`; NaN when ``latency=False``). Run it where the trial
    runs: latency is a property of the network *and* the machine.
    """
    model = build(arch, input_shape, num_classes, space=space)
    params = sum(int(p.numel()) for p in model.parameters() if p.requires_grad)
    out = {"params": float(params), "flops": float(count_flops(model, input_shape))}
    out["latency_ms"] = (
        measure_latency(model, input_shape, device=device, batch_size=batch_size, repeats=repeats)
        if latency
        else math.nan
    )
    return out
