"""Few-shot NAS (Zhao et al., ICML 2021): a supernet split into sub-supernets (Ray-free).

One supernet shares every weight between all architectures; few-shot NAS splits it along
one elastic dimension into sub-supernets, one per value of that dimension, each starting
from the parent's (already trained) weights and trained on its own architectures only, so
architectures that differ in that dimension stop interfering. Supported dimensions:

* ``"n_blocks"``: one sub-supernet per depth;
* ``"op"``: one sub-supernet per op of the first block.

:func:`FewShotSuperNet` wraps a trained :func:`raysearch.nas.SuperNet`: ``forward(x, arch)``,
``set_active``, ``extract(arch)`` route to the sub-supernet of ``arch``, so ``extract`` stays
exactly the active path. :class:`raysearch.nas.sampling.SuperNetTrainer` splits at
``split_epoch`` when given ``split=``; :func:`supernet_for_state` rebuilds the right module
(plain or split) from a saved ``state_dict``'s keys.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from raysearch.nas.builder import ArchitectureError
from raysearch.nas.supernet import SuperNet, macro_limits
from raysearch.space import Space

__all__ = ["SPLIT_DIMENSIONS", "split_key", "split_keys", "FewShotSuperNet", "supernet_for_state"]

#: the elastic dimensions a supernet can be split along
SPLIT_DIMENSIONS: tuple[str, ...] = ("n_blocks", "op")
_PREFIX = "subnets."


def _check_dimension(dimension: str) -> None:
    if dimension not in SPLIT_DIMENSIONS:
        raise ValueError(f"split must be one of {list(SPLIT_DIMENSIONS)}, got {dimension!r}")


def split_key(arch: Mapping[str, Any], dimension: str) -> str:
    """The sub-supernet of ``arch``: ``"n_blocks=3"`` or ``"op=conv"``."""
    _check_dimension(dimension)
    value = arch["n_blocks"] if dimension == "n_blocks" else arch["blocks"][0]["op"]
    return f"{dimension}={value}"


def split_keys(space: Space, dimension: str) -> list[str]:
    """Every sub-supernet of ``space`` split along ``dimension``."""
    _check_dimension(dimension)
    limits = macro_limits(space)
    if dimension == "n_blocks":
        values: Iterable[Any] = range(limits["min_blocks"], limits["max_blocks"] + 1)
    else:
        values = limits["ops"]
    return [f"{dimension}={v}" for v in values]


@functools.cache
def _fewshot_class() -> type:
    from torch import nn

    class FewShotNet(nn.Module):
        """Sub-supernets of one parent, one per value of ``dimension`` (see the module)."""

        def __init__(self, parent: Any, dimension: str) -> None:
            super().__init__()
            self.dimension = dimension
            self.space, self.limits = parent.space, parent.limits
            self.input_shape, self.num_classes = parent.input_shape, parent.num_classes
            keys = split_keys(parent.space, dimension)
            self.subnets = nn.ModuleDict({k: copy.deepcopy(parent) for k in keys})
            self.active: dict[str, Any] | None = None

        def route(self, arch: Mapping[str, Any]) -> Any:
            return self.subnets[split_key(arch, self.dimension)]

        def check(self, arch: Mapping[str, Any]) -> dict[str, Any]:
            return self.route(arch).check(arch)

        def set_active(self, arch: Mapping[str, Any]) -> None:
            self.active = self.check(arch)

        def forward(self, x: Any, arch: Mapping[str, Any] | None = None, trace: Any = None) -> Any:
            arch = self.active if arch is None else arch
            if arch is None:
                raise ArchitectureError("no active architecture: call set_active(arch) first")
            return self.route(arch)(x, arch, trace)

        def extract(self, arch: Mapping[str, Any] | None = None) -> Any:
            chosen = self.active if arch is None else arch
            if chosen is None:
                raise ArchitectureError("no architecture given and none active")
            return self.route(chosen).extract(chosen)

    FewShotNet.__module__ = __name__
    FewShotNet.__qualname__ = "FewShotNet"
    return FewShotNet


def FewShotSuperNet(parent: Any, dimension: str = "n_blocks") -> Any:
    """``parent`` (a trained :func:`raysearch.nas.SuperNet`) split along ``dimension``;
    every sub-supernet starts as a copy of the parent's weights and statistics."""
    _check_dimension(dimension)
    return _fewshot_class()(parent, dimension)


def __getattr__(name: str) -> Any:
    if name == "FewShotNet":
        return _fewshot_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def supernet_for_state(
    space: Space, input_shape: Sequence[int], num_classes: int, keys: Iterable[str]
) -> Any:
    """An (untrained) supernet whose ``state_dict`` has ``keys``: a plain
    :func:`raysearch.nas.SuperNet`, or a :func:`FewShotSuperNet` when the keys are a split
    one's (``subnets.<dimension>=<value>.``)."""
    split = {k[len(_PREFIX) :].split(".", 1)[0] for k in keys if k.startswith(_PREFIX)}
    parent = SuperNet(space, input_shape, num_classes, seed=0)
    if not split:
        return parent
    dimensions = {s.split("=", 1)[0] for s in split}
    if len(dimensions) != 1:
        raise ValueError(f"state keys mix split dimensions {sorted(dimensions)}")
    return FewShotSuperNet(parent, dimensions.pop())
