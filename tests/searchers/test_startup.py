"""The shared start-up: a restorable Sobol sequence, and configs not tried yet."""

from __future__ import annotations

import numpy as np

from raysearch.core.types import FINISHED
from raysearch.searchers.startup import SobolSequence, draw_new, sobol_block, unseen
from raysearch.space import Categorical, Float, Int, Space

SPACE = Space({"x": Float(0.0, 1.0), "n": Int(1, 9), "c": Categorical(["a", "b"])})


def test_sobol_sequence_follows_the_blocks_and_restores_exactly():
    seq = SobolSequence()
    seq.reseed(np.random.default_rng(0))
    points = [seq.next(SPACE) for _ in range(70)]  # crosses a block boundary
    block = sobol_block(3, seq.seed, 1)
    assert points[64] == SPACE.from_unit(block[0])
    restored = SobolSequence()
    restored.load(seq.state())
    fresh = SobolSequence()
    fresh.load({**seq.state(), "sobol_index": 0})
    assert [restored.next(SPACE) for _ in range(5)] == [seq.next(SPACE) for _ in range(5)]
    assert [fresh.next(SPACE) for _ in range(70)] == points


def test_next_new_skips_configs_already_tried():
    space = Space({"c": Categorical(["a", "b", "c"])})
    seq = SobolSequence()
    rng = np.random.default_rng(0)
    seen: list[dict] = []
    for _ in range(3):
        params = seq.next_new(space, rng, lambda p: p not in seen)
        assert params not in seen
        seen.append(params)
    assert seq.next_new(space, rng, lambda p: p not in seen) is FINISHED


def test_draw_new_gives_up_after_a_hundred_draws():
    calls = []
    assert draw_new(lambda: calls.append(1) or {}, lambda p: False) is None
    assert len(calls) == 100
    space = Space({"c": Categorical(["a", "b"])})
    rng = np.random.default_rng(1)
    assert unseen(space, rng, lambda p: p["c"] == "b") == {"c": "b"}
    assert unseen(space, rng, lambda p: False) is FINISHED
