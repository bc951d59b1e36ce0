"""Training an architecture: metrics, the checkpoint contract, rebuilding from JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import ArchitectureError, macro_chain, mlp_space  # noqa: E402
from raysearch.nas.datasets import digits_task  # noqa: E402
from raysearch.nas.trainable import NASTask, NASTrainer, split_arch, train_arch  # noqa: E402


@pytest.fixture(scope="module")
def task() -> NASTask:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 40)).astype(np.float32)
    y = (x[:, :20].sum(axis=1) > 0).astype(np.int64)
    return NASTask((x[:192], y[:192]), (x[192:], y[192:]), (40,), 2, max_epochs=3)


def _arch(seed: int = 0) -> dict:
    space = macro_chain(max_blocks=2, widths=(4, 8))
    return space.to_config(space.sample(np.random.default_rng(seed)))


def test_metrics_of_an_epoch(task: NASTask) -> None:
    trainer = NASTrainer(_arch(), task, device="cpu")
    metrics = trainer.epoch_metrics()
    trainer.close()
    for key in ("train_loss", "val_loss", "val_acc", "params", "flops", "latency_ms"):
        assert key in metrics
    assert 0.0 <= metrics["val_acc"] <= 1.0 and metrics["epoch"] == 1


def test_resume_equals_straight(task: NASTask, tmp_path) -> None:
    config = {**_arch(1), "lr": 0.01, "seed": 3}
    straight = NASTrainer(config, task, device="cpu")
    for _ in range(3):
        last = straight.epoch_metrics()
    first = NASTrainer(config, task, device="cpu")
    first.epoch_metrics()
    first.epoch_metrics()
    first.save(str(tmp_path))
    first.close()
    resumed = NASTrainer(config, task, device="cpu")
    resumed.load(str(tmp_path))
    again = resumed.epoch_metrics()
    assert again["epoch"] == 3 and again["val_loss"] == pytest.approx(last["val_loss"], abs=0)
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_rebuilt_from_json_is_the_same(task: NASTask) -> None:
    config = json.loads(json.dumps({**_arch(2), "batch_size": 32}))
    model_a, metrics_a = train_arch(config, task, epochs=2, device="cpu")
    model_b, metrics_b = train_arch(json.loads(json.dumps(config)), task, epochs=2, device="cpu")
    assert metrics_a["params"] == metrics_b["params"]
    assert metrics_a["val_acc"] == metrics_b["val_acc"]
    assert not model_a.training


def test_digits_and_mlp() -> None:
    task = digits_task(max_epochs=4, lr=1e-2, batch_size=32)
    assert task.input_shape == (1, 8, 8)
    space = mlp_space(max_layers=2, widths=(16,))
    config = space.to_config(space.sample(np.random.default_rng(0)))
    _, metrics = train_arch(config, task, device="cpu")
    assert metrics["val_acc"] > 0.5  # 10 classes: far above chance after 4 short epochs


def test_split_arch() -> None:
    arch, training = split_arch({**_arch(), "lr": 0.1})
    assert training == {"lr": 0.1} and arch["kind"] == "macro"
    with pytest.raises(ArchitectureError, match="kind"):
        split_arch({"lr": 0.1})
    with pytest.raises(ValueError, match="max_epochs"):
        NASTask(None, None, (40,), 2, max_epochs=0)
