"""A weight-sharing supernet of the NAS-Bench-201 cell space (single path, one-shot NAS).

:func:`CellSuperNet` builds one ``torch.nn.Module`` holding every architecture of a
:func:`raysearch.nas.nb201_cell` space, on the skeleton :func:`raysearch.nas.build` makes
for ``kind="cell"`` (stem, 3 stages of cells with a residual reduction block between
them, BN-ReLU, global pooling, linear). Every edge of every cell holds one module per
candidate op (``none`` holds nothing: the edge is left out, as the builder does); an
architecture selects one op per edge (single-path, as SPOS, Guo et al. 2020, and the
one-shot baselines of NAS-Bench-201), unlike DARTS' mixed ops (:mod:`raysearch.nas.darts`),
which sum every op.

* ``set_active(arch)`` picks the path ``forward`` computes (``forward(x, arch)`` too);
* ``extract(arch)`` returns ``build(arch)`` with the inherited weights and BatchNorm
  statistics copied in: the op modules of the supernet are made by the same op factories,
  so the subnet computes exactly (bit for bit) what the active path computes;
* ``path_modules(arch)``: the supernet modules the path uses (their parameters are the
  subnet's: :meth:`path_params` equals ``build(arch)``'s parameter count).

The channel width and cells per stage are fixed by the space (not searched). Any
registered op may be a candidate. :func:`raysearch.nas.supernet.SuperNet` dispatches here
for a cell space, so :class:`raysearch.nas.sampling.SuperNetTrainer` (uniform sampler),
:func:`raysearch.nas.supernet.recalibrate_bn` and the one-shot Tune phases work unchanged.
torch is imported when a supernet is built; the classes are created on first use by
:func:`cell_modules`, so pickled supernets load by reference.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from raysearch.nas.builder import (
    ActivePath,
    ArchitectureError,
    build,
    head_layers,
    reduction_block,
    stem_layers,
    weight_generator,
)
from raysearch.nas.ops import make_op
from raysearch.nas.spaces import NB201_EDGES
from raysearch.space import Space

__all__ = ["CellSuperNet", "cell_limits", "cell_modules"]  # and NB201SuperNet, SuperCell

_NAMES = ("SuperCell", "NB201SuperNet")


def cell_limits(space: Space) -> dict[str, Any]:
    """``{"ops", "channels", "cells_per_stage"}`` of a :func:`raysearch.nas.nb201_cell`
    space: the union of every edge's candidate ops (in order) and the fixed skeleton.

    Raises:
        ArchitectureError: not a cell space, or a searched channel count / cell count.
    """
    spec = space.to_dict()
    if spec.get("kind") != "cell":
        raise ArchitectureError(f"CellSuperNet needs a cell space, got kind={spec.get('kind')!r}")
    ops: list[str] = []
    for edge in spec["edges"]:
        choices = edge["choice"] if isinstance(edge, Mapping) else [edge]
        ops += [str(op) for op in choices if str(op) not in ops]
    fixed = {}
    for key in ("channels", "cells_per_stage"):
        value = spec[key]
        if isinstance(value, Mapping) or isinstance(value, bool) or int(value) < 1:
            raise ArchitectureError(f"a cell supernet needs a fixed positive {key}, got {value!r}")
        fixed[key] = int(value)
    return {"ops": ops, **fixed}


@functools.cache
def cell_modules() -> SimpleNamespace:
    """The classes ``SuperCell`` and ``NB201SuperNet`` (torch imported here)."""
    from torch import nn

    ns = SimpleNamespace()
    ns.SuperCell = _super_cell(nn)
    ns.NB201SuperNet = _cell_supernet(nn, ns)
    for name in _NAMES:
        cls = getattr(ns, name)
        cls.__module__ = __name__
        cls.__qualname__ = name
    return ns


def _super_cell(nn: Any) -> type:
    class SuperCell(nn.Module):
        """A cell whose edge ``"j<-i"`` holds one module per op (``none``: nothing); node
        ``j`` sums the chosen ops of its inputs in the builder's order (``Cell``)."""

        def __init__(self, ops: Sequence[str], c: int, dim: int) -> None:
            super().__init__()
            self.edges = nn.ModuleDict(
                {
                    f"{to}<-{src}": nn.ModuleDict(
                        {op: make_op(op, c, c, 1, dim=dim) for op in ops if op != "none"}
                    )
                    for to, src in NB201_EDGES
                }
            )

        def chosen(self, edges: Sequence[str]) -> list[tuple[int, int, Any]]:
            """``(to, from, module)`` of the edges whose op is not ``none``."""
            return [
                (to, src, self.edges[f"{to}<-{src}"][op])
                for (to, src), op in zip(NB201_EDGES, edges)
                if op != "none"
            ]

        def forward(self, x: Any, edges: Sequence[str]) -> Any:
            inputs: dict[int, list[tuple[int, Any]]] = {}
            for to, src, module in self.chosen(edges):
                inputs.setdefault(to, []).append((src, module))
            nodes = [x]
            for j in (1, 2, 3):
                total = None
                for src, module in sorted(inputs.get(j, []), key=lambda pair: pair[0]):
                    out = module(nodes[src])
                    total = out if total is None else total + out
                nodes.append(x * 0.0 if total is None else total)
            return nodes[-1]

    return SuperCell


def _cell_supernet(nn: Any, ns: SimpleNamespace) -> type:
    class NB201SuperNet(ActivePath, nn.Module):
        """Every architecture of a cell space; see :mod:`raysearch.nas.cellnet`."""

        def __init__(self, space: Space, input_shape: Sequence[int], num_classes: int) -> None:
            super().__init__()
            self.space = space
            self.limits = cell_limits(space)
            self.input_shape = tuple(int(s) for s in input_shape)
            self.num_classes = int(num_classes)
            c = self.limits["channels"]
            stem, dim = stem_layers(self.input_shape, c, act=False)
            self.stem = nn.Sequential(*stem)
            blocks: list[Any] = []
            for stage in range(3):
                if stage:
                    blocks.append(reduction_block(c, 2 * c, dim))
                    c *= 2
                blocks += [
                    ns.SuperCell(self.limits["ops"], c, dim)
                    for _ in range(self.limits["cells_per_stage"])
                ]
            self.blocks = nn.ModuleList(blocks)
            self.head = nn.Sequential(*head_layers(c, dim, self.num_classes, norm_act=True))
            self.active: dict[str, Any] | None = None

        def forward(self, x: Any, arch: Mapping[str, Any] | None = None) -> Any:
            arch = self.path(arch)
            edges = [str(e) for e in arch["edges"]]
            x = self.stem(x)
            for block in self.blocks:
                x = block(x, edges) if isinstance(block, ns.SuperCell) else block(x)
            return self.head(x)

        def path_modules(self, arch: Mapping[str, Any] | None = None) -> list[Any]:
            """The supernet's modules the path of ``arch`` (default: the active) runs, in
            the order of ``build(arch)``'s top-level modules (a cell: its chosen edges)."""
            edges = [str(e) for e in self._chosen_arch(arch)["edges"]]
            out: list[Any] = [*self.stem]
            for block in self.blocks:
                if isinstance(block, ns.SuperCell):
                    out += [module for _, _, module in block.chosen(edges)]
                else:
                    out.append(block)
            return out + [*self.head]

        def path_params(self, arch: Mapping[str, Any] | None = None) -> int:
            """Parameters on the path of ``arch`` (equal to ``build(arch)``'s)."""
            return sum(int(p.numel()) for m in self.path_modules(arch) for p in m.parameters())

        def _chosen_arch(self, arch: Mapping[str, Any] | None) -> dict[str, Any]:
            chosen = self.active if arch is None else arch
            if chosen is None:
                raise ArchitectureError("no architecture given and none active")
            return self.check(chosen)

        def extract(self, arch: Mapping[str, Any] | None = None) -> Any:
            """``build(arch)`` with this supernet's weights and statistics copied in."""
            return _extract(self, self._chosen_arch(arch))

    return NB201SuperNet


def _extract(net: Any, arch: dict[str, Any]) -> Any:
    """``build(arch)``; each of its modules loads the state of the path's module."""
    import torch

    from raysearch.nas.modules import torch_modules

    model = build(arch, net.input_shape, net.num_classes, seed=0)
    targets: list[Any] = []
    for module in model.children():
        if isinstance(module, torch_modules().Cell):
            targets += [module.edges[f"{to}<-{src}"] for to, src in _kept(arch)]
        else:
            targets.append(module)
    sources = net.path_modules(arch)
    if len(targets) != len(sources):
        raise ArchitectureError(f"the supernet's path does not match build({arch!r})")
    with torch.no_grad():
        for target, source in zip(targets, sources):
            target.load_state_dict(source.state_dict())
    return model.train(net.training)


def _kept(arch: Mapping[str, Any]) -> list[tuple[int, int]]:
    """The edges of ``arch`` whose op is not ``none``, in NB201 order."""
    return [edge for edge, op in zip(NB201_EDGES, arch["edges"]) if op != "none"]


def CellSuperNet(
    space: Space, input_shape: Sequence[int], num_classes: int, *, seed: Any = 0
) -> Any:
    """The supernet of a :func:`raysearch.nas.nb201_cell` space.

    Args:
        space: the cell space (fixed ``channels`` and ``cells_per_stage``).
        input_shape, num_classes: as in :func:`raysearch.nas.build`.
        seed: the initial weights (int, numpy or torch Generator; the caller's global torch
            generator is left untouched).

    Returns:
        a ``torch.nn.Module`` with ``set_active(arch)``, ``forward(x, arch=None)``,
        ``extract(arch)``, ``path_modules(arch)``, ``path_params(arch)``, ``space``,
        ``limits``; outputs ``(N, num_classes)``.
    """
    import torch

    generator = weight_generator(seed)
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(generator.get_state())
        return cell_modules().NB201SuperNet(space, input_shape, num_classes)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(cell_modules(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
