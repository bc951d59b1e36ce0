"""DARTS on the NAS-Bench-201 cell space, first and second order, with a collapse guard.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019, in the
NAS-Bench-201 form (Dong & Yang, ICLR 2020): every edge of the cell is a *mixed op*, the
softmax-weighted sum of all candidate ops, with one architecture parameter ``alpha`` per
(edge, op), shared by every cell. The skeleton is the one :func:`raysearch.nas.build`
makes for ``kind="cell"`` (stem, 3 stages of cells, a residual reduction block between
stages, BN-ReLU, global pooling, linear), for 1-D (MNIST-1D) or 2-D inputs.

Bilevel training, one epoch at a time (:meth:`DartsSearch.train_epoch`): the training
data are split in two halves; each step first updates ``alpha`` on a batch of the second
half (Adam), then the weights on a batch of the first (SGD, momentum, cosine schedule).
``order=1`` takes the gradient of the validation loss at the current weights;
``order=2`` at the weights after one virtual SGD step, ``w' = w - xi * dL_train/dw``,
with the Hessian-vector product of DARTS' eq. 8 by central finite differences
(``eps = 0.01 / ||dL_val/dw'||``).

The derived genotype (:meth:`DartsSearch.genotype`) is the argmax op of every edge among
the ops other than ``none`` (DARTS' rule; ``exclude_none=False`` includes it, as
NAS-Bench-201's DARTS baseline does): an architecture config that :func:`raysearch.nas.build`
accepts, so the found cell is trained stand-alone like any other.

**Collapse guard** (``guard="es"``, the default): early stopping on the share of
parameter-free edges, the criterion of DARTS+ (Liang et al., "DARTS+: Improved
Differentiable Architecture Search with Early Stopping", 2019) stated for this space:
when more than ``guard_threshold`` of the derived edges are ``skip_connect`` or ``none``,
the search stops and keeps the last genotype that was under the threshold (when the
first epoch is already over it, each edge takes its best parametric op, the skip-count
cap of P-DARTS, Chen et al. 2019). Why this one: DARTS' failure on NAS-Bench-201 is
exactly a drift of ``alpha`` towards skip/none (54% test accuracy against a 94% optimum),
the share is read off ``alpha`` for free every epoch (DARTS-ES's Hessian eigenvalue costs a
Hessian per epoch; a regularizer such as beta-decay or DARTS-'s auxiliary skip changes
training and needs its own tuning), and it works unchanged for both orders.
``guard=None`` runs plain DARTS.

Measured (``python -m raysearch.bench zerocost --part darts``; MNIST-1D, 8 channels, 10
first-order epochs, each derived cell trained 3 epochs stand-alone like 50 random cells,
median 0.854): seeds 0, 1, 2 derived 0.922, 0.920, 0.920 (above 96% of the random cells).
The guard never fired: at this length DARTS drifts to convolutions, not to skip; with the
guard off for 20 epochs the cell stayed parametric (0.914). Allowing ``none`` in the
derivation gave cells with 1 to 3 ``none`` edges and 0.767, 0.850, 0.855 (0.822 for the
20-epoch run).

torch is imported inside the functions only. Example::

    from raysearch.nas.darts import DartsSearch
    from raysearch.nas.datasets import mnist1d_task

    search = DartsSearch(mnist1d_task(), epochs=10, order=1, seed=0)
    while not search.done:
        metrics = search.train_epoch()     # ..., "genotype": {"kind": "cell", ...}
    arch = search.genotype()
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from raysearch.core.rng import SeedLike, make_rng, torch_generator
from raysearch.nas.builder import head_layers, reduction_block, stem_layers
from raysearch.nas.ops import make_op
from raysearch.nas.spaces import NB201_EDGES, NB201_OPS
from raysearch.nas.trainable import NASTask

__all__ = ["DartsSearch", "PARAM_FREE", "GUARDS", "param_free_share"]

#: the ops whose dominance is DARTS' collapse
PARAM_FREE: tuple[str, ...] = ("none", "skip_connect")
#: collapse guards: "es" (DARTS+ early stopping on the skip/none share) or None
GUARDS: tuple[str | None, ...] = ("es", None)


def param_free_share(edges: Sequence[str]) -> float:
    """The fraction of ``edges`` that are ``none`` or ``skip_connect``."""
    return sum(e in PARAM_FREE for e in edges) / max(1, len(edges))


# ----------------------------------------------------------------------------- modules
@functools.cache
def _modules() -> SimpleNamespace:
    import torch
    from torch import nn

    class MixedOp(nn.Module):
        def __init__(self, ops: Sequence[str], c: int, dim: int) -> None:
            super().__init__()
            self.ops = nn.ModuleList(make_op(o, c, c, 1, dim=dim) for o in ops)

        def forward(self, x: Any, weights: Any) -> Any:
            return sum(w * op(x) for w, op in zip(weights, self.ops))

    class SearchCell(nn.Module):
        def __init__(self, ops: Sequence[str], c: int, dim: int) -> None:
            super().__init__()
            self.edges = nn.ModuleList(MixedOp(ops, c, dim) for _ in NB201_EDGES)

        def forward(self, x: Any, weights: Any) -> Any:
            nodes = [x]
            for j in (1, 2, 3):
                parts = [
                    self.edges[e](nodes[i], weights[e])
                    for e, (to, i) in enumerate(NB201_EDGES)
                    if to == j
                ]
                nodes.append(sum(parts))
            return nodes[-1]

    class SearchNet(nn.Module):
        """The skeleton of builder's cell networks with mixed-op cells and ``alpha``."""

        def __init__(
            self, ops: Sequence[str], c: int, n_cells: int, input_shape: Sequence[int], n: int
        ) -> None:
            super().__init__()
            stem, dim = stem_layers(input_shape, c, act=False)
            self.stem = nn.Sequential(*stem)
            blocks: list[Any] = []
            for stage in range(3):
                if stage:
                    blocks.append(reduction_block(c, 2 * c, dim))
                    c *= 2
                blocks += [SearchCell(ops, c, dim) for _ in range(n_cells)]
            self.blocks = nn.ModuleList(blocks)
            self.head = nn.Sequential(*head_layers(c, dim, n, norm_act=True))
            self.alphas = nn.Parameter(1e-3 * torch.randn(len(NB201_EDGES), len(ops)))

        def weights(self) -> list[Any]:
            return [p for name, p in self.named_parameters() if name != "alphas"]

        def forward(self, x: Any) -> Any:
            w = torch.softmax(self.alphas, dim=-1)
            x = self.stem(x)
            for block in self.blocks:
                x = block(x, w) if isinstance(block, SearchCell) else block(x)
            return self.head(x)

    return SimpleNamespace(SearchNet=SearchNet)


def _as_tensors(data: Any) -> tuple[Any, Any]:
    import torch

    if not isinstance(data, Sequence) or len(data) != 2:
        raise ValueError("DARTS needs (X, y) pairs of arrays or tensors as data")
    x = torch.as_tensor(np.asarray(data[0]), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(data[1]), dtype=torch.int64)
    return x, y


# ----------------------------------------------------------------------------- the search
class DartsSearch:
    """One DARTS search: a supernet with ``alpha``, trained an epoch at a time.

    Args:
        task: the :class:`~raysearch.nas.trainable.NASTask` (``(X, y)`` arrays): its training
            data are split in halves (weights / ``alpha``); its validation data measure the
            supernet's ``val_acc``.
        epochs: epochs of the search (the cosine schedule's length).
        order: 1 (first-order) or 2 (second-order, unrolled).
        ops: the candidate ops of every edge (NAS-Bench-201's by default).
        channels, cells_per_stage: the search network's (and the genotype's) skeleton.
        lr, momentum, weight_decay, grad_clip: the weights' SGD (cosine to ``lr / 25``).
        arch_lr, arch_weight_decay: ``alpha``'s Adam (betas 0.5, 0.999).
        batch_size: per step, for each half.
        guard: ``"es"`` (stop when the skip/none share exceeds ``guard_threshold``) or None.
        guard_threshold: the share of parameter-free edges allowed (0.5: at most 3 of 6).
        exclude_none: derive each edge's op among the ops other than ``none`` (DARTS' rule;
            False: NAS-Bench-201's DARTS baseline, ``none`` included).
        seed: the split, the initial weights and ``alpha``, the batch order.
        device: ``"cpu"`` or ``"cuda"`` (default: CUDA when available).
    """

    def __init__(
        self,
        task: NASTask,
        *,
        epochs: int = 10,
        order: int = 1,
        ops: Sequence[str] = NB201_OPS,
        channels: int = 8,
        cells_per_stage: int = 1,
        lr: float = 0.025,
        momentum: float = 0.9,
        weight_decay: float = 3e-4,
        grad_clip: float = 5.0,
        arch_lr: float = 3e-3,
        arch_weight_decay: float = 1e-3,
        batch_size: int = 64,
        guard: str | None = "es",
        guard_threshold: float = 0.5,
        exclude_none: bool = True,
        seed: SeedLike = 0,
        device: str | None = None,
    ) -> None:
        import torch

        if order not in (1, 2):
            raise ValueError(f"order must be 1 or 2, got {order!r}")
        if guard not in GUARDS:
            raise ValueError(f"guard must be one of {list(GUARDS)}, got {guard!r}")
        if not 0.0 <= guard_threshold < 1.0:
            raise ValueError(f"guard_threshold must be in [0, 1), got {guard_threshold!r}")
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        self.task, self.epochs, self.order = task, int(epochs), int(order)
        self.ops = [str(o) for o in ops]
        self.channels, self.cells_per_stage = int(channels), int(cells_per_stage)
        self.guard, self.guard_threshold = guard, float(guard_threshold)
        self.exclude_none = bool(exclude_none)
        self.grad_clip, self.batch_size = float(grad_clip), int(batch_size)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        rng = make_rng(seed)
        x, y = _as_tensors(task.train_data)
        order_ = torch.as_tensor(rng.permutation(len(x)))
        half = len(x) // 2
        self._w_data = (x[order_[:half]].to(self.device), y[order_[:half]].to(self.device))
        self._a_data = (x[order_[half:]].to(self.device), y[order_[half:]].to(self.device))
        xv, yv = _as_tensors(task.val_data)
        self._val = (xv.to(self.device), yv.to(self.device))
        self._gen = torch_generator(rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(0, 2**63 - 1)))
            net = _modules().SearchNet(
                self.ops, self.channels, self.cells_per_stage, task.input_shape, task.num_classes
            )
        self.model = net.to(self.device)
        self.w_opt = torch.optim.SGD(
            net.weights(), lr=lr, momentum=momentum, weight_decay=weight_decay
        )
        self.a_opt = torch.optim.Adam(
            [net.alphas], lr=arch_lr, betas=(0.5, 0.999), weight_decay=arch_weight_decay
        )
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_opt, self.epochs, eta_min=lr / 25
        )
        self.epoch = 0
        self.stopped = False
        self.history: list[dict[str, Any]] = []
        self._kept: list[str] | None = None  # the last genotype under the guard's threshold

    # ------------------------------------------------------------------ genotype
    @property
    def done(self) -> bool:
        """The search ran all its epochs, or the guard stopped it."""
        return self.stopped or self.epoch >= self.epochs

    def alphas(self) -> np.ndarray:
        """``alpha`` as an ``(edges, ops)`` array."""
        return self.model.alphas.detach().cpu().numpy().copy()

    def argmax_edges(self, *, exclude_none: bool | None = None) -> list[str]:
        """The argmax op of every edge; ``none`` left out when ``exclude_none`` (default:
        the search's setting)."""
        exclude = self.exclude_none if exclude_none is None else exclude_none
        a = self.alphas()
        keep = [i for i, o in enumerate(self.ops) if not (exclude and o == "none")]
        return [self.ops[keep[int(np.argmax(a[e, keep]))]] for e in range(len(a))]

    def _repaired(self) -> list[str]:
        """Every edge's best parametric op (when even the first epoch was over the guard)."""
        a = self.alphas()
        allowed = [i for i, o in enumerate(self.ops) if o not in PARAM_FREE] or list(
            range(len(self.ops))
        )
        return [self.ops[allowed[int(np.argmax(a[e, allowed]))]] for e in range(len(a))]

    def genotype_edges(self) -> list[str]:
        """The derived edges: the argmax (:meth:`argmax_edges`) without a guard or under its
        threshold; once the guard stopped the search, the last genotype under it."""
        edges = self.argmax_edges()
        if self.guard is None or param_free_share(edges) <= self.guard_threshold:
            return edges
        return list(self._kept) if self._kept is not None else self._repaired()

    def genotype(
        self, *, channels: int | None = None, cells_per_stage: int | None = None
    ) -> dict[str, Any]:
        """The derived cell as an architecture config for :func:`raysearch.nas.build`."""
        return {
            "kind": "cell",
            "edges": self.genotype_edges(),
            "channels": int(channels or self.channels),
            "cells_per_stage": int(cells_per_stage or self.cells_per_stage),
        }

    # ------------------------------------------------------------------ training
    def _loss(self, batch: tuple[Any, Any]) -> Any:
        from torch import nn

        return nn.functional.cross_entropy(self.model(batch[0]), batch[1])

    def _batches(self) -> list[tuple[tuple[Any, Any], tuple[Any, Any]]]:
        import torch

        n_w, n_a = len(self._w_data[0]), len(self._a_data[0])
        pw = torch.randperm(n_w, generator=self._gen).to(self.device)
        pa = torch.randperm(n_a, generator=self._gen).to(self.device)
        out = []
        for start in range(0, min(n_w, n_a) - self.batch_size + 1, self.batch_size):
            iw, ia = pw[start : start + self.batch_size], pa[start : start + self.batch_size]
            out.append(
                (
                    (self._w_data[0][iw], self._w_data[1][iw]),
                    (self._a_data[0][ia], self._a_data[1][ia]),
                )
            )
        return out

    def _arch_step_first(self, val_batch: tuple[Any, Any]) -> None:
        self.a_opt.zero_grad()
        self.model.alphas.grad = None
        loss = self._loss(val_batch)
        (grad,) = _grad(loss, [self.model.alphas])
        self.model.alphas.grad = grad
        self.a_opt.step()

    def _arch_step_second(self, train_batch: tuple[Any, Any], val_batch: tuple[Any, Any]) -> None:
        """DARTS' eq. 7-8: the gradient at ``w' = w - xi dL_train/dw`` minus ``xi`` times
        the finite-difference Hessian-vector product."""
        import torch

        weights = self.model.weights()
        alphas = self.model.alphas
        xi = float(self.w_opt.param_groups[0]["lr"])
        backup = [w.detach().clone() for w in weights]
        g_train = _grad(self._loss(train_batch), weights)
        with torch.no_grad():
            for w, g in zip(weights, g_train):
                w.sub_(xi * g)
        grads = _grad(self._loss(val_batch), [alphas, *weights])
        d_alpha, d_w = grads[0], grads[1:]
        norm = torch.sqrt(sum((g * g).sum() for g in d_w))
        eps = 0.01 / float(norm) if float(norm) > 0 else 0.0
        hessian = torch.zeros_like(alphas)
        if eps > 0:
            for sign in (1.0, -1.0):
                with torch.no_grad():
                    for w, b, g in zip(weights, backup, d_w):
                        w.copy_(b + sign * eps * g)
                (g_a,) = _grad(self._loss(train_batch), [alphas])
                hessian = hessian + sign * g_a / (2 * eps)
        with torch.no_grad():
            for w, b in zip(weights, backup):
                w.copy_(b)
        self.a_opt.zero_grad()
        alphas.grad = d_alpha - xi * hessian
        self.a_opt.step()

    def _weight_step(self, train_batch: tuple[Any, Any]) -> float:
        from torch import nn

        self.w_opt.zero_grad()
        loss = self._loss(train_batch)
        weights = self.model.weights()
        grads = _grad(loss, weights)
        for w, g in zip(weights, grads):
            w.grad = g
        nn.utils.clip_grad_norm_(weights, self.grad_clip)
        self.w_opt.step()
        return float(loss.detach())

    def evaluate(self) -> float:
        """The supernet's accuracy on the task's validation data."""
        import torch

        self.model.eval()
        correct = 0
        with torch.no_grad():
            x, y = self._val
            for start in range(0, len(x), 512):
                pred = self.model(x[start : start + 512]).argmax(dim=1)
                correct += int((pred == y[start : start + 512]).sum())
        self.model.train()
        return correct / max(1, len(self._val[0]))

    def train_epoch(self) -> dict[str, Any]:
        """One epoch of bilevel training, then the guard. Returns ``epoch``,
        ``train_loss``, ``val_acc`` (the supernet's), ``genotype`` (the derived config),
        ``argmax_edges``, ``param_free_share`` (of the argmax), ``guard_triggered``,
        ``stopped`` and ``alphas`` (nested lists)."""
        if self.done:
            raise RuntimeError(f"the search is over (epoch {self.epoch}, stopped={self.stopped})")
        self.model.train()
        losses = []
        for train_batch, val_batch in self._batches():
            if self.order == 1:
                self._arch_step_first(val_batch)
            else:
                self._arch_step_second(train_batch, val_batch)
            losses.append(self._weight_step(train_batch))
        self.sched.step()
        self.epoch += 1
        edges = self.argmax_edges()
        share = param_free_share(edges)
        triggered = self.guard is not None and share > self.guard_threshold
        if triggered:
            self.stopped = True
        else:
            self._kept = list(edges)
        metrics = {
            "epoch": self.epoch,
            "train_loss": float(np.mean(losses)) if losses else math.nan,
            "val_acc": self.evaluate(),
            "genotype": self.genotype(),
            "argmax_edges": edges,
            "param_free_share": share,
            "guard_triggered": bool(triggered),
            "stopped": self.stopped,
            "alphas": self.alphas().round(5).tolist(),
        }
        self.history.append({k: v for k, v in metrics.items() if k != "alphas"})
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed search needs (torch tensors; save with ``torch.save``)."""
        return {
            "model": self.model.state_dict(),
            "w_opt": self.w_opt.state_dict(),
            "a_opt": self.a_opt.state_dict(),
            "sched": self.sched.state_dict(),
            "gen": self._gen.get_state(),
            "epoch": self.epoch,
            "stopped": self.stopped,
            "kept": self._kept,
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.w_opt.load_state_dict(state["w_opt"])
        self.a_opt.load_state_dict(state["a_opt"])
        self.sched.load_state_dict(state["sched"])
        self._gen.set_state(state["gen"])
        self.epoch = int(state["epoch"])
        self.stopped = bool(state["stopped"])
        self._kept = None if state["kept"] is None else list(state["kept"])
        self.history = list(state["history"])


def _grad(loss: Any, params: Sequence[Any]) -> Any:
    import torch

    return torch.autograd.grad(loss, list(params), allow_unused=True, materialize_grads=True)
