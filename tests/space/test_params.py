"""Parameter distributions: unit maps, validity, sampling, neighbours, validation errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raysearch.space import Categorical, Constant, Float, Int, Normal, SpaceError
from raysearch.space.mutation import neighbour


@pytest.mark.parametrize(
    "param",
    [
        Float(-2.0, 3.0),
        Float(1e-5, 1e-1, log=True),
        Float(0.0, 1.0, step=0.1),
        Float(0.001, 1.0, step=0.001, log=True),
        Int(0, 10),
        Int(1, 1024, log=True),
        Int(2, 20, step=3),
        Normal(1.0, 2.0),
        Normal(0.0, 1.0, step=0.5),
        Categorical(["a", "b", "c"]),
        Categorical([1, 2, 4, 8], ordered=True),
    ],
)
def test_unit_round_trip_and_validity(param):
    rng = np.random.default_rng(0)
    for _ in range(300):
        value = param.sample(rng)
        assert param.contains(value), value
        back = param.from_unit(param.to_unit(value))
        if param.cardinality is None:
            assert back == pytest.approx(value, rel=1e-9, abs=1e-12)
        else:
            assert back == value
        assert 0.0 <= param.to_unit(value) <= 1.0
        nb = neighbour(param, value, rng, 0.3)
        assert param.contains(nb), nb


def test_discrete_cells_cover_every_value_uniformly():
    param = Int(3, 7)
    values = [param.from_unit(u) for u in np.linspace(0, 1, 1001)]
    counts = np.bincount(values)[3:]
    assert len(counts) == 5 and counts.min() >= 199


def test_log_int_is_log_uniform():
    param = Int(1, 1000, log=True)
    rng = np.random.default_rng(0)
    samples = np.array([param.sample(rng) for _ in range(20000)])
    # value v owns the log-space cell [v - 0.5, v + 0.5] (as in Optuna), so
    # P(v <= 31) = (log 31.5 - log 0.5) / (log 1000.5 - log 0.5)
    expected = (math.log(31.5) - math.log(0.5)) / (math.log(1000.5) - math.log(0.5))
    assert abs(np.mean(samples <= 31) - expected) < 0.015


def test_float_step_values_are_clean():
    param = Float(0.0, 1.0, step=0.1)
    assert param.values() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert param.cardinality == 11
    assert param.contains(0.3) and not param.contains(0.35)


def test_int_step_and_bounds():
    param = Int(2, 20, step=3)
    assert param.values() == [2, 5, 8, 11, 14, 17, 20]
    assert not param.contains(3) and not param.contains(21) and param.contains(20.0)
    assert not param.contains(True)


def test_normal_cdf_mapping():
    param = Normal(1.0, 2.0)
    assert param.to_unit(1.0) == pytest.approx(0.5)
    assert param.from_unit(0.5) == pytest.approx(1.0)
    assert param.from_unit(0.0) < -10  # the tails are reachable but finite
    assert math.isfinite(param.from_unit(1.0))


def test_categorical_tells_bool_from_int():
    param = Categorical([True, 1, 1.5])
    assert param.index(True) == 0
    assert param.index(1) == 1
    assert param.index(np.int64(1)) == 1
    with pytest.raises(SpaceError, match="not one of the choices"):
        param.index("x")


def test_unordered_neighbour_moves_to_another_choice():
    param = Categorical(["a", "b", "c"])
    rng = np.random.default_rng(0)
    assert all(neighbour(param, "a", rng) != "a" for _ in range(50))


def test_grid_points():
    assert Float(0.0, 1.0).grid(3) == [0.0, 0.5, 1.0]
    assert Int(0, 2).grid(5) == [0, 1, 2]
    assert len(Int(0, 100).grid(5)) == 5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Float(1.0, 1.0), "low < high"),
        (lambda: Float(2.0, 1.0), "low < high"),
        (lambda: Float(0.0, 1.0, log=True), "log=True needs low > 0"),
        (lambda: Float(-1.0, 1.0, log=True), "log=True needs low > 0"),
        (lambda: Float(0.0, math.inf), "finite"),
        (lambda: Float("a", 1.0), "must be a number"),
        (lambda: Float(0.0, 1.0, step=0.0), "step must be > 0"),
        (lambda: Float(0.0, 1.0, step=2.0), "larger than the range"),
        (lambda: Int(0.5, 3), "integers"),
        (lambda: Int(0, 10, log=True), "log=True needs low > 0"),
        (lambda: Int(0, 10, step=1.5), "step must be an integer"),
        (lambda: Categorical([]), "at least one choice"),
        (lambda: Categorical("abc"), "must be a list"),
        (lambda: Categorical(["a", "a"]), "distinct"),
        (lambda: Normal(0.0, 0.0), "sd must be > 0"),
    ],
)
def test_validation_errors(make, message):
    with pytest.raises(SpaceError, match=message):
        make()


def test_yaml_style_numeric_strings_are_read():
    assert Float("1e-4", "1e-1", log=True).low == pytest.approx(1e-4)


def test_equality_and_hash():
    assert Float(0, 1) == Float(0.0, 1.0)
    assert Float(0, 1) != Float(0, 1, log=False, step=0.5)
    assert Categorical([1, 2]) != Categorical([1.0, 2.0])
    assert len({Int(0, 3), Int(0, 3)}) == 1
    assert Constant(3).contains(3) and Constant(3).cardinality == 1
