"""ASHA's ``min_rank_corr``: rungs select only where early ranks predict final ones."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from raysearch.core.types import Decision
from raysearch.schedulers.asha import ASHAScheduler
from raysearch.schedulers.rankcorr import RungGate, correlation_bound, spearman
from raysearch.testing.simulate import simulate

MAX_T = 27


def _curves(crossing: bool):
    """Per trial a final loss in [0, 1); with ``crossing`` the early losses rank in the
    opposite order (slow starters end best), else in the same order."""

    def curve(trial_id: str, config: dict[str, Any]) -> list[float]:
        i = int(trial_id.split("_")[1])
        final = float(np.random.default_rng([7, i]).uniform())
        start = 3.0 - final if crossing else 2.0 + final
        t = np.arange(1, MAX_T + 1)
        return list(final + (start - final) * np.exp(-0.15 * t))

    return curve


def _asha(min_rank_corr: float | None, variant: str = "stop") -> ASHAScheduler:
    return ASHAScheduler(
        grace_period=1,
        max_t=MAX_T,
        reduction_factor=3,
        variant=variant,
        min_rank_corr=min_rank_corr,
        warmup=6,
        seed=0,
    )


def _best_reached_end(result: Any, curve: Any, n: int) -> bool:
    finals = {f"trial_{i}": curve(f"trial_{i}", {})[-1] for i in range(n)}
    best = min(finals, key=finals.__getitem__)
    return any(e.trial_id == best and e.step == MAX_T for e in result.events)


def test_spearman_and_its_bound() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0
    assert correlation_bound(0.9, 3) == -1.0
    # more pairs, tighter bound; always below the estimate
    assert correlation_bound(0.9, 5) < correlation_bound(0.9, 30) < 0.9


@pytest.mark.parametrize("variant", ["stop", "promote"])
def test_misleading_early_ranks_close_the_rungs(variant: str) -> None:
    curve, n = _curves(crossing=True), 40
    plain = simulate(_asha(None, variant), curve, n_trials=n, n_workers=4)
    gated_scheduler = _asha(0.3, variant)
    gated = simulate(gated_scheduler, curve, n_trials=n, n_workers=4)
    assert not _best_reached_end(plain, curve, n)  # rank-based stopping kills the winner
    assert _best_reached_end(gated, curve, n)
    gate = gated_scheduler._gate
    assert gate is not None
    rho, pairs = gate.correlation(gated_scheduler._rungs[0][0])
    assert pairs >= 6 and rho < 0


def test_predictive_early_ranks_open_the_rungs() -> None:
    curve, n = _curves(crossing=False), 60
    fifo_compute = n * MAX_T
    gated = simulate(_asha(0.3), curve, n_trials=n, n_workers=4)
    assert gated.compute < fifo_compute / 2  # rungs open after the warm-up: trials stop early
    assert _best_reached_end(gated, curve, n)
    stopped_at_1 = [
        t
        for t in {e.trial_id for e in gated.events}
        if max(e.step for e in gated.events if e.trial_id == t) == 1
    ]
    assert len(stopped_at_1) > n / 3


def test_warmup_trials_pass_every_rung() -> None:
    s = _asha(0.3)
    for t in "abcdefgh":
        s.on_add(t)
    for step in (1, 3, 9):
        for k, t in enumerate("abcdefg"):  # warm-up (6) pass whatever their loss
            decision = s.on_result(t, step, 10.0 - k if t != "g" else 100.0)
            assert decision is Decision.CONTINUE or t == "g"
    # "g" is not warm-up, but no rung is open yet (no final values): it passes too
    assert s.on_result("g", 1, 100.0) is Decision.CONTINUE


def test_state_round_trip_continues_identically() -> None:
    curve, n = _curves(crossing=True), 30
    whole = simulate(_asha(0.3), curve, n_trials=n, n_workers=3)
    first = _asha(0.3)
    cut = simulate(first, curve, n_trials=n, n_workers=3, stop_after_events=300)
    assert cut.state is not None
    state = json.loads(json.dumps(first.get_state(), allow_nan=False))
    assert state["data"]["gate"]["finals"]
    restored = _asha(0.3)
    restored.set_state(state)
    rest = simulate(restored, curve, n_trials=n, n_workers=3, resume_from=cut.state)
    assert rest.decision_log() == whole.decision_log()
    assert restored.recipe()["min_rank_corr"] == 0.3


def test_bad_gate_arguments() -> None:
    with pytest.raises(ValueError, match="min_rank_corr"):
        RungGate(1.5)
    with pytest.raises(ValueError, match="warmup"):
        ASHAScheduler(max_t=9, min_rank_corr=0.3, warmup=-1)


def test_presets_and_plugin_take_min_rank_corr() -> None:
    from raysearch.space import Float, Space
    from raysearch.tune.presets import asha_gp, bohb

    space = Space({"x": Float(0.0, 1.0)})
    _, scheduler = bohb(space, "loss", "min", max_t=27, min_rank_corr=0.3, seed=0)
    assert scheduler.core.recipe()["min_rank_corr"] == 0.3
    _, plain = asha_gp(space, "loss", "min", max_t=27, seed=0)
    assert plain.core.recipe()["min_rank_corr"] is None
