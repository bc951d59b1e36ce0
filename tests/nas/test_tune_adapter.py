"""The NAS Tune plugins driven by hand (no Ray instance): metrics reach the core."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("ray.tune")

from raysearch.core.types import TrialStatus
from raysearch.nas import nb201_cell
from raysearch.nas.objectives import MetricsError
from raysearch.tune.nas import ControllerSearch, EvolutionSearch

OBJECTIVES = [("val_acc", "max"), ("latency_ms", "min")]


def result(config: dict, **extra: float) -> dict:
    acc = sum(e == "nor_conv_3x3" for e in config["edges"]) / 6
    latency = 1.0 + sum(e != "none" for e in config["edges"])
    return {"val_acc": acc, "latency_ms": latency, "epoch": 1, "config/kind": "cell", **extra}


def test_metric_and_mode_come_from_the_first_objective() -> None:
    plugin = EvolutionSearch(nb201_cell(), seed=0, objectives=OBJECTIVES)
    assert (plugin.metric, plugin.mode) == ("val_acc", "max")
    with pytest.raises(ValueError, match="first objective"):
        EvolutionSearch(nb201_cell(), "latency_ms", seed=0, objectives=OBJECTIVES)
    with pytest.raises(ValueError, match="contradicts"):
        EvolutionSearch(nb201_cell(), mode="min", seed=0, objectives=OBJECTIVES)
    with pytest.raises(TypeError, match="population_sise"):
        EvolutionSearch(nb201_cell(), population_sise=3)


def test_reported_metrics_reach_the_core(caplog: pytest.LogCaptureFixture) -> None:
    plugin = EvolutionSearch(
        nb201_cell(), seed=0, objectives=OBJECTIVES, constraints={"latency_ms": ("<=", 6)}
    )
    plugin.set_search_properties(None, None, {})
    configs = {f"t{i}": plugin.suggest(f"t{i}") for i in range(12)}
    for tid, config in configs.items():
        plugin.on_trial_complete(tid, result(config))
    front = plugin.core.pareto_front()
    assert front and all(f["metrics"]["latency_ms"] <= 6 for f in front)
    plugin.suggest("late")
    with caplog.at_level(logging.WARNING):
        plugin.on_trial_complete("late", {"val_acc": 0.5})
    assert plugin.core.trials["late"].status is TrialStatus.FAILED
    assert "latency_ms" in caplog.text


def test_a_constraint_on_an_unknown_metric_fails_on_the_first_result() -> None:
    plugin = EvolutionSearch(
        nb201_cell(), seed=0, objectives=OBJECTIVES, constraints={"latency": ("<=", 6)}
    )
    plugin.set_search_properties(None, None, {})
    config = plugin.suggest("t0")
    with pytest.raises(MetricsError, match="'latency'.*did you mean 'latency_ms'"):
        plugin.on_trial_complete("t0", result(config))


def test_controller_plugin() -> None:
    plugin = ControllerSearch(nb201_cell(), "val_acc", "max", seed=0, lr=0.3)
    plugin.set_search_properties(None, None, {})
    for i in range(5):
        config = plugin.suggest(f"t{i}")
        plugin.on_trial_complete(f"t{i}", result(config))
    assert plugin.core.n_updates == 4  # the first result only sets the baseline
