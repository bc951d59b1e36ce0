"""searcher="auto": the rules of raysearch.searchers.auto pick as documented."""

from __future__ import annotations

import pytest

from raysearch.bench.functions import PROBLEMS
from raysearch.core.registry import SEARCHERS
from raysearch.nas.spaces import nb201_cell
from raysearch.searchers.auto import (
    MAX_GP_DIMENSION,
    MAX_GP_PARALLELISM,
    MAX_GP_TRIALS,
    MAX_LEVELS,
    MIN_EVOLUTION_DIMENSION,
    SpaceShape,
    choose,
)
from raysearch.space import Categorical, Float, Int, Space, when

MIXED = Space(
    {
        "lr": Float(1e-4, 1e-1, log=True),
        "layers": Int(1, 4),
        "optimizer": Categorical(["sgd", "adam"]),
        "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
    }
)


def test_shape_reads_dimension_conditions_categoricals_and_size():
    shape = SpaceShape.of(MIXED)
    assert shape.dimension == 4 and shape.conditional and shape.categorical_share == 0.25
    assert shape.cardinality is None and shape.grid == 0 and shape.levels is None
    small = SpaceShape.of(Space({"a": Int(1, 3), "b": Categorical(["x", "y"], ordered=True)}))
    assert small.cardinality == 6 and small.categorical_share == 0.0  # ordered: not a category


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize(("n_trials", "parallelism"), [(50, 1), (100, 1), (50, 4), (100, 4)])
def test_hpo_bench_problems_get_the_gp(problem, n_trials, parallelism):
    """Every problem of the hpo bench, at its budgets and parallelisms (rule 6), but the
    8- and 10-parameter numeric functions with 4 in flight (rule 5: evolution)."""
    choice = choose(PROBLEMS[problem][0], n_trials, parallelism)
    if problem in ("levy10", "styblinski8") and parallelism == 4:
        assert (choice.name, choice.rule) == ("evolution", 5)
    else:
        assert (choice.name, choice.rule) == ("gp", 6)


def test_many_numeric_parameters_in_parallel_get_evolution():
    def box(d: int) -> Space:
        return Space({f"x{i}": Float(0.0, 1.0) for i in range(d)})

    assert choose(box(MIN_EVOLUTION_DIMENSION), 100, 4).name == "evolution"
    assert "8+ numeric parameters with 4+ trials in flight" in choose(box(8), 50, 4).reason
    assert choose(box(MIN_EVOLUTION_DIMENSION), 100, 1).name == "gp"  # sequential: GP
    assert choose(box(MIN_EVOLUTION_DIMENSION - 1), 100, 4).name == "gp"
    assert choose(box(MAX_GP_DIMENSION + 1), 100, 4).name == "tpe"
    # a categorical or a condition among them: the GP
    mixed = Space({**{f"x{i}": Float(0.0, 1.0) for i in range(8)}, "c": Categorical(["a", "b"])})
    assert choose(mixed, 100, 4).name == "gp"
    cond = Space(
        {
            **{f"x{i}": Float(0.0, 1.0) for i in range(8)},
            "opt": Categorical(["sgd", "adam"], ordered=True),
            "m": when({"opt": "sgd"}, Float(0.0, 0.99)),
        }
    )
    assert choose(cond, 100, 4).name == "gp"


def test_rules_in_order():
    assert choose(Space({}), 10).name == "random"  # 0: nothing to search
    grid = Space({"lr": Float(0.0, 1.0), "k": Categorical([1, 2, 3], grid=True)})
    assert (choose(grid, None).name, choose(grid, None).rule) == ("grid", 1)
    assert choose(grid, 100).name == "gp"  # a trial count: the grid is an ordinary choice
    finite = Space({"a": Int(1, 5), "b": Categorical(["x", "y", "z"])})  # 15 configurations
    assert (choose(finite, 15).name, choose(finite, 15).rule) == ("grid", 2)
    assert choose(finite, 14).name != "grid" and choose(finite, None).name != "grid"
    # ordinal levels (the hpo bench's tabular MLP tasks): TPE in sequence, evolution in
    # parallel, GP with 2 or 3 in flight (unmeasured there)
    table = Space({k: Categorical(list(range(10)), ordered=True) for k in "abcde"})
    assert SpaceShape.of(table).levels == 10
    assert (choose(table, 100, 1).name, choose(table, 100, 1).rule) == ("tpe", 3)
    assert choose(table, 100, 2).name == "gp"
    assert (choose(table, 100, 4).name, choose(table, 100, 4).rule) == ("evolution", 3)
    wider = Space({"a": Int(1, MAX_LEVELS + 1), "b": Categorical([1, 2], ordered=True)})
    assert choose(wider, 20, 4).name == "gp"  # a parameter of 11 values: not a table
    cell = nb201_cell()  # 6 unordered choices of 5 operations: an architecture
    assert (choose(cell, 100).name, choose(cell, 100).rule) == ("evolution", 3)
    assert (choose(cell, 100, 64).name, choose(cell, None, 8).name) == ("evolution", "evolution")
    # too many trials, too many workers, or no trial limit with many workers: TPE (rule 4)
    assert choose(MIXED, MAX_GP_TRIALS + 1).rule == 4
    assert choose(MIXED, 100, MAX_GP_PARALLELISM + 1).rule == 4
    assert choose(MIXED, None, 8).rule == 4 and choose(MIXED, None, 4).name == "gp"
    assert all(choose(MIXED, *args).name == "tpe" for args in [(5000, 1), (100, 32), (None, 8)])
    wide = Space({f"x{i}": Float(0.0, 1.0) for i in range(MAX_GP_DIMENSION + 1)})
    assert (choose(wide, 100).name, choose(wide, 100).rule) == ("tpe", 5)
    narrow = Space({f"x{i}": Float(0.0, 1.0) for i in range(MAX_GP_DIMENSION)})
    assert choose(narrow, 100).name == "gp"
    assert (choose(narrow, 100, 4).name, choose(narrow, 100, 4).rule) == ("evolution", 5)


def test_the_choice_is_deterministic_and_says_why():
    a = choose(MIXED, 200, 4)
    assert a == choose(MIXED, 200, 4) == choose(MIXED.to_dict(), 200, 4)  # a spec works too
    assert a.line() == (
        "searcher auto -> gp: 4 parameters, 1 categorical, conditional; 200 trials, 4 at a "
        "time: small or medium space, a GP is the best model here"
    )
    assert "no trial limit, 8 at a time" in choose(MIXED, None, 8).reason


def test_every_pick_is_a_registered_searcher():
    spaces = [MIXED, nb201_cell(), Space({"a": Int(1, 3)}), Space({})]
    for space in spaces:
        for n, p in [(3, 1), (100, 1), (None, 32), (5000, 4)]:
            name = choose(space, n, p).name
            assert name in SEARCHERS
            SEARCHERS.create(name, space=space, seed=0).ask("t0")


@pytest.mark.parametrize(
    ("n_trials", "parallelism", "message"),
    [(0, 1, "n_trials"), (10, 0, "parallelism"), (True, 1, "n_trials")],
)
def test_bad_arguments(n_trials, parallelism, message):
    with pytest.raises(ValueError, match=message):
        choose(MIXED, n_trials, parallelism)
