"""Spaces: nesting, conditions, repeat, choices with sub-spaces, specs, validation errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from raysearch.space import (
    Categorical,
    Condition,
    Encoding,
    Float,
    Int,
    Space,
    SpaceError,
    repeat,
    space_from_dict,
    when,
)


def arch_space() -> Space:
    return Space(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "optimizer": Categorical(["sgd", "adam"]),
            "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
            "n_layers": Int(1, 6),
            "layers": repeat(
                {"width": Int(16, 256, log=True), "activation": Categorical(["relu", "gelu"])},
                count="n_layers",
                max_count=6,
            ),
            "epochs": 10,
        }
    )


def test_architecture_space_lists_exactly_n_layers():
    space = arch_space()
    rng = np.random.default_rng(0)
    seen_counts = set()
    for _ in range(200):
        flat = space.sample(rng)
        config = space.to_config(flat)
        assert len(config["layers"]) == flat["n_layers"]
        seen_counts.add(flat["n_layers"])
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert config["epochs"] == 10
        assert space.to_flat(config) == flat
        for i in range(6):
            assert (f"layers/{i}/width" in flat) == (i < flat["n_layers"])
    assert seen_counts == set(range(1, 7))


def test_entries_are_topologically_ordered():
    space = Space(
        {
            "child": when({"parent": "a"}, Float(0, 1)),
            "grandchild": when(("child", ">", 0.5), Int(0, 3)),
            "parent": Categorical(["a", "b"]),
        }
    )
    names = space.names
    assert names.index("parent") < names.index("child") < names.index("grandchild")
    assert space.prune({"parent": "b", "child": 0.9, "grandchild": 1}) == {"parent": "b"}
    assert space.prune({"parent": "a", "child": 0.2, "grandchild": 1}) == {
        "parent": "a",
        "child": 0.2,
    }


def test_choice_with_subspaces_becomes_conditional():
    space = Space(
        {
            "opt": Categorical(
                [
                    {"name": "sgd", "momentum": Float(0.0, 1.0)},
                    {"name": "adam", "beta1": Float(0.8, 0.99)},
                    "none",
                ]
            )
        }
    )
    assert space.names == ["opt", "opt[0]/momentum", "opt[1]/beta1"]
    rng = np.random.default_rng(1)
    kinds = set()
    for _ in range(60):
        flat = space.sample(rng)
        config = space.to_config(flat)
        kinds.add(config["opt"] if isinstance(config["opt"], str) else config["opt"]["name"])
        assert space.to_flat(config) == flat
    assert kinds == {"sgd", "adam", "none"}


def test_to_flat_errors():
    space = arch_space()
    with pytest.raises(SpaceError, match="unknown key 'l_r'.*did you mean 'lr'"):
        space.to_flat({"l_r": 0.1})
    with pytest.raises(SpaceError, match="lacks the active parameter"):
        space.to_flat({"lr": 0.01, "optimizer": "adam"})
    with pytest.raises(SpaceError, match="not a valid value"):
        space.to_flat(
            {
                "lr": 5.0,
                "optimizer": "adam",
                "n_layers": 1,
                "layers": [{"width": 16, "activation": "relu"}],
            }
        )
    partial = space.to_flat({"lr": 0.01}, partial=True)
    assert partial == {"lr": 0.01}
    done = space.complete(partial, np.random.default_rng(0))
    assert done["lr"] == 0.01 and "optimizer" in done


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"m": when({"optimiser": "sgd"}, Float(0, 1)), "optimizer": Categorical(["sgd"])},
            "did you mean 'optimizer'",
        ),
        ({"a": when({"b": 1}, Int(0, 3)), "b": when({"a": 1}, Int(0, 3))}, "cycle: a -> b -> a"),
        ({"a": when({"a": 1}, Int(0, 3))}, "names the parameter itself"),
        (
            {"o": Categorical(["sgd", "adam"]), "m": when({"o": "sdg"}, Float(0, 1))},
            "not one of its choices",
        ),
        (
            {"o": Categorical(["sgd", "adam"]), "m": when(("o", ">", 1), Float(0, 1))},
            "has no order",
        ),
        ({"a/b": Float(0, 1)}, "may not contain '/'"),
        ({1: Float(0, 1)}, "keys must be strings"),
        ({"f": lambda c: 1}, "cannot search over a function"),
    ],
)
def test_space_validation_errors(spec, message):
    with pytest.raises(SpaceError, match=message):
        Space(spec)


def test_condition_operator_errors():
    with pytest.raises(SpaceError, match="operator must be one of"):
        Condition("a", "~", 1)
    with pytest.raises(SpaceError, match="needs a list"):
        Condition("a", "in", 3)
    with pytest.raises(SpaceError, match="repeat count must name a parameter"):
        repeat({"w": Int(1, 2)}, count=3, max_count=2)  # type: ignore[arg-type]


def test_mutate_keeps_assignments_valid():
    space = arch_space()
    rng = np.random.default_rng(3)
    flat = space.sample(rng)
    changed = 0
    for _ in range(300):
        new = space.mutate(flat, rng, n_params=2, resample_prob=0.1)
        assert sorted(new) == sorted(space.active_names(new))
        for name, value in new.items():
            assert space[name].contains(value)
        changed += new != flat
        flat = new
    assert changed > 250


def test_enumerate_and_cardinality_of_conditional_space():
    space = Space(
        {
            "a": Categorical(["x", "y"]),
            "b": when({"a": "x"}, Int(0, 2)),
            "c": Categorical([True, False]),
        }
    )
    configs = list(space.enumerate())
    assert len(configs) == (3 + 1) * 2 == space.cardinality()
    assert len({space.key(c) for c in configs}) == len(configs)
    assert Space({"x": Float(0, 1)}).cardinality() is None


def test_spec_round_trip_and_yaml_forms():
    space = arch_space()
    spec = space.to_dict()
    json.dumps(spec)
    assert Space.from_dict(spec) == space
    tune_style = space_from_dict(
        {
            "a": {"randint": [1, 10]},
            "b": {"qrandint": [0, 10, 5]},
            "c": {"loguniform": ["1e-4", "1e-1"]},
            "d": {"quniform": [0.0, 1.0, 0.25]},
            "e": {"randn": [0.0, 2.0]},
            "f": {"grid_search": [1, 2, 3]},
            "g": {"choice": ["x", "y"], "when": [["a", ">=", 5]]},
            "h": {"constant": {"choice": "literal"}},
            "i": [1, {"float": [0, 1]}],
        }
    )
    assert tune_style["a"] == Int(1, 9)
    assert tune_style["b"] == Int(0, 10, step=5)
    assert tune_style["d"].values() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tune_style.grid_names == ["f"]
    config = tune_style.to_config(tune_style.sample(np.random.default_rng(0)))
    assert config["h"] == {"choice": "literal"}
    assert config["i"][0] == 1
    assert Space.from_dict(tune_style.to_dict()) == tune_style


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"a": {"float": [1, 0]}}, "low < high"),
        ({"a": {"float": [0, 1], "lg": True}}, "unknown key 'lg'.*did you mean 'log'"),
        ({"a": {"choice": []}}, "at least one choice"),
        ({"a": {"float": [0, 1], "int": [0, 1]}}, "one distribution key"),
        ({"a": {"float": [0]}}, "needs a list of 2"),
        ({"a": {"loguniform": [0, 1]}}, "log=True needs low > 0"),
        ({"a": {"repeat": {"w": {"int": [1, 4]}}}}, "needs 'count'"),
        ({"a": {"float": [0, 1], "when": "b"}}, "cannot read the condition"),
        ({"a": {"float": [0, 1], "when": {"b": 1}}}, "not a parameter"),
        ({"x": {"float": [0, 1]}, "y": {"floot": [0, 1]}}, "'y': 'floot'.*did you mean 'float'"),
        ({"y": {"Float": [0, 1], "log": True}}, "'y': 'Float'.*did you mean 'float'"),
        ({"y": {"choise": ["a", "b"]}}, "'y': 'choise'.*did you mean 'choice'"),
        ({"y": {"unifrom": [0, 1]}}, "did you mean 'uniform'.*constant: \\{unifrom"),
        ({"y": {"intt": 3, "step": 2}}, "'intt'.*did you mean 'int'"),
        ({"n": {"net": {"widht": {"int": [1, 4]}, "drop": {"flaot": [0, 1]}}}}, "'drop'.*'float'"),
    ],
)
def test_spec_errors(spec, message):
    with pytest.raises(SpaceError, match=message):
        space_from_dict(spec)


def test_constant_dicts_are_not_misspelled_specs():
    """A dict is refused as a misspelled spec only if it reads as one: a single key close to a
    distribution's name, holding a list or beside a modifier. Written ``{constant: ...}``, or
    in Python, any dict stays a constant, and survives the round trip through its spec."""
    space = space_from_dict(
        {
            "x": {"float": [0, 1]},
            "init": {"init": "xavier"},  # close to 'int', but not a list: a constant
            "r": {"range": [0, 10]},  # a list, but not close to any distribution
            "bounds": {"min": 0, "max": 5},
            "f": {"constant": {"floot": [0, 1]}},
        }
    )
    config = space.to_config(space.sample(np.random.default_rng(0)))
    assert config["init"] == {"init": "xavier"} and config["r"] == {"range": [0, 10]}
    assert config["bounds"] == {"min": 0, "max": 5} and config["f"] == {"floot": [0, 1]}
    assert Space.from_dict(space.to_dict()) == space
    python = Space({"x": Float(0, 1), "betas": {"floats": [0.9, 0.99]}})
    assert python.to_dict()["betas"] == {"constant": {"floats": [0.9, 0.99]}}
    assert Space.from_dict(python.to_dict()) == python


def test_encoding_round_trip_with_inactive_marker():
    space = arch_space()
    enc = Encoding(space)
    enc_index = Encoding(space, onehot=False)
    rng = np.random.default_rng(0)
    flats = [space.sample(rng) for _ in range(50)]
    X = enc.encode_many(flats)
    assert X.shape == (50, enc.dim)
    for flat, x in zip(flats, X):
        assert enc.decode(x) == pytest.approx(flat) or enc.decode(x) == flat
        inactive = np.isnan(x)
        assert bool(inactive[enc.slices["momentum"]].all()) == (flat["optimizer"] != "sgd")
        assert enc_index.decode(enc_index.encode(flat)).keys() == flat.keys()
    rounded = enc.round(np.random.default_rng(1).random((10, enc.dim)))
    for row in rounded:
        flat = enc.decode(row)
        assert sorted(flat) == sorted(space.active_names(flat))
    assert np.isnan(Encoding.impute(X)).sum() == 0
    assert enc.categorical_mask.sum() == 2 + 2 * 6  # optimizer one-hot + activations
