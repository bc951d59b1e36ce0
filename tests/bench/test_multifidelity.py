"""The multifidelity bench's configuration grids (no curves recorded)."""

import numpy as np
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
    points = mf.grid_points(task, grid)
    assert len(points) == size
    assert len({mf.config_key(p) for p in points}) == size
    # every config a searcher can draw from the space has a recorded curve, and back
    space = mf.task_space(task, grid)
    assert {mf.config_key(space.to_config(flat)) for flat in space.enumerate()} == {
        mf.config_key(p) for p in points
    }


def test_unknown_grid_is_refused():
    with pytest.raises(ValueError, match="unknown grid"):
        mf.grid_points("digits", "huge")


def _synthetic_curves(task, max_t):
    """A made-up curve per grid point: each configuration converges to its own floor."""
    rng = np.random.default_rng(0)
    out = {}
    for point in mf.grid_points(task):
        floor, speed = rng.uniform(0.1, 1.0), rng.uniform(0.05, 0.5)
        out[mf.config_key(point)] = [floor + np.exp(-speed * (s + 1)) for s in range(max_t)]
    return out


@pytest.mark.parametrize("max_t", [9, 81])
def test_max_t_reaches_the_schedulers(max_t):
    curves = _synthetic_curves("digits", max_t)
    fifo = mf.run_method(
        "fifo+random", "digits", curves, seed=0, n_trials=20, n_workers=2, max_t=max_t
    )
    assert fifo["compute"] == 20 * max_t  # every trial trained to max_t, no further
    asha = mf.run_method(
        "asha-stop", "digits", curves, seed=0, n_trials=20, n_workers=2, max_t=max_t
    )
    # rungs at 1, 3, 9 (, 27, 81): most trials stop early, none trains past max_t
    assert asha["compute"] < 0.7 * fifo["compute"]
    assert min(min(c) for c in curves.values()) <= asha["best"]


def test_load_curves_rejects_a_bad_max_t(tmp_path):
    with pytest.raises(ValueError, match="max_t"):
        mf.load_curves("digits", tmp_path, max_t=0)


def test_equal_compute_lets_early_stopping_start_more_trials():
    max_t, budget = 9, 20 * 9
    curves = _synthetic_curves("digits", max_t)
    runs = {
        m: mf.run_method(
            m, "digits", curves, seed=0, n_trials=budget, n_workers=2, max_t=max_t, budget=budget
        )
        for m in ("fifo+random", "asha-stop", "hyperband")
    }
    assert runs["fifo+random"]["compute"] == budget and runs["fifo+random"]["trials"] == 20
    for m in ("asha-stop", "hyperband"):
        # the budget is spent (running trials stop there, at most one step per worker past
        # it) on more trials than FIFO can afford
        assert budget <= runs[m]["compute"] <= budget + 2
        assert runs[m]["trials"] > 40
    rows = mf.summarise(list(runs.values()), {"digits": min(min(c) for c in curves.values())})
    assert {r["method"]: r["trials"] for r in rows}["fifo+random"] == 20
    assert all("/" in r["beats_fifo"] and "/" in r["found_opt"] for r in rows)


def test_wide_task_has_a_fixed_grid_beyond_the_default():
    assert len(mf.grid_points("diamonds_wide")) == 504 > len(mf.grid_points("diamonds"))
    assert mf.grid_points("diamonds_wide", "wide") == mf.grid_points("diamonds", "wide")
    assert len(mf.grid_points("health_insurance_wide")) == 504
    assert len(mf.grid_points("digits_wide")) == 384 == len(mf.grid_points("digits", "wide"))


def test_rank_correlation_gate_keeps_slow_starters_at_equal_compute():
    """Curves whose early ranks invert the final ones: rank-based ASHA stops the grid's
    best configuration, the ``-corr`` method (rungs closed by the measured correlation)
    trains it to the end; both within FIFO's compute."""
    rng = np.random.default_rng(1)
    max_t, budget = 9, 30 * 9
    curves = {}
    for point in mf.grid_points("digits"):
        floor = rng.uniform(0.1, 1.0)
        start = 3.0 - floor  # the best floors start worst
        curves[mf.config_key(point)] = [
            floor + (start - floor) * np.exp(-0.4 * (s + 1)) for s in range(max_t)
        ]
    optimum = min(c[-1] for c in curves.values())
    kwargs = dict(seed=0, n_trials=budget, n_workers=2, max_t=max_t, budget=budget)
    runs = {m: mf.run_method(m, "digits", curves, **kwargs) for m in ("asha-stop", "asha-corr")}
    assert all(budget <= r["compute"] <= budget + 2 for r in runs.values())
    finals = {m: r["best"] - optimum for m, r in runs.items()}  # regret of the final best
    assert finals["asha-corr"] < finals["asha-stop"]
