"""ControllerSearch: the policy learns, only active decisions move, errors."""

from __future__ import annotations

import numpy as np
import pytest

from raysearch.nas import macro_chain, nb201_cell
from raysearch.nas.controller import ControllerSearch, reinforce_step, softmax
from raysearch.space import Categorical, Float, Space, when


def test_reinforce_step_moves_towards_rewarded_actions() -> None:
    z = np.zeros(3)
    up = reinforce_step(z, 1, 1.0, 0.5)
    assert np.argmax(up) == 1 and up.sum() == pytest.approx(0.0)
    down = reinforce_step(z, 1, -1.0, 0.5)
    assert np.argmin(down) == 1
    assert softmax(np.array([1000.0, 0.0])).tolist() == pytest.approx([1.0, 0.0])


def test_policy_learns_the_best_op() -> None:
    space = nb201_cell()
    searcher = ControllerSearch(space, seed=0)
    good = "nor_conv_3x3"
    for i in range(150):
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict)
        config = space.to_config(params)
        searcher.tell(f"t{i}", -float(sum(e == good for e in config["edges"])))
    probs = searcher.probabilities()
    for name, p in probs.items():
        assert p[space[name].choices.index(good)] > 0.5, name


def test_only_active_decisions_move() -> None:
    space = Space(
        {
            "opt": Categorical(["sgd", "adam"]),
            "momentum": when({"opt": "sgd"}, Categorical([0.0, 0.9])),
            "lr": Float(0.0, 1.0),
        }
    )
    searcher = ControllerSearch(space, seed=0, bins=4)
    for i in range(40):
        params = searcher.ask(f"t{i}")
        before = {k: v.copy() for k, v in searcher.logits.items()}
        searcher.tell(f"t{i}", float(params["lr"]))
        if "momentum" not in params:
            assert np.array_equal(before["momentum"], searcher.logits["momentum"])
    # continuous parameters are binned: low lr is rewarded
    assert np.argmax(searcher.probabilities()["lr"]) == 0
    assert len(searcher.logits["lr"]) == 4


def test_repeat_blocks_are_decisions_only_when_present() -> None:
    space = macro_chain(max_blocks=3)
    searcher = ControllerSearch(space, seed=1)
    for i in range(30):
        params = searcher.ask(f"t{i}")
        assert isinstance(params, dict)
        assert space.to_flat(space.to_config(params)) == params
        searcher.tell(f"t{i}", float(params["n_blocks"]))
    assert np.argmax(searcher.probabilities()["n_blocks"]) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": 0.0}, "lr"),
        ({"baseline_decay": 1.0}, "baseline_decay"),
        ({"bins": 1}, "bins"),
        ({"max_choices": 1.5}, "max_choices"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ControllerSearch(nb201_cell(), **kwargs)
