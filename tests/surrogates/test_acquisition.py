"""The GP's acquisition search as pure functions: model inputs, trust region, maximisation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from raysearch.space import Categorical, Float, Int, Space, when
from raysearch.surrogates.acquisition import (
    Domain,
    Problem,
    candidates,
    gradient_search,
    maximise,
    trust_region,
)
from raysearch.surrogates.gp import GaussianProcess, default_theta

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "n": Int(1, 9),
        "opt": Categorical(["sgd", "adam"]),
        "momentum": when({"opt": "sgd"}, Float(0.0, 1.0)),
    }
)


def _problem(domain: Domain, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    train = [SPACE.sample(rng) for _ in range(12)]
    values = np.array([(f["x"] - 0.3) ** 2 + 0.01 * f["n"] for f in train])
    X = domain.features(domain.encoding.encode_many(train))
    y = (values - values.mean()) / values.std()
    gp = GaussianProcess(X, y, default_theta(X.shape[1]))
    return Problem(gp, float(y.min()), train, values, train[int(np.argmin(values))])


def test_features_impute_inactive_columns_and_add_group_indicators():
    domain = Domain.of(SPACE, n_candidates=32, n_restarts=2)
    assert domain.n_features == domain.encoding.dim + 1  # one conditional group
    E = domain.encoding.encode_many([{"x": 0.1, "n": 2, "opt": "adam"}])
    F = domain.features(E)
    col = domain.encoding.slices["momentum"].start
    assert F[0, col] == 0.5 and F[0, -1] == 0.0
    assert domain.movable.tolist() == [c.kind != "onehot" for c in domain.encoding.columns]


def test_trust_region_is_a_box_around_the_centre_inside_the_cube():
    domain = Domain.of(SPACE, n_candidates=32, n_restarts=2)
    problem = _problem(domain)
    centre = domain.encoding.encode(problem.incumbent)
    lo, hi = trust_region(problem.gp, centre, 0.2)
    assert np.all(lo >= 0.0) and np.all(hi <= 1.0) and np.all(lo <= hi)
    inside = ~np.isnan(centre)
    assert np.all((lo[inside] <= centre[inside]) & (centre[inside] <= hi[inside]))


def test_candidates_end_with_local_moves_of_the_best():
    domain = Domain.of(SPACE, n_candidates=32, n_restarts=2)
    E, flats, n_local = candidates(domain, _problem(domain), np.random.default_rng(0))
    assert len(E) == len(flats) == 16 + n_local and n_local == 40
    assert all(SPACE.to_config(f) for f in flats if f is not None)


def test_gradient_search_stays_in_the_trust_region():
    domain = Domain.of(Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)}), 32, 2)
    rng = np.random.default_rng(0)
    train = [domain.space.sample(rng) for _ in range(10)]
    values = np.array([f["x"] + f["y"] for f in train])
    X = domain.encoding.encode_many(train)
    gp = GaussianProcess(X, (values - values.mean()) / values.std(), default_theta(2))
    box = (np.array([0.4, 0.4]), np.array([0.6, 0.6]))
    problem = Problem(gp, -1.0, train, values, train[0], box=box)
    out = gradient_search(domain, problem, np.array([[0.5, 0.5], [0.45, 0.55]]))
    assert len(out) == 2
    assert all(0.4 <= f["x"] <= 0.6 and 0.4 <= f["y"] <= 0.6 for f in out)


def test_maximise_returns_a_new_valid_point_or_none():
    domain = Domain.of(SPACE, n_candidates=32, n_restarts=2)
    problem = _problem(domain)
    flat = maximise(domain, problem, np.random.default_rng(0), lambda f: True)
    assert flat is not None and SPACE.to_config(flat)
    greedy = maximise(
        domain, replace(problem, greedy=True), np.random.default_rng(0), lambda f: True
    )
    assert greedy is not None
    assert maximise(domain, problem, np.random.default_rng(0), lambda f: False) is None
