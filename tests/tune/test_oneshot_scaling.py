"""Batched subnet evaluation (phase b) and the cell supernet through the one-shot Tune phases
(real Ray)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("mnist1d")
torch = pytest.importorskip("torch")

from raysearch.nas import nb201_cell  # noqa: E402
from raysearch.nas.datasets import mnist1d_task  # noqa: E402
from raysearch.nas.supernet import SuperNet  # noqa: E402
from raysearch.searchers.random import RandomSearch  # noqa: E402
from raysearch.tune import presets  # noqa: E402
from raysearch.tune.oneshot import search_phase  # noqa: E402

pytestmark = pytest.mark.ray

CELL = nb201_cell(channels=4, cells_per_stage=1)


def _task():
    return mnist1d_task(max_epochs=1, n_train=128, n_val=64, batch_size=64)


def test_batched_evaluation_of_the_cell_supernet(ray_local, tmp_path) -> None:
    task = _task()
    weights = SuperNet(CELL, (40,), 10, seed=0).state_dict()
    core = RandomSearch(CELL, seed=0)
    result, _ = search_phase(
        CELL,
        task,
        weights,
        samples=7,
        searcher=core,
        calib_size=64,
        max_concurrent=2,
        eval_batch=3,
        storage_path=str(tmp_path),
        name="batched",
        verbose=0,
    )
    # 7 evaluations in ceil(7 / 3) = 3 trials of 3, 3 and 1 architectures
    metrics = [r.metrics for r in result.results]
    assert sorted(m["evals"] for m in metrics) == [1, 3, 3] and not result.num_errors
    rows = [row for m in metrics for row in m["batch_results"]]
    assert len(rows) == 7 and all(0.0 <= row["inherited_acc"] <= 1.0 for row in rows)
    for m in metrics:  # the trial's metrics are its batch's best
        assert m["inherited_acc"] == max(row["inherited_acc"] for row in m["batch_results"])
        assert m["zero_copy"] and m["torch_threads"] == 1  # one CPU per trial: one thread
    # every architecture was told back to the searcher as its own finished trial
    done = [t for t in core.trials.values() if t.value is not None]
    assert len(done) == 7
    archs = [json.dumps(c, sort_keys=True) for r in result.results for c in r.config["batch"]]
    assert len(archs) == 7


@pytest.mark.slow
def test_oneshot_preset_on_the_cell_space(ray_local, tmp_path) -> None:
    out = presets.oneshot(
        CELL,
        _task(),
        supernet_epochs=1,
        batch_size=64,
        search_samples=4,
        calib_size=64,
        top_k=2,
        retrain_epochs=1,
        max_concurrent=2,
        eval_batch=2,
        storage_path=str(tmp_path),
        name="cell",
        seed=0,
    )
    # 4 evaluations in 2 trials of 2 architectures; every one is a candidate
    assert out.supernet_metrics["epoch"] == 1 and len(out.search.results) == 2
    assert sum(len(r.config["batch"]) for r in out.search.results) == 4
    assert 1 <= len(out.candidates) <= 4
    assert out.winner in [row["arch"] for row in out.top_k] and out.winner["kind"] == "cell"
