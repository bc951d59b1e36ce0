"""A weight-sharing supernet of the macro space: every candidate in one module (one-shot NAS).

:func:`SuperNet` builds one ``torch.nn.Module`` that holds every architecture of a
:func:`raysearch.nas.macro_chain` space (elastic depth, width, kernel and expansion, as in
Once-for-All, Cai et al. 2020, and single-path one-shot, Guo et al. 2020): each block
position keeps one weight set per op (``conv``, ``sep_conv``, ``mbconv``), allocated once at
the largest width, kernel and expansion; a subnet uses the first channels and the centre of
the kernels. Depth is elastic too: a subnet of ``n`` blocks runs the first ``n`` positions.

* ``set_active(arch)`` picks the path the forward pass computes (``forward(x, arch)`` too);
* ``extract(arch)`` returns the network :func:`raysearch.nas.build` makes of ``arch``
  (the same modules, parameter count and FLOPs) with the inherited weights copied into it:
  it computes exactly what the active supernet path computes (tested with
  ``torch.allclose`` in eval mode);
* :func:`recalibrate_bn` re-estimates BatchNorm statistics on a fixed calibration subset
  (the shared running statistics are a blend of every path trained, so a subnet evaluated
  without recalibration is ranked badly; SPOS recalibrates, so do we);
* :func:`to_arrays` / :func:`from_arrays`: the weights as numpy arrays and back without a
  copy (how the Ray search puts them once into the object store and every evaluation
  actor maps them read-only).

For a NAS-Bench-201 cell space (``kind="cell"``), :func:`SuperNet` returns the single-path
cell supernet of :mod:`raysearch.nas.cellnet` (same API); the macro supernet holds the
built-in macro ops. Training (samplers, the epoch loop, checkpoints) is in
:mod:`raysearch.nas.sampling`. torch is imported when a supernet is built; the torch
classes are created on first use by :func:`supernet_modules` (like
:mod:`raysearch.nas.modules`), so pickled supernets load by reference.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from raysearch.nas.builder import (
    ActivePath,
    ArchitectureError,
    build,
    weight_generator,
)
from raysearch.space import Space

__all__ = [
    "SUPERNET_OPS",
    "SuperNet",
    "is_macro",
    "macro_limits",
    "recalibrate_bn",
    "accuracy",
    "accuracy_and_loss",
    "path_flops",
    "to_arrays",
    "from_arrays",
    "supernet_modules",
]

#: the macro ops a supernet block holds
SUPERNET_OPS: tuple[str, ...] = ("conv", "sep_conv", "mbconv")
_NAMES = ("ElasticConv", "ElasticBN", "ElasticLinear", "MacroBlock", "MacroSuperNet")


# ----------------------------------------------------------------------------- the space
def _choices(value: Any) -> list[Any]:
    if isinstance(value, Mapping) and "choice" in value:
        return list(value["choice"])
    if isinstance(value, Mapping):
        raise ArchitectureError(f"a supernet needs categorical block choices, got {value!r}")
    return [value]


def is_macro(space: Space) -> bool:
    """Whether ``space`` is a :func:`raysearch.nas.macro_chain` space (``kind="macro"``)."""
    return bool(space.to_dict().get("kind") == "macro")


def macro_limits(space: Space) -> dict[str, Any]:
    """The choices of a :func:`raysearch.nas.macro_chain` space: ``stem_width``,
    ``min_blocks``, ``max_blocks``, ``ops``, ``widths``, ``kernels``, ``expansions``,
    ``strides``, ``skips``.

    Raises:
        ArchitectureError: not a macro space, or an op a supernet does not hold.
    """
    spec = space.to_dict()
    if spec.get("kind") != "macro":
        raise ArchitectureError(
            f"SuperNet supports the macro space (kind='macro'), got kind={spec.get('kind')!r}"
        )
    depth, blocks = spec["n_blocks"], spec["blocks"]
    if isinstance(depth, Mapping):
        lo, hi = (int(v) for v in depth["int"])
        block = blocks["repeat"]
    else:
        lo = hi = int(depth)
        block = blocks[0]
    limits: dict[str, Any] = {
        "stem_width": int(spec["stem_width"]),
        "min_blocks": lo,
        "max_blocks": hi,
        "ops": _choices(block["op"]),
        "widths": sorted(int(v) for v in _choices(block["width"])),
        "kernels": sorted(int(v) for v in _choices(block["kernel"])),
        "expansions": sorted(int(v) for v in _choices(block["expansion"])),
        "strides": sorted(int(v) for v in _choices(block["stride"])),
        "skips": [bool(v) for v in _choices(block["skip"])],
    }
    bad = [op for op in limits["ops"] if op not in SUPERNET_OPS]
    if bad:
        raise ArchitectureError(f"SuperNet holds the ops {list(SUPERNET_OPS)}, not {bad}")
    if any(k % 2 == 0 for k in limits["kernels"]):
        raise ArchitectureError(f"SuperNet needs odd kernels, got {limits['kernels']}")
    return limits


# ----------------------------------------------------------------------------- torch classes
@functools.cache
def supernet_modules() -> SimpleNamespace:
    """The classes ``ElasticConv``, ``ElasticBN``, ``ElasticLinear``, ``MacroBlock`` and
    ``MacroSuperNet`` (torch imported here)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    ns = SimpleNamespace()
    ns.ElasticConv = _elastic_conv(torch, nn, F)
    ns.ElasticBN = _elastic_bn(torch, nn, F)
    ns.ElasticLinear = _elastic_linear(nn, F)
    ns.MacroBlock = _macro_block(nn, F, ns)
    ns.MacroSuperNet = _macro_supernet(torch, nn, F, ns)
    for name in _NAMES:
        cls = getattr(ns, name)
        cls.__module__ = __name__
        cls.__qualname__ = name
    return ns


def _record(trace: list[Any] | None, kind: str, *tensors: Any) -> None:
    if trace is not None:
        trace.append((kind, tensors))


def _elastic_conv(torch: Any, nn: Any, F: Any) -> type:
    class ElasticConv(nn.Module):
        """A convolution allocated at its largest size; a call uses the first ``c_out``
        filters, the input's channels and the centre ``kernel`` taps (no bias)."""

        def __init__(self, c_in: int, c_out: int, kernel: int, dim: int, depthwise: bool) -> None:
            super().__init__()
            self.dim, self.depthwise, self.kernel = int(dim), bool(depthwise), int(kernel)
            shape = (c_out, 1 if depthwise else c_in) + (self.kernel,) * self.dim
            self.weight = nn.Parameter(torch.empty(shape))
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

        def sliced(self, c_in: int, c_out: int, kernel: int) -> Any:
            start = (self.kernel - kernel) // 2
            taps = (slice(start, start + kernel),) * self.dim
            if self.depthwise:
                return self.weight[(slice(0, c_in), slice(None), *taps)]
            return self.weight[(slice(0, c_out), slice(0, c_in), *taps)]

        def forward(self, x: Any, c_out: int, kernel: int, stride: int, trace: Any) -> Any:
            c_in = int(x.shape[1])
            weight = self.sliced(c_in, c_out, kernel)
            _record(trace, "conv", weight)
            conv = F.conv1d if self.dim == 1 else F.conv2d
            groups = c_in if self.depthwise else 1
            return conv(x, weight, None, stride, kernel // 2, 1, groups)

    return ElasticConv


def _elastic_bn(torch: Any, nn: Any, F: Any) -> type:
    class ElasticBN(nn.Module):
        """BatchNorm over the first channels of its largest size; ``momentum=None`` is a
        cumulative average (as in ``torch.nn.BatchNorm*``, which :func:`recalibrate_bn`
        relies on)."""

        def __init__(self, channels: int, eps: float = 1e-5, momentum: float | None = 0.1):
            super().__init__()
            self.eps, self.momentum = float(eps), momentum
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))
            self.register_buffer("running_mean", torch.zeros(channels))
            self.register_buffer("running_var", torch.ones(channels))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

        def reset_running_stats(self) -> None:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

        def forward(self, x: Any, trace: Any) -> Any:
            c = int(x.shape[1])
            factor = 0.0
            if self.training:
                self.num_batches_tracked.add_(1)
                n = float(self.num_batches_tracked)
                factor = 1.0 / n if self.momentum is None else float(self.momentum)
            tensors = (self.weight[:c], self.bias[:c], self.running_mean[:c], self.running_var[:c])
            _record(trace, "bn", *tensors, self.num_batches_tracked)
            w, b, mean, var = tensors
            return F.batch_norm(x, mean, var, w, b, self.training, factor, self.eps)

    return ElasticBN


def _elastic_linear(nn: Any, F: Any) -> type:
    class ElasticLinear(nn.Module):
        """The classifier: its input features are the first ``c`` of its largest size."""

        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.full = nn.Linear(c_in, c_out)

        def forward(self, x: Any, trace: Any) -> Any:
            weight = self.full.weight[:, : int(x.shape[1])]
            _record(trace, "linear", weight, self.full.bias)
            return F.linear(x, weight, self.full.bias)

    return ElasticLinear


def _macro_block(nn: Any, F: Any, ns: SimpleNamespace) -> type:
    class MacroBlock(nn.Module):
        """One block position: a weight set per op and a shared skip projection, in the
        order :func:`raysearch.nas.ops` builds their layers."""

        def __init__(self, c_in: int, limits: Mapping[str, Any], dim: int) -> None:
            super().__init__()
            w, k = max(limits["widths"]), max(limits["kernels"])
            hidden = max(limits["expansions"]) * c_in
            conv, bn = ns.ElasticConv, ns.ElasticBN
            ops: dict[str, Any] = {}
            for op in limits["ops"]:
                if op == "conv":
                    ops[op] = nn.ModuleList([conv(c_in, w, k, dim, False), bn(w)])
                elif op == "sep_conv":
                    parts = [
                        conv(c_in, c_in, k, dim, True),
                        bn(c_in),
                        conv(c_in, w, 1, dim, False),
                    ]
                    ops[op] = nn.ModuleList([*parts, bn(w)])
                else:  # mbconv
                    expand = [conv(c_in, hidden, 1, dim, False), bn(hidden)]
                    depthwise = [conv(hidden, hidden, k, dim, True), bn(hidden)]
                    ops[op] = nn.ModuleList(
                        [*expand, *depthwise, conv(hidden, w, 1, dim, False), bn(w)]
                    )
            self.ops = nn.ModuleDict(ops)
            self.shortcut = nn.ModuleList([conv(c_in, w, 1, dim, False), bn(w)])

        def body(self, x: Any, block: Mapping[str, Any], stride: int, trace: Any) -> Any:
            op, width, kernel = block["op"], int(block["width"]), int(block["kernel"])
            m = self.ops[op]
            c_in = int(x.shape[1])
            if op == "conv":
                return F.relu(m[1](m[0](x, width, kernel, stride, trace), trace))
            if op == "sep_conv":
                h = F.relu(m[1](m[0](x, c_in, kernel, stride, trace), trace))
                return F.relu(m[3](m[2](h, width, 1, 1, trace), trace))
            hidden = max(1, int(block["expansion"]) * c_in)
            h = x
            if hidden != c_in:
                h = F.relu(m[1](m[0](x, hidden, 1, 1, trace), trace))
            h = F.relu(m[3](m[2](h, hidden, kernel, stride, trace), trace))
            return m[5](m[4](h, width, 1, 1, trace), trace)

        def forward(self, x: Any, block: Mapping[str, Any], stride: int, trace: Any) -> Any:
            out = self.body(x, block, stride, trace)
            if not block["skip"]:
                return out
            width = int(block["width"])
            if stride == 1 and int(x.shape[1]) == width:
                return out + x
            conv, norm = self.shortcut
            return out + norm(conv(x, width, 1, stride, trace), trace)

    return MacroBlock


def _macro_supernet(torch: Any, nn: Any, F: Any, ns: SimpleNamespace) -> type:
    class MacroSuperNet(ActivePath, nn.Module):
        """Every architecture of a macro space; see :func:`SuperNet`."""

        def __init__(self, space: Space, input_shape: Sequence[int], num_classes: int) -> None:
            super().__init__()
            from raysearch.nas.ops import layers

            self.space = space
            self.limits = macro_limits(space)
            self.input_shape = tuple(int(s) for s in input_shape)
            self.num_classes = int(num_classes)
            self.add_channel = len(self.input_shape) == 1
            self.size = list(self.input_shape[-1:] if self.add_channel else self.input_shape[1:])
            self.dim = len(self.size)
            c_in = 1 if self.add_channel else self.input_shape[0]
            stem = self.limits["stem_width"]
            conv, norm, _ = layers(self.dim)
            self.stem = nn.ModuleList([conv(c_in, stem, 3, 1, 1, bias=False), norm(stem)])
            widest = max([stem, *self.limits["widths"]])
            self.blocks = nn.ModuleList(
                [
                    ns.MacroBlock(stem if i == 0 else widest, self.limits, self.dim)
                    for i in range(self.limits["max_blocks"])
                ]
            )
            self.head = ns.ElasticLinear(widest, self.num_classes)
            self.active: dict[str, Any] | None = None

        def forward(self, x: Any, arch: Mapping[str, Any] | None = None, trace: Any = None) -> Any:
            arch = self.path(arch)
            if self.add_channel:
                x = x.unsqueeze(1)
            conv, norm = self.stem
            _record(trace, "conv", conv.weight)
            x = norm(conv(x))
            _record(
                trace,
                "bn",
                norm.weight,
                norm.bias,
                norm.running_mean,
                norm.running_var,
                norm.num_batches_tracked,
            )
            x = F.relu(x)
            size = list(self.size)
            for position, block in zip(self.blocks, arch["blocks"]):
                stride = 2 if int(block["stride"]) == 2 and min(size) >= 2 else 1
                x = position(x, block, stride, trace)
                size = [math.ceil(s / stride) for s in size]
            x = torch.flatten(
                F.adaptive_avg_pool1d(x, 1) if self.dim == 1 else F.adaptive_avg_pool2d(x, 1), 1
            )
            return self.head(x, trace)

        def extract(self, arch: Mapping[str, Any] | None = None) -> Any:
            """``build(arch)`` with this supernet's weights copied in (see :func:`SuperNet`)."""
            chosen = self.active if arch is None else arch
            if chosen is None:
                raise ArchitectureError("no architecture given and none active")
            return _extract(self, self.check(chosen))

    return MacroSuperNet


def _extract(net: Any, arch: dict[str, Any]) -> Any:
    """The supernet's path of ``arch`` traced (eval mode), then copied into ``build(arch)``."""
    import torch
    from torch import nn

    trace: list[Any] = []
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net.forward(torch.zeros(1, *net.input_shape), arch, trace)
    finally:
        net.train(was_training)
    model = build(arch, net.input_shape, net.num_classes, seed=0)
    targets = [m for m in model.modules() if _kind(nn, m) is not None]
    if [_kind(nn, m) for m in targets] != [kind for kind, _ in trace]:
        raise ArchitectureError(f"the supernet's path does not match build({arch!r})")
    with torch.no_grad():
        for module, (kind, tensors) in zip(targets, trace):
            for name, tensor in zip(_FIELDS[kind], tensors):
                getattr(module, name).copy_(tensor.reshape(getattr(module, name).shape))
    return model.train(was_training)


_FIELDS = {
    "conv": ("weight",),
    "bn": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
    "linear": ("weight", "bias"),
}


def _kind(nn: Any, module: Any) -> str | None:
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        return "conv"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "bn"
    if isinstance(module, nn.Linear):
        return "linear"
    return None


def SuperNet(
    space: Space,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    seed: Any = 0,
) -> Any:
    """The supernet of a :func:`raysearch.nas.macro_chain` space (a ``MacroSuperNet``), or
    of a :func:`raysearch.nas.nb201_cell` space (:func:`raysearch.nas.cellnet.CellSuperNet`).

    Args:
        space: the macro space (ops among :data:`SUPERNET_OPS`, odd kernels).
        input_shape, num_classes: as in :func:`raysearch.nas.build`.
        seed: the initial weights (int, numpy or torch Generator; the caller's global torch
            generator is left untouched).

    Returns:
        a ``torch.nn.Module`` with ``set_active(arch)``, ``forward(x, arch=None)``,
        ``extract(arch)``, ``space``, ``limits``; its outputs are ``(N, num_classes)``.
    """
    import torch

    if space.to_dict().get("kind") == "cell":
        from raysearch.nas.cellnet import CellSuperNet

        return CellSuperNet(space, input_shape, num_classes, seed=seed)
    generator = weight_generator(seed)
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        return supernet_modules().MacroSuperNet(space, input_shape, num_classes)


# ----------------------------------------------------------------------------- cost
def path_flops(arch: Mapping[str, Any], input_shape: Sequence[int], num_classes: int) -> int:
    """Multiply-accumulates of one sample's forward pass through the macro architecture
    ``arch``, computed from the shapes alone (no network built): equal to
    ``raysearch.nas.cost(arch, ...)["flops"]`` and ~1000x faster, so a supernet trainer can
    count the FLOPs of every path it trains."""
    shape = [int(s) for s in input_shape]
    c, size = (1, shape) if len(shape) == 1 else (shape[0], shape[1:])
    taps = lambda k: int(k) ** len(size)  # noqa: E731
    c_stem = int(arch["stem_width"])
    total = c_stem * c * taps(3) * math.prod(size)
    c = c_stem
    for block in arch["blocks"][: int(arch["n_blocks"])]:
        op, width, kernel = block["op"], int(block["width"]), int(block["kernel"])
        stride = 2 if int(block["stride"]) == 2 and min(size) >= 2 else 1
        n_in = math.prod(size)
        size = [math.ceil(s / stride) for s in size]
        n = math.prod(size)
        if op == "conv":
            total += width * c * taps(kernel) * n
        elif op == "sep_conv":
            total += c * taps(kernel) * n + width * c * n
        else:  # mbconv
            hidden = max(1, int(block["expansion"]) * c)
            total += (hidden * c * n_in if hidden != c else 0) + hidden * taps(kernel) * n
            total += width * hidden * n
        if block["skip"] and not (stride == 1 and c == width):
            total += width * c * n
        c = width
    return int(total + int(num_classes) * c)


# ----------------------------------------------------------------------------- evaluation
def _batches(x: Any, batch_size: int) -> Any:
    for i in range(0, len(x), int(batch_size)):
        yield x[i : i + int(batch_size)]


def _as_tensor(x: Any) -> Any:
    import torch

    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.float() if t.is_floating_point() else t


def recalibrate_bn(model: Any, x: Any, *, batch_size: int = 256, arch: Any = None) -> Any:
    """Re-estimates every BatchNorm's running statistics on ``x`` (a fixed calibration
    subset, in order): the statistics are reset and averaged over the batches (cumulative
    average, ``momentum=None``) in train mode without gradients; weights are untouched.

    Works on built networks (``torch.nn.BatchNorm*``) and on a supernet's active path
    (``arch`` sets it for the duration). Deterministic: the same ``x`` gives the same
    statistics. Returns ``model`` (in the mode it was in).
    """
    import torch

    norms = [m for m in model.modules() if hasattr(m, "reset_running_stats")]
    saved = [m.momentum for m in norms]
    was_training = model.training
    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            for xs in _batches(_as_tensor(x), batch_size):
                model(xs) if arch is None else model(xs, arch)
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        model.train(was_training)
    return model


def accuracy(model: Any, x: Any, y: Any, *, batch_size: int = 512, arch: Any = None) -> float:
    """Classification accuracy of ``model`` (eval mode, no gradients) on ``(x, y)``."""
    return accuracy_and_loss(model, x, y, batch_size=batch_size, arch=arch)[0]


def accuracy_and_loss(
    model: Any, x: Any, y: Any, *, batch_size: int = 512, arch: Any = None
) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` of ``model`` (eval mode, no gradients) on
    ``(x, y)``, from one forward pass. The loss ranks inherited-weight subnets better than
    the accuracy (a finer score than the share of 1000 rows right; bench oneshot)."""
    import torch
    from torch.nn import functional as F

    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    ys = _as_tensor(y)
    try:
        with torch.no_grad():
            for i, xs in enumerate(_batches(_as_tensor(x), batch_size)):
                out = model(xs) if arch is None else model(xs, arch)
                target = ys[i * batch_size : i * batch_size + len(xs)]
                correct += int((out.argmax(dim=1) == target).sum())
                loss += float(F.cross_entropy(out, target, reduction="sum"))
    finally:
        model.train(was_training)
    n = max(len(ys), 1)
    return correct / n, loss / n


# ----------------------------------------------------------------------------- sharing
def to_arrays(model: Any) -> dict[str, np.ndarray]:
    """The model's parameters and buffers as numpy arrays (copies, on the CPU)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def from_arrays(model: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Points ``model``'s parameters and buffers at ``arrays`` without copying them (read-
    only arrays, e.g. from Ray's object store, stay shared: use such a model for inference
    only). Returns ``model``."""
    import torch

    state = dict(model.named_parameters())
    state.update(dict(model.named_buffers()))
    missing = sorted(set(state) - set(arrays))
    if missing:
        raise KeyError(f"arrays lack {missing[:5]}{'...' if len(missing) > 5 else ''}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "array is not writable"
        for name, tensor in state.items():
            shared = torch.from_numpy(arrays[name])
            if tuple(shared.shape) != tuple(tensor.shape):
                raise ValueError(f"{name}: shape {tuple(shared.shape)} != {tuple(tensor.shape)}")
            tensor.data = shared
    return model


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(supernet_modules(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
