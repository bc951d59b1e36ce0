"""One-shot NAS as three plain Ray Tune experiments (``presets.oneshot``).

1. **supernet** (``<name>-supernet``): one trial trains the weight-sharing supernet
   (:class:`raysearch.nas.sampling.SuperNetTrainer`: single-path uniform or the sandwich
   rule; on a macro space by default with in-place distillation from the largest subnet)
   and checkpoints it every epoch; it is the only writer of the weights.
2. **search** (``<name>-search``): a searcher (``EvolutionSearch`` by default) proposes
   architectures; each trial extracts its subnet with the inherited weights, recalibrates
   BatchNorm on a fixed calibration subset and reports ``inherited_loss`` (validation
   cross-entropy: the search metric by default) and ``inherited_acc``
   (``inherited_acc_raw``, without recalibration, is NaN: skipped to save compute). The
   weights go once into Ray's object store (``ray.put`` of numpy arrays); the trials get
   the ``ObjectRef`` through
   ``tune.with_parameters`` and map the arrays read-only (zero copy); with
   ``reuse_actors=True`` an actor builds its supernet view once and reuses it.
3. **retrain** (``<name>-retrain``): the top ``top_k`` architectures are trained from
   scratch as ordinary NAS trials (:func:`raysearch.tune.nas.nas_trainable`) under ASHA; the
   winner is the best that ran all ``retrain_epochs``: its config *is* the searched
   architecture (the same JSON, so the same parameter count and FLOPs).

Each phase is a :func:`raysearch.run` experiment under ``storage_path``: with
``resume=True`` an interrupted call continues every phase where it stopped (a finished
phase is read back, not rerun). Example::

    from raysearch.nas import macro_chain
    from raysearch.nas.datasets import mnist1d_task
    from raysearch.tune import presets

    out = presets.oneshot(macro_chain(max_blocks=4, widths=(8, 16, 32)), mnist1d_task(),
                          supernet_epochs=30, search_samples=100, top_k=3,
                          retrain_epochs=5, storage_path="~/ray_results", name="oneshot")
    out.winner, out.winner_metrics["val_acc"], out.compute

The supernet trial takes ``supernet_resources`` (with a GPU it trains there); with
``supernet_workers=N`` it is a Ray Train trial of N data-parallel workers, each with
``supernet_resources`` (:mod:`raysearch.tune.oneshot_ddp`).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raysearch.core.rng import SeedLike, make_rng
from raysearch.nas.sampling import DEPTH_POWER_SAMPLERS, SuperNetTrainer
from raysearch.nas.supernet import SuperNet, accuracy, from_arrays, is_macro, recalibrate_bn
from raysearch.nas.trainable import NASTask, split_arch
from raysearch.space import Space
from raysearch.tune.oneshot_search import (
    SEARCH_METRICS,
    fixed_configs,
    ranked_candidates,
    search_mode,
    search_plan,
)

__all__ = [
    "oneshot",
    "OneShotResult",
    "supernet_phase",
    "search_phase",
    "retrain_phase",
    "evaluate_arch",
]


@dataclass
class OneShotResult:
    """What :func:`oneshot` returns.

    Attributes:
        supernet_path: the folder of the supernet's last checkpoint.
        supernet_metrics: its last reported metrics (``train_loss``, ``sample_passes``...).
        search: the search phase's :class:`raysearch.tune.results.RunResult`.
        candidates: ``{"arch", "inherited_acc", "inherited_loss", "params"}`` per
            evaluated architecture, best first (``inherited_acc_raw`` where evaluated).
        top_k: the architectures retrained.
        retrain: the retrain phase's RunResult.
        winner: the winning architecture (JSON); ``winner_metrics`` its last metrics.
        compute: samples through each phase: ``supernet`` (forward+backward),
            ``search_forward`` (forward only), ``retrain`` (forward+backward), and
            ``sample_pass_equivalents`` (forward-only samples count 1/3), plus wall
            seconds per phase, and FLOPs (``supernet_flops``, ``search_flops``,
            ``retrain_flops``, their sum ``flops``): forward multiply-accumulates per
            sample times samples, a training sample counting 3x (forward and backward).
    """

    supernet_path: str
    supernet_metrics: dict[str, Any]
    search: Any
    candidates: list[dict[str, Any]]
    top_k: list[dict[str, Any]]
    retrain: Any
    winner: dict[str, Any]
    winner_metrics: dict[str, Any]
    compute: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------- phase 1
@dataclass
class _SupernetSpec:
    space: Space
    task: NASTask
    epochs: int
    sampler: str
    sampler_options: dict[str, Any]
    lr: float
    batch_size: int
    seed: int
    distill: bool = False
    distill_every: int = 1


def _trainer(spec: _SupernetSpec) -> SuperNetTrainer:
    """The trial's trainer, on the GPU when Ray gave the trial one (one worker: exactly
    :class:`SuperNetTrainer` on the CPU)."""
    from raysearch.nas.sharded import ShardedSuperNetTrainer
    from raysearch.trainables.tabular import trial_device

    return ShardedSuperNetTrainer(
        spec.space,
        spec.task.train_data,
        tuple(int(s) for s in spec.task.input_shape),
        int(spec.task.num_classes),
        sampler=spec.sampler,
        sampler_options=spec.sampler_options,
        lr=spec.lr,
        batch_size=spec.batch_size,
        epochs=spec.epochs,
        seed=spec.seed,
        distill=spec.distill,
        distill_every=spec.distill_every,
        device=trial_device(),
    )


def _supernet_trial(config: dict[str, Any], spec: _SupernetSpec) -> None:
    from ray import tune

    trainer = _trainer(spec)
    resumed = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            trainer.load(folder)
        resumed = trainer.epoch
    while trainer.epoch < spec.epochs:
        metrics = trainer.train_epoch()
        metrics["resumed_from"] = resumed
        with tempfile.TemporaryDirectory(prefix="raysearch-supernet-") as folder:
            trainer.save(folder)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def supernet_phase(
    space: Space,
    task: NASTask,
    *,
    epochs: int,
    sampler: str = "auto",
    sampler_options: Mapping[str, Any] | None = None,
    lr: float = 3e-3,
    batch_size: int = 128,
    seed: int = 0,
    distill: bool = False,
    distill_every: int = 1,
    resources: Mapping[str, float] | None = None,
    workers: int = 1,
    **run_options: Any,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Phase 1: trains the supernet in one trial. Returns ``(checkpoint folder, last
    metrics, state_dict)``; ``distill``: in-place distillation from the largest subnet
    (``SuperNetTrainer(distill=True)``, a macro space; its ``sample_passes`` count the
    teacher's path; ``distill_every``: the teacher every k-th step, its soft outputs cached
    per row); ``resources``: the trial's (with ``{"gpu": 1}`` it trains on the GPU);
    ``workers`` > 1: a Ray Train trial of that many data-parallel workers, each with
    ``resources`` (:func:`raysearch.tune.oneshot_ddp.supernet_phase_ddp`); ``run_options``
    go to :func:`raysearch.run` (``storage_path``, ``name``, ``resume``, ``verbose``)."""
    from raysearch.tune.run import run

    if workers > 1:
        from raysearch.tune.oneshot_ddp import supernet_phase_ddp, worker_resources

        per_worker, use_gpu = worker_resources(resources)
        return supernet_phase_ddp(
            space,
            task,
            epochs=epochs,
            num_workers=workers,
            use_gpu=use_gpu,
            resources_per_worker=per_worker,
            sampler=sampler,
            sampler_options=sampler_options,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            distill=distill,
            distill_every=distill_every,
            **run_options,
        )
    options = dict(sampler_options or {})
    spec = _SupernetSpec(
        space, task, int(epochs), sampler, options, lr, batch_size, seed, bool(distill)
    )
    spec.distill_every = int(distill_every)
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    trainable = tune.with_parameters(_supernet_trial, spec=spec)
    result = run(
        trainable,
        None,
        metric="train_loss",
        mode="min",
        searcher=BasicVariantGenerator(),
        num_samples=1,
        resources=dict(resources or {"cpu": 1}),
        **run_options,
    )
    final = result.results[0]
    if final.checkpoint is None or int(final.metrics.get("epoch", 0)) < int(epochs):
        raise RuntimeError(f"the supernet trial did not finish: {final.error or final.metrics}")
    path = final.checkpoint.path
    with final.checkpoint.as_directory() as folder:
        weights = SuperNetTrainer.load_weights(folder)
    return str(path), dict(final.metrics), weights


# ----------------------------------------------------------------------------- phase 2
@dataclass
class _EvalSpec:
    shared: list[Any]  # [ObjectRef of the weights]: a list so Tune passes the ref itself
    space: Space
    input_shape: tuple[int, ...]
    num_classes: int
    calib_x: Any
    val_x: Any
    val_y: Any
    metric: str = "inherited_acc"
    raw: bool = True


_ACTOR_CACHE: dict[str, Any] = {}


def _shared_supernet(spec: _EvalSpec) -> Any:
    """This actor's read-only supernet view over the object store's arrays (built once)."""
    import ray

    ref = spec.shared[0]
    key = ref.hex()
    if key not in _ACTOR_CACHE:
        _ACTOR_CACHE.clear()
        net = SuperNet(spec.space, spec.input_shape, spec.num_classes, seed=0)
        arrays = ray.get(ref)
        # read-only arrays are views of the object store's shared memory (no copy)
        net.zero_copy = all(not a.flags.writeable for a in arrays.values())
        _ACTOR_CACHE[key] = from_arrays(net, arrays).eval()
    return _ACTOR_CACHE[key]


def evaluate_arch(net: Any, arch: Mapping[str, Any], spec: Any) -> dict[str, Any]:
    """Inherited-weight accuracy of ``arch``, without and with BN recalibration, and the
    recalibrated validation cross-entropy (``inherited_loss``: it ranks better). Where
    ``spec.raw`` is False the pass without recalibration is skipped (NaN; it ranks at tau
    ~0 and costs a third of the evaluation's forward samples)."""
    from raysearch.nas.builder import count_flops
    from raysearch.nas.supernet import accuracy_and_loss

    sub = net.extract(arch)
    with_raw = bool(getattr(spec, "raw", True))
    samples = len(spec.calib_x) + (1 + int(with_raw)) * len(spec.val_x)
    raw = accuracy(sub, spec.val_x, spec.val_y) if with_raw else math.nan
    recalibrate_bn(sub, spec.calib_x)
    acc, loss = accuracy_and_loss(sub, spec.val_x, spec.val_y)
    return {
        "inherited_acc": acc,
        "inherited_loss": loss,
        "inherited_acc_raw": raw,
        "params": float(sum(int(p.numel()) for p in sub.parameters())),
        "forward_samples": samples,
        "forward_flops": float(samples * count_flops(sub, net.input_shape)),
    }


def _evaluate_trial(config: dict[str, Any], spec: _EvalSpec) -> dict[str, Any]:
    import psutil
    import torch

    start, cpu = time.perf_counter(), time.thread_time()  # torch runs in this thread (1 CPU)
    net = _shared_supernet(spec)
    batch = config.get("batch")
    rows = [evaluate_arch(net, split_arch(one)[0], spec) for one in (batch or [config])]
    sign = -1.0 if SEARCH_METRICS[spec.metric] == "min" else 1.0
    metrics = dict(max(rows, key=lambda row: sign * row[spec.metric]))  # the trial's best
    if batch is not None:
        metrics.update(batch_results=rows)
        for key in ("forward_samples", "forward_flops"):
            metrics[key] = sum(r[key] for r in rows)
    memory = psutil.Process().memory_full_info()
    metrics.update(
        eval_s=time.perf_counter() - start,
        cpu_s=time.thread_time() - cpu,
        evals=len(rows),
        pid=os.getpid(),
        rss_mb=memory.rss / 2**20,
        uss_mb=memory.uss / 2**20,
        zero_copy=bool(net.zero_copy),
        torch_threads=torch.get_num_threads(),  # Ray sets OMP_NUM_THREADS to the trial's CPUs
    )
    return metrics


def search_phase(
    space: Space,
    task: NASTask,
    weights: Mapping[str, Any],
    *,
    samples: int,
    searcher: Any = None,
    calib_size: int = 1000,
    max_concurrent: int | None = None,
    eval_batch: int = 1,
    seed: int = 0,
    ordered: bool = True,
    metric: str = "inherited_acc",
    raw_accuracy: bool = True,
    **run_options: Any,
) -> tuple[Any, Any]:
    """Phase 2: a Tune experiment of ``samples`` inherited-weight evaluations. The weights
    go once into the object store. Returns ``(RunResult, ObjectRef)``; ``searcher`` default:
    :class:`raysearch.tune.nas.EvolutionSearch` on ``metric`` (:data:`SEARCH_METRICS`:
    ``"inherited_acc"``, maximized, or ``"inherited_loss"``, minimized). ``eval_batch``: the
    architectures per trial (:func:`raysearch.tune.oneshot_search.batched_searcher`;
    Tune's per-trial cost shared). ``ordered``: the same ``seed`` and ``max_concurrent``
    (default 4) give the same search, however the trials' timings fall
    (:func:`raysearch.tune.oneshot_search.search_plan`). ``raw_accuracy=False`` skips the
    pass without BN recalibration (:func:`evaluate_arch`)."""
    import numpy as np
    import ray
    from ray import tune

    from raysearch.tune.nas import EvolutionSearch
    from raysearch.tune.resources import init_ray
    from raysearch.tune.run import run

    init_ray(run_options.get("ray_address"), verbose=run_options.get("verbose", 1))
    ref = ray.put({k: v.detach().cpu().numpy() for k, v in weights.items()})
    x, _ = task.train_data
    val_x, val_y = task.val_data
    spec = _EvalSpec(
        [ref],
        space,
        tuple(int(s) for s in task.input_shape),
        int(task.num_classes),
        np.asarray(x[: int(calib_size)], np.float32),
        np.asarray(val_x, np.float32),
        np.asarray(val_y, np.int64),
        metric,
        bool(raw_accuracy),
    )
    mode = search_mode(metric)
    if searcher is None:
        searcher = EvolutionSearch(space, metric=metric, mode=mode, seed=seed, population_size=20)
    searcher, trials, concurrency = search_plan(
        searcher, samples, eval_batch, max_concurrent, ordered, metric=metric
    )
    result = run(
        tune.with_parameters(_evaluate_trial, spec=spec),
        None,
        metric=metric,
        mode=mode,
        searcher=searcher,
        num_samples=trials,
        max_concurrent=concurrency,
        reuse_actors=True,
        **run_options,
    )
    return result, ref


# ----------------------------------------------------------------------------- phase 3
def _arch_of(config: Mapping[str, Any]) -> dict[str, Any]:
    arch, _ = split_arch(config)
    return arch


def retrain_phase(
    task: NASTask,
    archs: list[dict[str, Any]],
    *,
    epochs: int,
    grace_period: int = 1,
    seed: int = 0,
    **run_options: Any,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Phase 3: ``archs`` trained from scratch under ASHA. Returns ``(RunResult, winner
    arch, winner metrics)``: the best ``val_acc`` among the trials that ran ``epochs``."""
    from raysearch.tune.asha import ASHAScheduler
    from raysearch.tune.nas import nas_trainable
    from raysearch.tune.run import run

    trainable = nas_trainable(
        task.train_data,
        task.val_data,
        input_shape=task.input_shape,
        num_classes=task.num_classes,
        max_epochs=int(epochs),
        training=dict(task.training),
        latency_repeats=0,
    )
    scheduler = None  # one epoch leaves ASHA nothing to stop
    if int(epochs) >= 2:
        grace = max(1, min(int(grace_period), int(epochs) - 1))
        scheduler = ASHAScheduler(
            "epoch", max_t=int(epochs), grace_period=grace, reduction_factor=2, seed=seed
        )
    result = run(
        trainable,
        None,
        metric="val_acc",
        mode="max",
        searcher=fixed_configs(archs),
        scheduler=scheduler,
        num_samples=len(archs),
        reuse_actors=False,
        **run_options,
    )
    done = [r for r in result.results if r.metrics and int(r.metrics.get("epoch", 0)) >= epochs]
    if not done:
        raise RuntimeError("no retrained architecture ran all its epochs")
    best = max(done, key=lambda r: float(r.metrics.get("val_acc", -math.inf)))
    return result, _arch_of(best.config), dict(best.metrics)


def _compute(
    task: NASTask,
    supernet_metrics: Mapping[str, Any],
    search: Any,
    retrain: Any,
    seconds: tuple[float, float, float],
) -> dict[str, float]:
    """Samples through each phase and wall seconds (see :class:`OneShotResult`)."""
    n_train, n_val = len(task.train_data[0]), len(task.val_data[0])
    epochs = sum(int(r.metrics.get("epoch", 0)) for r in retrain.results if r.metrics)
    forward = sum(float(r.metrics.get("forward_samples", 0)) for r in search.results if r.metrics)
    compute = {
        "supernet": float(supernet_metrics["sample_passes"]),
        "search_forward": float(forward),
        "retrain": float(epochs * n_train),
        "retrain_forward": float(epochs * n_val),
        "supernet_s": seconds[0],
        "search_s": seconds[1],
        "retrain_s": seconds[2],
    }
    compute["sample_pass_equivalents"] = (
        compute["supernet"]
        + compute["retrain"]
        + (compute["search_forward"] + compute["retrain_forward"]) / 3.0
    )
    done = [r.metrics for r in retrain.results if r.metrics]
    compute["supernet_flops"] = float(supernet_metrics.get("flops", math.nan))
    compute["search_flops"] = sum(
        float(r.metrics.get("forward_flops", math.nan)) for r in search.results if r.metrics
    )
    compute["retrain_flops"] = sum(
        int(m.get("epoch", 0)) * (3.0 * n_train + n_val) * float(m.get("flops", math.nan))
        for m in done
    )
    compute["flops"] = sum(compute[f"{k}_flops"] for k in ("supernet", "search", "retrain"))
    return compute


def _supernet_options(
    space: Space, sampler: str, options: Mapping[str, Any] | None, distill: bool | None
) -> dict[str, Any]:
    """``distill`` (None: on for a macro space, whose largest subnet is the teacher) and the
    sampler's options: ``options``, else with distillation depth power 1 for the
    depth-weighted samplers (the teacher trains the deep blocks every step; bench oneshot
    measured power 1 with it)."""
    distill = is_macro(space) if distill is None else bool(distill)
    if options is None and distill and sampler in DEPTH_POWER_SAMPLERS:
        options = {"power": 1.0}
    return {"sampler": sampler, "distill": distill, "sampler_options": options}


def oneshot(
    space: Space,
    task: NASTask,
    *,
    supernet_epochs: int = 30,
    sampler: str = "auto",
    sampler_options: Mapping[str, Any] | None = None,
    lr: float = 3e-3,
    batch_size: int = 128,
    search_samples: int = 100,
    searcher: Any = None,
    calib_size: int = 1000,
    top_k: int = 3,
    retrain_epochs: int | None = None,
    max_concurrent: int | None = None,
    eval_batch: int = 1,
    ordered: bool = True,
    search_seed: int | None = None,
    distill: bool | None = None,
    distill_every: int = 1,
    search_metric: str = "inherited_loss",
    storage_path: str | None = None,
    name: str = "oneshot",
    resume: bool = False,
    seed: SeedLike = 0,
    supernet_resources: Mapping[str, float] | None = None,
    supernet_workers: int = 1,
    verbose: int = 0,
) -> OneShotResult:
    """One-shot architecture search in three Tune experiments (module docstring).

    ``space``: a macro or cell space; ``task``: data and training settings. Supernet:
    ``supernet_epochs``, ``sampler`` (``SAMPLERS``), ``sampler_options``, ``lr``, ``batch_size``,
    ``supernet_resources`` (one CPU; per worker if ``supernet_workers`` > 1: a Ray Train trial),
    ``distill`` (from the largest subnet; None: on for a macro space, depth power 1 unless
    ``sampler_options`` say otherwise), ``distill_every`` (the teacher every k-th step). Search:
    ``search_samples`` evaluations by ``searcher`` (default ``EvolutionSearch``) on
    ``search_metric`` (``"inherited_loss"``, the default, minimized: it also orders the top
    ``top_k``; or ``"inherited_acc"``, maximized), BN recalibrated on the first ``calib_size``
    training rows, ``max_concurrent`` trials at a time, ``eval_batch`` per trial, ``ordered``
    (the same seed and ``max_concurrent``, default 4: the same search), ``search_seed``
    (default: from ``seed``; given, the search and retrain experiments are
    ``<name>-{search,retrain}-s<search_seed>``, the supernet reused). Retrain: the ``top_k``
    distinct networks for ``retrain_epochs`` (default ``task.max_epochs``). In
    ``storage_path/<name>-{supernet,search,retrain}``; ``resume=True`` continues them.
    """
    seeds = [int(s) for s in make_rng(seed).integers(2**31, size=3)]  # supernet, searcher, ASHA
    tag = "" if search_seed is None else f"-s{int(search_seed)}"
    seeds[1] = seeds[1] if search_seed is None else int(search_seed)
    common: dict[str, Any] = {"storage_path": storage_path, "resume": resume, "verbose": verbose}
    search_mode(search_metric)  # an unknown metric fails before the supernet trains
    net = _supernet_options(space, sampler, sampler_options, distill)
    net.update(seed=seeds[0], lr=lr, batch_size=batch_size, distill_every=distill_every)
    net.update(resources=supernet_resources, workers=supernet_workers)
    start = time.perf_counter()
    path, supernet_metrics, weights = supernet_phase(
        space, task, epochs=supernet_epochs, name=f"{name}-supernet", **net, **common
    )
    t_supernet = time.perf_counter() - start
    options: dict[str, Any] = {"calib_size": calib_size, "searcher": searcher}
    options.update(max_concurrent=max_concurrent, metric=search_metric, raw_accuracy=False)
    options.update(eval_batch=eval_batch, ordered=ordered, name=f"{name}-search{tag}")
    search, _ = search_phase(
        space, task, weights, samples=search_samples, seed=seeds[1], **options, **common
    )
    t_search = time.perf_counter() - start - t_supernet
    candidates, best = ranked_candidates(search, top_k, search_metric)
    epochs = int(task.max_epochs if retrain_epochs is None else retrain_epochs)
    archs = [row["arch"] for row in best]
    retrain, winner, winner_metrics = retrain_phase(
        task, archs, epochs=epochs, seed=seeds[2], name=f"{name}-retrain{tag}", **common
    )
    seconds = (t_supernet, t_search, time.perf_counter() - start - t_supernet - t_search)
    compute = _compute(task, supernet_metrics, search, retrain, seconds)
    return OneShotResult(
        path, supernet_metrics, search, candidates, best, retrain, winner, winner_metrics, compute
    )
