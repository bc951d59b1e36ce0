"""TPE: the Parzen estimator's numbers, the searcher's steps, multi-fidelity, the Tune plugin."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from raysearch.core import optimize
from raysearch.core.registry import SEARCHERS
from raysearch.core.types import Trial, TrialStatus
from raysearch.searchers import RandomSearch, TPESearch
from raysearch.searchers.tpe import (
    _groups,
    bad_weights,
    fidelity_step,
    n_good,
)
from raysearch.space import Categorical, Float, Int, Space, repeat, when
from raysearch.surrogates.parzen import (
    ColumnSpec,
    ParzenEstimator,
    categorical_bandwidth,
    column_spec,
    log_gauss_mass,
    numeric_bandwidths,
)

CONT = ColumnSpec("continuous")


def _discrete(n: int) -> ColumnSpec:
    edges = np.linspace(0.0, 1.0, n + 1)
    return ColumnSpec("discrete", n, edges, (edges[:-1] + edges[1:]) / 2)


# ----------------------------------------------------------------------------- parzen
def _reference_log_mass(a: float, b: float) -> float:
    """log(Phi(b) - Phi(a)) from scipy.stats, through the tail that keeps precision."""
    if a >= 0:  # upper tail: survival functions
        return float(norm.logsf(a) + np.log1p(-np.exp(norm.logsf(b) - norm.logsf(a))))
    if b <= 0:  # lower tail: log CDFs
        return float(norm.logcdf(b) + np.log1p(-np.exp(norm.logcdf(a) - norm.logcdf(b))))
    return float(np.log(norm.cdf(b) - norm.cdf(a)))


def test_log_gauss_mass_matches_scipy_in_both_tails():
    a = np.array([-1.0, 0.5, 8.0, -40.0, 30.0, -0.1])
    b = np.array([1.0, 2.0, 9.0, -39.0, 31.0, 0.1])
    got = log_gauss_mass(a, b)
    assert np.all(np.isfinite(got))  # the naive difference underflows to log(0) here
    np.testing.assert_allclose(got, [_reference_log_mass(x, y) for x, y in zip(a, b)], rtol=1e-9)


def test_neighbor_bandwidths_by_hand():
    mus = np.array([0.5, 0.1, 0.7])
    # sorted 0.1, 0.5, 0.7 with endpoints 0 and 1; outer kernels look inwards only
    sig = numeric_bandwidths(mus, rule="neighbor")
    np.testing.assert_allclose(sig, [0.4, 0.4, 0.2])
    # the magic clip floor is 1 / min(100, n + 2): n = 3 -> 0.2; counting 98 trials -> 0.01
    close = np.array([0.50, 0.51, 0.52])
    np.testing.assert_allclose(numeric_bandwidths(close), [0.2, 0.2, 0.2])
    np.testing.assert_allclose(numeric_bandwidths(close, clip_count=98), [0.01, 0.01, 0.01])
    assert numeric_bandwidths(close, clip_count=98, min_bandwidth=0.05).min() == 0.05


def test_scott_bandwidth_by_hand():
    mus = np.array([0.2, 0.4, 0.6, 0.8])
    sd = np.std(mus, ddof=1)
    iqr = np.percentile(mus, 75) - np.percentile(mus, 25)
    expected = 1.059 * min(sd, iqr / 1.34) * 4 ** (-1 / 6)
    np.testing.assert_allclose(numeric_bandwidths(mus, rule="scott", n_dims=2), expected)


def test_categorical_bandwidth_equals_optuna_pseudo_counts():
    n, k, pw = 4, 3, 1.0
    # Optuna: weights pw/(n+1) on every choice, +1 on the observed one, normalised
    own = (1 + pw / (n + 1)) / (1 + k * pw / (n + 1))
    assert categorical_bandwidth(n, k, pw) == pytest.approx(1 - own)
    assert categorical_bandwidth(5, 1) == 0.0


def test_densities_are_normalised():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.random(6), (rng.integers(0, 4, 6) + 0.5) / 4, rng.integers(0, 3, 6)])
    est = ParzenEstimator(X, [CONT, _discrete(4), ColumnSpec("categorical", 3)], rng.random(6))
    grid = (np.arange(2000) + 0.5) / 2000
    total = 0.0
    for cell in range(4):
        for choice in range(3):
            Y = np.column_stack([grid, np.full(2000, (cell + 0.5) / 4), np.full(2000, choice)])
            total += np.exp(est.log_pdf(Y)).mean()  # midpoint rule over the continuous column
    assert total == pytest.approx(1.0, abs=1e-4)


def test_discrete_kernel_is_the_cell_mass_of_a_truncated_gaussian():
    est = ParzenEstimator(np.array([[0.375]]), [_discrete(4)], prior_weight=1e-9)
    sigma = 0.625  # one observation: the larger gap to the ends, max(0.375, 0.625)
    mass = [
        norm.cdf((hi - 0.375) / sigma) - norm.cdf((lo - 0.375) / sigma)
        for lo, hi in [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]
    ]
    expected = np.array(mass) / sum(mass)
    got = np.exp(est.log_pdf(np.array([[0.1], [0.3], [0.6], [0.9]])))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_samples_follow_the_density():
    rng = np.random.default_rng(1)
    X = np.array([[0.125, 0.0], [0.625, 2.0], [0.875, 2.0]])
    est = ParzenEstimator(X, [_discrete(4), ColumnSpec("categorical", 3)], np.array([1.0, 2, 3]))
    draws = est.sample(rng, 40_000)
    cells = (draws[:, 0] * 4).astype(int)
    for c in range(4):
        for k in range(3):
            p = math.exp(est.log_pdf(np.array([[(c + 0.5) / 4, k]]))[0])
            freq = np.mean((cells == c) & (draws[:, 1] == k))
            assert freq == pytest.approx(p, abs=0.01)
    assert set(np.unique(draws[:, 0])) <= {0.125, 0.375, 0.625, 0.875}  # cell centres


def test_estimator_without_observations_is_the_prior():
    est = ParzenEstimator(np.zeros((0, 2)), [CONT, ColumnSpec("categorical", 4)])
    lp = est.log_pdf(np.array([[0.5, 0], [0.5, 3]]))
    assert lp[0] == pytest.approx(lp[1])
    assert np.isclose(
        lp[0], np.log(1 / 4) + norm.logpdf(0) - np.log(norm.cdf(0.5) - norm.cdf(-0.5))
    )


def test_estimator_rejects_bad_weights():
    with pytest.raises(ValueError, match="weights"):
        ParzenEstimator(np.zeros((2, 1)), [CONT], np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="prior_weight"):
        ParzenEstimator(np.zeros((2, 1)), [CONT], prior_weight=0.0)


# ----------------------------------------------------------------------------- steps
@pytest.mark.parametrize(
    "param",
    [
        Int(1, 9),
        Int(8, 200, log=True),
        Float(0.01, 1.0, step=0.01, log=True),
        Int(0, 20, step=2),
        Categorical([16, 32, 64, 128], ordered=True),
    ],
)
def test_discrete_cells_agree_with_from_unit(param):
    spec = column_spec(param)
    assert spec.kind == "discrete" and spec.size == param.cardinality
    values = param.values()
    for u in np.random.default_rng(0).random(500):
        cell = int(np.searchsorted(spec.edges, u, side="right") - 1)
        assert param.from_unit(u) == values[cell]
    assert [param.from_unit(c) for c in spec.centres] == values


def test_column_kinds():
    assert column_spec(Categorical(["a", "b"])).kind == "categorical"
    assert column_spec(Float(0, 1)).kind == "continuous"
    assert column_spec(Int(0, 10_000)).kind == "continuous"  # finer than any bandwidth


def test_gamma_and_bad_weights():
    assert [n_good(n, gamma=0.1) for n in (0, 1, 10, 11, 100, 1000)] == [0, 1, 1, 2, 10, 25]
    assert n_good(100, gamma=0.25, rule="sqrt") == 3
    assert np.array_equal(bad_weights(3), np.ones(3))
    w = bad_weights(30)
    assert len(w) == 30 and w[0] == pytest.approx(1 / 30) and np.all(w[-25:] == 1.0)
    assert np.all(np.diff(w) >= 0)  # older observations weigh less


def test_groups_follow_conditions():
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": when({"opt": "sgd"}, Float(0, 1)),
            "nesterov": when({"opt": "sgd"}, Categorical([True, False])),
            "n": Int(1, 3),
            "layers": repeat(
                {"w": Int(1, 8), "act": Categorical(["a", "b"])}, count="n", max_count=3
            ),
        }
    )
    names = [e.name for e in space.entries]
    groups = [sorted(names[c] for c in cols) for cols in _groups(space.entries)]
    assert ["layers/0/act", "layers/0/w", "lr", "n", "opt"] in groups
    assert ["momentum", "nesterov"] in groups
    assert ["layers/1/act", "layers/1/w"] in groups
    assert ["layers/2/act", "layers/2/w"] in groups
    assert len(groups) == 4


def test_fidelity_step_is_the_largest_with_enough_trials():
    trials = []
    for i in range(6):
        t = Trial(f"t{i}", {}, TrialStatus.PENDING if i % 2 else TrialStatus.PRUNED)
        t.intermediate = {1.0: 1.0, 3.0: 1.0} if i < 4 else {1.0: 1.0}
        trials.append(t)
    trials[0].intermediate[9.0] = 0.5  # a single trial at step 9
    assert fidelity_step(trials, 4) == 3.0
    assert fidelity_step(trials, 5) == 1.0
    assert fidelity_step(trials, 7) is None
    trials[1].status = TrialStatus.FAILED  # failed trials do not count
    assert fidelity_step(trials, 4) == 1.0


# ----------------------------------------------------------------------------- the searcher
def _quadratic(config):
    return (config["x"] - 0.2) ** 2 + (config["y"] - 0.7) ** 2


XY = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})


def test_model_phase_focuses_on_the_optimum():
    tpe = optimize(TPESearch(XY, seed=0), _quadratic, 60)
    rnd = optimize(RandomSearch(XY, seed=0), _quadratic, 60)
    assert np.nanmin(tpe.values) < 1e-3
    assert np.median(tpe.values[30:]) < 0.1 * np.median(rnd.values[30:])


def test_startup_is_sobol_then_model():
    a, b = TPESearch(XY, seed=3, n_startup=5), TPESearch(XY, seed=3, n_startup=1000)
    first_a = [a.ask(f"t{i}") for i in range(5)]
    first_b = [b.ask(f"t{i}") for i in range(5)]
    assert first_a == first_b  # the same Sobol design
    for i, p in enumerate(first_a):
        a.tell(f"t{i}", _quadratic(p))
        b.tell(f"t{i}", _quadratic(p))
    assert a.ask("model") != b.ask("model")


def _pending_spread(seed: int, liar_weight: float) -> float:
    searcher = TPESearch(XY, seed=seed, liar_weight=liar_weight)
    optimize(searcher, _quadratic, 30)
    points = np.array([[p["x"], p["y"]] for p in (searcher.ask(f"p{i}") for i in range(8))])
    return float(np.std(points, axis=0).mean())


def test_constant_liar_spreads_pending_trials():
    """8 suggestions with nothing told back: without the liar some runs pile them onto one
    spot; with it every run spreads them out."""
    with_liar = [_pending_spread(seed, 0.5) for seed in range(10)]
    without = [_pending_spread(seed, 0.0) for seed in range(10)]
    assert min(with_liar) > 0.05
    assert min(without) < 0.03
    assert np.mean(with_liar) > np.mean(without)


def test_liar_weight_is_part_of_the_recipe():
    searcher = TPESearch(XY, seed=4)
    optimize(searcher, _quadratic, 5)
    with pytest.raises(ValueError, match="liar_weight"):
        TPESearch(XY, seed=4, liar_weight=0.0).set_state(searcher.get_state())


def test_conditional_space_respects_groups():
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "lr": Float(1e-4, 1e-1, log=True),
            "momentum": when({"opt": "sgd"}, Float(0.0, 1.0)),
        }
    )

    def loss(c):
        return abs(math.log10(c["lr"]) + 2) + (
            abs(c["momentum"] - 0.9) if c["opt"] == "sgd" else 0.5
        )

    result = optimize(TPESearch(space, seed=0), loss, 60)
    best = result.best
    assert best is not None and best.config["opt"] == "sgd"
    assert best.config["momentum"] == pytest.approx(0.9, abs=0.1)


def test_finite_space_is_exhausted_without_repeats():
    space = Space({"a": Int(0, 3), "b": Categorical(["x", "y", "z"])})
    searcher = TPESearch(space, seed=0, n_startup=3)
    result = optimize(searcher, lambda c: c["a"] + len(c["b"]), 100)
    keys = [space.key(t.params) for t in result.trials]
    assert len(keys) == 12 and len(set(keys)) == 12


def test_failed_and_pruned_trials_are_used():
    searcher = TPESearch(XY, seed=0, n_startup=4)
    for i in range(12):
        p = searcher.ask(f"t{i}")
        if i % 3 == 0:
            searcher.tell(f"t{i}", None, status="failed")
        elif i % 3 == 1:
            searcher.report(f"t{i}", 1, _quadratic(p))
            searcher.tell(f"t{i}", None, status="pruned")
        else:
            searcher.tell(f"t{i}", _quadratic(p))
    assert isinstance(searcher.ask("next"), dict)


def test_state_is_the_trials_plus_a_sobol_counter():
    searcher = TPESearch(XY, seed=0)
    optimize(searcher, _quadratic, 15)
    state = json.loads(json.dumps(searcher.get_state()))
    assert set(state["data"]["extra"]) == {"sobol_seed", "sobol_index"}
    assert state["recipe"]["weighting"] == "ei" and state["recipe"]["multi_fidelity"] is False


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_startup": -1},
        {"n_candidates": 0},
        {"gamma": 0.0},
        {"gamma": 2.0},
        {"gamma_rule": "log"},
        {"prior_weight": 0},
        {"bandwidth": "silverman"},
        {"weighting": "rank"},
        {"magic_clip": "none"},
        {"liar_weight": -1},
        {"n_min": 0},
        {"min_bandwidth": 1.0},
    ],
)
def test_bad_arguments_name_themselves(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        TPESearch(XY, **kwargs)


# ----------------------------------------------------------------------------- multi-fidelity
def _curve_searcher(multi_fidelity: bool) -> TPESearch:
    """Trials whose step-3 value favours x = 0.2 and whose final value favours x = 0.8."""
    space = Space({"x": Float(0.0, 1.0)})
    searcher = TPESearch(space, seed=0, n_startup=4, n_min=6, multi_fidelity=multi_fidelity)
    for i in range(20):
        x = searcher.ask(f"t{i}")["x"]
        searcher.report(f"t{i}", 1, 0.0)
        if i < 16:  # 16 trials reach step 3; only 3 reach step 9 (fewer than n_min)
            searcher.report(f"t{i}", 3, abs(x - 0.2))
        if i < 3:
            searcher.report(f"t{i}", 9, abs(x - 0.2))
        searcher.tell(f"t{i}", abs(x - 0.8))
    return searcher


def test_multi_fidelity_models_the_largest_step_with_enough_trials():
    mf = _curve_searcher(True)
    plain = _curve_searcher(False)
    xs_mf = [mf.ask(f"m{i}")["x"] for i in range(5)]
    xs_plain = [plain.ask(f"p{i}")["x"] for i in range(5)]
    assert np.median(np.abs(np.array(xs_mf) - 0.2)) < 0.15  # step-3 values drive it
    assert np.median(np.abs(np.array(xs_plain) - 0.8)) < 0.15  # final values drive it


def test_multi_fidelity_counts_pending_trials_and_stays_sobol_below_the_threshold():
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    mf = TPESearch(space, seed=1, n_startup=3, n_min=4, multi_fidelity=True)
    sobol = TPESearch(space, seed=1, n_startup=10_000)
    for i in range(6):
        assert mf.ask(f"t{i}") == sobol.ask(f"t{i}")
        sobol.tell(f"t{i}", 1.0)
    # Final values alone never start the model in multi-fidelity mode.
    for i in range(3):
        mf.tell(f"t{i}", 1.0)
    assert mf.ask("a") == sobol.ask("a")
    # Three trials reporting at step 2 are fewer than max(n_min=4, dim + 1 = 3): still Sobol.
    for i in range(3, 6):
        mf.report(f"t{i}", 2, 0.5)
    assert mf.ask("b") == sobol.ask("b")
    # The pending trial "a" reports too: 4 trials at step 2, the model takes over.
    mf.report("a", 2, 0.1)
    assert mf.ask("c") != sobol.ask("c")


# ----------------------------------------------------------------------------- wiring
def test_registry_and_tune_plugin():
    searcher = SEARCHERS.create("tpe", seed=0, n_startup=3)
    assert isinstance(searcher, TPESearch) and searcher.n_startup == 3
    pytest.importorskip("ray.tune")
    from raysearch.tune import TPESearch as TuneTPE

    plugin = TuneTPE({"x": Float(0, 1)}, metric="loss", mode="min", seed=0, multi_fidelity=True)
    assert isinstance(plugin.core, TPESearch) and plugin.core.multi_fidelity


@pytest.mark.slow
def test_tpe_beats_random_on_branin_over_seeds():
    space = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})

    def branin(c):
        x1, x2 = c["x1"], c["x2"]
        return (
            (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
            + 10
        )

    def regret(searcher):
        return math.log10(np.nanmin(optimize(searcher, branin, 50).values) - 0.397887357729739)

    tpe = [regret(TPESearch(space, seed=s)) for s in range(10)]
    rnd = [regret(RandomSearch(space, seed=s)) for s in range(10)]
    assert np.mean(tpe) < np.mean(rnd) - 1.0
    assert sum(t < r for t, r in zip(tpe, rnd)) >= 8
