"""GridSearch specifics: which parameters form the grid, repeats, order, conditions."""

from __future__ import annotations

from raysearch.core.types import FINISHED
from raysearch.searchers import GridSearch
from raysearch.space import Categorical, Float, Int, Space, when


def drain(searcher, limit=10_000):
    out = []
    for i in range(limit):
        p = searcher.ask(f"t{i}")
        if p is FINISHED:
            return out
        out.append(p)
        searcher.tell(f"t{i}", 0.0)
    raise AssertionError("grid never finished")


def test_marked_grid_crossed_with_random_rest():
    space = Space(
        {"model": Categorical(["a", "b", "c"], grid=True), "lr": Float(0.01, 0.1, log=True)}
    )
    points = drain(GridSearch(space, repeats=2, seed=0))
    assert [p["model"] for p in points] == ["a", "b", "c", "a", "b", "c"]
    assert len({p["lr"] for p in points}) == 6  # the rest is sampled afresh each time


def test_finite_space_is_enumerated_once():
    space = Space(
        {"a": Categorical(["x", "y"]), "b": Int(0, 2), "c": when({"a": "x"}, Categorical([1, 2]))}
    )
    points = drain(GridSearch(space, seed=0))
    assert len(points) == space.cardinality() == 2 * 3 + 3
    assert len({space.key(p) for p in points}) == len(points)


def test_resolution_grids_numerics():
    space = Space({"x": Float(0.0, 1.0), "n": Int(1, 100), "k": Categorical(["u", "v"])})
    points = drain(GridSearch(space, resolution=3, seed=0))
    assert len(points) == 3 * 3 * 2
    assert sorted({p["x"] for p in points}) == [0.0, 0.5, 1.0]


def test_default_resolution_without_categoricals():
    points = drain(GridSearch(Space({"x": Float(0.0, 1.0)}), seed=0))
    assert [p["x"] for p in points] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_shuffle_is_seeded_and_complete():
    space = Space({"a": Categorical(list(range(10)))})
    one = [p["a"] for p in drain(GridSearch(space, shuffle=True, seed=1))]
    two = [p["a"] for p in drain(GridSearch(space, shuffle=True, seed=1))]
    assert one == two and sorted(one) == list(range(10)) and one != list(range(10))
