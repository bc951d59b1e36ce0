"""One-shot NAS phase 1 on several workers: the supernet trial as a Ray Train ``TorchTrainer``.

:func:`supernet_phase_ddp` is :func:`raysearch.tune.oneshot.supernet_phase` with the one
supernet trial replaced by a Tune trial that drives a ``TorchTrainer`` of ``num_workers``
workers (one GPU each with ``use_gpu=True``: NCCL; gloo on CPU). Every worker runs
:class:`raysearch.nas.sharded.ShardedSuperNetTrainer` on its shard of every batch (the same
paths on every rank, gradients averaged in one all-reduce per step: why not plain DDP is in
that module). Rank 0 is the only writer of the weights: it checkpoints the trainer every
epoch in :class:`~raysearch.nas.sampling.SuperNetTrainer`'s format, so phase 2 reads it
exactly as it reads a single-trial checkpoint.

Interruptions: the Train run is named after the Tune trial (``supernet-ddp-<trial id>``,
in the trial's folder of the experiment's storage unless ``storage`` names another), so when a
resumed experiment restarts the trial, its ``TorchTrainer`` finds the run's latest
checkpoint and the workers continue from that epoch (``resumed_from`` in the metrics).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raysearch.nas.sampling import SuperNetTrainer
from raysearch.nas.sharded import ShardedSuperNetTrainer
from raysearch.nas.trainable import NASTask
from raysearch.space import Space

__all__ = ["supernet_phase_ddp", "SupernetDDPSpec", "worker_resources"]


@dataclass
class SupernetDDPSpec:
    """What every worker needs to build its trainer (sent once per worker)."""

    space: Space
    train_data: Any
    input_shape: tuple[int, ...]
    num_classes: int
    epochs: int
    trainer_options: dict[str, Any] = field(default_factory=dict)
    num_workers: int = 2
    use_gpu: bool = False
    resources_per_worker: dict[str, float] | None = None
    storage_path: str | None = None


def _supernet_worker(loop_config: dict[str, Any]) -> None:
    """Runs on every Train worker (ray.train.* here, not ray.tune.*)."""
    import ray.train
    import ray.train.torch

    spec: SupernetDDPSpec = loop_config["spec"]
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    trainer = ShardedSuperNetTrainer(
        spec.space,
        spec.train_data,
        spec.input_shape,
        spec.num_classes,
        epochs=spec.epochs,
        rank=rank,
        world_size=world,
        device=str(ray.train.torch.get_device()),
        **spec.trainer_options,
    )
    resumed = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            trainer.load(folder)
        resumed = trainer.epoch
    while trainer.epoch < spec.epochs:
        metrics = {**trainer.train_epoch(), "resumed_from": resumed}
        if rank == 0:
            with tempfile.TemporaryDirectory(prefix="raysearch-supernet-") as folder:
                trainer.save(folder)
                ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
        else:
            ray.train.report(metrics)


def _supernet_driver(config: dict[str, Any], spec: SupernetDDPSpec) -> None:
    """The Tune trial: one TorchTrainer run named after it; its workers' (rank 0's)
    per-epoch metrics reach Tune with the checkpoint's path (``checkpoint_path``)."""
    from raysearch.trainables.ddp import fit_in_trial

    fit_in_trial(
        _supernet_worker,
        {"spec": spec},
        prefix="supernet-ddp",
        num_workers=spec.num_workers,
        use_gpu=spec.use_gpu,
        resources_per_worker=spec.resources_per_worker,
        storage_path=spec.storage_path,
    )


def worker_resources(
    resources: Mapping[str, float] | None,
) -> tuple[dict[str, float] | None, bool]:
    """Tune-style per-worker resources (``{"cpu": 2, "gpu": 1}``) as Ray Train's
    ``resources_per_worker`` and ``use_gpu`` (None: Ray Train's default, one CPU)."""
    if not resources:
        return None, False
    names = {"cpu": "CPU", "gpu": "GPU"}
    per_worker = {names.get(k, k): float(v) for k, v in resources.items()}
    return per_worker, per_worker.get("GPU", 0.0) > 0


def supernet_phase_ddp(
    space: Space,
    task: NASTask,
    *,
    epochs: int,
    num_workers: int = 2,
    use_gpu: bool = False,
    resources_per_worker: Mapping[str, float] | None = None,
    sampler: str = "auto",
    sampler_options: Mapping[str, Any] | None = None,
    lr: float = 3e-3,
    batch_size: int = 128,
    seed: int = 0,
    distill: bool = False,
    distill_every: int = 1,
    storage: str | None = None,
    **run_options: Any,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Phase 1 on ``num_workers`` data-parallel workers (module docstring). Returns what
    :func:`~raysearch.tune.oneshot.supernet_phase` returns: ``(checkpoint folder, last
    metrics, state_dict)``.

    Args:
        num_workers: Train workers (the batch is split between them; ``batch_size`` is the
            global batch, so the result does not depend on the worker count except through
            BatchNorm's per-shard statistics).
        use_gpu: one GPU per worker.
        resources_per_worker: e.g. ``{"CPU": 4, "GPU": 1}`` (Ray Train's default otherwise).
        storage: where the Train run keeps its checkpoints (default: inside the trial
            directory; on a multi-node cluster give shared storage).
        run_options: to :func:`raysearch.run` (``storage_path``, ``name``, ``resume``,
            ``verbose``).
    """
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    from raysearch.tune.run import run

    if not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    if int(batch_size) < 2 * num_workers:
        raise ValueError(f"batch_size {batch_size} leaves a worker fewer than 2 rows")
    spec = SupernetDDPSpec(
        space,
        task.train_data,
        tuple(int(s) for s in task.input_shape),
        int(task.num_classes),
        int(epochs),
        dict(
            sampler=sampler,
            sampler_options=dict(sampler_options or {}),
            lr=lr,
            batch_size=int(batch_size),
            seed=int(seed),
            distill=bool(distill),
            distill_every=int(distill_every),
        ),
        num_workers,
        bool(use_gpu),
        dict(resources_per_worker) if resources_per_worker else None,
        storage,
    )
    result = run(
        tune.with_parameters(_supernet_driver, spec=spec),
        None,
        metric="train_loss",
        mode="min",
        searcher=BasicVariantGenerator(),
        num_samples=1,
        resources={"cpu": 0.01},  # the driver; Ray Train schedules the workers
        **run_options,
    )
    final = result.results[0]
    path = final.metrics.get("checkpoint_path")
    if not path or int(final.metrics.get("epoch", 0)) < int(epochs):
        raise RuntimeError(f"the supernet trial did not finish: {final.error or final.metrics}")
    with tune.Checkpoint(str(path)).as_directory() as folder:  # local or remote storage
        weights = SuperNetTrainer.load_weights(folder)
    return str(path), dict(final.metrics), weights
