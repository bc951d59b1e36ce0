"""The pure pieces of raysearch.trainables (no Ray): splits, metrics with their direction,
family spaces and costs, runners that save and restore exactly, the torch loop's checkpoint
contract, and clear errors for bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raysearch.automl.features import DataError
from raysearch.trainables.families import FAMILIES, get_family
from raysearch.trainables.tabular import make_splits, prepare_tabular, run_tabular_trial


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, str]:
    from raysearch.data import load_dataset

    ds = load_dataset("breast_cancer")
    return ds.frame, ds.label


@pytest.fixture(scope="module")
def gems() -> pd.DataFrame:
    from raysearch.data import load_dataset

    return load_dataset("gems").frame.iloc[:1500].reset_index(drop=True)


# ----------------------------------------------------------------------------- splits
def test_holdout_is_stratified_and_disjoint():
    y = np.array([0] * 90 + [1] * 10)
    [(train, valid)] = make_splits(y, "holdout", task="binary", test_size=0.2, seed=1)
    assert len(valid) == 20 and not set(train) & set(valid)
    assert y[valid].sum() == 2  # the class ratio is kept


@pytest.mark.parametrize("kind", ["kfold", "stratified"])
def test_kfold_kinds_cover_every_row_once(kind):
    y = np.arange(60) % 3
    folds = make_splits(y, kind, task="multiclass", n_splits=4, seed=0)
    valid = np.concatenate([v for _, v in folds])
    assert sorted(valid) == list(range(60))
    if kind == "stratified":
        assert all(np.bincount(y[v]).min() == 5 for _, v in folds)


def test_group_split_keeps_groups_apart():
    y = np.arange(40) % 2
    groups = np.repeat(np.arange(8), 5)
    for train, valid in make_splits(y, "group", task="binary", n_splits=4, groups=groups):
        assert not set(groups[train]) & set(groups[valid])


def test_timeseries_split_validates_on_the_future():
    folds = make_splits(np.zeros(50), "timeseries", n_splits=3)
    assert len(folds) == 3
    for train, valid in folds:
        assert train.max() < valid.min()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"validation": "bootstrap"}, "validation must be one of"),
        ({"validation": "stratified", "task": "regression"}, "classification"),
        ({"validation": "group"}, "needs groups"),
        ({"validation": "kfold", "n_splits": 1}, "n_splits"),
        ({"validation": "holdout", "test_size": 1.5}, "test_size"),
    ],
)
def test_bad_split_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_splits(np.arange(20) % 2, **kwargs)


# ----------------------------------------------------------------------------- families
def test_families_declare_space_initial_config_and_cost():
    for task in ("binary", "regression"):
        for name, family in FAMILIES.items():
            space = family.space(5000, task)
            config = family.initial_config(5000, task)
            assert set(config) == set(space), name
            assert family.relative_cost > 0
            assert family.param_space(5000, task) is not None
    costs = {n: f.relative_cost for n, f in FAMILIES.items()}
    assert costs["linear"] < costs["lightgbm"] < costs["mlp"]
    # the space grows with the data
    small = FAMILIES["lightgbm"].space(500, "binary")["num_leaves"]["int"][1]
    large = FAMILIES["lightgbm"].space(1_000_000, "binary")["num_leaves"]["int"][1]
    assert large > small


def test_unknown_family_names_the_close_match():
    with pytest.raises(ValueError, match="did you mean 'lightgbm'"):
        get_family("lightgmb")


def _fold(frame: pd.DataFrame, label: str, family: str):
    payload, info = prepare_tabular(frame, label, family, max_units=40)
    (train, valid), view, y = payload["folds"][0], payload["view"], payload["y"]
    args = (view.iloc[train], y[train], view.iloc[valid], y[valid])
    return args, payload, info


@pytest.mark.parametrize("family", list(FAMILIES))
def test_runner_restored_from_its_state_continues_exactly(cancer, family):
    frame, label = cancer
    args, payload, info = _fold(frame, label, family)
    spec = FAMILIES[family]
    config, task, k = info.initial_config, info.task, info.n_classes
    straight = spec.runner(*args, config, task, k, seed=0)
    step = spec.report_every if spec.fidelity else 1
    straight.advance(step)
    state = straight.get_state()
    if spec.fidelity:
        straight.advance(step)
    resumed = spec.runner(*args, config, task, k, seed=0)
    resumed.set_state(state)
    if spec.fidelity:
        resumed.advance(step)
    assert resumed.units == straight.units
    np.testing.assert_allclose(resumed.predict(), straight.predict(), rtol=0, atol=1e-12)
    assert straight.predict().shape == (len(args[3]), 2)


# ----------------------------------------------------------------------------- metrics
@pytest.mark.parametrize(
    ("metric", "mode"), [("roc_auc", "max"), ("log_loss", "min"), ("accuracy", "max")]
)
def test_metric_direction_is_known(cancer, metric, mode):
    frame, label = cancer
    _, info = prepare_tabular(frame, label, "linear", metric=metric)
    assert (info.metric, info.mode) == (metric, mode)


def test_regression_defaults_to_rmse_and_fidelity_is_rounds(gems):
    _, info = prepare_tabular(gems, "price", "lightgbm")
    assert (info.task, info.metric, info.mode) == ("regression", "rmse", "min")
    assert (info.time_attr, info.max_t, info.report_every) == ("rounds", 1000, 10)


def test_trial_loop_reports_every_n_rounds_and_resumes(gems):
    payload, _ = prepare_tabular(gems, "price", "lightgbm", max_units=50, report_every=10)
    first: list = []
    run_tabular_trial({"learning_rate": 0.2}, payload, report=lambda m, s: first.append((m, s)))
    assert [m["rounds"] for m, _ in first] == [10, 20, 30, 40, 50]
    again: list = []
    run_tabular_trial(
        {"learning_rate": 0.2},
        payload,
        report=lambda m, s: again.append(m),
        checkpoint=first[1][1],
    )
    assert [m["rounds"] for m in again] == [30, 40, 50]
    assert again[-1]["rmse"] == pytest.approx(first[-1][0]["rmse"], rel=1e-12)


def test_early_stopping_ends_a_hopeless_trial(gems):
    payload, _ = prepare_tabular(
        gems, "price", "lightgbm", max_units=500, report_every=10, early_stopping=20
    )
    out: list = []
    # a learning rate so large that the validation error stops improving at once
    run_tabular_trial(
        {"learning_rate": 0.3, "num_leaves": 128}, payload, report=lambda m, s: out.append(m)
    )
    assert out[-1]["rounds"] < 500
    best_at = max(m["rounds"] for m in out if m["rmse"] == out[-1]["best"])
    assert out[-1]["rounds"] - best_at >= 20


def test_pyarrow_tables_are_accepted(gems):
    pa = pytest.importorskip("pyarrow")
    payload, info = prepare_tabular(pa.Table.from_pandas(gems), "price", "xgboost")
    assert info.n_rows == len(gems)
    assert "category" in {str(t) for t in payload["view"].dtypes}  # native categoricals


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_get_clear_errors(cancer):
    frame, label = cancer
    with pytest.raises(DataError, match="label column 'nope'"):
        prepare_tabular(frame, "nope")
    with pytest.raises(ValueError, match="not defined for binary"):
        prepare_tabular(frame, label, metric="rmse")
    with pytest.raises(ValueError, match="unknown metric"):
        prepare_tabular(frame, label, metric="auc_roc")
    with pytest.raises(ValueError, match="unknown model family"):
        prepare_tabular(frame, label, family="catboost")
    single = frame.assign(**{label: 1})
    with pytest.raises(DataError, match="constant|single class"):
        prepare_tabular(single, label, problem_type="binary")
    empty_col = frame.assign(empty=np.nan)
    with pytest.raises(DataError, match="'empty' is entirely missing"):
        prepare_tabular(empty_col, label)


# ----------------------------------------------------------------------------- torch loop
torch = pytest.importorskip("torch")


def _tiny(config):
    from torch import nn

    width = int(config.get("width", 16))
    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Dropout(0.2), nn.Linear(width, 3))


def _data(n: int = 300):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 8, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long()


def test_torch_loop_checkpoint_round_trip_is_exact(tmp_path):
    from raysearch.trainables.torch import TorchLoop

    data = _data()
    config = {"seed": 5, "lr": 1e-2, "batch_size": 32}
    caller_state = torch.get_rng_state()
    straight = TorchLoop(_tiny, config, data, data, device="cpu")
    for _ in range(3):
        straight.train_epoch()
        straight.evaluate()
    paused = TorchLoop(_tiny, config, data, data, device="cpu")
    paused.train_epoch()
    paused.train_epoch()
    paused.save(str(tmp_path))
    resumed = TorchLoop(_tiny, config, data, data, device="cpu")
    resumed.load(str(tmp_path))
    assert resumed.epoch == 2
    resumed.train_epoch()
    for a, b in zip(straight.module.parameters(), resumed.module.parameters(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(caller_state, torch.get_rng_state()), "the global RNG was touched"
    assert straight.evaluate()["val_accuracy"] > 0.5


def test_torch_loop_takes_new_hyperparameters_after_exploit(tmp_path):
    from raysearch.trainables.torch import TorchLoop

    data = _data(100)
    donor = TorchLoop(_tiny, {"lr": 1e-2, "optimizer": "sgd"}, data, device="cpu")
    donor.train_epoch()
    donor.save(str(tmp_path))
    child = TorchLoop(_tiny, {"lr": 5e-3, "optimizer": "sgd"}, data, device="cpu")
    child.load(str(tmp_path))
    assert child.epoch == 1
    assert child.optimizer.param_groups[0]["lr"] == 5e-3


def test_torch_loop_rejects_bad_config():
    from raysearch.trainables.torch import TorchLoop

    with pytest.raises(ValueError, match="optimizer"):
        TorchLoop(_tiny, {"optimizer": "lbfgs"}, _data(10), device="cpu")
    with pytest.raises(ValueError, match="rows"):
        TorchLoop(_tiny, {}, (torch.zeros(5, 8), torch.zeros(4)), device="cpu")


# ----------------------------------------------------------------------------- resources
def test_fractional_and_whole_gpu_plans_derive_concurrency_from_the_nodes():
    from raysearch.trainables.resources import plan_resources

    nodes = [{"CPU": 16.0, "GPU": 2.0}, {"CPU": 8.0, "GPU": 1.0}]
    quarter = plan_resources(0.25, cpu=1, nodes=nodes)
    assert quarter.resources == {"cpu": 1.0, "gpu": 0.25}
    assert (quarter.trials_per_gpu, quarter.max_concurrent) == (4, 8 + 4)
    whole = plan_resources(1, cpu=4, nodes=nodes)
    assert (whole.trials_per_gpu, whole.max_concurrent) == (1, 2 + 1)
    cpu_bound = plan_resources(0.125, cpu=4, nodes=nodes)
    assert cpu_bound.max_concurrent == 4 + 2  # CPUs run out before GPU slices
    assert plan_resources(None, cpu=2, nodes=nodes).max_concurrent == 12


@pytest.mark.parametrize(
    ("gpu", "message"),
    [(0.3, "divide one GPU"), (1.5, "whole number"), (-1, "> 0"), ("half", "'auto'")],
)
def test_bad_gpu_requests_are_named(gpu, message):
    from raysearch.trainables.resources import plan_resources

    with pytest.raises(ValueError, match=message):
        plan_resources(gpu, nodes=[{"CPU": 4.0, "GPU": 1.0}])
    with pytest.raises(ValueError, match="probe"):
        plan_resources("auto", nodes=[{"CPU": 4.0, "GPU": 1.0}])


def test_auto_packing_picks_the_best_throughput_that_fits():
    from raysearch.trainables.resources import choose_packing

    rows = [
        {"trials": 1, "aggregate_samples_per_s": 21.6e3, "peak_mb": 900},
        {"trials": 2, "aggregate_samples_per_s": 42.0e3, "peak_mb": 900},
        {"trials": 4, "aggregate_samples_per_s": 83.6e3, "peak_mb": 900},
        {"trials": 8, "aggregate_samples_per_s": 85.0e3, "peak_mb": 900},  # < 5% more
    ]
    assert choose_packing(rows, total_mb=80_000) == 4
    assert choose_packing(rows, total_mb=3_000) == 2  # 4 x 900 MiB does not fit in 90%
