"""raysearch searchers inside a plain ray.tune.Tuner on a real local Ray."""

from __future__ import annotations

import numpy as np
import pytest
from ray import tune

from raysearch.core.types import TrialStatus
from raysearch.space import Categorical, Float, Int, Space, repeat, when
from raysearch.tune import FIFOScheduler, GridSearch, RandomSearch
from raysearch.tune.searcher import TuneSearcher
from tests.helpers import trainables

pytestmark = pytest.mark.ray


def _tuner(trainable, param_space, search_alg, num_samples, tmp_path, **tune_kwargs):
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            num_samples=num_samples,
            metric="score",
            mode="min",
            reuse_actors=True,
            **tune_kwargs,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )


def test_random_search_in_tuner_respects_every_domain(ray_local, tmp_path):
    seen = []

    def record(config):
        seen.append(config)  # runs in the worker; config is checked below from results
        return {"score": config["x"] ** 2}

    space = {
        "x": tune.uniform(-1, 1),
        "lr": tune.loguniform(1e-4, 1e-1),
        "n": tune.randint(1, 5),
        "q": tune.qrandint(0, 10, 5),
        "c": tune.choice(["a", "b"]),
        "dep": tune.sample_from(lambda spec: spec.config.n * 10),
        "const": 7,
    }
    search = RandomSearch(seed=0)
    grid = _tuner(record, space, search, 12, tmp_path, max_concurrent_trials=2).fit()
    assert len(grid) == 12 and not grid.errors
    for result in grid:
        c = result.config
        assert -1 <= c["x"] <= 1 and 1e-4 <= c["lr"] <= 1e-1
        assert c["n"] in (1, 2, 3, 4) and c["q"] in (0, 5, 10) and c["c"] in ("a", "b")
        assert c["dep"] == c["n"] * 10  # sample_from resolved after the searcher's suggestion
        assert c["const"] == 7
    core = search.core
    assert len(core.trials) == 12
    assert all(t.status is TrialStatus.COMPLETE for t in core.trials.values())
    best = core.best()
    assert best is not None and best.value == pytest.approx(
        grid.get_best_result().metrics["score"]
    )


def test_grid_search_finishes_by_itself(ray_local, tmp_path):
    search = GridSearch(seed=0)
    grid = _tuner(
        trainables.quadratic,
        {"x": tune.grid_search([-0.5, 0.0, 0.5]), "c": tune.choice(["u", "v"])},
        search,
        -1,
        tmp_path,
    ).fit()
    assert len(grid) == 3
    assert sorted(r.config["x"] for r in grid) == [-0.5, 0.0, 0.5]


def test_conditional_space_with_constants_from_param_space(ray_local, tmp_path):
    space = Space(
        {
            "x": Float(-1.0, 1.0),
            "optimizer": Categorical(["sgd", "adam"]),
            "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.9)),
            "n_layers": Int(1, 3),
            "layers": repeat({"width": Int(4, 64, log=True)}, count="n_layers", max_count=3),
        }
    )
    search = RandomSearch(space, metric="score", mode="min", seed=1)
    grid = tune.Tuner(
        trainables.quadratic,
        param_space={"epochs": 3},
        tune_config=tune.TuneConfig(search_alg=search, num_samples=8),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    ).fit()
    assert len(grid) == 8 and not grid.errors
    for r in grid:
        c = r.config
        assert c["epochs"] == 3
        assert len(c["layers"]) == c["n_layers"]
        assert ("momentum" in c) == (c["optimizer"] == "sgd")


def test_failed_and_nan_trials_are_recorded_not_raised(ray_local, tmp_path):
    search = RandomSearch(seed=3)
    grid = _tuner(trainables.flaky, {"x": tune.uniform(-1, 1)}, search, 16, tmp_path).fit()
    assert len(grid) == 16
    statuses = [t.status for t in search.core.trials.values()]
    n_errors = len(grid.errors)
    assert n_errors > 0
    assert statuses.count(TrialStatus.FAILED) >= n_errors + 1  # crashes plus NaN reports
    assert statuses.count(TrialStatus.COMPLETE) > 0


def test_intermediate_results_reach_the_searcher(ray_local, tmp_path):
    search = RandomSearch(seed=0)
    _tuner(trainables.curve, {"x": tune.uniform(0.1, 1)}, search, 3, tmp_path).fit()
    for t in search.core.trials.values():
        assert sorted(t.intermediate) == [1.0, 2.0, 3.0, 4.0]
        assert t.value == pytest.approx(t.intermediate[4.0])
        assert t.intermediate[1.0] == pytest.approx(4 * t.intermediate[4.0])


def test_fifo_plugin_runs(ray_local, tmp_path):
    grid = _tuner(
        trainables.curve,
        {"x": tune.uniform(0.1, 1)},
        RandomSearch(seed=0),
        2,
        tmp_path,
        scheduler=FIFOScheduler(),
    ).fit()
    assert len(grid) == 2 and not grid.errors


def test_metric_mode_conflicts_are_reported():
    search = RandomSearch(metric="a", mode="min")
    with pytest.raises(ValueError, match="metric='a'.*metric='b'"):
        search.set_search_properties("b", "min", {"x": tune.uniform(0, 1)})
    with pytest.raises(ValueError, match="already has a search space"):
        RandomSearch(Space({"x": Float(0, 1)})).set_search_properties(
            "m", "min", {"y": tune.uniform(0, 1)}
        )


def test_adapter_state_round_trip_mid_run(tmp_path):
    """save() half way, restore into a fresh adapter, continue: same suggestions, same records."""
    param_space = {"x": tune.uniform(-1, 1), "c": tune.choice(["a", "b", "c"])}

    def drive(adapter, ids):
        out = []
        for tid in ids:
            config = adapter.suggest(tid)
            out.append(config)
            value = np.nan if tid.endswith("3") else config["x"] ** 2
            adapter.on_trial_result(tid, {"score": value, "training_iteration": 1})
            adapter.on_trial_complete(tid, {"score": value, "training_iteration": 1})
        return out

    straight = RandomSearch(seed=5)
    straight.set_search_properties("score", "min", param_space)
    expected = drive(straight, [f"t{i}" for i in range(10)])

    first = RandomSearch(seed=5)
    first.set_search_properties("score", "min", param_space)
    part1 = drive(first, [f"t{i}" for i in range(5)])
    path = tmp_path / "searcher-state.pkl"
    first.save(str(path))
    second = RandomSearch(seed=123)
    second.restore(str(path))
    part2 = drive(second, [f"t{i}" for i in range(5, 10)])
    assert part1 + part2 == expected
    assert second.core.trials["t3"].status is TrialStatus.FAILED
    assert len(second.core.trials) == 10


def test_pending_trials_are_not_throttled(ray_local, monkeypatch):
    """Without a ConcurrencyLimiter Tune would allow our searcher one pending trial."""
    import os

    from ray.tune.execution.tune_controller import _get_max_pending_trials
    from ray.tune.search import SearchGenerator

    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG", raising=False)
    search = RandomSearch(seed=0, max_concurrent=4)
    search.set_search_properties("score", "min", {"x": tune.uniform(0, 1)})
    assert _get_max_pending_trials(SearchGenerator(search)) == 4
    search.suggest("t0")
    assert "TUNE_MAX_PENDING_TRIALS_PG" not in os.environ  # cleared once Tune has read it


def test_unknown_trial_from_restart_is_learned():
    search = RandomSearch(seed=0)
    search.set_search_properties("score", "max", {"x": tune.uniform(0, 1)})
    search.on_trial_complete("restarted", {"score": 0.5, "config/x": 0.25})
    trial = search.core.trials["restarted"]
    assert trial.params == {"x": 0.25} and trial.value == -0.5  # stored as a loss


def test_tune_searcher_type_checks():
    with pytest.raises(TypeError, match="raysearch core Searcher"):
        TuneSearcher(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be"):
        RandomSearch(mode="maximize")
