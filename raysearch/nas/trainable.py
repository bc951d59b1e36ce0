"""Training an architecture: config in, trained network and its metrics out (Ray-free).

:class:`NASTrainer` is one trial: it rebuilds the network from the architecture config
(:func:`raysearch.nas.build`), measures what it costs on the trial's device
(:func:`raysearch.nas.cost`), and trains it an epoch at a time with
:class:`raysearch.trainables.torch.TorchLoop`, whose checkpoints hold the model, the
optimizer and every random state (resuming after epoch 2 and training one epoch equals
three epochs straight: the contract ASHA, Hyperband and PBT rely on). Each epoch's metrics
are the loop's (``train_loss``, ``val_loss``, ``val_accuracy``, ...) plus ``val_acc`` (the
validation accuracy as a fraction), ``params``, ``flops`` and ``latency_ms``.

A config holds the architecture's keys (those of its ``kind``, see
:data:`ARCH_KEYS`) and, optionally, training keys that :class:`TorchLoop` reads (``lr``,
``batch_size``, ``optimizer``, ``weight_decay``, ``momentum``, ``seed``), so a search space
can search both. The Ray Tune trainable built on this is
:func:`raysearch.tune.nas.nas_trainable`; :func:`train_arch` trains one architecture to
the end, e.g. to rebuild a search's winner from its JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raysearch.nas.builder import ArchitectureError, build, cost

__all__ = ["ARCH_KEYS", "TRAINING_DEFAULTS", "NASTask", "NASTrainer", "split_arch", "train_arch"]

#: the keys of each architecture kind; the rest of a config is training settings
ARCH_KEYS: dict[str, tuple[str, ...]] = {
    "cell": ("kind", "edges", "channels", "cells_per_stage"),
    "macro": ("kind", "stem_width", "n_blocks", "blocks"),
    "mlp": ("kind", "n_layers", "layers", "batch_norm"),
}
#: training settings used when the config does not set them
TRAINING_DEFAULTS: dict[str, Any] = {
    "lr": 3e-3,
    "batch_size": 128,
    "optimizer": "adamw",
    "weight_decay": 1e-4,
    "seed": 0,
}


def split_arch(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(architecture, training settings)`` of a trial config.

    Raises:
        ArchitectureError: if the config has no known ``kind``.
    """
    kind = config.get("kind") if isinstance(config, Mapping) else None
    if kind not in ARCH_KEYS:
        raise ArchitectureError(
            f"a NAS config needs kind in {sorted(ARCH_KEYS)}, got kind={kind!r}"
        )
    keys = ARCH_KEYS[str(kind)]
    arch = {k: v for k, v in config.items() if k in keys}
    training = {k: v for k, v in config.items() if k not in keys}
    return arch, training


@dataclass
class NASTask:
    """What every trial of a search shares: the data and how to train.

    Attributes:
        train_data, val_data: ``(X, y)`` pairs (arrays or tensors) or torch Datasets.
        input_shape: one sample's shape (``(40,)`` for MNIST-1D).
        num_classes: classes of the labels.
        max_epochs: epochs of a full trial.
        training: training settings under the config's (:data:`TRAINING_DEFAULTS`).
        latency_repeats: forward passes timed for ``latency_ms`` (0: not measured).
    """

    train_data: Any
    val_data: Any
    input_shape: Sequence[int]
    num_classes: int
    max_epochs: int = 10
    training: dict[str, Any] = field(default_factory=dict)
    latency_repeats: int = 10

    def __post_init__(self) -> None:
        if int(self.max_epochs) != self.max_epochs or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive integer, got {self.max_epochs!r}")
        if int(self.num_classes) != self.num_classes or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.latency_repeats < 0:
            raise ValueError(f"latency_repeats must be >= 0, got {self.latency_repeats!r}")


class NASTrainer:
    """One architecture's training run, an epoch at a time, with checkpoints.

    Args:
        config: the trial config (architecture keys plus optional training keys).
        task: the shared :class:`NASTask`.
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when available).
    """

    def __init__(
        self, config: Mapping[str, Any], task: NASTask, device: str | None = None
    ) -> None:
        from raysearch.trainables.torch import TorchLoop

        self.arch, training = split_arch(config)
        self.task = task
        settings = {**TRAINING_DEFAULTS, **task.training, **training}
        shape, n = tuple(int(s) for s in task.input_shape), int(task.num_classes)
        seed = int(settings.get("seed", 0))
        arch = self.arch
        self.loop = TorchLoop(
            lambda _: build(arch, shape, n, seed=seed),
            settings,
            task.train_data,
            task.val_data,
            device=device,
        )
        repeats = int(task.latency_repeats)
        self.costs = cost(
            arch,
            shape,
            n,
            device=str(self.loop.device),
            latency=repeats > 0,
            repeats=max(repeats, 1),
        )

    @property
    def epoch(self) -> int:
        return int(self.loop.epoch)

    @property
    def model(self) -> Any:
        """The (bare) network being trained."""
        return self.loop.module

    def epoch_metrics(self) -> dict[str, Any]:
        """Trains one epoch; its metrics plus ``val_acc``, ``params``, ``flops``,
        ``latency_ms``."""
        metrics: dict[str, Any] = {**self.loop.train_epoch(), **self.loop.evaluate()}
        metrics["val_acc"] = float(metrics.get("val_accuracy", math.nan))
        metrics.update(self.costs)
        return metrics

    def save(self, folder: str) -> str:
        return str(self.loop.save(folder))

    def load(self, folder: str) -> None:
        self.loop.load(folder)

    def close(self) -> None:
        self.loop.close()


def train_arch(
    config: Mapping[str, Any],
    task: NASTask,
    *,
    epochs: int | None = None,
    device: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Trains ``config`` for ``epochs`` (default ``task.max_epochs``); returns the trained
    network (on the CPU, in eval mode) and the last epoch's metrics."""
    trainer = NASTrainer(config, task, device=device)
    n = int(task.max_epochs if epochs is None else epochs)
    if n < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs!r}")
    metrics: dict[str, Any] = {}
    try:
        while trainer.epoch < n:
            metrics = trainer.epoch_metrics()
        model = trainer.model.cpu().eval()
    finally:
        trainer.close()
    return model, metrics
