"""A generic torch training loop as a checkpointing Ray Tune trainable.

::

    def make_model(config):
        return nn.Sequential(nn.Linear(20, config["width"]), nn.ReLU(), nn.Linear(config["width"], 3))

    trainable = torch_trainable(make_model, train_data=(X, y), val_data=(Xv, yv), max_epochs=20)
    raysearch.run(trainable, {"lr": tune.loguniform(1e-4, 1e-1), "width": tune.choice([32, 64])},
                  metric="val_loss", mode="min", scheduler="pbt", ...)

The contract PBT and HyperBand rely on: every epoch ends with a report **and** a checkpoint
holding the model, the optimizer, the gradient scaler, the epoch and every random state
(the batch-order ``torch.Generator`` and the global CPU/CUDA states that dropout uses); a
trial that starts with ``tune.get_checkpoint()`` continues exactly where that checkpoint
was taken: resuming after epoch 2 and training one epoch gives the same weights as three
epochs straight. After a PBT exploit the trial's (new) ``lr``, ``weight_decay`` and
``momentum`` replace the donor's in the restored optimizer.

Determinism: the model is built and trained under :func:`torch.random.fork_rng` with global
states derived from the config's ``seed`` by a ``torch.Generator``; the caller's global RNG
is left untouched (no ``torch.manual_seed``).

Config keys the loop reads (all optional): ``lr`` (1e-3), ``weight_decay`` (0),
``optimizer`` (``adamw``, ``adam``, ``sgd``), ``momentum`` (0.9, sgd), ``batch_size`` (64),
``seed`` (0); the whole config goes to the model factory.

On a GPU: ``amp=True`` trains under ``torch.autocast`` (bfloat16 where supported, else
float16 with a gradient scaler) and ``compile=True`` wraps the model in ``torch.compile``;
both are ignored on CPU. At the end of a trial the model, optimizer and data are dropped and
the CUDA cache is emptied, so a reused actor starts the next trial with its memory free.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = [
    "TorchLoop",
    "torch_trainable",
    "measure_throughput",
    "TorchSpec",
    "as_dataset",
    "loss_fn",
    "epoch_trainable",
]

logger = logging.getLogger(__name__)

_STATE_FILE = "torch_state.pt"
_OPTIMIZERS = ("adamw", "adam", "sgd")


def as_dataset(data: Any, name: str) -> Any:
    """A ``(X, y)`` pair of tensors/arrays becomes a TensorDataset; a Dataset passes through."""
    from torch.utils.data import Dataset, TensorDataset

    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        xs, ys = (torch.as_tensor(v) for v in data)
        if len(xs) != len(ys):
            raise ValueError(f"{name}: X has {len(xs)} rows but y has {len(ys)}")
        if xs.dtype == torch.float64:
            xs = xs.float()
        return TensorDataset(xs, ys)
    raise TypeError(f"{name} must be an (X, y) pair or a torch Dataset, got {type(data).__name__}")


def loss_fn(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    """The loss function named ``loss`` (``cross_entropy``, ``mse``, ``bce``), or ``loss``."""
    if callable(loss):
        return loss
    table: dict[str, Callable[..., Any]] = {
        "cross_entropy": nn.functional.cross_entropy,
        "mse": lambda out, y: nn.functional.mse_loss(out.squeeze(-1), y.float()),
        "bce": lambda out, y: nn.functional.binary_cross_entropy_with_logits(
            out.squeeze(-1), y.float()
        ),
    }
    if loss not in table:
        raise ValueError(f"loss must be one of {list(table)} or a callable, got {loss!r}")
    return table[loss]


class TorchLoop:
    """One trial's model, optimizer, data and random states; trains an epoch at a time.

    Args:
        model_fn: ``config -> nn.Module``.
        config: hyperparameters (see the module docstring).
        train_data, val_data: ``(X, y)`` pairs or torch Datasets (``val_data`` optional).
        loss: ``"cross_entropy"``, ``"mse"``, ``"bce"`` or ``(outputs, targets) -> loss``.
        device: ``"cpu"``, ``"cuda"`` or None (CUDA when available).
        amp: autocast on CUDA (bfloat16, or float16 with a gradient scaler).
        compile: ``torch.compile`` the model on CUDA.
        wrap_model: applied to the built model (e.g. Ray Train's ``prepare_model``).
        shard: ``(rank, world)``: this process trains on every ``world``-th batch only.
    """

    def __init__(
        self,
        model_fn: Callable[[dict[str, Any]], nn.Module],
        config: dict[str, Any],
        train_data: Any,
        val_data: Any = None,
        *,
        loss: str | Callable[..., Any] = "cross_entropy",
        device: str | None = None,
        amp: bool = False,
        compile: bool = False,
        wrap_model: Callable[[nn.Module], nn.Module] | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.config = dict(config)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.cuda = self.device.type == "cuda"
        seed = int(self.config.get("seed", 0))
        if seed < 0:
            raise ValueError(f"config['seed'] must be >= 0, got {seed}")
        name = str(self.config.get("optimizer", "adamw")).lower()
        if name not in _OPTIMIZERS:
            raise ValueError(f"config['optimizer'] must be one of {_OPTIMIZERS}, got {name!r}")
        self.batch_size = int(self.config.get("batch_size", 64))
        if self.batch_size < 1:
            raise ValueError(f"config['batch_size'] must be >= 1, got {self.batch_size}")
        self.train_data = as_dataset(train_data, "train_data")
        self.val_data = as_dataset(val_data, "val_data") if val_data is not None else None
        self.loss = loss_fn(loss)
        self.shard = shard
        self.epoch = 0
        # the batch order: a generator of its own
        self.generator = torch.Generator().manual_seed(seed)
        # global states (dropout, user code) derived from the seed, used under fork_rng
        self.cpu_state = torch.Generator().manual_seed(seed + 1).get_state()
        self.cuda_state = (
            torch.Generator(device=self.device).manual_seed(seed + 2).get_state()
            if self.cuda
            else None
        )
        with self._rng():
            module = model_fn(self.config)
        if not isinstance(module, nn.Module):
            raise TypeError(f"model_fn must return an nn.Module, got {type(module).__name__}")
        self.module: Any = module.to(self.device)  # the bare model: state and parameters
        self.model: Any = wrap_model(self.module) if wrap_model is not None else self.module
        if compile and self.cuda:
            self.model = torch.compile(self.model)
        elif compile:
            logger.info("compile=True is ignored on CPU")
        self.amp_dtype: torch.dtype | None = None
        if amp and self.cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif amp:
            logger.info("amp=True is ignored on CPU")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        params = self.module.parameters()
        lr, wd = float(self.config.get("lr", 1e-3)), float(self.config.get("weight_decay", 0.0))
        self.optimizer: torch.optim.Optimizer
        if name == "sgd":
            self.optimizer = torch.optim.SGD(
                params, lr=lr, weight_decay=wd, momentum=float(self.config.get("momentum", 0.9))
            )
        elif name == "adam":
            self.optimizer = torch.optim.Adam(params, lr=lr, weight_decay=wd)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
        self._tensors = self._device_tensors()

    @classmethod
    def for_spec(
        cls, spec: Any, config: dict[str, Any], *, device: str | None, **kwargs: Any
    ) -> TorchLoop:
        """The loop of a trial's ``spec`` (a :class:`TorchSpec` or a ``DDPSpec``: the model
        factory, data, loss, ``amp`` and ``compile``); ``kwargs`` go to the constructor."""
        return cls(
            spec.model_fn,
            config,
            spec.train_data,
            spec.val_data,
            loss=spec.loss,
            device=device,
            amp=spec.amp,
            compile=spec.compile,
            **kwargs,
        )

    # ------------------------------------------------------------------ randomness
    @contextlib.contextmanager
    def _rng(self) -> Iterator[None]:
        """Runs with this loop's global RNG states; the caller's are restored after."""
        devices = [self.device.index or 0] if self.cuda else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu_state)
            if self.cuda and self.cuda_state is not None:
                torch.cuda.set_rng_state(self.cuda_state, self.device)
            try:
                yield
            finally:
                self.cpu_state = torch.get_rng_state()
                if self.cuda:
                    self.cuda_state = torch.cuda.get_rng_state(self.device)

    # ------------------------------------------------------------------ data
    def _device_tensors(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Tensor data moved to the device once (no DataLoader per batch)."""
        from torch.utils.data import TensorDataset

        if isinstance(self.train_data, TensorDataset) and len(self.train_data.tensors) == 2:
            xs, ys = self.train_data.tensors
            return xs.to(self.device), ys.to(self.device)
        return None

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.train_data)
        order = torch.randperm(n, generator=self.generator)
        rank, world = self.shard
        starts = list(range(0, n, self.batch_size))
        # every rank takes the same number of batches (DDP all-reduces once per step)
        starts = starts[rank : len(starts) // world * world : world] if world > 1 else starts
        for i in starts:
            idx = order[i : i + self.batch_size]
            if self._tensors is not None:
                xs, ys = self._tensors
                idx = idx.to(self.device)
                yield xs[idx], ys[idx]
            else:
                items = [self.train_data[int(j)] for j in idx]
                yield (
                    torch.stack([torch.as_tensor(a) for a, _ in items]).to(self.device),
                    torch.as_tensor([b for _, b in items]).to(self.device),
                )

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.amp_dtype)

    # ------------------------------------------------------------------ training
    def train_epoch(self) -> dict[str, float]:
        """One pass over (this shard of) the training data."""
        start = time.perf_counter()
        self.model.train()
        total, seen = 0.0, 0
        with self._rng():
            for xs, ys in self._batches():
                self.optimizer.zero_grad(set_to_none=True)
                with self._autocast():
                    loss = self.loss(self.model(xs), ys)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                total += float(loss.detach()) * len(xs)
                seen += len(xs)
        if self.cuda:
            torch.cuda.synchronize(self.device)
        self.epoch += 1
        elapsed = time.perf_counter() - start
        return {
            "epoch": self.epoch,
            "train_loss": total / max(seen, 1),
            "samples": seen,
            "samples_per_s": seen / max(elapsed, 1e-9),
            "epoch_s": elapsed,
        }

    def evaluate(self) -> dict[str, float]:
        """``val_loss`` (and ``val_accuracy`` for class outputs) on the validation data."""
        if self.val_data is None:
            return {}
        from torch.utils.data import DataLoader

        self.model.eval()
        total, correct, seen, classes = 0.0, 0, 0, False
        # evaluation must not move the training's random streams (nor the caller's): the
        # loader gets a generator of its own and the model runs under a forked global RNG
        loader = DataLoader(
            self.val_data,
            batch_size=max(self.batch_size, 256),
            generator=torch.Generator().manual_seed(0),
        )
        devices = [self.device.index or 0] if self.cuda else []
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            for xs, ys in loader:
                xs, ys = xs.to(self.device), ys.to(self.device)
                with self._autocast():
                    out = self.model(xs)
                total += float(self.loss(out.float(), ys)) * len(xs)
                if out.ndim == 2 and out.shape[1] > 1 and not ys.is_floating_point():
                    classes = True
                    correct += int((out.argmax(dim=1) == ys).sum())
                seen += len(xs)
        metrics = {"val_loss": total / max(seen, 1)}
        if classes:
            metrics["val_accuracy"] = correct / max(seen, 1)
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: model, optimizer, scaler, epoch, RNGs."""
        return {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "generator": self.generator.get_state(),
            "cpu_state": self.cpu_state,
            "cuda_state": self.cuda_state,
        }

    def load_state_dict(self, state: dict[str, Any], *, keep_config: bool = True) -> None:
        """Continues from :meth:`state_dict`; with ``keep_config`` the optimizer takes this
        loop's ``lr``/``weight_decay``/``momentum`` (a PBT exploit's new values)."""
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.generator.set_state(state["generator"])
        self.cpu_state = state["cpu_state"]
        if self.cuda and state.get("cuda_state") is not None:
            self.cuda_state = state["cuda_state"]
        if keep_config:
            for group in self.optimizer.param_groups:
                for key in ("lr", "weight_decay", "momentum"):
                    if key in self.config and key in group:
                        group[key] = float(self.config[key])

    def save(self, folder: str) -> str:
        path = os.path.join(folder, _STATE_FILE)
        torch.save(self.state_dict(), path)
        return path

    def load(self, folder: str) -> None:
        state = torch.load(
            os.path.join(folder, _STATE_FILE), map_location=self.device, weights_only=False
        )
        self.load_state_dict(state)

    def resume(self, checkpoint: Any) -> int:
        """Continues from a Tune or Ray Train ``checkpoint`` written by :meth:`save` (None:
        starts afresh); returns the epoch it continues from."""
        if checkpoint is None:
            return 0
        with checkpoint.as_directory() as folder:
            self.load(folder)
        return self.epoch

    def memory_mb(self) -> float:
        """Peak GPU memory this process allocated (0 on CPU)."""
        if not self.cuda:
            return 0.0
        return torch.cuda.max_memory_allocated(self.device) / 2**20

    def close(self) -> None:
        """Drops model, optimizer and data; empties the CUDA cache (for actor reuse)."""
        for name in ("model", "module", "optimizer", "scaler", "_tensors"):
            if hasattr(self, name):
                setattr(self, name, None)
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


@dataclass
class TorchSpec:
    """What a torch trial gets through the object store (once, via ``with_parameters``)."""

    model_fn: Callable[[dict[str, Any]], nn.Module]
    train_data: Any
    val_data: Any = None
    loss: str | Callable[..., Any] = "cross_entropy"
    max_epochs: int = 10
    amp: bool = False
    compile: bool = False
    checkpoint_every: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _device_for_trial() -> str:
    from raysearch.trainables.tabular import trial_device

    return "cuda" if trial_device() == "cuda" and torch.cuda.is_available() else "cpu"


def _torch_trial(config: dict[str, Any], spec: TorchSpec) -> None:
    from ray import tune

    loop = TorchLoop.for_spec(spec, config, device=_device_for_trial())
    try:
        resumed_from = loop.resume(tune.get_checkpoint())
        while loop.epoch < spec.max_epochs:
            metrics: dict[str, Any] = {**loop.train_epoch(), **loop.evaluate()}
            metrics["resumed_from"] = resumed_from
            metrics["gpu_mem_mb"] = loop.memory_mb()
            if not math.isfinite(metrics["train_loss"]):
                tune.report(metrics)
                break
            if loop.epoch % spec.checkpoint_every and loop.epoch < spec.max_epochs:
                tune.report(metrics)
                continue
            with tempfile.TemporaryDirectory(prefix="raysearch-torch-") as folder:
                loop.save(folder)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
    finally:
        loop.close()


def torch_trainable(
    model_fn: Callable[[dict[str, Any]], nn.Module],
    train_data: Any,
    val_data: Any = None,
    *,
    loss: str | Callable[..., Any] = "cross_entropy",
    max_epochs: int = 10,
    amp: bool = False,
    compile: bool = False,
    checkpoint_every: int = 1,
) -> Any:
    """A Tune function trainable running :class:`TorchLoop` for up to ``max_epochs``.

    Reports every epoch (``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy`` for class
    outputs, ``samples_per_s``, ``gpu_mem_mb``, ``resumed_from``) with a checkpoint every
    ``checkpoint_every`` epochs and at the last one. The model factory and the data go to
    the object store once. Attributes: ``metric="val_loss"``, ``mode="min"``,
    ``time_attr="epoch"``, ``max_t``.
    """
    from ray import tune

    if max_epochs < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs!r}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every!r}")
    if not callable(model_fn):
        raise TypeError(f"model_fn must be callable (config -> nn.Module), got {model_fn!r}")
    as_dataset(train_data, "train_data")
    loss_fn(loss)
    spec = TorchSpec(
        model_fn, train_data, val_data, loss, int(max_epochs), amp, compile, checkpoint_every
    )
    trainable = tune.with_parameters(_torch_trial, spec=spec)
    return epoch_trainable(trainable, val_data, max_epochs, "torch_trainable")


def epoch_trainable(trainable: Any, val_data: Any, max_epochs: int, name: str) -> Any:
    """Names ``trainable`` and gives it the attributes of an epoch loop: ``metric``
    (``val_loss``, or ``train_loss`` without validation data), ``mode``, ``time_attr``
    (``epoch``) and ``max_t``."""
    trainable.metric = "val_loss" if val_data is not None else "train_loss"
    trainable.mode = "min"
    trainable.time_attr = "epoch"
    trainable.max_t = int(max_epochs)
    trainable.__name__ = name
    return trainable


def measure_throughput(
    model_fn: Callable[[dict[str, Any]], nn.Module],
    train_data: Any,
    config: dict[str, Any],
    *,
    seconds: float = 5.0,
    loss: str | Callable[..., Any] = "cross_entropy",
    device: str | None = None,
    amp: bool = False,
    compile: bool = False,
) -> dict[str, float]:
    """Trains for about ``seconds`` (after one warm-up epoch) and returns ``samples_per_s``
    and the peak ``gpu_mem_mb``: the probe behind ``gpu="auto"``."""
    loop = TorchLoop(
        model_fn, config, train_data, loss=loss, device=device, amp=amp, compile=compile
    )
    try:
        loop.train_epoch()  # warm-up: kernels, compilation, allocator
        samples, elapsed = 0, 0.0
        while elapsed < seconds:
            out = loop.train_epoch()
            samples += int(out["samples"])
            elapsed += out["epoch_s"]
        return {"samples_per_s": samples / max(elapsed, 1e-9), "gpu_mem_mb": loop.memory_mb()}
    finally:
        loop.close()
