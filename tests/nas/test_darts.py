"""DARTS (raysearch.nas.darts): tiny searches on a tiny data set."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import build, check_arch, nb201_cell  # noqa: E402
from raysearch.nas.darts import DartsSearch, param_free_share  # noqa: E402
from raysearch.nas.trainable import NASTask  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # several torch threads on a shared 2-core machine are 100x slower, not faster
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task() -> NASTask:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 64)
    x = rng.normal(size=(64, 16)).astype(np.float32) + y[:, None].astype(np.float32)
    return NASTask((x, y), (x[:32], y[:32]), (16,), 3)


def _search(task: NASTask, **kwargs) -> DartsSearch:
    args = {"epochs": 2, "channels": 2, "batch_size": 16, "seed": 0, "device": "cpu"}
    return DartsSearch(task, **{**args, **kwargs})


@pytest.mark.parametrize("order", [1, 2])
def test_both_orders_run_and_derive_a_valid_buildable_cell(task, order) -> None:
    search = _search(task, order=order, guard=None)
    before = search.alphas()
    metrics = [search.train_epoch() for _ in range(2)]
    assert search.done and not search.stopped
    assert not np.allclose(search.alphas(), before)  # alpha was trained
    assert all(np.isfinite(m["train_loss"]) and 0 <= m["val_acc"] <= 1 for m in metrics)
    arch = metrics[-1]["genotype"]
    check_arch(arch, nb201_cell(channels=2, cells_per_stage=1))
    assert build(arch, (16,), 3)(torch.zeros(2, 16)).shape == (2, 3)
    assert arch["edges"] == search.argmax_edges()  # without the guard: the argmax itself


def test_second_order_differs_from_first(task) -> None:
    a, b = _search(task, order=1), _search(task, order=2)
    a.train_epoch()
    b.train_epoch()
    assert not np.allclose(a.alphas(), b.alphas())


def test_same_seed_same_search(task) -> None:
    a, b = _search(task), _search(task)
    assert [a.train_epoch()["alphas"] for _ in range(2)] == [
        b.train_epoch()["alphas"] for _ in range(2)
    ]


def _force_collapse(search: DartsSearch) -> None:
    skip = search.ops.index("skip_connect")
    with torch.no_grad():
        search.model.alphas[:, skip] = 10.0


def test_guard_stops_a_forced_collapse_and_keeps_the_last_good_cell(task) -> None:
    search = _search(task, epochs=4, arch_lr=0.0)
    first = search.train_epoch()
    assert not first["guard_triggered"]
    _force_collapse(search)
    second = search.train_epoch()
    assert second["guard_triggered"] and second["stopped"] and search.done
    assert second["param_free_share"] == 1.0  # the argmax collapsed to all skip
    assert search.genotype()["edges"] == first["argmax_edges"]
    assert param_free_share(search.genotype()["edges"]) <= 0.5
    with pytest.raises(RuntimeError, match="search is over"):
        search.train_epoch()


def test_guard_repairs_when_collapsed_from_the_start(task) -> None:
    search = _search(task, arch_lr=0.0)
    _force_collapse(search)
    metrics = search.train_epoch()
    assert metrics["stopped"]
    assert param_free_share(metrics["genotype"]["edges"]) == 0.0


def test_without_the_guard_the_collapse_is_reported(task) -> None:
    search = _search(task, arch_lr=0.0, guard=None)
    _force_collapse(search)
    metrics = search.train_epoch()
    assert not metrics["stopped"] and metrics["genotype"]["edges"] == ["skip_connect"] * 6


def test_checkpoint_resumes_exactly(task) -> None:
    straight = _search(task, epochs=3)
    for _ in range(3):
        last = straight.train_epoch()
    first = _search(task, epochs=3)
    first.train_epoch()
    state = first.state_dict()
    resumed = _search(task, epochs=3)
    resumed.load_state_dict(state)
    for _ in range(2):
        again = resumed.train_epoch()
    assert again["alphas"] == last["alphas"] and again["epoch"] == 3


def test_arguments_are_checked(task) -> None:
    with pytest.raises(ValueError, match="order"):
        _search(task, order=3)
    with pytest.raises(ValueError, match="guard"):
        _search(task, guard="fair")


@pytest.mark.slow
def test_darts_trainable_reports_a_genotype_every_epoch(ray_local, task, tmp_path) -> None:
    import json

    from ray import tune

    from raysearch.trainables.darts import darts_trainable

    trainable = darts_trainable(task, epochs=2, channels=2, batch_size=16)
    tuner = tune.Tuner(
        trainable,
        param_space={"order": tune.grid_search([1, 2]), "seed": 0},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert len(grid) == 2 and not grid.errors
    for result in grid:
        history = result.metrics_dataframe
        assert list(history["epoch"]) == [1, 2]
        for text in history["genotype"]:
            check_arch(json.loads(text), nb201_cell(channels=2, cells_per_stage=1))
        assert result.checkpoint is not None


def test_darts_trainable_rejects_unknown_arguments(task) -> None:
    from raysearch.trainables.darts import darts_trainable

    with pytest.raises(ValueError, match="did you mean 'arch_lr'"):
        darts_trainable(task, arch_lrr=0.1)
