"""Data-parallel supernet training: one :class:`~raysearch.nas.sampling.SuperNetTrainer` per
worker, on a device, over a shard of every batch (Ray-free; the Ray Train adapter is
:mod:`raysearch.tune.oneshot_ddp`).

Why not ``DistributedDataParallel``: a supernet step runs one or more *different* paths
(the sampled subnets, the distillation teacher), so most parameters get no gradient in a
given step and the forward takes the architecture as an argument. DDP would need
``find_unused_parameters=True`` (a graph walk every step) and still cannot tell which
slice of a shared weight a path used. Here every worker draws the *same* paths (the path
generator and the batch order are seeded identically on every rank), runs them on its
shard of the batch (rows ``rank::world_size``), and before each optimizer step the summed
gradients are averaged across workers in one flat all-reduce (an optimizer step pre-hook).
Every rank therefore applies the same update to the same weights, and the weights stay
identical on all ranks without ever being broadcast after the start; the gradient is the
average of the shards' mean gradients, as in DDP. BatchNorm statistics are per shard (as
in DDP without SyncBatchNorm); the one-shot search recalibrates them per subnet anyway.

With ``world_size=1`` the class is the single-process trainer on ``device`` (a GPU trial).
Checkpoints are :class:`SuperNetTrainer`'s (rank 0 writes them; every rank can read them).
"""

from __future__ import annotations

from typing import Any

from raysearch.nas.sampling import SuperNetTrainer

__all__ = ["ShardedSuperNetTrainer", "average_gradients"]


def average_gradients(optimizer: Any, world_size: int) -> None:
    """Averages the gradients of ``optimizer``'s parameters across the default process
    group in one flat all-reduce (parameters without a gradient are skipped: every rank ran
    the same paths, so every rank skips the same ones)."""
    import torch
    import torch.distributed as dist

    grads = [
        p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
    ]
    if world_size <= 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


class ShardedSuperNetTrainer(SuperNetTrainer):
    """A :class:`SuperNetTrainer` on ``device`` that trains on rows ``rank::world_size`` of
    every batch and averages gradients across ``world_size`` workers (module docstring).

    Args:
        rank, world_size: this worker and the number of workers (a process group must be
            initialized when ``world_size > 1``: Ray Train's ``TorchTrainer`` does it).
        device: e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        everything else: as :class:`SuperNetTrainer`; ``seed`` must be the same int on every
            rank (the paths and the batch order are drawn from it).
    """

    def __init__(
        self,
        *args: Any,
        rank: int = 0,
        world_size: int = 1,
        device: str = "cpu",
        **kwargs: Any,
    ) -> None:
        if not 0 <= int(rank) < int(world_size):
            raise ValueError(f"rank must be in [0, world_size), got {rank} of {world_size}")
        self.rank, self.world_size, self.device = int(rank), int(world_size), str(device)
        super().__init__(*args, **kwargs)
        self._to_device()

    def _to_device(self) -> None:
        """The model (in place: the optimizer keeps the same parameters) and the per-row
        tensors the steps index (the distillation cache) on ``device``."""
        self.model.to(self.device)
        self.soft, self.has_soft = self.soft.to(self.device), self.has_soft.to(self.device)

    def load_state_dict(self, state: Any) -> None:
        super().load_state_dict(state)
        self._to_device()

    def _optimizer(self, epoch: int) -> tuple[Any, Any]:
        optimizer, scheduler = super()._optimizer(epoch)
        if self.world_size > 1:
            world = self.world_size
            optimizer.register_step_pre_hook(lambda opt, *_: average_gradients(opt, world))
        return optimizer, scheduler

    def split_now(self, at: int | None = None) -> None:
        super().split_now(at)
        self._to_device()

    def _step(self, xs: Any, ys: Any, idx: Any) -> tuple[float, int]:
        """The step on this rank's shard (``idx``: the batch's row indices, sharded alike)."""
        whole = len(xs) < 2 * self.world_size  # a tiny last batch: every rank takes all of it
        if not whole:
            part = slice(self.rank, None, self.world_size)
            xs, ys, idx = xs[part], ys[part], idx[part]
        flops = self.flops
        out = super()._step(xs.to(self.device), ys.to(self.device), idx)
        if whole and self.rank > 0:  # the ranks' FLOPs are summed per epoch: count it once
            self.flops = flops
        return out

    def train_epoch(self) -> dict[str, Any]:
        """:meth:`SuperNetTrainer.train_epoch`; ``train_loss`` is averaged over the ranks."""
        flops = self.flops
        metrics = super().train_epoch()
        if self.world_size > 1:
            import torch
            import torch.distributed as dist

            both = [float(metrics["train_loss"]), float(self.flops - flops)]
            sums = torch.tensor(both, dtype=torch.float64, device=self.device)
            dist.all_reduce(sums)
            metrics["train_loss"] = float(sums[0]) / self.world_size
            # every rank counted its shard's FLOPs: their sum is the epoch's
            self.flops = flops + int(round(float(sums[1])))
            metrics["flops"] = self.flops
        metrics["workers"] = self.world_size
        return metrics
