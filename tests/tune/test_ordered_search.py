"""Reproducible asynchronous search: ``TuneSearcher(ordered=True)``.

Trial j is suggested only once trials 0..j-c are told, in suggestion order, so the
sequence of suggestions depends on the seed and c, not on which trial finishes first.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from raysearch.searchers.tpe import TPESearch
from raysearch.space import Float, Space
from raysearch.tune.searcher import TuneSearcher

SPACE = Space({"x": Float(-1.0, 1.0), "y": Float(-1.0, 1.0)})


def _value(config: dict) -> float:
    return (config["x"] - 0.3) ** 2 + (config["y"] + 0.2) ** 2


class _Recording(TPESearch):
    """TPE that records how many trials were told when each suggestion was asked for."""

    def ask(self, trial_id: str):  # type: ignore[no-untyped-def]
        told = sum(1 for t in self.trials.values() if t.status.name != "PENDING")
        self.told_at_ask = [*getattr(self, "told_at_ask", []), told]
        return super().ask(trial_id)


def _adapter(c: int) -> TuneSearcher:
    core = _Recording(SPACE, seed=0, n_startup=3)
    adapter = TuneSearcher(core, "loss", "min", max_concurrent=c, ordered=True)
    adapter.set_search_properties(None, None, {})
    return adapter


def _simulate(
    n: int, c: int, timing_seed: int, restore_at: int | None = None
) -> tuple[list[dict], list[tuple[int, int]]]:
    """A driver like Tune's: at most c live trials, each finishing after a random number of
    steps; returns the configs in suggestion order and (suggestion index, told count)."""
    rng = np.random.default_rng(timing_seed)
    adapter = _adapter(c)
    adapter.set_num_samples(n)
    configs: list[dict] = []
    seen: list[tuple[int, int]] = []
    running: dict[str, tuple[int, dict]] = {}
    step = 0
    while len(configs) < n or running:
        step += 1
        if restore_at is not None and step == restore_at:
            state = json.loads(json.dumps(adapter.get_state()))
            adapter = _adapter(c)
            adapter.set_num_samples(n)
            adapter.set_state(state)
        if len(configs) < n and len(running) < c:
            trial_id = f"t{rng.integers(1 << 30):x}"  # Tune's ids are random too
            config = adapter.suggest(trial_id)
            if config is not None:
                seen.append((len(configs), adapter.core.told_at_ask[-1]))
                configs.append(config)
                running[trial_id] = (step + int(rng.integers(1, 8)), config)
                adapter.on_trial_result(trial_id, {"training_iteration": 1, "loss": 9.0})
        for trial_id, (end, config) in list(running.items()):
            if end <= step:
                del running[trial_id]
                adapter.on_trial_result(trial_id, {"training_iteration": 2, "loss": 8.0})
                adapter.on_trial_complete(trial_id, {"loss": _value(config)})
    trials = adapter.core.trials.values()
    assert all(t.status.name != "PENDING" and len(t.intermediate) == 2 for t in trials)
    return configs, seen


@pytest.mark.parametrize("c", [2, 3, 4])
def test_same_seed_same_suggestions_whatever_the_timing(c: int) -> None:
    first, seen = _simulate(14, c, timing_seed=1)
    second, _ = _simulate(14, c, timing_seed=2)
    assert first == second
    # suggestion j saw exactly trials 0..j-c told
    assert seen == [(j, max(0, j - c + 1)) for j in range(14)]


def test_unordered_depends_on_timing() -> None:
    """The control: the same core without ordering breeds differently under other timings."""

    def unordered(timing_seed: int) -> list[dict]:
        rng = np.random.default_rng(timing_seed)
        adapter = TuneSearcher(TPESearch(SPACE, seed=0, n_startup=3), "loss", "min")
        adapter.set_search_properties(None, None, {})
        configs, running, step = [], {}, 0
        while len(configs) < 14 or running:
            step += 1
            if len(configs) < 14 and len(running) < 3:
                trial_id = f"t{len(configs)}"
                configs.append(adapter.suggest(trial_id))
                running[trial_id] = (step + int(rng.integers(1, 8)), configs[-1])
            for trial_id, (end, config) in list(running.items()):
                if end <= step:
                    del running[trial_id]
                    adapter.on_trial_complete(trial_id, {"loss": _value(config)})
        return configs

    assert unordered(1) != unordered(2)


def test_state_round_trip_keeps_the_held_results() -> None:
    straight, _ = _simulate(14, 3, timing_seed=5)
    for at in (4, 9, 17):
        resumed, _ = _simulate(14, 3, timing_seed=5, restore_at=at)
        assert resumed == straight


def test_held_state_is_saved() -> None:
    adapter = _adapter(2)
    ids = ["a", "b", "c"]
    configs = [adapter.suggest(i) for i in ids[:2]]
    assert adapter.suggest("c") is None  # trial a not told yet
    adapter.on_trial_complete("b", {"loss": _value(configs[1])})  # early: held
    assert adapter.core.trials["b"].status.name == "PENDING"
    state = adapter.get_state()
    assert state["ordered"]["held"]["b"]["result"] == {"loss": _value(configs[1])}
    fresh = _adapter(2)
    fresh.set_state(json.loads(json.dumps(state)))
    fresh.on_trial_complete("a", None, error=True)  # an error is told in its turn
    assert fresh.core.trials["a"].status.name == "FAILED"
    assert fresh.core.trials["b"].status.name == "PENDING"  # still 2 in flight: b waits
    assert fresh.suggest("c") is not None
    fresh.set_num_samples(3)
    fresh.on_trial_complete("c", {"loss": 1.0})
    assert fresh.core.trials["b"].status.name == "COMPLETE"
    assert fresh.core.trials["c"].status.name == "COMPLETE"


def test_ordered_needs_a_concurrency() -> None:
    adapter = TuneSearcher(TPESearch(SPACE, seed=0), "loss", "min", ordered=True)
    adapter.set_search_properties(None, None, {})
    with pytest.raises(ValueError, match="max_concurrent"):
        adapter.suggest("a")


# ----------------------------------------------------------------------------- real Ray
def _sleepy(config: dict) -> dict:
    if config["x"] == config["slow_x"]:
        time.sleep(3.0)  # this trial finishes after the ones suggested after it
    return {"loss": _value(config), "done_at": time.time()}


def _first_suggestions(k: int) -> list[float]:
    core = TPESearch(SPACE, seed=0, n_startup=3)
    return [core.ask(f"t{i}")["x"] for i in range(k)]


def _ray_run(slow_x: float, name: str, c: int, storage: str) -> tuple[list[dict], list[float]]:
    from raysearch.tune.run import run

    core = TPESearch(SPACE, seed=0, n_startup=3)
    result = run(
        lambda config: _sleepy({**config, "slow_x": slow_x}),
        None,
        metric="loss",
        mode="min",
        searcher=TuneSearcher(core, ordered=True),
        num_samples=8,
        max_concurrent=c,
        storage_path=storage,
        name=name,
        verbose=0,
    )
    finish = sorted(result.results, key=lambda r: r.metrics["done_at"])
    order = [core.space.to_config(t.params) for t in core.trials.values()]
    return order, [r.config["x"] for r in finish]


@pytest.mark.ray
def test_ray_run_same_seed_same_trials(ray_local, tmp_path) -> None:
    # two runs with other timings: the first suggestion is slow in one, the second in the
    # other, so both complete out of suggestion order (2 CPUs run two trials at once)
    slow = _first_suggestions(2)
    first, finished_1 = _ray_run(slow[0], "ordered-1", 3, str(tmp_path))
    second, finished_2 = _ray_run(slow[1], "ordered-2", 3, str(tmp_path))
    assert len(first) == 8
    assert first == second
    suggested = [c["x"] for c in first]
    assert suggested[:2] == slow
    # the timings did scramble the completion order (else the test would prove nothing)
    assert finished_1 != suggested and finished_2 != suggested
    assert finished_1 != finished_2
