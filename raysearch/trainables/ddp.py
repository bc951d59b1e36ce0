"""A Tune trial that is itself a Ray Train ``TorchTrainer`` with N workers (DDP).

The Train V2 pattern (Ray 2.60): the Tune trial is a small *driver* function that builds a
``TorchTrainer`` and calls ``fit()``; the workers run :class:`~raysearch.trainables.torch.
TorchLoop` with the model wrapped by ``ray.train.torch.prepare_model`` (DDP; gloo on CPU,
NCCL on GPU), each on its own shard of the batches; rank 0's per-epoch metrics reach Tune
through ``TuneReportCallback``.

Checkpoints: rank 0 writes the loop's full state (model, optimizer, epoch, random states)
as a Ray Train checkpoint every epoch; the Train run is named after the Tune trial
(``ddp-<trial id>``) and kept in the trial's folder of the experiment's storage
(:func:`train_run_storage`), so when Tune restarts a paused or failed trial, the new driver's
``TorchTrainer`` finds the run's latest checkpoint and the workers continue from it
(Train V2 gives the Tune trial no checkpoint of its own; the Train run directory is the
checkpoint).

Known limitation: a *paused* DDP trial (HyperBand, PBT, a PAUSE decision) hung in local
tests on 2 CPUs (with and without ``reuse_actors``); the resume path above is not verified.
Use stopping schedulers (ASHA's stop variant, median stopping) with DDP trials for now.

The driver needs almost no resources (default ``{"cpu": 0.01}``); the workers are scheduled
by Ray Train outside the trial's placement group, so cap concurrent trials by the workers
the cluster can hold: the trainable's ``max_concurrent(cluster_cpus, cluster_gpus)`` does.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ddp_trainable", "DDPSpec", "train_run_storage", "fit_in_trial"]


@dataclass
class DDPSpec:
    model_fn: Callable[[dict[str, Any]], Any]
    train_data: Any
    val_data: Any = None
    loss: Any = "cross_entropy"
    max_epochs: int = 10
    num_workers: int = 2
    use_gpu: bool = False
    resources_per_worker: dict[str, float] | None = None
    amp: bool = False
    compile: bool = False
    storage_path: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _ddp_worker(loop_config: dict[str, Any]) -> None:
    """Runs on every Train worker (use ray.train.* here, not ray.tune.*)."""
    import ray.train
    import ray.train.torch

    from raysearch.trainables.torch import TorchLoop

    spec: DDPSpec = loop_config["spec"]
    config: dict[str, Any] = loop_config["config"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    loop = TorchLoop.for_spec(
        spec,
        config,
        device=str(device),
        wrap_model=ray.train.torch.prepare_model,
        shard=(rank, world),
    )
    try:
        resumed_from = loop.resume(ray.train.get_checkpoint())
        while loop.epoch < spec.max_epochs:
            metrics: dict[str, Any] = {**loop.train_epoch(), **loop.evaluate()}
            metrics["samples_per_s"] *= world  # every worker trains its own shard
            metrics.update(resumed_from=resumed_from, workers=world, gpu_mem_mb=loop.memory_mb())
            if rank == 0:
                with tempfile.TemporaryDirectory(prefix="raysearch-ddp-") as folder:
                    loop.save(folder)
                    ray.train.report(
                        metrics, checkpoint=ray.train.Checkpoint.from_directory(folder)
                    )
            else:
                ray.train.report(metrics)
            if not math.isfinite(metrics["train_loss"]):
                break
    finally:
        loop.close()


def train_run_storage(storage_path: str | None = None) -> dict[str, Any]:
    """``RunConfig`` storage arguments for a Ray Train run started inside a Tune trial:
    ``storage_path`` when given, else the trial's own folder in the experiment's storage
    (``<storage_path>/<experiment>/<trial>/train``, on the experiment's filesystem). Not the
    trial's local working folder: that one lives in Ray's session folder, which a restarted
    Ray does not reuse, so a resumed experiment would not find the run's checkpoints."""
    if storage_path:
        return {"storage_path": storage_path}
    from ray import tune

    storage = tune.get_context().get_storage()
    return {
        "storage_path": os.path.join(storage.trial_fs_path, "train"),
        "storage_filesystem": storage.storage_filesystem,
    }


def fit_in_trial(
    worker: Callable[[dict[str, Any]], None],
    loop_config: dict[str, Any],
    *,
    prefix: str,
    num_workers: int,
    use_gpu: bool = False,
    resources_per_worker: dict[str, float] | None = None,
    storage_path: str | None = None,
) -> Any:
    """Runs ``worker`` on a Ray Train ``TorchTrainer`` of ``num_workers`` workers from inside
    a Tune trial (use ray.tune.* here): the Train run is named ``<prefix>-<trial id>``, kept
    where :func:`train_run_storage` says, and rank 0's reports reach Tune
    (``TuneReportCallback``: the metrics, and the checkpoint's path as ``checkpoint_path``)."""
    from ray import train, tune
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    trainer = TorchTrainer(
        worker,
        train_loop_config=loop_config,
        scaling_config=train.ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker=resources_per_worker,
        ),
        run_config=train.RunConfig(
            name=f"{prefix}-{tune.get_context().get_trial_id()}",
            **train_run_storage(storage_path),
            checkpoint_config=train.CheckpointConfig(num_to_keep=2),
            callbacks=[TuneReportCallback()],
        ),
    )
    return trainer.fit()


def _ddp_driver(config: dict[str, Any], spec: DDPSpec) -> None:
    """The Tune trial: one TorchTrainer run, named after the trial."""
    fit_in_trial(
        _ddp_worker,
        {"config": dict(config), "spec": spec},
        prefix="ddp",
        num_workers=spec.num_workers,
        use_gpu=spec.use_gpu,
        resources_per_worker=spec.resources_per_worker,
        storage_path=spec.storage_path,
    )


def ddp_trainable(
    model_fn: Callable[[dict[str, Any]], Any],
    train_data: Any,
    val_data: Any = None,
    *,
    num_workers: int = 2,
    use_gpu: bool = False,
    resources_per_worker: dict[str, float] | None = None,
    loss: Any = "cross_entropy",
    max_epochs: int = 10,
    amp: bool = False,
    compile: bool = False,
    storage_path: str | None = None,
) -> Any:
    """A Tune trainable whose trial trains ``model_fn`` with DDP on ``num_workers`` workers.

    Args:
        model_fn, train_data, val_data, loss, max_epochs, amp, compile: as in
            :func:`~raysearch.trainables.torch.torch_trainable`.
        num_workers: DDP workers per trial.
        use_gpu: one GPU per worker (NCCL); CPU workers use gloo.
        resources_per_worker: e.g. ``{"CPU": 2, "GPU": 1}`` (Ray Train's default otherwise).
        storage_path: where the Train runs keep their checkpoints (default: inside the trial
            directory; on a multi-node cluster give shared storage).

    Returns:
        The trainable, with attributes ``metric``, ``mode``, ``time_attr``, ``max_t``,
        ``resources`` (the driver's, for ``raysearch.run(resources=...)``) and
        ``max_concurrent(cpus, gpus)``.
    """
    from ray import tune

    from raysearch.trainables.torch import as_dataset, epoch_trainable, loss_fn

    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs!r}")
    as_dataset(train_data, "train_data")
    loss_fn(loss)
    spec = DDPSpec(
        model_fn,
        train_data,
        val_data,
        loss,
        int(max_epochs),
        num_workers,
        bool(use_gpu),
        dict(resources_per_worker) if resources_per_worker else None,
        amp,
        compile,
        storage_path,
    )
    per_worker = dict(resources_per_worker or {})
    worker_cpu = float(per_worker.get("CPU", per_worker.get("cpu", 1.0)))
    worker_gpu = float(per_worker.get("GPU", per_worker.get("gpu", 1.0 if use_gpu else 0.0)))

    def max_concurrent(cpus: float, gpus: float = 0.0) -> int:
        """Trials whose workers fit at once (at least 1)."""
        fits = [cpus // (worker_cpu * num_workers)] if worker_cpu > 0 else []
        if worker_gpu > 0:
            fits.append(gpus // (worker_gpu * num_workers))
        return max(1, int(min(fits))) if fits else 1

    trainable = tune.with_parameters(_ddp_driver, spec=spec)
    trainable.resources = {"cpu": 0.01}
    trainable.max_concurrent = max_concurrent
    return epoch_trainable(trainable, val_data, max_epochs, "ddp_trainable")
