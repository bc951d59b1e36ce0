"""PBT/PB2 cores: perturbations stay in the space, decisions are seeded, the population
survives crashes and restores, lineage is rebuilt and drawn (no Ray)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raysearch.core.registry import SCHEDULERS
from raysearch.core.state import StateMismatchError
from raysearch.core.types import Decision, Exploit
from raysearch.schedulers.pbt.config import config_with_params, params_from_config
from raysearch.schedulers.pbt.explore import Perturb, perturb
from raysearch.schedulers.pbt.lineage import (
    LINEAGE_FILE,
    LineageWriter,
    plot_lineage,
    read_lineage,
)
from raysearch.schedulers.pbt.pb2 import GPBandit, PB2Scheduler
from raysearch.schedulers.pbt.scheduler import PBTScheduler
from raysearch.space import Categorical, Float, Int, Normal, Space, SpaceError, repeat, when
from raysearch.surrogates.tvgp import TimeVaryingGP
from raysearch.testing.conformance import conformance_spaces
from raysearch.testing.simulate import simulate, synthetic_curves

MIXED = conformance_spaces()["mixed"]
CONDITIONAL = conformance_spaces()["conditional"]
TRAINING = conformance_spaces()["training"]


# ----------------------------------------------------------------------------- conformance


# ----------------------------------------------------------------------------- explore
@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["mixed", "conditional", "training"]),
    st.integers(0, 2**32 - 1),
    st.floats(min_value=0.0, max_value=1.0),
    st.lists(st.floats(min_value=0.05, max_value=20.0), min_size=1, max_size=3),
    st.sampled_from(["reflect", "clip"]),
)
def test_perturbed_values_never_leave_the_space(name, seed, resample, factors, boundary):
    space = {"mixed": MIXED, "conditional": CONDITIONAL, "training": TRAINING}[name]
    rng = np.random.default_rng(seed)
    params = space.sample(rng)
    for _ in range(25):  # a chain of explores, as a lineage of exploits makes
        params, ops = perturb(
            space,
            params,
            rng,
            resample_probability=resample,
            perturbation_factors=factors,
            boundary=boundary,
        )
        for key, value in params.items():
            assert space[key].contains(value), (key, value, ops)
        assert space.to_flat(space.to_config(params)) == params


def test_perturbation_at_the_bounds_stays_inside_and_moves():
    space = Space(
        {
            "lr": Float(1e-3, 1e-1, log=True),
            "m": Float(0.0, 0.99),
            "n": Int(1, 4),
            "k": Int(1, 1000, log=True),
            "q": Float(0.0, 1.0, step=0.25),
            "b": Categorical([16, 32, 64], ordered=True),
        }
    )
    corners = [
        {"lr": 1e-1, "m": 0.99, "n": 4, "k": 1000, "q": 1.0, "b": 64},
        {"lr": 1e-3, "m": 0.0, "n": 1, "k": 1, "q": 0.0, "b": 16},
    ]
    for boundary in ("reflect", "clip"):
        for start in corners:
            for seed in range(50):
                new, _ = perturb(
                    space,
                    start,
                    np.random.default_rng(seed),
                    resample_probability=0.0,
                    boundary=boundary,
                )
                assert all(space[k].contains(v) for k, v in new.items())
                if boundary == "reflect":
                    # a step always moves discrete values (never a silent no-op)
                    assert new["n"] != start["n"] and new["q"] != start["q"]
                    assert new["b"] != start["b"]


def test_perturbation_steps_follow_the_scale_of_each_parameter():
    space = Space(
        {
            "lr": Float(1e-4, 1.0, log=True),
            "m": Float(0.0, 1.0),
            "b": Categorical([16, 32, 64, 128], ordered=True),
            "act": Categorical(["relu", "tanh"]),
            "z": Normal(0.0, 1.0),
        }
    )
    start = {"lr": 0.01, "m": 0.5, "b": 32, "act": "tanh", "z": 0.0}
    up, ops = perturb(
        space,
        start,
        np.random.default_rng(0),
        resample_probability=0.0,
        perturbation_factors=[1.2],
    )
    assert up["lr"] == pytest.approx(0.012)  # multiplicative on a log axis
    assert up["m"] == pytest.approx(0.6)  # +10% of the range on a linear one
    assert up["b"] == 64 and up["act"] == "tanh"  # ordered shifts, unordered stays
    assert up["z"] == pytest.approx(0.4)
    assert ops["lr"] == "*1.2" and ops["act"] == "keep"
    down, _ = perturb(
        space,
        start,
        np.random.default_rng(0),
        resample_probability=0.0,
        perturbation_factors=[0.8],
    )
    assert down["lr"] == pytest.approx(0.008) and down["m"] == pytest.approx(0.4)
    assert down["b"] == 16
    # zero stays reachable and leavable on a linear axis (Ray multiplies: 0 forever)
    zero, _ = perturb(
        space,
        {**start, "m": 0.0},
        np.random.default_rng(0),
        resample_probability=0.0,
        perturbation_factors=[1.2],
    )
    assert zero["m"] == pytest.approx(0.1)
    # reflection: 0.95 + 0.1 bounces back to 0.95; clipping stops at 1
    refl, _ = perturb(
        space,
        {**start, "m": 0.95},
        np.random.default_rng(0),
        resample_probability=0.0,
        perturbation_factors=[1.2],
    )
    assert refl["m"] == pytest.approx(0.95)
    clip, _ = perturb(
        space,
        {**start, "m": 0.95},
        np.random.default_rng(0),
        resample_probability=0.0,
        perturbation_factors=[1.2],
        boundary="clip",
    )
    assert clip["m"] == 1.0
    every, ops = perturb(space, start, np.random.default_rng(0), resample_probability=1.0)
    assert set(ops.values()) == {"resample"}


def test_perturb_refuses_values_outside_the_space():
    with pytest.raises(SpaceError):
        perturb(
            TRAINING,
            {**TRAINING.sample(np.random.default_rng(0)), "lr": 5.0},
            np.random.default_rng(0),
        )


# ----------------------------------------------------------------------------- configs
def test_params_are_read_from_and_written_into_nested_configs():
    space = Space({"opt": {"lr": Float(1e-4, 1e-1, log=True)}, "wd": Float(0.0, 0.1)})
    config = {"opt": {"lr": 0.01, "name": "sgd"}, "wd": 0.05, "epochs": 10}
    rng = np.random.default_rng(0)
    assert params_from_config(space, config, rng) == {"opt/lr": 0.01, "wd": 0.05}
    # out of range: moved to the bound; missing: sampled
    flat = params_from_config(space, {"opt": {"lr": 3.0, "name": "sgd"}}, rng)
    assert flat["opt/lr"] == 0.1 and 0.0 <= flat["wd"] <= 0.1
    new = config_with_params(space, config, {"opt/lr": 0.02, "wd": 0.0})
    assert new == {"opt": {"lr": 0.02, "name": "sgd"}, "wd": 0.0, "epochs": 10}
    assert config["opt"]["lr"] == 0.01  # the donor's config is not touched


def test_conditional_parameters_appear_and_disappear_in_configs():
    space = Space(
        {
            "optimizer": Categorical(["sgd", "adam"]),
            "momentum": when({"optimizer": "sgd"}, Float(0, 0.9)),
        }
    )
    config = {"optimizer": "sgd", "momentum": 0.5, "batch": 32}
    assert config_with_params(space, config, {"optimizer": "adam"}) == {
        "optimizer": "adam",
        "batch": 32,
    }
    layered = Space(
        {"n": Int(1, 3), "layers": repeat({"w": Int(8, 64, log=True)}, count="n", max_count=3)}
    )
    flat = {"n": 2, "layers/0/w": 8, "layers/1/w": 16}
    out = config_with_params(layered, {"n": 1, "layers": [{"w": 32}], "x": 1}, flat)
    assert out == {"n": 2, "layers": [{"w": 8}, {"w": 16}], "x": 1}


# ----------------------------------------------------------------------------- decisions
def _drive(scheduler, n=8, steps=24, seed=0, workers=4, crash=None, rerun=False):
    """A population on a simulated clock where the hyperparameters matter: quality grows
    fastest with lr near an optimum that decays over time (a schedule wins). ``workers``
    slots; ``crash=(trial, step)`` kills that member there (once); with ``rerun`` the driver
    runs it again, as Tune does within ``max_failures``, and asks the scheduler to replace it."""
    rng = np.random.default_rng(seed)
    ids = [f"t{i}" for i in range(n)]
    quality = dict.fromkeys(ids, 0.0)
    step = dict.fromkeys(ids, 0)
    status = dict.fromkeys(ids, "pending")
    for t in ids:
        scheduler.on_add(t, {"lr": float(10 ** rng.uniform(-4, 0))})
    running: list[str] = []
    log: list[tuple] = []

    def hand_over(t, exploit):
        quality[t], step[t] = quality[exploit.donor], step[exploit.donor]
        log.append((t, step[t], exploit.donor, tuple(sorted(exploit.params.items()))))

    def take():
        for other, exploit in scheduler.take_exploits():
            hand_over(other, exploit)

    crashed: set[str] = set()

    def finish(t, how):
        status[t] = how
        running.remove(t)
        if how == "done":
            scheduler.on_complete(t, -quality[t])
        else:
            crashed.add(t)
            scheduler.on_error(t)
            if rerun:
                status[t] = "pending"
                exploit = scheduler.replace(t)
                if exploit is not None:
                    hand_over(t, exploit)
        take()

    for _ in range(100_000):
        while len(running) < workers:
            pending = [t for t in ids if status[t] == "pending"]
            paused = [t for t in ids if status[t] == "paused"]
            choice = scheduler.choose(pending, paused)
            if choice is None:
                break
            status[choice] = "running"
            running.append(choice)
        if not running:
            break
        for t in list(running):
            if crash is not None and (t, step[t]) == crash and t not in crashed:
                finish(t, "error")
                continue
            lr = scheduler.params_of(t)["lr"]
            best = 0.5 * 0.8 ** step[t]
            quality[t] += 0.1 * max(0.0, 1.0 - abs(math.log10(lr / best)) / 2)
            step[t] += 1
            decision = scheduler.on_result(t, step[t], -quality[t])
            if isinstance(decision, Exploit):
                hand_over(t, decision)
            take()
            if step[t] >= steps:
                finish(t, "done")
            elif decision is Decision.PAUSE:
                status[t] = "paused"
                running.remove(t)
    ended = {t for t in ids if status[t] in ("done", "error")}
    return log, max(quality.values()), ended


@pytest.mark.parametrize("synch", [False, True])
@pytest.mark.parametrize("cls", [PBTScheduler, PB2Scheduler])
def test_same_seed_same_exploits_and_explores(cls, synch):
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    runs = [
        _drive(cls(space, perturbation_interval=3, synch=synch, seed=s), seed=1)[0]
        for s in (7, 7, 8)
    ]
    assert runs[0], "no exploit happened"
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_same_seed_same_decisions_with_exploits_in_the_simulator():
    def run(seed):
        scheduler = PBTScheduler(MIXED, perturbation_interval=4, seed=seed)
        return simulate(
            scheduler, synthetic_curves(seed=2), n_trials=16, n_workers=4
        ).decision_log()

    a, b, c = run(11), run(11), run(12)
    assert any(str(d).startswith("exploit") for _, _, d in a)
    assert a == b and a != c


def test_pbt_finds_a_better_schedule_than_the_initial_population():
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    _, fixed, _ = _drive(PBTScheduler(space, quantile_fraction=0.0, seed=0), seed=3)
    _, pbt, _ = _drive(PBTScheduler(space, perturbation_interval=2, seed=0), seed=3)
    _, pb2, _ = _drive(PB2Scheduler(space, perturbation_interval=2, seed=0), seed=3)
    assert pbt > fixed and pb2 > fixed


def test_synchronous_round_does_not_wait_for_a_crashed_member():
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    scheduler = PBTScheduler(space, perturbation_interval=4, synch=True, seed=0)
    log, _, done = _drive(scheduler, n=4, steps=12, crash=("t2", 2))
    assert done == {"t0", "t1", "t2", "t3"}  # everyone finished or crashed: no hang
    assert scheduler.members["t2"].status == "error"
    assert all(scheduler.members[t].status == "done" for t in ("t0", "t1", "t3"))
    assert log, "the survivors still exploit each other"


@pytest.mark.parametrize("synch", [False, True])
@pytest.mark.parametrize("cls", [PBTScheduler, PB2Scheduler])
def test_a_crashed_member_that_runs_again_is_replaced_by_a_top_member(cls, synch):
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    scheduler = cls(space, perturbation_interval=4, synch=synch, seed=0)
    log, _, done = _drive(scheduler, n=4, steps=12, crash=("t2", 6), rerun=True)
    assert done == {"t0", "t1", "t2", "t3"}
    assert all(m.status == "done" for m in scheduler.members.values())  # no member lost
    replaced = [e for e in log if e[0] == "t2" and e[1] >= 6]
    assert replaced, "the crashed member continued from a donor"
    events = scheduler.drain_events()
    kinds = [(e["event"], e["trial_id"]) for e in events]
    i = kinds.index(("error", "t2"))
    assert kinds[i + 1] == ("replace", "t2") and kinds[i + 2] == ("exploit", "t2")
    donor = events[i + 1]["donor"]
    assert donor != "t2" and scheduler.members[donor].status == "done"


def test_replace_without_a_donor_leaves_the_member_to_retry_alone():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), perturbation_interval=2, seed=0)
    for t in "ab":
        s.on_add(t, {"lr": 0.01})
    s.on_error("a")
    assert s.replace("a") is None  # nobody has reported yet
    assert s.replace("b") is None  # b did not crash: nothing to replace
    s.on_result("a", 1, 2.0)  # the retry reports: a is back in the population
    assert s.members["a"].status == "running"


def test_bottom_members_wait_for_a_donor_to_catch_up_when_slots_are_few():
    """8 members on 2 slots: the bottom ones reach a perturbation point while the top ones
    are still behind (they take turns). They wait, paused, and exploit once a donor has
    caught up, never going back in time (equal compute with random search)."""
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    scheduler = PBTScheduler(space, perturbation_interval=3, seed=0)
    log, _, done = _drive(scheduler, n=8, steps=12, workers=2, seed=1)
    assert len(done) == 8
    events = scheduler.drain_events()
    waits = [e for e in events if e["event"] == "wait"]
    exploits = [e for e in events if e["event"] == "exploit"]
    assert waits and exploits and log
    assert all(e["step"] >= e["old_step"] for e in exploits)
    waited = {e["trial_id"] for e in waits}
    assert waited & {e["trial_id"] for e in exploits}
    assert not any(m.waiting for m in scheduler.members.values())


def test_synchronous_round_runs_when_the_last_straggler_dies():
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    s = PBTScheduler(space, perturbation_interval=2, synch=True, seed=0)
    for t, lr in zip("abc", (1e-3, 1e-2, 1e-1)):
        s.on_add(t, {"lr": lr})
    assert s.on_result("a", 1, 3.0) is Decision.CONTINUE
    assert s.on_result("a", 2, 3.0) is Decision.PAUSE
    assert s.on_result("b", 2, 1.0) is Decision.PAUSE
    assert s.choose([], ["a", "b"]) is None  # both wait for c
    s.on_error("c")  # c dies: the round happens without it
    queued = s.take_exploits()
    assert [(t, e.donor) for t, e in queued] == [("a", "b")]
    assert s.choose([], ["a", "b"]) in ("a", "b")


def test_a_diverged_member_exploits_at_once():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), perturbation_interval=10, seed=0)
    for t in "abcd":
        s.on_add(t, {"lr": 0.01})
    for t, loss in zip("abc", (1.0, 2.0, 3.0)):
        s.on_result(t, 2, loss)
    decision = s.on_result("d", 1, math.nan)
    assert isinstance(decision, Exploit) and decision.donor == "a"
    # a donor that is not ahead would send the member back in time (it could loop
    # forever): the diverged member then waits for its perturbation point
    assert s.on_result("a", 3, math.nan) is Decision.CONTINUE


def test_fair_share_pauses_ready_members_while_others_wait():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), perturbation_interval=2, seed=0)
    for t in "abc":
        s.on_add(t, {"lr": 0.01})
    assert s.choose(["a", "b", "c"], []) == "a"
    s.on_result("a", 1, 1.0)
    assert s.on_result("a", 2, 1.0) is Decision.PAUSE  # b and c have not run yet
    assert s.choose(["b", "c"], ["a"]) == "b"  # the one furthest behind runs next


def test_exploit_failed_restores_the_member():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), perturbation_interval=1, seed=0)
    for t in "ab":
        s.on_add(t, {"lr": 0.01 if t == "a" else 0.1})
    s.on_result("a", 1, 1.0)
    before = s.params_of("b")
    decision = s.on_result("b", 1, 5.0)
    assert isinstance(decision, Exploit)
    s.exploit_failed("b")
    assert s.params_of("b") == before and s.members["b"].loss == 5.0
    events = s.drain_events()
    assert [e["event"] for e in events][-2:] == ["exploit", "exploit_failed"]


def test_donor_filter_rules_out_members_without_checkpoints():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), perturbation_interval=1, seed=0)
    s.donor_filter = lambda t: t != "a"
    for t in "ab":
        s.on_add(t, {"lr": 0.01})
    s.on_result("a", 1, 1.0)
    assert not isinstance(s.on_result("b", 1, 5.0), Exploit)
    s.donor_filter = None
    s.on_result("a", 2, 1.0)
    assert isinstance(s.on_result("b", 2, 5.0), Exploit)


def test_state_round_trip_keeps_the_population():
    s = PB2Scheduler(TRAINING, perturbation_interval=3, max_data=8, seed=0)
    simulate(s, synthetic_curves(0, 27), n_trials=10, n_workers=4)
    assert s.n_data == 8  # a ring buffer, not a growing table
    state = json.loads(json.dumps(s.get_state(), allow_nan=False))
    fresh = PB2Scheduler(TRAINING, perturbation_interval=3, max_data=8, seed=99)
    fresh.set_state(state)
    assert {t: m.params for t, m in fresh.members.items()} == {
        t: m.params for t, m in s.members.items()
    }
    assert fresh.bandit.data == s.bandit.data
    # the space travels with the state: a core built without one restores it
    bare = PB2Scheduler(perturbation_interval=3, max_data=8)
    bare.set_state(state)
    assert bare.space == TRAINING
    other = PB2Scheduler(TRAINING, perturbation_interval=4, max_data=8)
    with pytest.raises(StateMismatchError, match="perturbation_interval"):
        other.set_state(state)


def test_pb2_is_pbt_with_the_gp_bandit_explore_step():
    def run(scheduler):
        result = simulate(scheduler, synthetic_curves(seed=3), n_trials=10, n_workers=4)
        return result.decision_log(), scheduler.drain_events()

    pb2 = PB2Scheduler(TRAINING, perturbation_interval=3, resample_probability=0.1, seed=5)
    bandit = GPBandit(resample_probability=0.1)
    plugged = PBTScheduler(TRAINING, perturbation_interval=3, explore=bandit, seed=5)
    log, events = run(pb2)
    assert any(e.get("explore") == "pb2" for e in events)
    assert run(plugged) == (log, events)
    assert plugged.recipe() == pb2.recipe()
    # PBT's own explore, given explicitly, is its default one
    explicit = PBTScheduler(MIXED, perturbation_interval=4, explore=Perturb(0.5), seed=1)
    default = PBTScheduler(MIXED, perturbation_interval=4, resample_probability=0.5, seed=1)
    assert run(explicit) == run(default)
    with pytest.raises(ValueError, match="resample_probability"):
        PBTScheduler(MIXED, resample_probability=0.5, explore=Perturb())


def test_re_adding_after_a_restore_takes_the_trial_config():
    s = PBTScheduler(Space({"lr": Float(1e-4, 1.0, log=True)}), seed=0)
    s.on_add("a", {"lr": 0.01})
    s.on_add("a", {"lr": 0.02})  # the config changed by an exploit the state missed
    assert s.params_of("a") == {"lr": 0.02}


def test_arguments_are_checked():
    space = Space({"lr": Float(1e-4, 1.0, log=True)})
    with pytest.raises(ValueError, match="quantile_fraction"):
        PBTScheduler(space, quantile_fraction=0.7)
    with pytest.raises(ValueError, match="perturbation_interval"):
        PBTScheduler(space, perturbation_interval=0)
    with pytest.raises(ValueError, match="nothing to mutate"):
        PBTScheduler(Space({"a": 1}))
    with pytest.raises(SpaceError, match="conditional"):
        PB2Scheduler(CONDITIONAL)
    with pytest.raises(RuntimeError, match="hyperparam_mutations"):
        PBTScheduler().on_add("a", {})
    assert isinstance(SCHEDULERS.create("pbt", hyperparam_mutations=space), PBTScheduler)
    assert isinstance(SCHEDULERS.create("pb2", hyperparam_bounds=space), PB2Scheduler)


def test_time_varying_gp_fits_and_forgets():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.repeat(np.arange(10.0), 6), rng.random((60, 2))])
    y = np.sin(6 * X[:, 1]) + 0.05 * rng.normal(size=60)
    y = (y - y.mean()) / y.std()
    gp = TimeVaryingGP().fit(X, y)
    mean, sd = gp.predict(X[-6:])
    assert np.corrcoef(mean, y[-6:])[0, 1] > 0.9 and (sd < 0.5).all()
    _, far = gp.predict(np.array([[10.0, 0.5, 0.5], [40.0, 0.5, 0.5]]))
    assert far[1] >= far[0]  # the distant future is more uncertain
    gp.set_pending(np.array([[10.0, 0.5, 0.5]]))
    _, lowered = gp.predict(np.array([[10.0, 0.5, 0.5]]))
    assert lowered[0] < far[0]  # a chosen, unobserved input lowers the variance there


# ----------------------------------------------------------------------------- lineage
def _lineage_run(tmp_path, seed=0):
    space = Space({"lr": Float(1e-4, 1.0, log=True), "b": Categorical([16, 32, 64], ordered=True)})
    s = PBTScheduler(space, perturbation_interval=3, seed=seed)
    simulate(s, synthetic_curves(seed=1), n_trials=8, n_workers=8)
    path = tmp_path / LINEAGE_FILE
    writer = LineageWriter(path)
    writer.write(
        [
            {
                "event": "header",
                "metric": "loss",
                "mode": "min",
                "time_attr": "epoch",
                "space": space.to_dict(),
            }
        ]
    )
    writer.write(s.drain_events())
    return s, path


def test_lineage_rebuilds_inherited_schedules(tmp_path):
    s, path = _lineage_run(tmp_path)
    lineage = read_lineage(tmp_path)
    assert set(lineage.members()) == set(s.members)
    exploit = next(e for e in lineage.events if e["event"] == "exploit")
    donor, step = exploit["donor"], exploit["step"]
    assert lineage.n_exploits() == sum(m.n_exploits for m in s.members.values())
    best = lineage.best()
    assert best is not None
    for member in lineage.members():
        schedule = lineage.schedule(member)
        assert schedule[0][0] == 0.0
        assert [a for a, _ in schedule] == sorted(a for a, _ in schedule)
    # the exploiting member's history up to the exploit is the donor's
    donor_at = [p for a, p in lineage.schedule(donor) if a < step]
    assert donor_at  # the donor has a history before the exploit


def test_lineage_after_a_restore_drops_superseded_events(tmp_path):
    path = tmp_path / LINEAGE_FILE
    writer = LineageWriter(path)
    writer.write(
        [
            {"event": "start", "id": 0, "trial_id": "a", "params": {"lr": 0.1}},
            {"event": "start", "id": 1, "trial_id": "b", "params": {"lr": 0.2}},
            {
                "event": "exploit",
                "id": 2,
                "trial_id": "b",
                "donor": "a",
                "step": 3,
                "params": {"lr": 0.5},
            },
            {"event": "restore", "next_id": 2},
            {"event": "ready", "id": 2, "trial_id": "a", "step": 3, "score": 1.0},
        ]
    )
    with open(path, "a") as f:
        f.write('{"event": "ready", "id": 3, "trial_')  # a line cut short by a crash
    lineage = read_lineage(path)
    assert lineage.n_exploits() == 0
    assert lineage.schedule("b") == [(0.0, {"lr": 0.2})]


def test_lineage_plot_is_drawn(tmp_path):
    _, _ = _lineage_run(tmp_path)
    out = tmp_path / "lineage.png"
    fig = plot_lineage(tmp_path, out)
    assert out.exists() and out.stat().st_size > 10_000
    assert len(fig.axes) == 3  # score, lr, b
    assert fig.axes[1].get_yscale() == "log"
    with pytest.raises(FileNotFoundError, match="not a raysearch PBT"):
        read_lineage(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("cls", "old_path", "kwargs"),
    [
        (PBTScheduler, "raysearch.schedulers.pbt:PBTScheduler", {"hyperparam_mutations": MIXED}),
        (PB2Scheduler, "raysearch.schedulers.pb2:PB2Scheduler", {"hyperparam_bounds": TRAINING}),
    ],
)
def test_state_saved_before_the_move_restores(cls: type, old_path: str, kwargs: dict) -> None:
    """Experiments saved before PBT/PB2 moved to schedulers/pbt/ still resume; a state of
    another class is still refused."""
    run = simulate(
        cls(seed=0, perturbation_interval=4, **kwargs),
        synthetic_curves(0),
        n_trials=8,
        n_workers=4,
        stop_after_events=30,
    )
    assert run.state is not None
    state = json.loads(json.dumps(run.state["scheduler"]))
    state["class"] = old_path
    restored = cls(seed=0, perturbation_interval=4, **kwargs)
    restored.set_state(state)
    assert restored.get_state()["data"] == run.state["scheduler"]["data"]
    state["class"] = "raysearch.schedulers.asha:ASHAScheduler"
    with pytest.raises(StateMismatchError):
        cls(seed=0, perturbation_interval=4, **kwargs).set_state(state)
