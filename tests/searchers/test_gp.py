"""GP: the surrogate's numbers, LogEI, the searcher's steps, conformance, the Tune plugin."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import norm

from raysearch.core import optimize
from raysearch.core.registry import SEARCHERS
from raysearch.searchers import RandomSearch
from raysearch.searchers.gp import EXPLOIT_MAX_NOISE, GPSearch, select_training
from raysearch.space import Categorical, Float, Int, Space, when
from raysearch.surrogates.gp import (
    WARP_MIN_LAMBDA,
    GaussianProcess,
    default_theta,
    fit_theta,
    log_ei,
    log_h,
    neg_log_posterior,
    warp_outputs,
    yeojohnson_lambda,
)


# ----------------------------------------------------------------------------- surrogate
def _data(n: int = 15, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(5 * X[:, 0]) + X[:, 1] ** 2
    return X, (y - y.mean()) / y.std()


def test_marginal_likelihood_gradient_matches_finite_differences():
    X, y = _data()
    theta = default_theta(3) + np.random.default_rng(1).normal(0, 0.3, 5)
    num = approx_fprime(theta, lambda t: neg_log_posterior(t, X, y)[0], 1e-6)
    np.testing.assert_allclose(neg_log_posterior(theta, X, y)[1], num, rtol=1e-3, atol=1e-3)


def test_posterior_interpolates_and_reverts_to_the_prior():
    X, y = _data()
    theta = fit_theta(X, y)
    gp = GaussianProcess(X, y, theta)
    post = gp.predict(X)
    np.testing.assert_allclose(post.mean, y, atol=0.2)
    far = gp.predict(np.full((1, 3), 50.0))
    assert abs(far.mean[0]) < 1e-6 and far.var[0] == pytest.approx(math.exp(theta[3]))


def test_log_ei_gradient_matches_finite_differences():
    X, y = _data()
    gp = GaussianProcess(X, y, fit_theta(X, y))
    for z in np.random.default_rng(2).random((3, 3)):
        p = gp.predict(z[None], grad=True)
        _, g = log_ei(p.mean, p.var, -1.0, p.dmean, p.dvar)
        assert g is not None

        def f(x: np.ndarray) -> float:
            q = gp.predict(x[None])
            return float(log_ei(q.mean, q.var, -1.0)[0][0])

        np.testing.assert_allclose(g[0], approx_fprime(z, f, 1e-7), rtol=1e-3, atol=1e-4)


def test_log_h_is_accurate_and_finite_far_in_the_tail():
    z = np.array([-5.0, -1.5, -1.0, -0.5, 0.0, 2.0])
    ref = np.log(norm.pdf(z) + z * norm.cdf(z))
    np.testing.assert_allclose(log_h(z), ref, rtol=1e-9)
    tail = log_h(np.array([-40.0, -1e3, -1e9]))
    assert np.all(np.isfinite(tail)) and np.all(np.diff(tail) < 0)  # naive log(h) is -inf
    # around -1/sqrt(eps) the paper's middle formula rounds to log(0): NaN before the switch
    band = -np.linspace(5.5e7, 6.8e7, 1001)
    vals = log_h(band)
    assert np.all(np.isfinite(vals)) and np.all(np.diff(vals) < 0)
    asym = -0.5 * band**2 - 0.5 * math.log(2 * math.pi) - 2 * np.log(-band)
    np.testing.assert_allclose(vals, asym, rtol=1e-12)
    # both sides of the asymptotic switch agree with the exact series to 3/z^2
    z2 = np.array([-1e4 * (1 + 1e-9), -1e4 * (1 - 1e-9)])
    np.testing.assert_allclose(
        log_h(z2),
        -0.5 * z2**2 - 0.5 * math.log(2 * math.pi) - 2 * np.log(-z2) - 3 / z2**2,
        atol=1e-7,
    )


def test_posterior_gradients_match_finite_differences():
    """The mean and variance gradients (computed without the (m, n, d) difference
    array) against central differences, for a batch of points."""
    X, y = _data(40, 4)
    gp = GaussianProcess(X, y, fit_theta(X, y))
    Z = np.random.default_rng(5).random((6, 4))
    p = gp.predict(Z, grad=True)
    assert p.dmean is not None and p.dvar is not None
    h = 1e-6
    for j in range(4):
        dz = np.zeros(4)
        dz[j] = h
        up, down = gp.predict(Z + dz), gp.predict(Z - dz)
        np.testing.assert_allclose(p.dmean[:, j], (up.mean - down.mean) / (2 * h), atol=1e-5)
        np.testing.assert_allclose(p.dvar[:, j], (up.var - down.var) / (2 * h), atol=1e-5)
    # mean and variance through the cached L^-1 equal the textbook definitions
    from scipy import linalg

    Ks = _cross_cov(gp, Z)
    np.testing.assert_allclose(p.mean, Ks @ linalg.cho_solve((gp.L, True), gp.y), atol=1e-10)
    V = linalg.solve_triangular(gp.L, Ks.T, lower=True)
    np.testing.assert_allclose(p.var, np.maximum(gp.s - (V * V).sum(axis=0), 1e-12), rtol=1e-9)


def _cross_cov(gp: GaussianProcess, Z: np.ndarray) -> np.ndarray:
    r = np.sqrt((((Z[:, None, :] - gp.X[None, :, :]) ** 2) * gp.inv_l2).sum(axis=2))
    return gp.s * (1 + math.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-math.sqrt(5) * r)


def test_kriging_believer_collapses_variance_at_pending_points():
    X, y = _data()
    gp = GaussianProcess(X, y, fit_theta(X, y))
    Z = np.array([[0.9, 0.9, 0.1]])
    before = gp.predict(Z)
    after = gp.condition(Z, before.mean).predict(Z)
    assert after.var[0] < 0.1 * before.var[0]
    assert after.mean[0] == pytest.approx(before.mean[0], abs=1e-2)


def test_training_selection_keeps_the_best_and_the_recent():
    values = np.arange(400, dtype=float)[::-1]  # the newest are the best
    keep = select_training(values, 100)
    assert len(keep) == 100 and keep[-1] == 399
    values = np.arange(400, dtype=float)  # the oldest are the best
    keep = select_training(values, 100)
    assert set(range(30)) <= set(keep.tolist()) and 399 in keep and len(keep) == 100
    assert np.array_equal(select_training(values[:50], 100), np.arange(50))


# ----------------------------------------------------------------------------- the searcher
def _branin(c: dict) -> float:
    x1, x2 = c["x1"], c["x2"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


BRANIN = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})
XY = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def _quadratic(c: dict) -> float:
    return (c["x"] - 0.2) ** 2 + (c["y"] - 0.7) ** 2


def test_beats_random_search_on_branin():
    regret = []
    for cls in (GPSearch, RandomSearch):
        r = optimize(cls(BRANIN, seed=0), _branin, 40)
        regret.append(float(np.nanmin(r.values)) - 0.397887357729739)
    assert regret[0] < 1e-3 and regret[1] > 0.1  # random search's 40 trials stay above 0.1


def test_initial_design_grows_with_dimension():
    small = GPSearch(XY, seed=0)
    mid = GPSearch(Space({f"x{i}": Float(0, 1) for i in range(12)}), seed=0)
    big = GPSearch(Space({f"x{i}": Float(0, 1) for i in range(24)}), seed=0)
    assert small.n_init == 10 and mid.n_init == 10 and big.n_init == 16


def test_pending_points_spread_out():
    """4 suggestions with nothing told back land apart (kriging believer); by default the
    exploitation trial may sit next to the first suggestion, but never on it."""
    for seed in range(3):
        for share in (0.0, 0.5):
            searcher = GPSearch(BRANIN, seed=seed, exploit_share=share)
            optimize(searcher, _branin, 12)
            pts = [searcher.ask(f"p{i}") for i in range(4)]
            believer = [i for i in range(4) if f"p{i}" not in searcher._exploit]
            assert len(believer) == (4 if share == 0 else 3)
            unit = np.array([[(p["x1"] + 5) / 15, p["x2"] / 15] for p in pts])
            dists = np.linalg.norm(unit[:, None] - unit[None], axis=-1)
            apart = dists[np.ix_(believer, believer)][np.triu_indices(len(believer), 1)]
            assert apart.min() > 0.02, (seed, share, pts)
            assert dists[np.triu_indices(4, 1)].min() > 1e-4, (seed, share, pts)
            assert len(searcher.pending) == 4


def test_output_warp_is_monotone_and_unskews():
    rng = np.random.default_rng(0)
    # a plateau with a few deep values (Hartmann-like): heavily left-skewed
    values = np.concatenate([-rng.exponential(0.05, 40), [-3.0, -2.5, -1.8]])
    for kind in ("yeo-johnson", "none"):
        y = warp_outputs(values, kind)
        assert np.array_equal(np.argsort(y, kind="stable"), np.argsort(values, kind="stable"))
        assert abs(y.mean()) < 1e-9 and y.std() == pytest.approx(1.0)
    plain, warped = warp_outputs(values, "none"), warp_outputs(values, "yeo-johnson")
    skew = lambda v: float(np.mean(v**3))  # noqa: E731 (standardised already)
    assert skew(plain) < -2.0 and abs(skew(warped)) < 0.5 * abs(skew(plain))
    # a bowl's heavy upper tail: the maximum-likelihood exponent is below the floor
    from scipy import stats

    bowl = np.concatenate([rng.exponential(1.0, 40) ** 3, [0.0]])
    z = stats.yeojohnson(warp_outputs(bowl, "none"), lmbda=WARP_MIN_LAMBDA)
    assert stats.yeojohnson_normmax(warp_outputs(bowl, "none")) < WARP_MIN_LAMBDA
    assert np.allclose(warp_outputs(bowl), (z - z.mean()) / z.std())
    # degenerate inputs stay finite
    assert np.array_equal(warp_outputs(np.full(5, 2.0)), np.zeros(5))
    assert np.all(np.isfinite(warp_outputs(np.array([1.0, 1e12, 1e-12, 5.0]))))
    with pytest.raises(ValueError, match="warp"):
        warp_outputs(values, "log")


def test_yeojohnson_exponent_equals_scipys():
    """Our numpy search gives scipy's yeojohnson_normmax exactly (same bounds, same
    fminbound, same log-likelihood formulas), on symmetric, skewed and one-signed data."""
    from scipy import stats

    rng = np.random.default_rng(3)
    cases = [
        rng.standard_normal(50),
        rng.exponential(size=80),
        -3 * rng.exponential(size=40),
        rng.standard_normal(200) ** 3,
        np.array([0.0, 0.0, 1.0]),
    ]
    for x in cases:
        assert yeojohnson_lambda(x) == stats.yeojohnson_normmax(x)
    assert yeojohnson_lambda(np.zeros(4)) == 1.0
    with pytest.raises(ValueError, match="finite"):
        yeojohnson_lambda(np.array([1.0, np.inf]))


def test_vectorised_candidates_equal_the_per_assignment_route():
    """The numpy unit-to-encoding path gives the rows (to rounding) and, decoded, exactly the
    assignments of ``space.from_unit`` then ``encode``, on every parameter kind."""
    from raysearch.space import Normal

    space = Space(
        {
            "lr": Float(1e-5, 1.0, log=True),
            "frac": Float(0.0, 1.0, step=0.1),
            "width": Int(1, 1000, log=True),
            "depth": Int(2, 9),
            "big": Int(0, 100_000),
            "act": Categorical(["relu", "gelu", "tanh"]),
            "batch": Categorical([16, 32, 64], ordered=True),
            "shift": Normal(0.0, 2.0),
            "grid": Float(1.0, 1e3, log=True, step=1.0),
        }
    )
    s = GPSearch(space, seed=0)
    kinds = {m.how for m in s.encoding.unit_maps}
    assert kinds == {"unit", "cells", "onehot", "scalar"}
    U = np.random.default_rng(0).random((3000, len(space.entries)))
    U[:5], U[5:10] = 0.0, np.nextafter(1.0, 0.0)
    E = s.encoding.encode_unit(U)
    ref = s.encoding.encode_many([space.from_unit(u) for u in U])
    np.testing.assert_allclose(E, ref, rtol=0, atol=1e-12)
    assert all(s.encoding.decode(E[i]) == space.from_unit(U[i]) for i in range(len(U)))
    # a suggestion decodes only the rows it looks at, and is a valid assignment
    searcher = GPSearch(space, seed=1, n_init=3, n_candidates=64, n_restarts=2)
    for i in range(6):
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict) and set(params) == set(space.names)
        assert all(space[k].contains(v) for k, v in params.items())
        searcher.tell(f"t{i}", float(np.log(params["lr"])) + params["depth"])


def test_exploitation_share_of_pending_trials():
    """With 4 in flight, 2 are posterior-mean minimisers; never a point already known;
    exploit_share=0 gives pure kriging believer."""
    searcher = GPSearch(BRANIN, seed=1)
    optimize(searcher, _branin, 15)
    pts = [searcher.ask(f"p{i}") for i in range(4)]
    exploit = sorted(searcher._exploit)
    assert exploit == ["p1"], exploit  # p3 would repeat p1's minimiser: believer instead
    # p1 minimises the posterior mean: below the mean at every observed point
    train, values, _ = searcher._training_data()
    X = searcher._domain.features(np.array([searcher._encode(t) for t in train]))
    gp = GaussianProcess(X, warp_outputs(values), searcher._theta)
    feats = searcher._domain.features(searcher.encoding.encode_many(pts))
    assert gp.predict(feats[1:2]).mean[0] <= gp.predict(X).mean.min() + 1e-9
    searcher.tell("p1", _branin(pts[1]))
    assert not searcher._exploit  # told trials leave the set
    off = GPSearch(BRANIN, seed=1, exploit_share=0.0)
    optimize(off, _branin, 15)
    for i in range(4):
        off.ask(f"p{i}")
    assert not off._exploit


def test_no_exploitation_slot_on_a_noisy_loss():
    """Refining the posterior mean's minimum chases lucky draws when the GP sees noise:
    with noise at least EXPLOIT_MAX_NOISE of the signal, every pending slot is LogEI."""
    rng = np.random.default_rng(0)

    def noisy(c):
        return _branin(c) / 50.0 + rng.normal(0.0, 0.5)

    searcher = GPSearch(BRANIN, seed=1)
    optimize(searcher, noisy, 25)
    theta = searcher._theta
    assert theta is not None and math.exp(theta[-1] - theta[-2]) >= EXPLOIT_MAX_NOISE
    for i in range(4):
        assert isinstance(searcher.ask(f"p{i}"), dict)
    assert not searcher._exploit


def test_save_restore_with_pending_trials_continues_identically():
    a = GPSearch(BRANIN, seed=2)
    optimize(a, _branin, 14)
    first = [a.ask(f"q{i}") for i in range(3)]
    assert a._exploit
    state = json.loads(json.dumps(a.get_state()))
    b = GPSearch(BRANIN, seed=9)
    b.set_state(state)
    assert b._exploit == a._exploit
    for i, p in enumerate(first):  # finish the pending ones, keep 3 in flight
        for s, tid in ((a, f"q{i}"), (b, f"q{i}")):
            s.tell(tid, _branin(p))
        pa, pb = a.ask(f"r{i}"), b.ask(f"r{i}")
        assert pa == pb


def test_save_restore_mid_run_continues_identically():
    a = GPSearch(BRANIN, seed=5)
    optimize(a, _branin, 15)
    state = json.loads(json.dumps(a.get_state()))
    assert state["data"]["extra"]["theta"] is not None  # warm-start hyperparameters saved
    b = GPSearch(BRANIN, seed=123)
    b.set_state(state)
    for i in range(5):
        pa, pb = a.ask(f"n{i}"), b.ask(f"n{i}")
        assert pa == pb
        a.tell(f"n{i}", _branin(pa))
        b.tell(f"n{i}", _branin(pb))


def test_conditional_space_finds_the_conditional_optimum():
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": when({"opt": "sgd"}, Float(0.0, 1.0)),
            "layers": Int(1, 6),
        }
    )

    def loss(c: dict) -> float:
        base = abs(math.log10(c["lr"]) + 2) + 0.1 * abs(c["layers"] - 3)
        return base + (abs(c["momentum"] - 0.9) if c["opt"] == "sgd" else 0.5)

    searcher = GPSearch(space, seed=0)
    result = optimize(searcher, loss, 40)
    best = result.best
    assert best is not None and best.config["opt"] == "sgd"
    assert best.config["momentum"] == pytest.approx(0.9, abs=0.15)
    assert best.value < 0.3
    # inactive momentum is imputed, and one indicator column marks the sgd sub-space
    assert searcher._domain.n_features == searcher.encoding.dim + 1


def test_training_set_is_capped_at_hundreds_of_observations():
    searcher = GPSearch(XY, seed=0, max_train=60, n_candidates=32, n_restarts=1)
    rng = np.random.default_rng(0)
    for _i in range(300):
        params = {"x": float(rng.random()), "y": float(rng.random())}
        searcher.add_observation(params, _quadratic(params), flat=True)
    assert isinstance(searcher.ask("next"), dict)
    assert searcher.last_train_size == 60


def test_trust_region_above_twenty_dimensions():
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(24)})
    searcher = GPSearch(space, seed=0, n_candidates=64, n_restarts=2)
    assert searcher.uses_trust_region
    result = optimize(searcher, lambda c: sum((v - 0.3) ** 2 for v in c.values()), 40)
    rnd = optimize(
        RandomSearch(space, seed=0), lambda c: sum((v - 0.3) ** 2 for v in c.values()), 40
    )
    assert np.nanmin(result.values) < np.nanmin(rnd.values)
    assert 0 < searcher._tr_length <= 1.6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_init": -1},
        {"n_candidates": 0},
        {"n_restarts": -1},
        {"max_train": 5},
        {"refit_every": 0},
        {"tr_dims": 0},
        {"output_warp": "log"},
        {"exploit_share": 1.5},
    ],
)
def test_bad_arguments_name_themselves(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        GPSearch(XY, **kwargs)


def test_registry_and_tune_plugin():
    searcher = SEARCHERS.create("gp", seed=0, n_init=3)
    assert isinstance(searcher, GPSearch) and searcher.n_init_arg == 3
    pytest.importorskip("ray.tune")
    from raysearch.tune import GPSearch as TuneGP

    plugin = TuneGP({"x": Float(0, 1)}, metric="loss", mode="min", seed=0, n_init=5)
    assert isinstance(plugin.core, GPSearch) and plugin.core.n_init == 5


@pytest.mark.slow
def test_not_worse_than_random_on_a_real_mlp_table():
    """HPOBench's MLP table of vehicle (5 ordinal parameters, a flat top), mean over 3
    seeds of the best loss after 30 trials, sequential and with 4 pending."""
    from raysearch.bench.functions import problem

    space, f, optimum = problem("mlp_vehicle")
    for parallel in (1, 4):
        regret = {}
        for name in ("gp", "random"):
            runs = []
            for seed in range(3):
                searcher = SEARCHERS.create(name, seed=seed)
                searcher.setup(space)
                runs.append(min(optimize(searcher, f, 30, n_parallel=parallel).values))
            regret[name] = float(np.mean(runs)) - optimum
        assert regret["gp"] <= regret["random"], (parallel, regret)
