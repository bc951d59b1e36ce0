"""Per-kind moves: neighbours, local-search moves, trust-region draws, PBT's perturbation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from raysearch.space import Categorical, Constant, Float, Int, Normal, Space, when
from raysearch.space.mutation import (
    MOVES,
    adjacent,
    grid_index,
    grid_value,
    in_box,
    moves,
    neighbours,
    perturb_param,
    perturb_value,
)


def test_every_parameter_kind_has_its_moves():
    for param in (Float(0, 1), Int(0, 3), Normal(), Categorical(["a"]), Constant(1)):
        assert param.kind in MOVES
        assert moves(param) is MOVES[param.kind]


def test_adjacent_values_are_the_cells_on_either_side():
    rng = np.random.default_rng(0)
    assert adjacent(Int(0, 10), 4, rng) == [3, 5]
    assert adjacent(Int(0, 10), 0, rng) == [1]
    assert adjacent(Categorical([1, 2, 4], ordered=True), 4, rng) == [2]
    assert adjacent(Float(0, 1, step=0.25), 0.5, rng) == [0.25, 0.75]
    # finer than the nearest-cell search: one cell up and down on the unit axis
    assert adjacent(Int(0, 1000), 500, rng) == [501, 499]
    # continuous, single-valued and huge parameters have none
    assert adjacent(Float(0, 1), 0.5, rng) == []
    assert adjacent(Categorical(["only"]), "only", rng) == []
    assert adjacent(Int(0, 100_000), 7, rng) == []


def test_adjacent_unordered_choices_are_the_others_at_most_eight():
    rng = np.random.default_rng(0)
    assert adjacent(Categorical(["a", "b", "c"]), "b", rng) == ["a", "c"]
    many = Categorical([f"c{i}" for i in range(12)])
    picked = adjacent(many, "c3", rng)
    assert len(picked) == len(set(picked)) == 8 and "c3" not in picked


def test_in_box_draws_inside_the_box_and_resamples_unordered_choices():
    rng = np.random.default_rng(0)
    param = Float(0.0, 10.0)
    values = [in_box(param, rng, 0.2, 0.3) for _ in range(200)]
    assert all(2.0 <= v <= 3.0 for v in values)
    choice = Categorical(["a", "b", "c"])
    assert {in_box(choice, rng, 0.0, 0.01) for _ in range(100)} == {"a", "b", "c"}
    ordered = Categorical(["a", "b", "c"], ordered=True)
    assert {in_box(ordered, rng, 0.0, 0.3) for _ in range(100)} == {"a"}


def test_neighbours_move_one_parameter_and_complete_sub_spaces():
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "momentum": when({"opt": "sgd"}, Float(0.0, 1.0)),
            "depth": Int(1, 5),
        }
    )
    flat = {"opt": "adam", "depth": 3}
    out = neighbours(space, flat, np.random.default_rng(0))
    assert [(f["opt"], f["depth"]) for f in out] == [("sgd", 3), ("adam", 2), ("adam", 4)]
    assert "momentum" in out[0] and all("momentum" not in f for f in out[1:])


@pytest.mark.parametrize(
    ("param", "value", "factor", "boundary", "expected"),
    [
        (Float(1e-4, 1.0, log=True), 0.01, 1.2, "reflect", 0.012),
        (Float(0.0, 10.0), 5.0, 1.2, "reflect", 6.0),  # (f - 1) / 2 of the range
        (Float(0.0, 10.0), 9.5, 1.2, "reflect", 9.5),  # 10.5 reflected at 10
        (Float(0.0, 10.0), 9.5, 1.2, "clip", 10.0),
        (Int(0, 100), 50, 0.8, "reflect", 40),
        (Int(1, 10, log=True), 5, 1.01, "reflect", 6),  # at least one cell
        (Normal(0.0, 2.0), 1.0, 1.2, "reflect", 1.8),  # 2 (f - 1) sd
        (Categorical([1, 2, 4], ordered=True), 2, 1.2, "reflect", 4),
        (Categorical([1, 2, 4], ordered=True), 4, 1.2, "reflect", 2),
        (Categorical([1, 2, 4], ordered=True), 4, 1.2, "clip", 4),
        (Categorical(["a", "b"]), "a", 1.2, "reflect", "a"),
    ],
)
def test_perturb_value(param, value, factor, boundary, expected):
    new, op = perturb_value(param, value, factor, boundary)
    assert new == pytest.approx(expected) if isinstance(expected, float) else new == expected
    assert param.contains(new) and isinstance(op, str)


def test_perturb_param_draws_in_a_fixed_order():
    param = Float(0.0, 10.0)
    rng, ref = np.random.default_rng(3), np.random.default_rng(3)
    out = [perturb_param(param, 5.0, rng, resample_probability=0.5) for _ in range(50)]
    for new, op in out:
        if ref.random() < 0.5:
            assert (new, op) == (param.sample(ref), "resample")
        else:
            factor = (1.2, 0.8)[int(ref.integers(2))]
            assert (new, op) == perturb_value(param, 5.0, factor)
    assert {op for _, op in out} == {"resample", "+1", "-1"}


def test_grid_index_and_value():
    p = Float(0.0, 1.0, step=0.1)
    assert grid_index(p, 0.3) == 3 and grid_value(p, 3) == 0.3
    assert grid_value(Int(2, 20, step=3), 2) == 8
    assert math.isclose(grid_value(p, 7), 0.7)
