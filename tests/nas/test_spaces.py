"""Ready-made architecture spaces: valid configs, JSON round trips, NAS-Bench-201 keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raysearch.nas import (
    macro_chain,
    mlp_space,
    nb201_arch_str,
    nb201_cell,
    nb201_from_arch_str,
    nb201_index,
)
from raysearch.nas.spaces import NB201_OPS
from raysearch.space import Space

SPACES = {
    "cell": lambda: nb201_cell(),
    "macro": lambda: macro_chain(),
    "macro_fixed_depth": lambda: macro_chain(max_blocks=3, min_blocks=3),
    "mlp": lambda: mlp_space(),
    "mlp_one_layer": lambda: mlp_space(max_layers=1),
}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_configs_are_json_and_read_back(name: str) -> None:
    space = SPACES[name]()
    rng = np.random.default_rng(0)
    for _ in range(20):
        flat = space.sample(rng)
        config = space.to_config(flat)
        again = json.loads(json.dumps(config))
        assert again == config
        assert space.to_flat(again) == flat
        mutant = space.mutate(flat, rng)
        assert space.to_flat(space.to_config(mutant)) == mutant


@pytest.mark.parametrize("name", sorted(SPACES))
def test_space_spec_round_trips(name: str) -> None:
    space = SPACES[name]()
    assert Space.from_dict(json.loads(json.dumps(space.to_dict()))) == space


def test_cell_space_is_nas_bench_201() -> None:
    space = nb201_cell()
    assert space.cardinality() == 5**6
    config = space.to_config(space.sample(np.random.default_rng(3)))
    assert config["kind"] == "cell" and len(config["edges"]) == 6
    assert set(config["edges"]) <= set(NB201_OPS)


def test_nb201_keys() -> None:
    arch = {
        "kind": "cell",
        "edges": [
            "nor_conv_3x3",
            "nor_conv_3x3",
            "avg_pool_3x3",
            "skip_connect",
            "none",
            "nor_conv_1x1",
        ],
        "channels": 16,
        "cells_per_stage": 5,
    }
    text = nb201_arch_str(arch)
    assert text == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
    )
    assert nb201_from_arch_str(text) == arch
    assert nb201_index(arch) == "334102"
    with pytest.raises(ValueError, match="6 edges"):
        nb201_index({"kind": "cell", "edges": ["none"]})
    with pytest.raises(ValueError, match="not a NAS-Bench-201"):
        nb201_from_arch_str("|none~0|")


def test_macro_depth_is_searched_and_mutation_changes_it() -> None:
    space = macro_chain(max_blocks=4)
    rng = np.random.default_rng(1)
    depths = set()
    flat = space.sample(rng)
    for _ in range(200):
        flat = space.mutate(flat, rng)
        config = space.to_config(flat)
        assert len(config["blocks"]) == config["n_blocks"]
        depths.add(config["n_blocks"])
    assert depths == {1, 2, 3, 4}


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        (nb201_cell, {"channels": 0}, "channels"),
        (nb201_cell, {"ops": []}, "ops"),
        (macro_chain, {"max_blocks": 0}, "max_blocks"),
        (macro_chain, {"min_blocks": 5, "max_blocks": 3}, "min_blocks"),
        (macro_chain, {"strides": [3]}, "strides"),
        (macro_chain, {"widths": [0, 8]}, "widths"),
        (mlp_space, {"max_layers": 0}, "max_layers"),
    ],
)
def test_bad_arguments_name_themselves(factory, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)
