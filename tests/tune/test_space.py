"""Tune param_space <-> Space: every Domain kind keeps the values Tune itself samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ray import tune

from raysearch.space import Categorical, Float, Int, Normal, Space, SpaceError
from raysearch.tune.space import from_tune, has_domains, to_tune

DOMAINS = {
    "uniform": tune.uniform(-1.0, 2.0),
    "loguniform": tune.loguniform(1e-4, 1e-1),
    "quniform": tune.quniform(0.3, 0.9, 0.3),
    "qloguniform": tune.qloguniform(1e-4, 1e-1, 5e-5),
    "randn": tune.randn(1.0, 2.0),
    "qrandn": tune.qrandn(0.0, 1.0, 0.5),
    "randint": tune.randint(1, 10),
    "lograndint": tune.lograndint(1, 100),
    "qrandint_q1": tune.qrandint(1, 10, 1),
    "qrandint_q2": tune.qrandint(1, 10, 2),
    "qrandint_q3": tune.qrandint(0, 10, 3),
    "qlograndint": tune.qlograndint(2, 64, 2),
    "choice": tune.choice(["a", "b", 3]),
}


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_tune_samples_lie_in_the_converted_parameter(name):
    domain = DOMAINS[name]
    param = from_tune({"p": domain})["p"]
    samples = domain.sample(size=3000, random_state=np.random.default_rng(0))
    for v in samples:
        value = v.item() if hasattr(v, "item") else v
        assert param.contains(value), f"Tune sampled {value!r}, outside {param!r}"
    if param.cardinality is not None and param.cardinality <= 50:
        tune_values = {v.item() if hasattr(v, "item") else v for v in samples}
        ours = set(param.values())
        assert {round(v, 9) if isinstance(v, float) else v for v in tune_values} == {
            round(v, 9) if isinstance(v, float) else v for v in ours
        }, f"{name}: Tune's support {sorted(tune_values, key=str)} != ours {sorted(ours, key=str)}"


def test_exact_conversions():
    space = from_tune(DOMAINS)
    assert space["randint"] == Int(1, 9)  # Tune excludes the upper bound
    assert space["qrandint_q1"] == Int(1, 9)  # Tune 2.60 samples [l, u) when q == 1
    assert space["qrandint_q2"] == Int(2, 10, step=2)
    assert space["loguniform"] == Float(1e-4, 1e-1, log=True)
    assert space["randn"] == Normal(1.0, 2.0)
    assert space["choice"] == Categorical(["a", "b", 3])


def test_grid_nested_choice_constants_and_placeholders():
    placeholder = ("__fn_ph", "abcd1234")
    space = from_tune(
        {
            "model": tune.grid_search(["lgbm", "xgb"]),
            "opt": tune.choice(
                [{"name": "sgd", "lr": tune.loguniform(1e-3, 1e-1)}, {"name": "adam"}]
            ),
            "nested": {"depth": tune.randint(1, 4), "const": 7, "dep": placeholder},
            "ref": ("__ref_ph", "ffff0000"),
            "items": [1, tune.uniform(0, 1)],
        }
    )
    assert space.grid_names == ["model"]
    assert "opt[0]/lr" in space.names
    config = space.to_config(space.sample(np.random.default_rng(0)))
    assert config["nested"]["const"] == 7
    assert config["nested"]["dep"] == placeholder
    assert config["ref"] == ("__ref_ph", "ffff0000")
    assert config["items"][0] == 1 and 0 <= config["items"][1] <= 1


def test_refusals():
    with pytest.raises(SpaceError, match="sample_from"):
        from_tune({"x": tune.sample_from(lambda c: 1)})
    with pytest.raises(SpaceError, match="evaluated as code"):
        from_tune({"x": {"eval": "__import__('os').system('true')"}})
    with pytest.raises(SpaceError, match="conditional"):
        to_tune(Space({"a": Categorical(["x", "y"]), "b": Categorical([{"k": Float(0, 1)}, "n"])}))


def test_has_domains():
    assert has_domains({"a": {"b": tune.uniform(0, 1)}})
    assert has_domains({"a": {"grid_search": [1, 2]}})
    assert not has_domains({"a": 1, "b": [1, 2], "c": ("__fn_ph", "x")})


def test_to_tune_round_trip():
    space = from_tune({k: v for k, v in DOMAINS.items()})
    back = from_tune(to_tune(space))
    assert back == space


@settings(max_examples=50, deadline=None)
@given(st.integers(-50, 50), st.integers(2, 200), st.integers(1, 7))
def test_quantized_int_conversion_matches_tune(low, width, q):
    high = low + width
    assume(math.floor(high / q) >= math.ceil(low / q))  # Tune itself refuses the others
    domain = tune.qrandint(low, high, q)
    param = from_tune({"p": domain})["p"]
    samples = domain.sample(size=400, random_state=np.random.default_rng(1))
    assert all(param.contains(int(v)) for v in samples)
