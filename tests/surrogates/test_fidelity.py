"""The fidelity-as-input GP: training rows from learning curves, the view at the top step,
and GPSearch(fidelity=True) learning from trials stopped at low rungs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from raysearch.core.types import Trial, TrialStatus
from raysearch.searchers.gp import GPSearch
from raysearch.searchers.multifidelity import MultiFidelitySearch
from raysearch.space import Float, Space
from raysearch.surrogates.fidelity import AtFidelity, curve_rows, ladder
from raysearch.surrogates.gp import GaussianProcess, default_theta


def test_ladder_and_rows_follow_the_rungs():
    assert ladder(27, 1) == [1.0, 3.0, 9.0, 27.0]
    assert ladder(5, 5) == [5.0]
    a = Trial("a", {"x": 0.1}, TrialStatus.COMPLETE, 0.2)
    a.intermediate = {float(s): 1.0 / s for s in range(1, 28)}
    b = Trial("b", {"x": 0.5}, TrialStatus.PRUNED, 0.9)
    b.intermediate = {1.0: 0.95, 2.0: 0.9}
    c = Trial("c", {"x": 0.7})  # running, one report
    c.intermediate = {1.0: 0.8}
    d = Trial("d", {"x": 0.9}, TrialStatus.FAILED)
    d.intermediate = {1.0: 0.1}
    rows, z, values = curve_rows([a, b, c, d])
    assert [t.trial_id for t in rows] == ["a"] * 4 + ["b", "c"]  # b stopped below rung 3
    np.testing.assert_allclose(z, [0, 1 / 3, 2 / 3, 1, 0, 0])
    np.testing.assert_allclose(values, [1.0, 1 / 3, 1 / 9, 1 / 27, 0.95, 0.8])


def test_view_at_the_top_fidelity_has_the_gps_gradients():
    rng = np.random.default_rng(0)
    X = rng.random((12, 3))
    gp = GaussianProcess(X, np.sin(4 * X).sum(1), default_theta(3))
    view = AtFidelity(gp)
    Z = rng.random((1, 2))
    p = view.predict(Z, grad=True)
    np.testing.assert_allclose(p.mean, gp.predict(np.hstack([Z, [[1.0]]])).mean)
    assert p.dmean is not None and p.dmean.shape == (1, 2)
    fd = approx_fprime(Z[0], lambda z: float(view.predict(z[None]).mean[0]), 1e-6)
    np.testing.assert_allclose(p.dmean[0], fd, rtol=1e-4, atol=1e-6)
    assert view.lengthscales.shape == (2,)
    conditioned = view.condition(Z, p.mean)
    assert conditioned.predict(Z).var[0] < 1e-3 * p.var[0]


def _crossing(x: float, step: int) -> float:
    """Learning curves that cross: small x learns fast but ends worse; optimum x = 0.8."""
    return (x - 0.8) ** 2 + (1.0 - x) * 2.0 / step


@pytest.mark.parametrize("seed", [0, 1])
def test_fidelity_gp_learns_from_stopped_trials_and_round_trips(seed):
    space = Space({"x": Float(0.0, 1.0)})
    s = MultiFidelitySearch(
        space, searcher="gp", searcher_kwargs={"n_init": 6, "fidelity": True}, seed=seed
    )
    for i in range(24):
        p = s.ask(f"t{i}")
        assert isinstance(p, dict)
        last = 27 if i % 4 == 0 else 3  # most trials stop at rung 3
        for step in range(1, last + 1):
            s.report(f"t{i}", step, _crossing(p["x"], step))
        status = TrialStatus.COMPLETE if last == 27 else TrialStatus.PRUNED
        s.tell(f"t{i}", _crossing(p["x"], last), status=status)
    inner = s.inner
    assert isinstance(inner, GPSearch) and inner.fidelity
    assert inner.last_train_size > 24  # every rung of every trial
    # the model's top-fidelity minimum is near 0.8, though most trials stopped at rung 3,
    # where the minimum is at 1
    xs = [s.ask(f"n{k}")["x"] for k in range(3)]  # type: ignore[index]
    assert min(abs(x - 0.8) for x in xs) < 0.1
    copy = MultiFidelitySearch(
        space, searcher="gp", searcher_kwargs={"n_init": 6, "fidelity": True}, seed=seed
    )
    copy.set_state(json.loads(json.dumps(s.get_state())))
    assert copy.ask("again") == s.ask("again")
