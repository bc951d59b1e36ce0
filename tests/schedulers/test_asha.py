"""ASHA (stop/promote) and synchronous Hyperband cores, without Ray."""

from __future__ import annotations

import json
import math

import pytest

from raysearch.core.registry import SCHEDULERS
from raysearch.core.types import Decision, Trial, TrialStatus
from raysearch.schedulers.asha import ASHAScheduler
from raysearch.schedulers.hyperband import HyperbandScheduler
from raysearch.schedulers.rungs import Rung, milestones
from raysearch.searchers.multifidelity import MultiFidelitySearch, fidelity_view
from raysearch.space import Float, Space
from raysearch.testing.conformance import SearcherConformance
from raysearch.testing.simulate import simulate, synthetic_curves
from raysearch.trainables.fidelity import SubsampleFidelity, fraction_at


def test_milestones() -> None:
    assert milestones(1, 27, 3) == [1, 3, 9]
    assert milestones(1, 27, 3, s=1) == [3, 9]
    assert milestones(0.5, 2, 2) == [0.5, 1.0]


def test_rung_rules_and_json() -> None:
    rung = Rung(3.0)
    for t, v in [("a", 0.5), ("b", None), ("c", 0.1), ("d", 0.9)]:
        rung.record(t, v)
    assert rung.ranked() == ["c", "a", "d", "b"]
    assert rung.promotable(3) == ["c"]  # floor(4/3) = 1
    assert rung.passes_cutoff("a", 3) and not rung.passes_cutoff("d", 3)
    assert not rung.passes_cutoff("b", 3)
    back = Rung.from_json(json.loads(json.dumps(rung.to_json())))
    assert back == rung


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="max_t"):
        ASHAScheduler(grace_period=5, max_t=3)
    with pytest.raises(ValueError, match="reduction_factor"):
        ASHAScheduler(reduction_factor=1)
    with pytest.raises(ValueError, match="variant"):
        ASHAScheduler(variant="halve")


def test_registry_and_automl_kwargs() -> None:
    s = SCHEDULERS.create("asha", seed=0, max_t=5, grace_period=1, reduction_factor=3)
    assert isinstance(s, ASHAScheduler) and s.rungs()[0][0]["milestone"] == 1
    assert isinstance(SCHEDULERS.create("hyperband", max_t=9), HyperbandScheduler)


def test_stop_variant_stops_bad_trials() -> None:
    s = ASHAScheduler(grace_period=1, max_t=9, reduction_factor=3)
    for t in "abc":
        s.on_add(t)
    assert s.on_result("a", 1, 0.5) is Decision.CONTINUE  # first one always continues
    assert s.on_result("b", 1, 0.9) is Decision.STOP
    assert s.on_result("c", 1, 0.1) is Decision.CONTINUE
    assert s.on_result("c", 9, 0.05) is Decision.STOP  # max_t


def test_jump_past_several_rungs_records_each() -> None:
    s = ASHAScheduler(grace_period=1, max_t=100, reduction_factor=3)
    s.on_add("a")
    assert s.on_result("a", 10.5, 0.3) is Decision.CONTINUE  # e.g. seconds
    assert [len(r["recorded"]) for r in s.rungs()[0]] == [1, 1, 1, 0, 0]


def test_promote_pauses_then_promotes_best_paused() -> None:
    s = ASHAScheduler(grace_period=1, max_t=9, reduction_factor=3, variant="promote")
    for t, v in [("a", 0.5), ("b", 0.2), ("c", 0.9)]:
        s.on_add(t)
        assert s.choose([t], []) == t
        assert s.on_result(t, 1, v) is Decision.PAUSE
    # rung 0 has 3 records: the best one (b) is promotable, before any new trial
    s.on_add("d")
    assert s.choose(["d"], ["a", "b", "c"]) == "b"
    assert s.on_result("b", 2, 0.2) is Decision.CONTINUE
    assert s.on_result("b", 3, 0.15) is Decision.PAUSE  # alone at rung 1
    assert s.choose(["d"], ["a", "b", "c"]) == "d"


def test_promote_never_stalls_without_pending() -> None:
    s = ASHAScheduler(grace_period=1, max_t=9, reduction_factor=3, variant="promote")
    s.on_add("a")
    s.choose(["a"], [])
    assert s.on_result("a", 1, 0.5) is Decision.PAUSE
    # nothing pending, nothing running: the paused trial goes on
    assert s.choose([], ["a"]) == "a"


def test_nan_failed_and_early_trials() -> None:
    s = ASHAScheduler(grace_period=3, max_t=27, reduction_factor=3, variant="promote")
    for t in "abcd":
        s.on_add(t)
    assert s.on_result("a", 1, None) is Decision.CONTINUE  # before the first rung
    assert s.on_result("a", 3, None) is Decision.STOP  # NaN at a rung: never promoted
    s.on_error("b")  # crashed before its first rung
    s.on_result("c", 1, 0.4)
    s.on_complete("c", 0.4)  # ended by itself before the first rung
    assert s.on_result("d", 3, 0.3) is Decision.PAUSE
    assert s.choose([], ["d"]) == "d"
    json.dumps(s.get_state(), allow_nan=False)


@pytest.mark.parametrize("variant", ["stop", "promote"])
def test_asha_saves_compute_and_keeps_good_trials(variant: str) -> None:
    curves = synthetic_curves(seed=0, max_steps=27, nan_rate=0.1)
    fifo = simulate(SCHEDULERS.create("fifo"), curves, n_trials=40, n_workers=4)
    asha = simulate(
        ASHAScheduler(grace_period=1, max_t=27, reduction_factor=3, variant=variant, seed=0),
        curves,
        n_trials=40,
        n_workers=4,
    )
    assert asha.compute < fifo.compute / 2
    finals = {t: curves(t, {})[-1] for t in asha.completed}
    best = min(v for v in (curves(f"trial_{i}", {})[-1] for i in range(40)) if math.isfinite(v))
    ran_to_end = [
        t for t in asha.completed if max(e.step for e in asha.events if e.trial_id == t) == 27
    ]
    assert ran_to_end
    assert min(finals[t] for t in ran_to_end) < best + 0.3


def test_hyperband_brackets_and_stops() -> None:
    s = HyperbandScheduler(grace_period=1, max_t=9, reduction_factor=3)
    assert s.s_max == 2
    # conservative brackets fill first: s=0 (3 trials to max_t), s=1 (5 trials, rung 3)
    for t in [f"c{i}" for i in range(8)]:
        s.on_add(t)
    assert [br["s"] for br in s.get_state()["data"]["brackets"]] == [0, 1]
    assert s.on_result("c0", 3, 0.5) is Decision.CONTINUE  # s=0 has no rung below max_t
    assert s.on_result("c3", 3, 0.5) is Decision.PAUSE  # s=1 waits for its 5 members
    ids = [f"t{i}" for i in range(9)]  # third bracket: s=2, n=9, rungs 1 and 3
    for t in ids:
        s.on_add(t)
    decisions = [s.on_result(t, 1, float(i)) for i, t in enumerate(ids)]
    assert decisions[:-1] == [Decision.PAUSE] * 8
    assert decisions[-1] is Decision.STOP  # worst one, the rung is complete
    stops = s.take_stops()
    assert sorted(stops) == sorted(ids[3:8])
    assert s.choose([], ids[:8]) == "t0"
    assert s.choose([], ids[:8]) == "t1"
    restored = HyperbandScheduler(grace_period=1, max_t=9, reduction_factor=3)
    restored.set_state(json.loads(json.dumps(s.get_state())))
    assert restored.choose([], ids[:8]) == "t2"
    result = simulate(
        HyperbandScheduler(grace_period=1, max_t=27, reduction_factor=3),
        synthetic_curves(seed=1, max_steps=27),
        n_trials=60,
        n_workers=3,
    )
    assert result.compute < 60 * 27 / 2
    assert any(e.step == 27 for e in result.events)


class TestMultiFidelityTPE(SearcherConformance):
    searcher = "raysearch.searchers.multifidelity:MultiFidelitySearch"
    kwargs = {"searcher": "tpe", "searcher_kwargs": {"n_startup": 5}, "n_min": 4}


def test_fidelity_view_picks_highest_step_with_enough_trials() -> None:
    trials = {}
    for i in range(6):
        t = Trial(f"t{i}", {"x": float(i)})
        t.intermediate = {1.0: float(i), 3.0: float(i) / 2} if i < 4 else {1.0: float(i)}
        trials[t.trial_id] = t
    trials["t5"].status = TrialStatus.FAILED
    step, view = fidelity_view(trials, n_min=4)
    assert step == 3.0
    assert sorted(view) == ["t0", "t1", "t2", "t3", "t4"]  # t4 is live (pending)
    assert view["t2"].value == 1.0 and view["t4"].status is TrialStatus.PENDING
    step, view = fidelity_view(trials, n_min=5)
    assert step == 1.0 and view["t4"].value == 4.0 and "t5" not in view
    assert fidelity_view(trials, n_min=9)[0] is None


def test_multifidelity_learns_from_low_rungs() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    s = MultiFidelitySearch(space, searcher="tpe", searcher_kwargs={"n_startup": 4}, seed=0)
    for i in range(8):
        p = s.ask(f"t{i}")
        assert isinstance(p, dict)
        s.report(f"t{i}", 1, (p["x"] - 0.2) ** 2 + (p["y"] - 0.7) ** 2)
        s.tell(f"t{i}", None, status=TrialStatus.PRUNED)
    assert isinstance(s.ask("next"), dict)
    assert s.last_fidelity == 1.0


def test_min_samples_lets_the_first_trials_pass() -> None:
    s = ASHAScheduler(grace_period=1, max_t=5, reduction_factor=3, min_samples=3)
    for t in "abcd":
        s.on_add(t)
    assert [s.on_result(t, 1, v) for t, v in zip("abc", [0.1, 0.5, 0.9])] == [
        Decision.CONTINUE
    ] * 3
    assert s.on_result("d", 1, 0.8) is Decision.STOP


def test_subsample_fidelity_is_nested_and_reaches_all_rows() -> None:
    fid = SubsampleFidelity(1000, max_t=4, min_fraction=0.1, seed=0)
    assert fid.fraction(1) == pytest.approx(0.1) and fid.fraction(4) == pytest.approx(1.0)
    assert [fid.n_at(s) for s in range(1, 5)] == [100, 216, 465, 1000]
    assert set(fid.rows(1)) <= set(fid.rows(2)) <= set(fid.rows(4))
    assert len(fid.rows(4)) == 1000 and fid.cost(2) == 316
    assert fraction_at(2, 3, 0.1, "linear") == pytest.approx(0.55)
    with pytest.raises(ValueError, match="min_fraction"):
        fraction_at(1, 3, 0.0)


@pytest.mark.parametrize("kind", ["asha", "hyperband"])
def test_every_trial_ends_no_paused_trial_is_left(kind: str) -> None:
    """No stall: when the search ends, every trial completed or is handed to the driver
    to stop (take_stops); none is left paused for ever."""
    scheduler: ASHAScheduler | HyperbandScheduler
    if kind == "asha":
        scheduler = ASHAScheduler(grace_period=1, max_t=27, reduction_factor=3, variant="promote")
    else:
        scheduler = HyperbandScheduler(grace_period=1, max_t=27, reduction_factor=3)
    result = simulate(scheduler, synthetic_curves(seed=3, max_steps=27), n_trials=30, n_workers=3)
    stopped = scheduler.take_stops()
    assert sorted(set(result.completed) | set(stopped)) == sorted(f"trial_{i}" for i in range(30))
    assert not set(result.completed) & set(stopped)
