"""Several objectives and constraints: Pareto tools and the multi-objective EvolutionSearch."""

from __future__ import annotations

import itertools
import json
import logging

import numpy as np
import pytest

from raysearch.core.types import TrialStatus
from raysearch.nas.evolution import EvolutionSearch
from raysearch.nas.objectives import MetricsError
from raysearch.nas.pareto import (
    crowding_distance,
    dominance_matrix,
    hypervolume,
    non_dominated_sort,
    pareto_mask,
)
from raysearch.space import Int, Space

SPACE = Space({"x": Int(0, 10), "y": Int(0, 10)})
OBJECTIVES = [("a", "min"), ("b", "max")]


def metrics(params: dict) -> dict:
    """A toy trade-off: the front is y == 0 (every x); ``b`` is maximised."""
    x, y = params["x"], params["y"]
    return {"a": float(x + y), "b": float(-(10 - x) - y), "c": float(y)}


def run(searcher: EvolutionSearch, n: int, parallel: int = 1) -> None:
    pending: list[tuple[str, dict]] = []
    for i in range(n):
        pending.append((f"t{i}", searcher.ask(f"t{i}")))
        if len(pending) >= parallel:
            tid, params = pending.pop(0)
            searcher.tell_metrics(tid, metrics(params))
    for tid, params in pending:
        searcher.tell_metrics(tid, metrics(params))


# ----------------------------------------------------------------------------- Pareto tools
def test_non_dominated_sort_and_crowding() -> None:
    F = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [6, 6]], dtype=float)
    assert list(non_dominated_sort(F)) == [0, 0, 0, 1, 2, 3]
    assert list(pareto_mask(F)) == [True, True, True, False, False, False]
    d = crowding_distance(F[:3])
    assert np.isinf(d[0]) and np.isinf(d[2]) and d[1] == pytest.approx(2.0)


def test_constrained_domination() -> None:
    F = np.array([[1.0, 1.0], [5.0, 5.0], [0.0, 0.0], [0.5, 0.5]])
    violation = np.array([0.0, 0.0, 2.0, 1.0])
    # feasible first (by Pareto rank), then infeasible by violation
    assert list(non_dominated_sort(F, violation)) == [0, 1, 3, 2]


def test_hypervolume_exact() -> None:
    F = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.5, 3.5]])
    assert hypervolume(F, [4.0, 4.0]) == pytest.approx(3 + 2 + 1)
    assert hypervolume(F[:1], [4.0, 4.0]) == pytest.approx(3.0)
    assert hypervolume(np.array([[5.0, 5.0]]), [4.0, 4.0]) == 0.0
    # 3-D: union of boxes, checked on a grid
    G = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 2.0], [3.0, 3.0, 1.0]])
    ref = np.array([4.0, 4.0, 4.0])
    grid = np.stack(np.meshgrid(*[np.arange(0.125, 4, 0.25)] * 3, indexing="ij"), -1).reshape(
        -1, 3
    )
    covered = np.any(np.all(grid[:, None, :] >= G[None], axis=2), axis=1)
    assert hypervolume(G, ref) == pytest.approx(covered.mean() * 64, rel=1e-9)
    with pytest.raises(ValueError, match="reference"):
        hypervolume(G, [1.0, 2.0])


def test_hypervolume_3d_random_against_inclusion_exclusion() -> None:
    rng = np.random.default_rng(0)
    F = rng.random((5, 3))
    ref = np.ones(3)
    total = 0.0
    for k in range(1, 6):
        for subset in itertools.combinations(range(5), k):
            corner = F[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * np.prod(ref - corner)
    assert hypervolume(F, ref) == pytest.approx(total)


# ----------------------------------------------------------------------------- the searcher
@pytest.mark.parametrize("parallel", [1, 4])
def test_front_is_the_non_dominated_set(parallel: int) -> None:
    searcher = EvolutionSearch(SPACE, seed=0, objectives=OBJECTIVES, population_size=10)
    run(searcher, 60, parallel)
    assert not searcher.pending
    front = searcher.pareto_front()
    evaluated = [t.params for t in searcher.trials.values() if t.status is TrialStatus.COMPLETE]
    F = np.array([[metrics(p)["a"], -metrics(p)["b"]] for p in evaluated])
    expected = {json.dumps(evaluated[i], sort_keys=True) for i in np.flatnonzero(pareto_mask(F))}
    assert {json.dumps(f["config"], sort_keys=True) for f in front} == expected
    assert all(f["config"]["y"] == 0 for f in front)
    assert len(front) >= 8  # the search spreads along the front
    hv = searcher.hypervolume({"a": 20.0, "b": -20.0})
    assert hv == pytest.approx(hypervolume(F, [20.0, 20.0]))


def test_constraints_keep_the_front_feasible() -> None:
    searcher = EvolutionSearch(
        SPACE, seed=1, objectives=OBJECTIVES, constraints={"a": ("<=", 5), "c": ("<", 1)}
    )
    run(searcher, 60, 4)
    front = searcher.pareto_front()
    assert front and all(f["metrics"]["a"] <= 5 and f["metrics"]["c"] < 1 for f in front)
    # the 6 feasible points (y == 0, x <= 5) dominate every infeasible one: each one
    # evaluated stays in the population, and the search finds most of them
    feasible = {
        t.trial_id
        for t in searcher.trials.values()
        if t.params["y"] == 0 and t.params["x"] <= 5 and t.status is TrialStatus.COMPLETE
    }
    assert feasible <= {t.trial_id for t in searcher.population}
    assert len(feasible) >= 4
    assert len(searcher.pareto_front(feasible_only=False)) >= len(front)


def test_state_round_trip_with_objectives() -> None:
    kwargs = {"objectives": OBJECTIVES, "constraints": {"a": ("<=", 8)}, "population_size": 6}
    straight = EvolutionSearch(SPACE, seed=3, **kwargs)
    run(straight, 30)
    first = EvolutionSearch(SPACE, seed=3, **kwargs)
    run(first, 15)
    second = EvolutionSearch(SPACE, seed=0, **kwargs)
    second.set_state(json.loads(json.dumps(first.get_state(), allow_nan=False)))
    for i in range(15, 30):
        params = second.ask(f"t{i}")
        second.tell_metrics(f"t{i}", metrics(params))
    assert [t.params for t in second.trials.values()] == [
        t.params for t in straight.trials.values()
    ]
    assert second.pareto_front() == straight.pareto_front()


def test_unknown_metric_names_fail_on_the_first_result() -> None:
    searcher = EvolutionSearch(SPACE, seed=0, objectives=[("a", "min"), ("latency", "min")])
    params = searcher.ask("t0")
    with pytest.raises(MetricsError, match="objective metric 'latency' is not reported"):
        searcher.tell_metrics("t0", {"a": 1.0, "latency_ms": 2.0})
    constrained = EvolutionSearch(
        SPACE, seed=0, objectives=OBJECTIVES, constraints={"latncy": ("<=", 5)}
    )
    constrained.ask("t0")
    with pytest.raises(MetricsError, match="constraint metric 'latncy'.*did you mean 'latency'"):
        constrained.tell_metrics("t0", {**metrics(params), "latency": 1.0})


def test_later_missing_or_nan_metrics_are_failed_trials(caplog: pytest.LogCaptureFixture) -> None:
    searcher = EvolutionSearch(SPACE, seed=0, objectives=OBJECTIVES)
    p0 = searcher.ask("t0")
    searcher.tell_metrics("t0", metrics(p0))
    searcher.ask("t1")
    searcher.ask("t2")
    with caplog.at_level(logging.WARNING):
        searcher.tell_metrics("t1", {"a": 1.0})
        searcher.tell_metrics("t2", {"a": 1.0, "b": float("nan")})
    assert searcher.trials["t1"].status is TrialStatus.FAILED
    assert searcher.trials["t2"].status is TrialStatus.FAILED
    assert "did not report ['b']" in caplog.text


def test_scalar_tell_needs_metrics_with_two_objectives() -> None:
    searcher = EvolutionSearch(SPACE, seed=0, objectives=OBJECTIVES)
    searcher.ask("t0")
    with pytest.raises(ValueError, match="tell_metrics"):
        searcher.tell("t0", 1.0)
    searcher.tell("t0", None, status=TrialStatus.FAILED)  # a failure needs no metrics
    single = EvolutionSearch(SPACE, seed=0, objectives=[("a", "max")])
    single.ask("t0")
    single.tell("t0", -3.0)  # one objective: the loss is enough
    assert single.trials["t0"].value == -3.0
    plain = EvolutionSearch(SPACE, seed=0)
    with pytest.raises(ValueError, match="needs objectives"):
        plain.tell_metrics("t0", {"a": 1.0})
    with pytest.raises(ValueError, match="needs objectives"):
        plain.pareto_front()


def test_plot_pareto() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    searcher = EvolutionSearch(SPACE, seed=0, objectives=OBJECTIVES)
    run(searcher, 20)
    ax = searcher.plot_pareto()
    assert ax.get_xlabel() == "a" and ax.get_ylabel() == "b"


def test_pruned_without_a_result_stays_out_of_the_fronts() -> None:
    searcher = EvolutionSearch(SPACE, seed=0, objectives=OBJECTIVES)
    p0 = searcher.ask("t0")
    searcher.tell_metrics("t0", metrics(p0))
    searcher.ask("t1")
    searcher.report("t1", 1, 3.0)
    searcher.tell("t1", None, status=TrialStatus.PRUNED)  # what Tune does for a removed trial
    assert searcher.trials["t1"].status is TrialStatus.PRUNED
    assert [t.trial_id for t in searcher.population] == ["t0"]
    assert [f["trial_id"] for f in searcher.pareto_front()] == ["t0"]


def test_pareto_mask_fast_paths_agree_with_the_dominance_matrix() -> None:
    rng = np.random.default_rng(0)
    for m in (2, 3):
        F = np.round(rng.random((300, m)) * 5)  # many ties and duplicates
        slow = ~dominance_matrix(F).any(axis=0)
        assert np.array_equal(pareto_mask(F), slow)
