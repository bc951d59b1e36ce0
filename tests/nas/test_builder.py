"""The model builder, the op registry and the cost measurements."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import (  # noqa: E402
    ArchitectureError,
    UnknownOpError,
    build,
    cost,
    macro_chain,
    mlp_space,
    nb201_cell,
    register_op,
    registered_ops,
)
from raysearch.nas.ops import layers  # noqa: E402

SPACES = {
    "cell": lambda: nb201_cell(channels=4, cells_per_stage=1),
    "macro": lambda: macro_chain(max_blocks=4, widths=(4, 8)),
    "mlp": lambda: mlp_space(widths=(8, 16)),
}
SHAPES = [(40,), (1, 8, 8), (3, 16)]


def _archs(name: str, n: int = 3) -> list[dict]:
    space = SPACES[name]()
    rng = np.random.default_rng(0)
    return [space.to_config(space.sample(rng)) for _ in range(n)]


@pytest.mark.parametrize("name", sorted(SPACES))
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_shapes(name: str, shape: tuple[int, ...]) -> None:
    for arch in _archs(name):
        model = build(arch, shape, 10, space=SPACES[name]())
        out = model(torch.randn(5, *shape))
        assert out.shape == (5, 10)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_same_json_same_network(name: str) -> None:
    for arch in _archs(name, 2):
        again = json.loads(json.dumps(arch))
        a, b = build(arch, (40,), 10, seed=3), build(again, (40,), 10, seed=3)
        assert repr(a) == repr(b)
        assert sum(p.numel() for p in a.parameters()) == sum(p.numel() for p in b.parameters())
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)
        other = build(arch, (40,), 10, seed=4)
        if any(p.numel() for p in other.parameters()):
            assert any(not torch.equal(x, y) for x, y in zip(a.parameters(), other.parameters()))


def test_build_leaves_global_rng_alone() -> None:
    arch = _archs("macro", 1)[0]
    state = torch.get_rng_state()
    build(arch, (40,), 10, seed=0)
    assert torch.equal(state, torch.get_rng_state())
    generator = torch.Generator().manual_seed(7)
    a = build(arch, (40,), 10, seed=generator)
    b = build(arch, (40,), 10, seed=torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_parameter_count_matches_nas_bench_201() -> None:
    """NAS-Bench-201 reports 1.531546 M parameters for the all-conv3x3 cell on CIFAR-10."""
    arch = {"kind": "cell", "edges": ["nor_conv_3x3"] * 6, "channels": 16, "cells_per_stage": 5}
    out = cost(arch, (3, 32, 32), 10, latency=False)
    assert out["params"] == 1531546
    assert math.isnan(out["latency_ms"])


def test_cost_measures_params_flops_latency() -> None:
    arch = _archs("macro", 1)[0]
    out = cost(arch, (40,), 10, repeats=3)
    model = build(arch, (40,), 10)
    assert out["params"] == sum(p.numel() for p in model.parameters())
    assert out["flops"] > 0 and out["latency_ms"] > 0
    mlp = {
        "kind": "mlp",
        "n_layers": 1,
        "layers": [{"width": 8, "activation": "relu", "dropout": 0.0}],
        "batch_norm": False,
    }
    assert cost(mlp, (40,), 10, latency=False)["flops"] == 40 * 8 + 8 * 10


def test_unknown_op_lists_registered_ops() -> None:
    arch = {
        "kind": "cell",
        "edges": ["nor_conv_3x3"] * 5 + ["sep_conv_9x9"],
        "channels": 4,
        "cells_per_stage": 1,
    }
    with pytest.raises(ArchitectureError, match="sep_conv_9x9.*registered ops:.*nor_conv_3x3"):
        build(arch, (40,), 10)
    with pytest.raises(UnknownOpError, match="did you mean 'nor_conv_3x3'"):
        from raysearch.nas.ops import get_op

        get_op("nor_conv_3x4")


def test_register_op_extends_the_builder() -> None:
    @register_op("test_sep_conv5x5", overwrite=True)
    def sep_conv5x5(c_in, c_out, stride, *, dim, **_):
        conv, norm, _ = layers(dim)
        return torch.nn.Sequential(
            conv(c_in, c_in, 5, stride, 2, groups=c_in), conv(c_in, c_out, 1), norm(c_out)
        )

    assert "test_sep_conv5x5" in registered_ops()
    space = nb201_cell(ops=["none", "test_sep_conv5x5"], channels=4, cells_per_stage=1)
    arch = space.to_config(space.sample(np.random.default_rng(0)))
    arch["edges"] = ["test_sep_conv5x5"] * 6
    assert build(arch, (1, 8, 8), 10, space=space)(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="already registered"):
        register_op("test_sep_conv5x5")(lambda *a, **k: None)


def test_arch_outside_its_space_is_an_error() -> None:
    space = macro_chain(max_blocks=3, widths=(8, 16))
    arch = space.to_config(space.sample(np.random.default_rng(0)))
    arch["blocks"][0]["width"] = 12
    with pytest.raises(ArchitectureError, match="outside its space.*12"):
        build(arch, (40,), 10, space=space)
    bad = dict(arch, n_blocks=arch["n_blocks"] + 1)
    with pytest.raises(ArchitectureError, match="n_blocks"):
        build(bad, (40,), 10)
    with pytest.raises(ArchitectureError, match="kind"):
        build({"kind": "transformer"}, (40,), 10)
    with pytest.raises(ArchitectureError, match="unknown keys"):
        build({**arch, "depth": 3}, (40,), 10)
    with pytest.raises(ArchitectureError, match="input_shape"):
        build(arch, (1, 2, 3, 4), 10)


def test_networks_pickle_by_reference() -> None:
    arch = _archs("cell", 1)[0]
    model = build(arch, (40,), 10)
    again = pickle.loads(pickle.dumps(model))
    x = torch.randn(2, 40)
    model.eval()
    again.eval()
    assert torch.equal(model(x), again(x))


def test_network_key_counts_configs_that_build_the_same_network_once() -> None:
    from raysearch.nas.builder import network_key

    block = {"op": "conv", "width": 8, "kernel": 3, "expansion": 1, "stride": 1, "skip": False}
    arch = {"kind": "macro", "stem_width": 8, "n_blocks": 1, "blocks": [block]}
    inert = {**arch, "blocks": [{**block, "expansion": 6}]}  # conv has no expansion
    assert network_key(arch) == network_key(inert)
    assert repr(build(arch, (16,), 4)) == repr(build(inert, (16,), 4))
    mb = {**arch, "blocks": [{**block, "op": "mbconv", "expansion": 6}]}
    mb3 = {**arch, "blocks": [{**block, "op": "mbconv", "expansion": 3}]}
    assert network_key(mb) != network_key(mb3)  # mbconv uses it
    assert network_key(arch) != network_key({**arch, "blocks": [{**block, "kernel": 5}]})
