"""Strict fairness (FairNAS): every option of every block choice equally often per step."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import ArchitectureError, macro_chain, nb201_cell  # noqa: E402
from raysearch.nas.sampling import SuperNetTrainer, fair_paths, make_sampler  # noqa: E402
from tests.helpers.supernet_data import toy_data  # noqa: E402

FIXED = macro_chain(
    min_blocks=3, max_blocks=3, widths=(4, 8, 12), kernels=(3, 5), expansions=(1, 2)
)
ELASTIC = macro_chain(max_blocks=3, widths=(4, 8, 12), kernels=(3, 5), expansions=(1, 2))


def test_every_option_equally_often_at_every_position() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        paths = fair_paths(FIXED)(rng)
        assert len(paths) == 3  # the most options: three ops, three widths
        for pos in range(3):
            blocks = [p["blocks"][pos] for p in paths]
            assert Counter(b["width"] for b in blocks) == Counter({4: 1, 8: 1, 12: 1})
            assert len({b["op"] for b in blocks}) == 3
            for key in ("kernel", "expansion", "stride", "skip"):  # two options in 3 paths
                assert sorted(Counter(b[key] for b in blocks).values()) == [1, 2]
        for path in paths:
            FIXED.to_flat(path)  # points of the space


def test_arrangements_vary_and_repeat_with_the_seed() -> None:
    first = fair_paths(ELASTIC)(np.random.default_rng(3))
    again = make_sampler("fair", ELASTIC)(np.random.default_rng(3))
    assert first == again
    rng = np.random.default_rng(4)
    widths = {tuple(p["blocks"][0]["width"] for p in fair_paths(ELASTIC)(rng)) for _ in range(20)}
    assert len(widths) > 1  # the arrangement is random, not a fixed rotation
    depths = {p["n_blocks"] for _ in range(30) for p in fair_paths(ELASTIC)(rng)}
    assert depths == {1, 2, 3}


def test_trainer_sums_the_paths_and_refuses_a_cell_space() -> None:
    trainer = SuperNetTrainer(
        ELASTIC, toy_data(64, 0), (16,), 4, sampler="fair", batch_size=32, epochs=1
    )
    out = trainer.train_epoch()
    assert trainer.sample_passes == 3 * 64 and out["paths"] == 2 * 3
    assert np.isfinite(out["train_loss"])
    with pytest.raises(ArchitectureError, match="macro"):
        fair_paths(nb201_cell(channels=4, cells_per_stage=1))
