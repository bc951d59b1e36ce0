"""Zero-cost proxies: a score of an *untrained* network from one minibatch.

Each proxy builds the architecture with :func:`raysearch.nas.build` (same seed, same
weights), looks at one batch, and returns a float where **higher means "predicted
better"**. None of them is on accuracy's scale, so they rank candidates
(:class:`raysearch.nas.screen.ProxyScreen`), never stop trials on an ASHA rung.

* ``synflow``: Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020, as a NAS proxy in Abdelfattah et al.,
  "Zero-Cost Proxies for Lightweight NAS", ICLR 2021: ``sum |theta * dR/dtheta|`` with
  ``R`` the sum of the outputs of the network with all weights made positive, an all-ones
  input, float64, BatchNorm in eval mode (so it is data-free);
* ``naswot``: Mellor et al., "Neural Architecture Search without Training", ICML 2021: the
  binary codes of every ReLU's output per sample; ``K[i, j]`` counts the units on which
  samples ``i`` and ``j`` agree; the score is ``log det K`` (computed on ``K + I`` so a
  network whose codes coincide, e.g. an all-``none`` cell, gets a finite, low score);
* ``grad_norm``: Abdelfattah et al. 2021: the sum of the L2 norms of the gradients of the
  cross-entropy on the batch;
* ``snip``: Lee et al., "SNIP: Single-shot Network Pruning based on Connection
  Sensitivity", ICLR 2019: ``sum |theta * dL/dtheta|`` over conv and linear weights;
* ``params`` and ``flops``: the baselines every proxy has to beat (trainable parameters and
  multiply-accumulates per sample, :func:`raysearch.nas.builder.count_flops`).

torch is imported inside the functions only.

Example::

    from raysearch.nas.proxies import proxy_scores
    scores = proxy_scores(arch, (x[:64], y[:64]), input_shape=(40,), num_classes=10)
    # {"synflow": ..., "naswot": ..., "grad_norm": ..., "snip": ..., "params": ..., "flops": ...}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from raysearch.core.rng import make_rng
from raysearch.nas.builder import build, count_flops

__all__ = ["PROXIES", "proxy_score", "proxy_scores", "model_score"]

#: every proxy name; higher is better for all of them
PROXIES: tuple[str, ...] = ("synflow", "naswot", "grad_norm", "snip", "params", "flops")


def _batch(batch: Any) -> tuple[Any, Any]:
    import torch

    if not isinstance(batch, Sequence) or len(batch) != 2:
        raise ValueError("batch must be an (inputs, labels) pair")
    x, y = batch
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"batch needs at least 2 samples and as many labels, got {len(x)}")
    return x, y


def _synflow(model: Any, x: Any, y: Any) -> float:
    import torch

    model = model.double().eval()
    with torch.no_grad():
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    model.zero_grad()
    out = model(torch.ones((1, *x.shape[1:]), dtype=torch.float64))
    out.sum().backward()
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float((p.detach() * p.grad).abs().sum())
    return total


def _naswot(model: Any, x: Any, y: Any) -> float:
    import torch
    from torch import nn

    codes: list[Any] = []

    def hook(module: Any, inputs: Any, output: Any) -> None:
        codes.append((output.detach() > 0).flatten(1).double())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    n = x.shape[0]
    if not codes:
        return 0.0
    c = torch.cat(codes, dim=1)
    k = c @ c.T + (1.0 - c) @ (1.0 - c).T
    sign, logdet = torch.linalg.slogdet(k + torch.eye(n, dtype=torch.float64))
    return float(logdet) if float(sign) > 0 else 0.0


def _loss_grads(model: Any, x: Any, y: Any) -> None:
    from torch import nn

    model.train()
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()


def _grad_norm(model: Any, x: Any, y: Any) -> float:
    _loss_grads(model, x, y)
    return float(sum(float(p.grad.norm()) for p in model.parameters() if p.grad is not None))


def _snip(model: Any, x: Any, y: Any) -> float:
    from torch import nn

    _loss_grads(model, x, y)
    total = 0.0
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear) and m.weight.grad is not None:
            total += float((m.weight.detach() * m.weight.grad).abs().sum())
    return total


def _params(model: Any, x: Any, y: Any) -> float:
    return float(sum(int(p.numel()) for p in model.parameters() if p.requires_grad))


def _flops(model: Any, x: Any, y: Any) -> float:
    return float(count_flops(model, tuple(x.shape[1:])))


_SCORERS: dict[str, Callable[[Any, Any, Any], float]] = {
    "synflow": _synflow,
    "naswot": _naswot,
    "grad_norm": _grad_norm,
    "snip": _snip,
    "params": _params,
    "flops": _flops,
}


def _check(proxy: str) -> None:
    if proxy not in _SCORERS:
        raise ValueError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")


def model_score(proxy: str, model: Any, batch: Any) -> float:
    """``proxy`` of an (untrained) ``torch.nn.Module`` on ``batch = (x, y)``. The model is
    modified (synflow takes the absolute value of its weights): pass a fresh one."""
    _check(proxy)
    x, y = _batch(batch)
    value = _SCORERS[proxy](model, x, y)
    return value if math.isfinite(value) else -math.inf


def proxy_score(
    proxy: str,
    arch: Mapping[str, Any],
    batch: Any,
    *,
    input_shape: Sequence[int],
    num_classes: int,
    seed: Any = 0,
) -> float:
    """``proxy`` of architecture ``arch`` (built with ``seed``) on ``batch = (x, y)``
    (arrays or tensors; 32 to 128 samples is typical). Higher is better; a network that
    cannot produce a finite score gets ``-inf``."""
    import torch

    _check(proxy)
    with torch.random.fork_rng(devices=[]):
        model = build(arch, input_shape, num_classes, seed=seed)
        return model_score(proxy, model, batch)


def proxy_scores(
    arch: Mapping[str, Any],
    batch: Any,
    *,
    input_shape: Sequence[int],
    num_classes: int,
    proxies: Sequence[str] = PROXIES,
    seed: Any = 0,
) -> dict[str, float]:
    """``{proxy: score}`` of ``arch`` for every name in ``proxies`` (each on a freshly
    built copy of the same initial weights)."""
    for p in proxies:
        _check(p)
    if not isinstance(seed, int | np.integer):  # one draw: every proxy sees the same weights
        seed = int(make_rng(seed).integers(0, 2**63 - 1))
    return {
        p: proxy_score(p, arch, batch, input_shape=input_shape, num_classes=num_classes, seed=seed)
        for p in proxies
    }
