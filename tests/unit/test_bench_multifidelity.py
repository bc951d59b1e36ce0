"""The multifidelity bench's configuration grids (no curves recorded)."""

import pytest

from raysearch.bench import multifidelity as mf


@pytest.mark.parametrize(
    "task, grid, size",
    [
        ("diamonds", "default", 120),
        ("digits", "default", 108),
        ("health_insurance", "wide", 504),
        ("digits", "wide", 384),
    ],
)
def test_grid_and_space_agree(task, grid, size):
    points = mf._grid(task, grid)
    assert len(points) == size
    assert len({mf._key(p) for p in points}) == size
    # every config a searcher can draw from the space has a recorded curve, and back
    space = mf._space(task, grid)
    assert {mf._key(space.to_config(flat)) for flat in space.enumerate()} == {
        mf._key(p) for p in points
    }


def test_unknown_grid_is_refused():
    with pytest.raises(ValueError, match="unknown grid"):
        mf._grid("digits", "huge")
