"""State envelopes, registries, the Ray-free loop and the simulated-clock driver."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from raysearch.core import FIFOScheduler, optimize
from raysearch.core.registry import SCHEDULERS, SEARCHERS, import_object
from raysearch.core.rng import make_rng, restore_rng, rng_state, spawn
from raysearch.core.state import StateMismatchError, atomic_write_json, read_json, recipe_diff
from raysearch.core.types import Decision, TrialStatus
from raysearch.searchers import RandomSearch
from raysearch.space import Float, Space
from raysearch.testing.simulate import simulate, synthetic_curves


def test_rng_state_round_trip_and_spawn():
    rng = make_rng(3)
    rng.random(5)
    state = json.loads(json.dumps(rng_state(rng)))
    again = restore_rng(state)
    assert np.array_equal(rng.random(4), again.random(4))
    a, b = spawn(make_rng(1), 2)
    assert a.random() != b.random()
    with pytest.raises(TypeError):
        make_rng(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        make_rng(-1)


def test_atomic_write_never_leaves_partial_files(tmp_path):
    path = tmp_path / "state.json"
    atomic_write_json(path, {"a": 1})
    with pytest.raises(ValueError):
        atomic_write_json(path, {"a": math.nan})  # not JSON: the old file stays
    assert read_json(path) == {"a": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_recipe_diff_and_mismatch_message():
    assert recipe_diff({"a": 1, "b": [1, 2]}, {"a": 2, "b": [1, 2], "c": 0}) == [
        "a: saved 1, now 2",
        "c: not in the saved state, now 0",
    ]
    space = Space({"x": Float(0, 1)})
    state = RandomSearch(space, sampler="sobol", seed=0).get_state()
    with pytest.raises(StateMismatchError, match="sampler: saved 'sobol', now 'random'"):
        RandomSearch(space, sampler="random", seed=0).set_state(state)
    with pytest.raises(StateMismatchError, match="not a raysearch state"):
        RandomSearch(space).set_state({"format": "other"})


def test_registry_errors_and_kwargs_check():
    with pytest.raises(ValueError, match="unknown searcher 'rndom'; did you mean 'random'"):
        SEARCHERS.create("rndom")
    with pytest.raises(ValueError, match="takes no argument 'samplr'.*did you mean 'sampler'"):
        SEARCHERS.create("random", samplr="sobol")
    assert SEARCHERS.create("sobol", seed=0).sampler == "sobol"
    assert "fifo" in SCHEDULERS
    with pytest.raises(ImportError, match="has no 'nope'"):
        import_object("raysearch.core.registry:nope")
    with pytest.raises(ImportError, match="cannot import"):
        import_object("no_such_module_xyz:f")


def test_optimize_loop_min_max_failures_and_curves():
    space = Space({"x": Float(-1.0, 1.0)})

    def objective(config):
        if config["x"] > 0.9:
            raise RuntimeError("boom")
        return (config["x"] - 0.2) ** 2

    result = optimize(RandomSearch(space, seed=0), objective, 60, mode="min")
    assert len(result.trials) == 60
    failed = [t for t in result.trials if t.status is TrialStatus.FAILED]
    assert failed and all(t.error for t in failed)
    best = result.best
    assert best is not None and best.value == np.nanmin(result.values)
    running = result.best_so_far()
    assert np.all(np.diff(running[~np.isnan(running)]) <= 0)

    curve_result = optimize(
        RandomSearch(space, seed=0),
        lambda c: [1.0, 0.5, -abs(c["x"])],
        10,
        mode="max",
        n_parallel=3,
    )
    assert all(t.steps == 3 for t in curve_result.trials)
    assert curve_result.best is not None and curve_result.best.value == max(curve_result.values)


def test_simulator_fifo_runs_every_step():
    curves = synthetic_curves(seed=0, max_steps=9)
    result = simulate(FIFOScheduler(), curves, n_trials=6, n_workers=2)
    assert len(result.completed) == 6 and result.compute == 6 * 9
    assert all(e.decision is Decision.CONTINUE for e in result.events)


def test_bundled_datasets_that_need_only_sklearn():
    from raysearch.data import load_dataset

    digits = load_dataset("digits")
    assert digits.frame.shape == (1797, 65) and digits.task == "multiclass"
    assert digits.features.shape[1] == 64 and digits.target.nunique() == 10
    with pytest.raises(ValueError, match="did you mean 'diamonds'"):
        load_dataset("diamond")


def test_generated_gems_set_is_fixed_and_mixed_typed():
    from raysearch.data import load_dataset

    a, b = load_dataset("gems"), load_dataset("gems")
    assert a.frame.equals(b.frame) and a.frame.shape == (5000, 7)
    assert a.task == "regression" and a.label == "price"
    assert a.frame["cut"].cat.ordered and a.frame["shape"].map(type).eq(str).all()
    assert a.frame["depth"].isna().any() and (a.target > 0).all()
    # the price follows carat, as a real price list does
    assert a.frame["carat"].corr(a.frame["price"], method="spearman") > 0.8
