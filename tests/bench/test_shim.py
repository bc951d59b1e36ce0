"""The multifidelity bench drives Ray's own schedulers through a shim of Tune's controller:
it must make them behave as under Tune (pause, resume, stop), or the peers' numbers lie."""

from __future__ import annotations

import collections

import pytest

from raysearch.testing.simulate import simulate, synthetic_curves

pytest.importorskip("ray.tune.schedulers")

from raysearch.bench import multifidelity as mf


def test_ray_hyperband_halves_its_brackets() -> None:
    curves = synthetic_curves(seed=3, max_steps=mf.MAX_T, nan_rate=0.0)
    shim = mf.ray_hyperband()
    result = simulate(shim, curves, n_trials=49, n_workers=4, n_pending=16)
    steps: dict[str, int] = {}
    for tid, step, _ in result.log:
        steps[tid] = max(steps.get(tid, 0), int(step))
    final = collections.Counter(steps.values())
    # One band of Ray's Hyperband (max_t=27, eta=3): brackets of 4 x 27, 6 x 9, 12 x 3,
    # 27 x 1 steps, each keeping the best third (rounded up) at every rung: 4 + 2 + 2 + 1
    # trials run to the end.
    assert final[mf.MAX_T] == 9
    assert result.compute == 4 * 27 + (6 * 9 + 2 * 18) + (12 * 3 + 4 * 6 + 2 * 18) + (
        27 * 1 + 9 * 2 + 3 * 6 + 1 * 18
    )
    # waiting trials it stopped are gone from its brackets (Tune's ``on_trial_remove``)
    live = sum(len(b._live_trials) for band in shim.ray._hyperbands for b in band)
    assert live == 0


def test_one_pending_trial_lets_ray_hyperband_refill_the_full_bracket() -> None:
    # Why the shim adds trials ahead (``n_pending``): Ray's Hyperband counts a bracket's
    # live trials, so when trials are added only as workers free up, the finished ones have
    # left the first (max_t) bracket and every new trial lands in it and runs to max_t.
    curves = synthetic_curves(seed=3, max_steps=mf.MAX_T, nan_rate=0.0)
    result = simulate(mf.ray_hyperband(), curves, n_trials=20, n_workers=4, n_pending=1)
    assert result.compute == 20 * mf.MAX_T
