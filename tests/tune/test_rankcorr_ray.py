"""ASHA's rank-correlation gate (``min_rank_corr``) on a real local Ray: a rung whose ranks
contradict the final ones never stops a trial."""

from __future__ import annotations

from typing import Any

import pytest
from ray import tune

from raysearch.tune import ASHAScheduler, RandomSearch

pytestmark = pytest.mark.ray


def inverted(config: dict[str, Any]) -> None:
    """Loss ``1 - x`` for two steps, then ``x``: the early ranks are the final ones reversed."""
    for step in range(1, 10):
        tune.report({"loss": (1.0 - config["x"]) if step <= 2 else config["x"], "step": step})


def test_a_misleading_rung_stops_no_trial(ray_local, tmp_path):
    scheduler = ASHAScheduler(
        "step", max_t=9, grace_period=1, reduction_factor=3, min_rank_corr=0.3, warmup=4, seed=0
    )
    tuner = tune.Tuner(
        inverted,
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=12,
            max_concurrent_trials=2,
            scheduler=scheduler,
            search_alg=RandomSearch(seed=0),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "results")),
    )
    grid = tuner.fit()
    assert len(grid) == 12 and not grid.errors
    reached = {r.config["x"]: r.metrics["step"] for r in grid}
    # rung 1 (step 1) ranks trials backwards, so its gate stays closed: nobody stops there
    assert min(reached.values()) >= 3, reached
    assert reached[min(reached)] == 9, "the best configuration was not trained to the end"
    # rung 3 ranks as the end does: its gate opens and saves compute
    assert sum(reached.values()) < 12 * 9, reached
