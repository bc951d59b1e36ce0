"""GPU trials: fractional (several trials per GPU) and whole-GPU from one API.

::

    plan = plan_resources(gpu=0.25, cpu=2)                 # 4 trials share each GPU
    raysearch.run(trainable, space, resources=plan.resources,
                  max_concurrent=plan.max_concurrent, ...)
    # or: trainable, plan = gpu_resources(trainable, gpu="auto", probe=(make_model, data, cfg))

``max_concurrent`` is derived from the cluster: per node, the trials its GPUs and CPUs fit
(``raysearch.tune.resources.concurrency_for``, which also counts what an autoscaler can
add).

``gpu="auto"``: small models leave a big GPU idle. The probe trains the model briefly with
1, 2, 4, 8 copies at once on one GPU (each a Ray task with ``num_gpus=1/k``, all measuring
over the same window after a warm-up and a barrier), and picks the packing with the highest
aggregate samples/s whose summed peak memory fits the card (``memory_headroom``), stopping
early when doubling the copies gains less than ``min_gain``. Ray gives fractional GPUs no
memory isolation, which is why the probe checks memory itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GPUPlan", "plan_resources", "gpu_resources", "probe_packing", "choose_packing"]

logger = logging.getLogger(__name__)


@dataclass
class GPUPlan:
    """Per-trial resources and how many trials run at once.

    Attributes:
        resources: per trial, e.g. ``{"cpu": 1, "gpu": 0.25}`` (for ``raysearch.run``).
        max_concurrent: trials the cluster runs at once with these resources.
        trials_per_gpu: trials sharing one GPU (1 for whole-GPU trials; 0 without GPUs).
        probe: the ``gpu="auto"`` measurements, one row per packing tried.
    """

    resources: dict[str, float]
    max_concurrent: int
    trials_per_gpu: int
    probe: list[dict[str, float]] = field(default_factory=list)


def _check_gpu(gpu: float) -> float:
    if isinstance(gpu, bool) or not isinstance(gpu, int | float) or not math.isfinite(gpu):
        raise ValueError(f"gpu must be a number, 'auto' or None, got {gpu!r}")
    if gpu <= 0:
        raise ValueError(f"gpu must be > 0, got {gpu!r}")
    if gpu > 1 and gpu != int(gpu):
        raise ValueError(f"gpu above 1 must be a whole number of GPUs, got {gpu!r}")
    if gpu < 1 and abs(1.0 / gpu - round(1.0 / gpu)) > 1e-6:
        raise ValueError(
            f"a fractional gpu must divide one GPU evenly (1/2, 1/4, ...), got {gpu!r}"
        )
    return float(gpu)


def concurrency(
    request: Mapping[str, float],
    nodes: Sequence[Mapping[str, float]] | None = None,
) -> int:
    """Trials of ``request`` that fit at once on ``nodes`` (Ray resource dicts, ``CPU``/
    ``GPU`` keys); the connected cluster (and its autoscaler) when ``nodes`` is None."""
    from raysearch.tune.resources import cluster_concurrency, concurrency_for

    if nodes is None:
        return cluster_concurrency(request)
    return concurrency_for(request, [dict(n) for n in nodes], [])


def choose_packing(
    rows: Sequence[Mapping[str, float]],
    *,
    total_mb: float,
    memory_headroom: float = 0.9,
    min_gain: float = 1.05,
) -> int:
    """The trials per GPU with the best aggregate throughput that fits in memory.

    ``rows``: one per packing tried, with ``trials``, ``aggregate_samples_per_s`` and
    ``peak_mb`` (the largest process's peak). A packing must beat the best so far by
    ``min_gain`` to be chosen (more trials per GPU cost memory and latency).
    """
    best, best_rate = 1, 0.0
    for row in sorted(rows, key=lambda r: r["trials"]):
        k, rate = int(row["trials"]), float(row["aggregate_samples_per_s"])
        if k * float(row["peak_mb"]) > memory_headroom * total_mb:
            break
        if best_rate == 0.0 or rate >= best_rate * min_gain:
            best, best_rate = k, rate
    return best


def _probe_task(
    model_fn: Callable[[dict[str, Any]], Any],
    train_data: Any,
    config: dict[str, Any],
    seconds: float,
    barrier: Any,
    k: int,
    amp: bool,
    compile: bool,
    loss: Any,
) -> dict[str, float]:
    import ray
    import torch

    from raysearch.trainables.torch import TorchLoop

    loop = TorchLoop(
        model_fn, config, train_data, loss=loss, device="cuda", amp=amp, compile=compile
    )
    try:
        loop.train_epoch()  # warm-up
        ray.get(barrier.arrive.remote())
        while ray.get(barrier.count.remote()) < k:
            time.sleep(0.05)
        samples, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            samples += int(loop.train_epoch()["samples"])
        elapsed = time.perf_counter() - start
        total = torch.cuda.get_device_properties(loop.device).total_memory / 2**20
        return {"samples_per_s": samples / elapsed, "peak_mb": loop.memory_mb(), "total_mb": total}
    finally:
        loop.close()


def probe_packing(
    model_fn: Callable[[dict[str, Any]], Any],
    train_data: Any,
    config: dict[str, Any],
    *,
    packings: Sequence[int] = (1, 2, 4, 8),
    seconds: float = 5.0,
    cpu: float = 1.0,
    amp: bool = False,
    compile: bool = False,
    loss: Any = "cross_entropy",
    memory_headroom: float = 0.9,
    min_gain: float = 1.05,
    stop_early: bool = True,
) -> list[dict[str, float]]:
    """Trains ``k`` copies at once on one GPU for each ``k`` in ``packings``.

    Returns one row per packing: ``trials``, ``aggregate_samples_per_s``,
    ``per_trial_samples_per_s``, ``peak_mb``, ``total_mb``. Needs Ray and a GPU.
    """
    import ray

    @ray.remote(num_cpus=0)
    class Barrier:
        def __init__(self) -> None:
            self.n = 0

        def arrive(self) -> int:
            self.n += 1
            return self.n

        def count(self) -> int:
            return self.n

    if not ray.cluster_resources().get("GPU"):
        raise RuntimeError("gpu='auto' needs a GPU in the Ray cluster; none was found")
    task = ray.remote(_probe_task)
    rows: list[dict[str, float]] = []
    best = 0.0
    for k in packings:
        barrier = Barrier.remote()  # type: ignore[attr-defined]
        refs = [
            task.options(num_gpus=1.0 / k, num_cpus=cpu).remote(
                model_fn, train_data, config, seconds, barrier, k, amp, compile, loss
            )
            for _ in range(k)
        ]
        outs = ray.get(refs)
        ray.kill(barrier)
        row = {
            "trials": float(k),
            "aggregate_samples_per_s": sum(o["samples_per_s"] for o in outs),
            "per_trial_samples_per_s": sum(o["samples_per_s"] for o in outs) / k,
            "peak_mb": max(o["peak_mb"] for o in outs),
            "total_mb": outs[0]["total_mb"],
        }
        rows.append(row)
        logger.info(
            "gpu probe: %d trial(s) per GPU -> %.0f samples/s aggregate, peak %.0f MiB each",
            k,
            row["aggregate_samples_per_s"],
            row["peak_mb"],
        )
        if stop_early and k > 1 and row["aggregate_samples_per_s"] < best * min_gain:
            break
        if (2 * k) * row["peak_mb"] > memory_headroom * row["total_mb"]:
            break  # the next packing would not fit
        best = max(best, row["aggregate_samples_per_s"])
    return rows


def plan_resources(
    gpu: float | str | None = None,
    cpu: float = 1.0,
    *,
    nodes: Sequence[Mapping[str, float]] | None = None,
    probe: tuple[Any, Any, dict[str, Any]] | None = None,
    probe_seconds: float = 5.0,
    memory_headroom: float = 0.9,
    **probe_kwargs: Any,
) -> GPUPlan:
    """Per-trial resources and concurrency for ``gpu`` per trial.

    Args:
        gpu: a fraction (``0.25``: four trials per GPU), a whole number of GPUs, ``"auto"``
            (probe and choose the fraction) or None (CPU trials).
        cpu: CPUs per trial.
        nodes: Ray resource dicts of the nodes (default: the connected cluster).
        probe: ``(model_fn, train_data, config)`` for ``gpu="auto"``.
        probe_seconds: measuring window per packing.
        probe_kwargs: passed to :func:`probe_packing` (``amp``, ``compile``, ``loss``, ...).
    """
    if not isinstance(cpu, int | float) or cpu <= 0:
        raise ValueError(f"cpu must be > 0, got {cpu!r}")
    rows: list[dict[str, float]] = []
    if gpu is None:
        request = {"cpu": float(cpu)}
        return GPUPlan(request, concurrency(request, nodes), 0)
    if gpu == "auto":
        if probe is None:
            raise ValueError("gpu='auto' needs probe=(model_fn, train_data, config)")
        model_fn, data, config = probe
        rows = probe_packing(
            model_fn,
            data,
            config,
            seconds=probe_seconds,
            cpu=cpu,
            memory_headroom=memory_headroom,
            **probe_kwargs,
        )
        k = choose_packing(rows, total_mb=rows[0]["total_mb"], memory_headroom=memory_headroom)
        fraction = 1.0 / k
    elif isinstance(gpu, str):
        raise ValueError(f"gpu must be a number, 'auto' or None, got {gpu!r}")
    else:
        fraction = _check_gpu(gpu)
    request = {"cpu": float(cpu), "gpu": fraction}
    per_gpu = int(round(1.0 / fraction)) if fraction <= 1 else 1
    return GPUPlan(request, concurrency(request, nodes), per_gpu, rows)


def gpu_resources(
    trainable: Any,
    gpu: float | str | None = 0.25,
    cpu: float = 1.0,
    **kwargs: Any,
) -> tuple[Any, GPUPlan]:
    """``tune.with_resources(trainable, ...)`` for :func:`plan_resources`, and the plan
    (pass ``plan.max_concurrent`` to ``TuneConfig(max_concurrent_trials=...)``)."""
    from ray import tune

    plan = plan_resources(gpu, cpu, **kwargs)
    return tune.with_resources(trainable, dict(plan.resources)), plan
