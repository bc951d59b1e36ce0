"""Training a supernet: path samplers and an epoch loop with exact checkpoints (Ray-free).

Samplers (``sampler=`` of :class:`SuperNetTrainer`, or :func:`make_sampler`):

* ``"uniform"``: single-path one-shot (SPOS, Guo et al. 2020): one architecture drawn
  uniformly from the space per step;
* ``"sandwich"``: the sandwich rule (Yu et al., BigNAS / slimmable networks, 2019-2020): per
  step the largest and the smallest architecture plus ``n_random`` uniform ones, their
  gradients summed, so the extremes of the space (which uniform sampling visits rarely)
  are trained every step. Largest means deepest, widest, largest kernel and expansion,
  stride 1; smallest the opposite; the op and skip of each block are drawn at random;
* ``"depth_weighted"``: uniform blocks, depth ``d`` drawn with probability ``~ d**power``
  (``power=2`` default): deep block positions, rarely trained under uniform depth,
  are trained more often (on MNIST-1D Kendall tau 0.18 -> 0.41-0.56, ``bench oneshot``);
* ``"fair"``: strict fairness (FairNAS, Chu et al. 2021): ``n`` paths a step in which
  every option of every block choice appears equally often at each position
  (:func:`fair_paths`);
* ``"auto"`` (the default): ``"depth_weighted"`` on a macro space whose depth varies,
  ``"uniform"`` otherwise.

:class:`SuperNetTrainer` holds the supernet, the optimizer and every random state (the
numpy generator that draws paths, the torch generator of the batch order); its checkpoint
continues exactly (train 2 epochs == train 1, save, load, train 1). It counts
``sample_passes`` (samples through forward+backward, one per path) and ``flops`` (3x the
forward multiply-accumulates of every path trained, macro spaces) for compute accounting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from raysearch.core.rng import SeedLike, make_rng
from raysearch.nas.supernet import SuperNet, is_macro, macro_limits
from raysearch.space import Space

__all__ = [
    "SAMPLERS",
    "DEPTH_POWER_SAMPLERS",
    "make_sampler",
    "uniform_paths",
    "sandwich_paths",
    "depth_weighted_paths",
    "fair_paths",
    "auto_paths",
    "extreme_arch",
    "SuperNetTrainer",
]

Sampler = Callable[[np.random.Generator], list[dict[str, Any]]]
#: the samplers that draw depth ``~ d ** power`` (option ``power``)
DEPTH_POWER_SAMPLERS = ("auto", "depth_weighted", "fair")
_STATE_FILE = "supernet_state.pt"


def extreme_arch(space: Space, which: str, rng: np.random.Generator) -> dict[str, Any]:
    """The ``"largest"`` or ``"smallest"`` architecture of a macro space (see the module
    docstring); ops and skips drawn from ``rng``."""
    if which not in ("largest", "smallest"):
        raise ValueError(f"which must be 'largest' or 'smallest', got {which!r}")
    limits = macro_limits(space)
    pick = max if which == "largest" else min
    depth = limits["max_blocks"] if which == "largest" else limits["min_blocks"]
    blocks = [
        {
            "op": str(rng.choice(limits["ops"])),
            "width": pick(limits["widths"]),
            "kernel": pick(limits["kernels"]),
            "expansion": pick(limits["expansions"]),
            "stride": (min if which == "largest" else max)(limits["strides"]),
            "skip": bool(rng.choice(limits["skips"])),
        }
        for _ in range(depth)
    ]
    return {
        "kind": "macro",
        "stem_width": limits["stem_width"],
        "n_blocks": depth,
        "blocks": blocks,
    }


def _depth_probs(limits: Mapping[str, Any], power: float) -> tuple[np.ndarray, np.ndarray]:
    """The depths of a macro space and their probabilities ``~ d ** power``."""
    depths = np.arange(limits["min_blocks"], limits["max_blocks"] + 1)
    weights = depths.astype(float) ** float(power)
    return depths, weights / weights.sum()


def uniform_paths(space: Space) -> Sampler:
    """SPOS: one uniformly drawn architecture per step."""

    def sample(rng: np.random.Generator) -> list[dict[str, Any]]:
        return [space.to_config(space.sample(rng))]

    return sample


def depth_weighted_paths(space: Space, power: float = 2.0) -> Sampler:
    """One architecture per step whose depth ``d`` is drawn with probability proportional
    to ``d ** power`` (the blocks uniformly, as ``"uniform"``). Uniform depth trains block
    position ``k`` only in the paths at least ``k`` deep, so deep subnets stay undertrained
    and rank below shallow ones (on MNIST-1D Kendall tau 0.18 -> 0.41-0.56, bench oneshot)."""
    depths, probs = _depth_probs(macro_limits(space), power)

    def sample(rng: np.random.Generator) -> list[dict[str, Any]]:
        depth = int(rng.choice(depths, p=probs))
        arch = space.to_config(space.sample(rng))
        blocks = list(arch["blocks"])
        while len(blocks) < depth:  # blocks are drawn independently per position
            blocks += space.to_config(space.sample(rng))["blocks"]
        return [{**arch, "n_blocks": depth, "blocks": blocks[:depth]}]

    return sample


def sandwich_paths(space: Space, n_random: int = 2) -> Sampler:
    """The sandwich rule: largest, smallest and ``n_random`` uniform architectures."""
    if n_random < 0:
        raise ValueError(f"n_random must be >= 0, got {n_random!r}")

    def sample(rng: np.random.Generator) -> list[dict[str, Any]]:
        paths = [extreme_arch(space, "largest", rng), extreme_arch(space, "smallest", rng)]
        return paths + [space.to_config(space.sample(rng)) for _ in range(n_random)]

    return sample


def fair_paths(space: Space, power: float = 1.0) -> Sampler:
    """Strict fairness (FairNAS, Chu et al. 2021) on a macro space: ``n`` paths a step, ``n``
    the largest number of options of a block's choice (op, width, kernel, expansion,
    stride, skip), and at every block position each option of each choice appears in
    ``n / options`` of them (exactly once when it has ``n`` options), in a random
    arrangement; the gradients of all ``n`` are summed into one update, so no option of a
    position gets more updates than another. Depths are drawn as ``"depth_weighted"``
    (probability ``~ d ** power``) per path."""
    limits = macro_limits(space)
    choices = {
        "op": limits["ops"],
        "width": limits["widths"],
        "kernel": limits["kernels"],
        "expansion": limits["expansions"],
        "stride": limits["strides"],
        "skip": limits["skips"],
    }
    n = max(len(v) for v in choices.values())
    depths, probs = _depth_probs(limits, power)

    def column(options: list[Any], rng: np.random.Generator) -> list[Any]:
        order = rng.permutation(len(options))
        spread = np.resize(order, n)  # each option n // k or n // k + 1 times
        return [options[int(i)] for i in rng.permutation(spread)]

    def sample(rng: np.random.Generator) -> list[dict[str, Any]]:
        blocks = [
            {key: column(options, rng) for key, options in choices.items()}
            for _ in range(limits["max_blocks"])
        ]
        paths = []
        for j, depth in enumerate(rng.choice(depths, size=n, p=probs)):
            arch = [{key: values[j] for key, values in block.items()} for block in blocks]
            paths.append(
                {
                    "kind": "macro",
                    "stem_width": limits["stem_width"],
                    "n_blocks": int(depth),
                    "blocks": arch[: int(depth)],
                }
            )
        return paths

    return sample


def auto_paths(space: Space, power: float = 2.0) -> Sampler:
    """The default: ``"depth_weighted"`` for a macro space whose depth varies (it ranked
    architectures best in bench oneshot), ``"uniform"`` otherwise (a cell space)."""
    if is_macro(space):
        limits = macro_limits(space)
        if limits["max_blocks"] > limits["min_blocks"]:
            return depth_weighted_paths(space, power)
    return uniform_paths(space)


#: sampler name -> factory ``(space, **options) -> sampler``
SAMPLERS: dict[str, Callable[..., Sampler]] = {
    "auto": auto_paths,
    "uniform": uniform_paths,
    "sandwich": sandwich_paths,
    "depth_weighted": depth_weighted_paths,
    "fair": fair_paths,
}


def make_sampler(name: str, space: Space, **options: Any) -> Sampler:
    """The sampler ``name`` (:data:`SAMPLERS`) of ``space``."""
    if name not in SAMPLERS:
        raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {name!r}")
    return SAMPLERS[name](space, **options)


class SuperNetTrainer:
    """A supernet, its optimizer and random states; trains an epoch at a time.

    Args:
        space: a :func:`raysearch.nas.macro_chain` space.
        train_data: ``(X, y)`` arrays.
        input_shape, num_classes: of the task.
        sampler: ``"auto"`` (default), ``"uniform"``, ``"sandwich"``, ``"depth_weighted"`` or
            ``"fair"``
            (module docstring).
        sampler_options: e.g. ``{"n_random": 2}`` for the sandwich rule.
        lr, weight_decay, batch_size: training settings.
        optimizer: ``"adamw"`` or ``"sgd"`` (Nesterov momentum 0.9, as SPOS).
        epochs: the cosine schedule's length (the learning rate reaches 0 there).
        seed: the initial weights, the paths and the batch order.
        split, split_epoch: few-shot NAS (:mod:`raysearch.nas.fewshot`): after
            ``split_epoch`` epochs the supernet is split along ``split`` (``"n_blocks"`` or
            ``"op"``) into sub-supernets that start from its weights (a fresh optimizer, the
            same learning-rate schedule); None (default): one supernet throughout.
        distill: in-place distillation (Yu et al. 2020, BigNAS; Cai et al. 2020,
            Once-for-All): every step the largest subnet (:func:`extreme_arch`) is trained
            on the labels and the sampled paths on its soft outputs (one more path per
            step).
        distill_every: with ``distill``, the teacher runs (forward and backward on the
            labels) only every ``k``-th step; its soft outputs are kept per training row and
            every step's students train on their rows' latest ones (rows the teacher has not
            seen yet: on the labels). The teacher costs ~7x a sampled path on the bench's
            space, so ``k`` > 1 cuts the supernet's FLOPs; 1 (default): every step.
    """

    def __init__(
        self,
        space: Space,
        train_data: Any,
        input_shape: tuple[int, ...],
        num_classes: int,
        *,
        sampler: str = "auto",
        sampler_options: Mapping[str, Any] | None = None,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        optimizer: str = "adamw",
        batch_size: int = 128,
        epochs: int = 10,
        seed: SeedLike = 0,
        split: str | None = None,
        split_epoch: int | None = None,
        distill: bool = False,
        distill_every: int = 1,
    ) -> None:
        import torch

        from raysearch.core.rng import torch_generator
        from raysearch.nas.fewshot import SPLIT_DIMENSIONS

        if split is not None and split not in SPLIT_DIMENSIONS:
            raise ValueError(f"split must be one of {list(SPLIT_DIMENSIONS)}, got {split!r}")
        self.split = split
        self.split_epoch = int(epochs) // 2 if split_epoch is None else int(split_epoch)
        self.split_done, self.split_at = False, -1
        self.settings = (str(optimizer), float(lr), float(weight_decay))
        self.distill = bool(distill)
        if self.distill:
            macro_limits(space)  # the teacher is the largest subnet of a macro space
        if int(distill_every) < 1:
            raise ValueError(f"distill_every must be >= 1, got {distill_every!r}")
        self.distill_every = int(distill_every)
        rng = make_rng(seed)
        self.space = space
        self.sampler_name, self.sampler_options = sampler, dict(sampler_options or {})
        self.sample = make_sampler(sampler, space, **self.sampler_options)
        self.model = SuperNet(space, input_shape, num_classes, seed=rng)
        self.rng = np.random.default_rng(rng.integers(2**63))
        self.generator = torch_generator(rng)
        x, y = train_data
        self.x = torch.as_tensor(np.array(x, np.float32))  # a copy: inputs may be read-only
        self.y = torch.as_tensor(np.array(y, np.int64))
        self.batch_size = int(batch_size)
        self.epochs = max(int(epochs), 1)
        self.optimizer, self.scheduler = self._optimizer(0)
        self.epoch = 0
        self.sample_passes = 0
        self.steps, self.flops = 0, 0  # optimizer steps; training FLOPs (3x forward MACs)
        self.soft = torch.zeros(len(self.y), num_classes)  # the teacher's latest outputs
        self.has_soft = torch.zeros(len(self.y), dtype=torch.bool)
        self.shape = (tuple(input_shape), int(num_classes))
        self.macro = is_macro(space)  # path_flops: macro paths

    def _optimizer(self, epoch: int) -> tuple[Any, Any]:
        """A fresh optimizer over the model's parameters, its cosine schedule at ``epoch``."""
        import torch

        name, lr, weight_decay = self.settings
        params = self.model.parameters()
        optimizer: Any
        if name == "adamw":
            optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        elif name == "sgd":  # SPOS's choice: stale moments move unused slices less
            optimizer = torch.optim.SGD(
                params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
            )
        else:
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {name!r}")
        epochs = self.epochs

        def cosine(e: int) -> float:
            return float(0.5 * (1 + np.cos(np.pi * min(e + epoch, epochs) / epochs)))

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)

    def split_now(self, at: int | None = None) -> None:
        """Splits the supernet (few-shot NAS); a fresh optimizer continues the schedule
        from epoch ``at`` (default: now)."""
        from raysearch.nas.fewshot import FewShotSuperNet

        if self.split is None or self.split_done:
            return
        self.model = FewShotSuperNet(self.model, self.split)
        self.split_at = self.epoch if at is None else int(at)
        self.optimizer, self.scheduler = self._optimizer(self.split_at)
        self.split_done = True

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the data, each batch through the sampler's paths (gradients of the
        paths summed, one optimizer step)."""
        import torch

        start = time.perf_counter()
        if self.split is not None and self.epoch >= self.split_epoch:
            self.split_now()
        self.model.train()
        order = torch.randperm(len(self.x), generator=self.generator)
        total, seen, paths = 0.0, 0, 0
        for i in range(0, len(order), self.batch_size):
            idx = order[i : i + self.batch_size]
            xs, ys = self.x[idx], self.y[idx]
            step_loss, step_paths = self._step(xs, ys, idx)
            total += step_loss * len(xs)
            seen += step_paths * len(xs)
            paths += step_paths
        self.scheduler.step()
        self.epoch += 1
        self.sample_passes += seen
        return {
            "epoch": self.epoch,
            "train_loss": total / max(seen, 1),
            "paths": paths,
            "sample_passes": self.sample_passes,
            "flops": self.flops,
            "epoch_s": time.perf_counter() - start,
        }

    def _step(self, xs: Any, ys: Any, idx: Any) -> tuple[float, int]:
        """One optimizer step on a batch (rows ``idx``), the gradients of every sampled path
        summed: their cross-entropy with the labels or, with ``distill``, with the soft
        outputs of the largest subnet (trained on the labels in the same step, every
        ``distill_every``-th step; cached per row in between). Returns (summed loss,
        paths)."""
        import torch
        from torch.nn import functional as F

        from raysearch.nas.supernet import path_flops

        self.optimizer.zero_grad(set_to_none=True)
        archs, target, total = self.sample(self.rng), ys, 0.0
        teach = self.distill and self.steps % self.distill_every == 0
        if teach:
            arch = extreme_arch(self.space, "largest", self.rng)
            teacher = self.model(xs, arch)
            loss = F.cross_entropy(teacher, ys)
            loss.backward()
            total += float(loss.detach())
            self.soft[idx], self.has_soft[idx] = F.softmax(teacher.detach(), dim=1), True
            archs = [arch, *archs]
        if self.distill:
            hard = F.one_hot(ys, self.soft.shape[1]).to(self.soft.dtype)
            target = torch.where(self.has_soft[idx, None], self.soft[idx], hard)
        for arch in archs[int(teach) :]:
            out = self.model(xs, arch)
            loss = F.cross_entropy(out, target)
            loss.backward()
            total += float(loss.detach())
        self.optimizer.step()
        self.steps += 1
        if self.macro:
            self.flops += 3 * len(xs) * sum(path_flops(a, *self.shape) for a in archs)
        return total, len(archs)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "sample_passes": self.sample_passes,
            "steps": self.steps,
            "flops": self.flops,
            "soft": self.soft,
            "has_soft": self.has_soft,
            "generator": self.generator.get_state(),
            "rng": self.rng.bit_generator.state,
            "split_done": self.split_done,
            "split_at": self.split_at,
            "sampler": [self.sampler_name, self.sampler_options],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("split_done") and not self.split_done:
            self.split_now(int(state["split_at"]))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.sample_passes = int(state["sample_passes"])
        self.steps, self.flops = int(state.get("steps", 0)), int(state.get("flops", 0))
        if "soft" in state:
            self.soft, self.has_soft = state["soft"].clone(), state["has_soft"].clone()
        self.generator.set_state(state["generator"])
        self.rng.bit_generator.state = state["rng"]
        if "sampler" in state:  # the paths continue as they were drawn, whatever was passed
            self.sampler_name, self.sampler_options = state["sampler"][0], state["sampler"][1]
            self.sample = make_sampler(self.sampler_name, self.space, **self.sampler_options)

    def save(self, folder: str) -> str:
        """Writes the state to ``folder/supernet_state.pt``; returns the path."""
        import torch

        path = os.path.join(folder, _STATE_FILE)
        torch.save(self.state_dict(), path)
        return path

    def load(self, folder: str) -> None:
        import torch

        self.load_state_dict(
            torch.load(os.path.join(folder, _STATE_FILE), map_location="cpu", weights_only=False)
        )

    @staticmethod
    def load_weights(folder: str) -> dict[str, Any]:
        """The supernet's ``state_dict`` from a folder written by :meth:`save`."""
        import torch

        state = torch.load(
            os.path.join(folder, _STATE_FILE), map_location="cpu", weights_only=False
        )
        return dict(state["model"])
