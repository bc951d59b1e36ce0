"""Ray Tune plugins for neural architecture search, and the NAS trainable.

* :class:`EvolutionSearch`: regularized evolution (:class:`raysearch.nas.evolution.
  EvolutionSearch`), with ``objectives=[...]`` and ``constraints={...}`` multi-objective
  and hardware-aware: the extra objectives are read from each trial's reported metrics;
* :class:`ControllerSearch`: the REINFORCE controller (:class:`raysearch.nas.controller.
  ControllerSearch`);
* :func:`nas_trainable`: architecture config in, trained network out, through the
  checkpoint contract of :func:`raysearch.trainables.torch.torch_trainable`, so ASHA,
  Hyperband and PBT schedule NAS trials like any other.

Example (MNIST-1D, the macro space, ASHA)::

    from ray import tune
    from raysearch.nas import macro_chain
    from raysearch.tune import ASHAScheduler
    from raysearch.tune.nas import EvolutionSearch, nas_trainable

    trainable = nas_trainable((x, y), (x_val, y_val), input_shape=(40,), num_classes=10,
                              max_epochs=8)
    search = EvolutionSearch(macro_chain(), seed=0,
                             objectives=[("val_acc", "max"), ("latency_ms", "min")],
                             constraints={"latency_ms": ("<=", 5)})
    tuner = tune.Tuner(trainable, tune_config=tune.TuneConfig(
        search_alg=search, metric="val_acc", mode="max",
        scheduler=ASHAScheduler("epoch", max_t=8, grace_period=2),
        num_samples=40, max_concurrent_trials=2))
    grid = tuner.fit()
    search.core.pareto_front()   # [{"trial_id", "config", "metrics"}, ...]
    search.core.hypervolume({"val_acc": 0.0, "latency_ms": 5.0})

``metric``/``mode`` in ``TuneConfig`` are what Tune hands the scheduler; the searcher
takes them from its first objective (they must agree).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from typing import Any

from raysearch.core.searcher import Searcher as CoreSearcher
from raysearch.nas import controller as core_controller
from raysearch.nas import evolution as core_evolution
from raysearch.nas.trainable import NASTask, NASTrainer
from raysearch.tune.plugins import SearcherPlugin
from raysearch.tune.searcher import TuneSearcher

__all__ = ["MetricsTuneSearcher", "EvolutionSearch", "ControllerSearch", "nas_trainable"]

logger = logging.getLogger(__name__)


class MetricsTuneSearcher(TuneSearcher):
    """A :class:`TuneSearcher` that hands each trial's whole final result to a core with
    several objectives (one with ``objectives`` and ``stage_metrics``, like
    :class:`raysearch.nas.evolution.EvolutionSearch`).

    ``metric`` and ``mode`` default to the first objective (and must agree with it when
    given); that metric also drives schedulers and intermediate results. A trial whose
    result lacks the first objective is recorded as failed with a warning (as any
    TuneSearcher does); the core raises on a first result that lacks another objective or
    a constrained metric, and records later ones as failed.
    """

    def __init__(
        self,
        searcher: CoreSearcher,
        metric: str | None = None,
        mode: str | None = None,
        *,
        max_concurrent: int | None = None,
        time_attr: str = "training_iteration",
    ) -> None:
        objectives = getattr(searcher, "objectives", None)
        if objectives is not None:
            first = objectives.names[0]
            first_mode = "min" if objectives.signs[0] > 0 else "max"
            if metric is not None and metric != first:
                raise ValueError(
                    f"metric={metric!r} must be the first objective {first!r} "
                    f"(objectives={objectives.spec()['objectives']})"
                )
            if mode is not None and mode != first_mode:
                raise ValueError(
                    f"mode={mode!r} contradicts the first objective ({first!r}, {first_mode!r})"
                )
            metric, mode = first, first_mode
        super().__init__(
            searcher, metric, mode, max_concurrent=max_concurrent, time_attr=time_attr
        )

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        stage = getattr(self.core, "stage_metrics", None)
        if result is not None and not error and getattr(self.core, "objectives", None):
            assert stage is not None
            stage(trial_id, {k: v for k, v in result.items() if not k.startswith("config")})
        super().on_trial_complete(trial_id, result, error)


class EvolutionSearch(SearcherPlugin, MetricsTuneSearcher, core=core_evolution.EvolutionSearch):
    """Regularized (aging) evolution for Ray Tune; multi-objective and constrained with
    ``objectives`` and ``constraints`` (steady-state NSGA-II selection, constrained
    domination). Asynchronous: keeps proposing while trials run.

    See :class:`raysearch.nas.evolution.EvolutionSearch`. Example::

        search_alg = EvolutionSearch(nb201_cell(), metric="val_acc", mode="max", seed=0)
        search_alg = EvolutionSearch(macro_chain(), seed=0,
                                     objectives=[("val_acc", "max"), ("latency_ms", "min")],
                                     constraints={"latency_ms": ("<=", 5)})
        ...
        search_alg.core.pareto_front(); search_alg.core.hypervolume({"val_acc": 0,
                                                                    "latency_ms": 10})
    """


class ControllerSearch(SearcherPlugin, core=core_controller.ControllerSearch):
    """REINFORCE controller (independent softmax decisions, moving-average baseline) for
    Ray Tune; asynchronous.

    See :class:`raysearch.nas.controller.ControllerSearch`. Example::

        search_alg = ControllerSearch(nb201_cell(), metric="val_acc", mode="max", seed=0)
    """


# ----------------------------------------------------------------------------- trainable
def _nas_trial(config: dict[str, Any], task: NASTask) -> None:
    from ray import tune

    from raysearch.trainables.tabular import trial_device

    device = "cuda" if trial_device() == "cuda" else "cpu"
    trainer = NASTrainer(config, task, device=device)
    try:
        resumed_from = trainer.loop.resume(tune.get_checkpoint())
        while trainer.epoch < task.max_epochs:
            metrics = trainer.epoch_metrics()
            metrics["resumed_from"] = resumed_from
            if not math.isfinite(metrics["train_loss"]):
                tune.report(metrics)
                break
            with tempfile.TemporaryDirectory(prefix="raysearch-nas-") as folder:
                trainer.save(folder)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
    finally:
        trainer.close()


def nas_trainable(
    train_data: Any,
    val_data: Any,
    *,
    input_shape: Sequence[int],
    num_classes: int,
    max_epochs: int = 10,
    training: dict[str, Any] | None = None,
    latency_repeats: int = 10,
) -> Any:
    """A Tune function trainable that builds the config's architecture and trains it.

    Every epoch reports ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``,
    ``val_acc``, ``params``, ``flops``, ``latency_ms`` (measured once, on the trial's
    device) and ``resumed_from``, with a checkpoint (model, optimizer, random states): a
    trial resumed from one continues exactly. Attributes: ``metric="val_acc"``,
    ``mode="max"``, ``time_attr="epoch"``, ``max_t``. The data go to the object store once.

    Args:
        train_data, val_data: ``(X, y)`` pairs or torch Datasets.
        input_shape: one sample's shape (``(40,)`` for MNIST-1D, ``(1, 8, 8)`` for digits).
        num_classes: number of classes.
        max_epochs: epochs of a full trial.
        training: training settings under those in the config (``lr``, ``batch_size``,
            ``optimizer``, ``weight_decay``, ``seed``).
        latency_repeats: forward passes timed for ``latency_ms`` (0: not measured).
    """
    from ray import tune

    task = NASTask(
        train_data,
        val_data,
        tuple(int(s) for s in input_shape),
        int(num_classes),
        int(max_epochs),
        dict(training or {}),
        int(latency_repeats),
    )
    trainable = tune.with_parameters(_nas_trial, task=task)
    trainable.metric = "val_acc"
    trainable.mode = "max"
    trainable.time_attr = "epoch"
    trainable.max_t = int(max_epochs)
    trainable.__name__ = "nas_trainable"
    return trainable
