"""EvolutionSearch (single objective) on architecture spaces: what the conformance suite
cannot check on its own spaces."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from raysearch.core.types import FINISHED, TrialStatus
from raysearch.nas import macro_chain, nb201_cell
from raysearch.nas.evolution import EvolutionSearch
from raysearch.nas.operators import guided_choice, tournament
from raysearch.searchers import RandomSearch
from raysearch.space import Categorical, Int, Space

ARCH_SPACES = {
    "cell": lambda: nb201_cell(),
    "macro": lambda: macro_chain(max_blocks=4),
}
#: TPE (the default initial population) takes seconds to set up on the macro space
INIT = {"cell": "auto", "macro": None}


def loss(space: Space, params: dict[str, Any]) -> float:
    """A deterministic loss with structure: unit positions pulled towards 0.7."""
    return float(sum((space.entry(n).param.to_unit(v) - 0.7) ** 2 for n, v in params.items()))


def drive(searcher: EvolutionSearch, n: int, start: int = 0) -> list[Any]:
    out = []
    for i in range(start, start + n):
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict)
        out.append(searcher.space.to_tokens(params))
        searcher.tell(f"t{i}", loss(searcher.space, params))
    return out


@pytest.mark.parametrize("name", sorted(ARCH_SPACES))
def test_resume_equivalence_on_architecture_spaces(name: str) -> None:
    space = ARCH_SPACES[name]()
    kwargs = {"population_size": 6, "n_init": 4, "init_searcher": INIT[name]}
    straight = drive(EvolutionSearch(space, seed=5, **kwargs), 40)
    first = EvolutionSearch(space, seed=5, **kwargs)
    part = drive(first, 20)
    state = json.loads(json.dumps(first.get_state(), allow_nan=False))
    second = EvolutionSearch(space, seed=99, **kwargs)
    second.set_state(state)
    assert part + drive(second, 20, start=20) == straight


@pytest.mark.parametrize("name", sorted(ARCH_SPACES))
def test_suggestions_valid_and_never_repeated(name: str) -> None:
    space = ARCH_SPACES[name]()
    searcher = EvolutionSearch(
        space, seed=1, population_size=8, n_init=8, init_searcher=INIT[name]
    )
    keys = set()
    for i in range(150):
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict)
        assert space.to_flat(space.to_config(params)) == params
        key = space.key(params)
        assert key not in keys
        keys.add(key)
        searcher.tell(f"t{i}", loss(space, params))
    assert len(searcher.population) == 8


def test_aging_keeps_the_last_results() -> None:
    space = nb201_cell()
    searcher = EvolutionSearch(space, seed=0, population_size=5, sample_size=2, n_init=5)
    drive(searcher, 12)
    assert [t.trial_id for t in searcher.population] == [f"t{i}" for i in range(7, 12)]


def test_children_are_one_mutation_from_a_population_member() -> None:
    space = nb201_cell()
    searcher = EvolutionSearch(space, seed=2, population_size=6, sample_size=3, n_init=6)
    drive(searcher, 6)
    for i in range(6, 30):
        members = [t.params for t in searcher.population]
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict)
        distance = min(sum(m[k] != params[k] for k in params) for m in members)
        assert distance in (1, 2)  # two only when every single move was taken
        searcher.tell(f"t{i}", loss(space, params))


def test_finite_space_is_exhausted_without_repeats() -> None:
    space = Space({"a": Categorical(list("abcd")), "b": Int(0, 4)})
    searcher = EvolutionSearch(space, seed=0, population_size=4, n_init=3)
    seen = drive(searcher, 20)
    assert len({json.dumps(s, sort_keys=True) for s in seen}) == 20
    assert searcher.ask("t20") is FINISHED


def test_keeps_proposing_with_trials_pending() -> None:
    space = nb201_cell()
    searcher = EvolutionSearch(space, seed=0, population_size=6, n_init=6)
    drive(searcher, 8)
    pending = [searcher.ask(f"p{i}") for i in range(10)]
    assert all(isinstance(p, dict) for p in pending)
    assert len({space.key(p) for p in pending}) == 10
    assert len(searcher.pending) == 10


def test_tournament_is_without_replacement() -> None:
    rng = np.random.default_rng(0)
    keys = np.array([5.0, 1.0, 3.0, 4.0])
    # a full-size tournament always holds every member, so the best always wins
    assert {tournament(keys, 4, rng=rng) for _ in range(50)} == {1}
    wins = [tournament(keys, 3, rng=rng) for _ in range(2000)]
    # the best is drawn in 3 of 4 tournaments of 3, and wins all of those
    assert abs(np.mean(np.array(wins) == 1) - 0.75) < 0.04
    assert 0 not in wins  # the worst can never win a tournament of 3 without replacement


def test_guided_choice_prefers_values_of_good_results() -> None:
    space = Space({"op": Categorical(["a", "b", "c"]), "x": Categorical(["u", "v"])})
    ranked = [{"op": "a", "x": "u"}] * 4 + [{"op": "b", "x": "u"}] * 12
    cands = [{"op": "a", "x": "v"}, {"op": "b", "x": "v"}]
    rng = np.random.default_rng(0)
    picks = [guided_choice(space, cands, ranked, rng=rng, beta=2.0) for _ in range(300)]
    assert np.mean(np.array(picks) == 0) > 0.8
    uniform = [guided_choice(space, cands, ranked, rng=rng, beta=0.0) for _ in range(300)]
    assert 0.35 < np.mean(np.array(uniform) == 0) < 0.65


def test_initial_population_from_another_searcher() -> None:
    space = nb201_cell()
    sobol = RandomSearch(space, sampler="sobol", seed=4)
    reference = RandomSearch(space, sampler="sobol", seed=4)
    searcher = EvolutionSearch(space, seed=0, init_searcher=sobol, n_init=5)
    for i in range(5):
        params = searcher.ask(f"t{i}")
        assert params == reference.ask(f"r{i}")
        searcher.tell(f"t{i}", loss(space, params))
    assert sobol.trials["t0"].status is TrialStatus.COMPLETE
    with pytest.raises(ValueError, match="unknown searcher 'tpee'"):
        EvolutionSearch(space, init_searcher="tpee")


def test_failed_trials_never_join_the_population() -> None:
    space = nb201_cell()
    searcher = EvolutionSearch(space, seed=0, population_size=4, n_init=4)
    for i in range(10):
        searcher.ask(f"t{i}")
        searcher.tell(f"t{i}", None if i % 2 else 1.0 * i)
    assert all(t.value is not None for t in searcher.population)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"population_size": 0}, "population_size"),
        ({"population_size": 4, "sample_size": 5}, "sample_size"),
        ({"n_init": -1}, "n_init"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"guidance": -1.0}, "guidance"),
        ({"constraints": {"latency_ms": ("<=", 5)}}, "need objectives"),
        ({"objectives": [("acc", "up")]}, "objectives items"),
        ({"objectives": [("a", "max")], "constraints": {"a": ("==", 1)}}, "op in"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EvolutionSearch(nb201_cell(), **kwargs)
