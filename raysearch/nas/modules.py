"""The few torch modules the builder needs beyond ``torch.nn``: defined on first use.

torch is imported only when a network is built (the core of raysearch must import without
it), so these classes are created by :func:`torch_modules` the first time it is called.
They are still module attributes (``raysearch.nas.modules.Cell``, resolved through the
module's ``__getattr__``), so pickled networks load by reference in another process.

Shapes: ``x`` is ``(N, C, L)`` for 1-D inputs and ``(N, C, H, W)`` for 2-D ones.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

__all__ = ["torch_modules"]  # and, on first use, Zero, Residual, Cell

_NAMES = ("Zero", "Residual", "Cell")


@functools.cache
def torch_modules() -> SimpleNamespace:
    """The module classes ``Zero``, ``Residual`` and ``Cell`` (torch imported here)."""
    from torch import nn

    classes = {
        "Zero": _zero(nn),
        "Residual": _residual(nn),
        "Cell": _cell(nn),
    }
    for name, cls in classes.items():
        cls.__module__ = __name__
        cls.__qualname__ = name
    return SimpleNamespace(**classes)


def _zero(nn: Any) -> type:
    class Zero(nn.Module):
        """The ``none`` op: zeros of the output's shape (``c_out`` channels, ``stride``)."""

        def __init__(self, c_out: int, stride: int) -> None:
            super().__init__()
            self.c_out = int(c_out)
            self.stride = int(stride)

        def forward(self, x: Any) -> Any:
            if self.stride > 1:
                index = (slice(None), slice(None)) + (slice(None, None, self.stride),) * (
                    x.ndim - 2
                )
                x = x[index]
            shape = (x.shape[0], self.c_out, *x.shape[2:])
            return x.new_zeros(shape)

        def extra_repr(self) -> str:
            return f"c_out={self.c_out}, stride={self.stride}"

    return Zero


def _residual(nn: Any) -> type:
    class Residual(nn.Module):
        """``body(x) + shortcut(x)`` (``shortcut`` None: the identity)."""

        def __init__(self, body: Any, shortcut: Any = None) -> None:
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            out = self.body(x)
            return out + (x if self.shortcut is None else self.shortcut(x))

    return Residual


def _cell(nn: Any) -> type:
    class Cell(nn.Module):
        """A DAG cell: node ``j`` is the sum of ``op(j<-i)(node i)`` over ``i < j``; node 0
        is the input, the last node the output. Edges whose op is ``none`` are left out
        (they add zeros); a node all of whose inputs are ``none`` is zero."""

        def __init__(self, n_nodes: int, edges: dict[str, Any]) -> None:
            super().__init__()
            self.n_nodes = int(n_nodes)
            self.edges = nn.ModuleDict(edges)

        def forward(self, x: Any) -> Any:
            nodes = [x]
            for j in range(1, self.n_nodes):
                total = None
                for i in range(j):
                    key = f"{j}<-{i}"
                    if key in self.edges:
                        out = self.edges[key](nodes[i])
                        total = out if total is None else total + out
                nodes.append(x * 0.0 if total is None else total)
            return nodes[-1]

    return Cell


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(torch_modules(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
