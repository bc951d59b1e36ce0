"""``python -m raysearch.bench oneshot``: one-shot NAS on MNIST-1D against stand-alone search.

On MNIST-1D (generated locally; 4000 training and 1000 validation rows by default) and a
small macro space (:func:`bench_space`: 1-4 blocks, three ops, widths 8/16/32, kernels
3/5/7, expansions 1/3, stride 1/2, skip or not):

* **ranking**: ``--archs`` random architectures are trained stand-alone (``--epochs``
  epochs each, ``--standalone-seeds`` training seeds, default 2, the ground truth being
  their mean: one run is noisy; cached in ``--out`` per seed); a supernet
  (:class:`raysearch.nas.sampling.SuperNetTrainer`) is trained on each of ``--seeds``;
  Kendall tau and top-k precision between each architecture's inherited-weight accuracy
  (with and without BatchNorm recalibration) and its stand-alone accuracy (the seeds' mean
  and, ``_s0``, seed 0 alone), and (``tau_loss``, ``top5_loss``) of its recalibrated
  validation cross-entropy, lower ranking higher; ``--distill`` (the default;
  ``--no-distill`` for plain training): in-place distillation from the largest subnet,
  with depth power 1 (the default with it);
* **search**: ``presets.oneshot`` through Ray Tune (supernet trial, with ``--distill`` as
  above, ``--search-samples`` inherited-weight evaluations driven by ``EvolutionSearch`` on
  ``--search-metric`` (``loss``, the default, or ``acc``), the top ``--top-k`` by it
  retrained from scratch under ASHA) against ``EvolutionSearch`` with stand-alone training
  (NAS I) at ``--evals`` evaluations: final accuracy, compute (sample-passes: a
  forward-only sample counts 1/3; FLOPs, below) and seconds; then both winners are trained
  again with ``--confirm-seeds`` fresh training seeds (default 3; not counted as search
  compute), since each search's final accuracy is its best single training and one
  architecture's accuracy varies by ~0.01-0.02 between training seeds;
* **scaling**: 4 evaluation trials on 2 CPUs map one copy of the weights from Ray's object
  store (object-store usage and per-worker memory), and evaluation throughput with 2
  workers against 1, ``--eval-batch`` architectures per trial (and 1 for contrast); it
  prints each throughput and the ratio. Without the search section it uses an untrained
  supernet (the cost of an evaluation does not depend on the weights' values);
* ``--space cell``: the NB201 cell space (:func:`raysearch.nas.cellnet.CellSuperNet`)
  instead of the macro space;
* **zero-cost proxies and DARTS**: the sections of :mod:`raysearch.bench.zerocost` when
  that module is there.

``--quick`` runs every section at toy sizes (a smoke test, numbers meaningless).

Measured (2 CPU cores shared, contended; the README's one-shot section has the tables):
uniform sampling ranked badly (tau 0.18 / 0.02), ``--sampler depth_weighted`` 0.41-0.56;
the ground truth is the mean of 2 stand-alone seeds (they agree to tau 0.77); with in-place
distillation (power 1) tau by loss / recalibrated accuracy 0.64 / 0.58 and 0.69 / 0.65 on
seeds 0 / 1 at 60 supernet epochs, 0.63 / 0.60 and 0.66 / 0.63 at 120 (seed 2: 0.59 / 0.58;
20000 fresh MNIST-1D rows or 4 calibration subsets averaged did not raise them). The search runs
ordered (same seed, same architectures); ``--search-seed S`` varies the search alone
(supernet reused). Scaling, idle 2-core machine: 2 workers 1.91x one (1.65x batched).

Compute: sample-passes (every path alike) and FLOPs (forward multiply-accumulates times
samples, training samples 3x). The teacher costs ~7x a sampled path; ``--distill-every k``
runs it every k-th step (soft outputs cached per row in between): cheaper in FLOPs but it
ranks worse (k = 3: tau by loss 0.59 / 0.56 at 60 epochs) and searches less reliably.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.bench.common import add_cpus_option, add_json_option, bench_parser, init_local_ray
from raysearch.bench.report import format_table, write_json
from raysearch.bench.standalone import StandaloneCache, confirm
from raysearch.nas.sampling import DEPTH_POWER_SAMPLERS, SAMPLERS

__all__ = ["main", "bench_space", "kendall_tau", "top_k_precision", "StandaloneCache"]


def bench_space(quick: bool = False, kind: str = "macro") -> Any:
    """The macro space of the benchmark (``kind="cell"``: an NB201 cell space, one cell per
    stage, 8 channels; 4 with ``quick``)."""
    from raysearch.nas import macro_chain, nb201_cell

    if kind == "cell":
        return nb201_cell(channels=4 if quick else 8, cells_per_stage=1)
    if quick:
        return macro_chain(
            max_blocks=2, widths=(4, 8), kernels=(3, 5), expansions=(1, 2), stem_width=4
        )
    return macro_chain(
        max_blocks=4, widths=(8, 16, 32), kernels=(3, 5, 7), expansions=(1, 3), stem_width=16
    )


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b of two score lists."""
    from scipy.stats import kendalltau

    return float(kendalltau(a, b)[0])


def top_k_precision(predicted: list[float], actual: list[float], k: int) -> float:
    """Share of the ``k`` best by ``actual`` among the ``k`` best by ``predicted``."""
    best_p = set(np.argsort(-np.asarray(predicted), kind="stable")[:k].tolist())
    best_a = set(np.argsort(-np.asarray(actual), kind="stable")[:k].tolist())
    return len(best_p & best_a) / max(k, 1)


# ----------------------------------------------------------------------------- sections
def _sampler_options(a: Any, distill: bool = False) -> dict[str, Any]:
    """The depth-weighted sampler's power: ``--depth-power``, else 1 with distillation (the
    teacher trains the deep blocks every step) and 2 without."""
    power = a.depth_power if a.depth_power is not None else (1.0 if distill else 2.0)
    return {"power": power} if a.sampler in DEPTH_POWER_SAMPLERS else {}


def _rank_row(
    seed: int,
    recal: list[float],
    raw: list[float],
    per_seed: list[list[float]],
    loss: list[float] | None = None,
) -> dict[str, Any]:
    """Kendall tau and top-k precision of inherited accuracies (recalibrated, raw) and of
    the recalibrated inherited loss (``_loss``: lower ranks higher) against the stand-alone
    mean over training seeds and (``_s0``) against training seed 0 alone."""
    mean = np.mean(per_seed, axis=0).tolist()
    k = max(3, len(recal) // 6)
    row: dict[str, Any] = {"seed": seed, "archs": len(recal)}
    for name, truth in (("", mean), ("_s0", per_seed[0])):
        if loss is not None:
            row[f"tau_loss{name}"] = kendall_tau([-v for v in loss], truth)
            row[f"top{k}_loss{name}"] = top_k_precision([-v for v in loss], truth, k)
        row[f"tau_recal{name}"] = kendall_tau(recal, truth)
        row[f"tau_raw{name}"] = kendall_tau(raw, truth)
        row[f"top{k}_recal{name}"] = top_k_precision(recal, truth, k)
        row[f"top{k}_raw{name}"] = top_k_precision(raw, truth, k)
    row["mean_inh_recal"], row["mean_inh_raw"] = float(np.mean(recal)), float(np.mean(raw))
    return row


def _train_supernet(a: Any, task: Any, space: Any, seed: int) -> Any:
    from raysearch.nas.sampling import SuperNetTrainer

    distill = a.distill and a.space == "macro"  # the teacher: the largest macro subnet
    trainer = SuperNetTrainer(
        space,
        task.train_data,
        (40,),
        10,
        sampler=a.sampler,
        sampler_options=_sampler_options(a, distill),
        epochs=a.supernet_epochs,
        lr=a.lr,
        batch_size=a.batch_size,
        seed=seed,
        split=a.split,
        split_epoch=a.split_epoch,
        distill=distill,
        distill_every=a.distill_every,
    )
    while trainer.epoch < a.supernet_epochs:
        trainer.train_epoch()
    return trainer


def ranking(a: Any, task: Any, space: Any, cache: StandaloneCache) -> dict[str, Any]:
    """Kendall tau / top-k precision of inherited vs stand-alone accuracy per seed; the
    stand-alone accuracy is the mean over ``a.standalone_seeds`` training seeds (one run is
    noisy: two seeds of the same architectures agree only to tau ~0.7, the ceiling)."""
    from types import SimpleNamespace

    from raysearch.tune.oneshot import evaluate_arch

    rng = np.random.default_rng(12345)
    archs = [space.to_config(space.sample(rng)) for _ in range(a.archs)]
    n_seeds = max(1, a.standalone_seeds)
    per_seed = [[cache(arch, seed=s) for arch in archs] for s in range(n_seeds)]
    standalone = np.mean(per_seed, axis=0).tolist()
    ceiling = kendall_tau(per_seed[0], per_seed[1]) if n_seeds > 1 else math.nan
    print(f"stand-alone training seed 0 vs seed 1: tau {ceiling:.3f} (ceiling)", flush=True)
    xv, yv = task.val_data
    spec = SimpleNamespace(calib_x=task.train_data[0][: a.calib], val_x=xv, val_y=yv)
    rows, points = [], {}
    for seed in a.seeds:
        start = time.perf_counter()
        trainer = _train_supernet(a, task, space, seed)
        train_s = time.perf_counter() - start
        raw, recal, loss = [], [], []
        for arch in archs:  # the search phase's protocol: raw, then BN recalibrated
            metrics = evaluate_arch(trainer.model, arch, spec)
            raw.append(metrics["inherited_acc_raw"])
            recal.append(metrics["inherited_acc"])
            loss.append(metrics["inherited_loss"])
        rows.append({**_rank_row(seed, recal, raw, per_seed, loss), "supernet_s": train_s})
        points[str(seed)] = {"recal": recal, "raw": raw, "loss": loss}
        print(format_table(rows[-1:]), flush=True)
    return {
        "rows": rows,
        "standalone": standalone,
        "standalone_per_seed": per_seed,
        "standalone_seed_tau": ceiling,
        "archs": archs,
        "inherited": points,
    }


def evolution_baseline(a: Any, space: Any, cache: StandaloneCache) -> dict[str, Any]:
    """EvolutionSearch with stand-alone training (NAS I), ``a.evals`` evaluations, in
    process (each architecture trained once; the cache serves repeats)."""
    from raysearch.core.loop import optimize
    from raysearch.nas.evolution import EvolutionSearch

    searcher = EvolutionSearch(space, seed=a.seeds[0], population_size=20, sample_size=5)
    result = optimize(searcher, cache, a.evals, mode="max")
    values = [float(t.value) if t.value is not None else math.nan for t in result.trials]
    curve = np.fmax.accumulate(np.nan_to_num(np.asarray(values), nan=0.0)).tolist()
    found = bool(np.isfinite(values).any())
    return {
        "best": curve[-1],
        "winner": result.trials[int(np.nanargmax(values))].config if found else None,
        "curve": curve,
        "evaluations": len(values),
        "sample_passes": len(values) * cache.sample_passes(),
        "flops": sum(cache.flops(t.config) for t in result.trials),
    }


def oneshot_search(a: Any, task: Any, space: Any, folder: str) -> Any:
    """``presets.oneshot`` end to end (the three Tune experiments)."""
    from raysearch.tune import presets

    distill = a.distill and a.space == "macro"  # the teacher: the largest macro subnet
    tags = ("-distill" if distill else "") + ("-loss" if a.search_metric == "loss" else "")
    tags += f"-every{a.distill_every}" if distill and a.distill_every > 1 else ""
    return presets.oneshot(
        space,
        task,
        supernet_epochs=a.supernet_epochs,
        sampler=a.sampler,
        sampler_options=_sampler_options(a, distill),
        distill=distill,
        distill_every=a.distill_every,
        search_metric=f"inherited_{a.search_metric}",
        lr=a.lr,
        batch_size=a.batch_size,
        search_samples=a.search_samples,
        calib_size=a.calib,
        top_k=a.top_k,
        retrain_epochs=a.epochs,
        eval_batch=a.search_eval_batch,
        search_seed=a.search_seed,
        storage_path=folder,
        name=(
            f"oneshot-s{a.seeds[0]}-e{a.epochs}-se{a.supernet_epochs}-{a.sampler}"
            f"-n{a.search_samples}-k{a.top_k}-b{a.batch_size}-t{a.n_train}{tags}"
        ),
        resume=True,
        seed=a.seeds[0],
    )


def compare(
    evolution: dict[str, Any], out: Any, cache: StandaloneCache, seeds: int = 0
) -> dict[str, Any]:
    """One-shot vs stand-alone evolution: accuracy and compute; with ``seeds`` > 0 also both
    winners' mean accuracy over that many fresh training seeds (:func:`confirm`)."""
    oneshot_acc = float(out.winner_metrics["val_acc"])
    fresh: dict[str, Any] = {}
    if seeds > 0 and evolution["winner"] is not None:
        got = confirm(cache, {"oneshot": out.winner, "evolution": evolution["winner"]}, seeds)
        fresh = {f"{name}_fresh_{k}": got[name][k] for name in got for k in ("mean", "sd")}
        fresh["fresh_seeds"] = int(seeds)
        fresh["oneshot_reaches_evolution_fresh"] = (
            got["oneshot"]["mean"] >= got["evolution"]["mean"]
        )
    reached = next((i + 1 for i, v in enumerate(evolution["curve"]) if v >= oneshot_acc), None)
    ratio = evolution["sample_passes"] / max(out.compute["sample_pass_equivalents"], 1.0)
    return {
        "evolution_best": evolution["best"],
        "evolution_sample_passes": evolution["sample_passes"],
        "oneshot_winner_acc": oneshot_acc,
        "oneshot_sample_passes": out.compute["sample_pass_equivalents"],
        "compute_ratio": ratio,
        "evolution_flops": evolution["flops"],
        "oneshot_flops": out.compute["flops"],
        "flops_ratio": evolution["flops"] / max(out.compute["flops"], 1.0),
        "evolution_evals_to_reach_oneshot": reached if reached is not None else "never",
        "oneshot_reaches_evolution": oneshot_acc >= evolution["best"],
        "winner_params": out.winner_metrics.get("params"),
        "oneshot_s": out.compute["supernet_s"]
        + out.compute["search_s"]
        + out.compute["retrain_s"],
        "evolution_train_s_new": cache.seconds,
        **fresh,
    }


def _object_store() -> tuple[float, int]:
    """(MiB in use, objects) of this node's object store, from Ray's memory-info reply (a
    private API: NaN and -1 when it fails)."""
    import ray

    try:
        from ray._private.internal_api import get_memory_info_reply, get_state_from_address

        reply = get_memory_info_reply(
            get_state_from_address(ray.get_runtime_context().gcs_address)
        )
        stats = reply.store_stats
        return stats.object_store_bytes_used / 2**20, int(stats.num_local_objects)
    except Exception:  # report unknown rather than fail the benchmark
        return math.nan, -1


def _window(metrics: list[dict[str, Any]]) -> float:
    starts = [float(m["timestamp"]) - float(m.get("time_total_s", 0.0)) for m in metrics]
    return max(max(float(m["timestamp"]) for m in metrics) - min(starts), 1e-9)


def _steady_rate(metrics: list[dict[str, Any]]) -> float:
    """Evaluations per second once every worker runs (from the last actor's first trial
    start to the last trial's end; each trial counted by its overlap with that span): the
    plain window also holds the time a later actor spends starting (imports, supernet)."""
    spans = [(float(m["timestamp"]) - float(m.get("time_total_s", 0.0)), m) for m in metrics]
    firsts: dict[Any, float] = {}
    for start, m in spans:
        firsts[m["pid"]] = min(start, firsts.get(m["pid"], math.inf))
    t0, t1 = max(firsts.values()), max(float(m["timestamp"]) for m in metrics)
    done = 0.0
    for start, m in spans:
        end = float(m["timestamp"])
        share = max(0.0, min(end, t1) - max(start, t0)) / max(end - start, 1e-9)
        done += share * int(m.get("evals", 1))
    return done / max(t1 - t0, 1e-9)


def scaling(a: Any, task: Any, space: Any, weights: dict[str, Any], folder: str) -> dict[str, Any]:
    """4 evaluation trials on 2 CPUs share one copy; throughput with 2 workers vs 1."""
    from raysearch.searchers.random import RandomSearch
    from raysearch.tune.oneshot import search_phase

    size_mb = sum(v.numel() * v.element_size() for v in weights.values()) / 2**20
    rows = []
    for batch, workers, cpu in _scaling_runs(a.eval_batch):
        before, _ = _object_store()
        start = time.perf_counter()
        result, ref = search_phase(
            space,
            task,
            weights,
            samples=a.scaling_samples,
            searcher=RandomSearch(space, seed=0),
            calib_size=a.calib,
            max_concurrent=workers,
            eval_batch=batch,
            seed=0,
            resources={"cpu": cpu},
            storage_path=folder,
            name=f"scaling-b{batch}-{workers}x{cpu}-{time.time_ns()}",
            verbose=0,
        )
        wall = time.perf_counter() - start
        during, objects = _object_store()
        metrics = [r.metrics for r in result.results if r.metrics]
        evals = sum(int(m.get("evals", 1)) for m in metrics)
        busy = sum(float(m["eval_s"]) for m in metrics)
        rows.append(
            {
                "eval_batch": batch,
                "workers": workers,
                "cpu_per_trial": cpu,
                "trials": len(metrics),
                "evals": evals,
                "wall_s": wall,
                "evals_per_s": evals / wall,
                # from the first trial's start to the last one's end (no Tune start-up)
                "evals_per_s_window": evals / _window(metrics),
                "evals_per_s_steady": _steady_rate(metrics),
                # share of the window the workers spent evaluating (the rest: Tune per trial)
                "worker_busy": busy / (_window(metrics) * min(workers, len(metrics))),
                "eval_s_mean": busy / max(evals, 1),
                # CPU seconds of the evaluating thread: equal for 1 and 2 workers unless they
                # interfere; a wall time above it is time spent waiting for a core
                "eval_cpu_s_mean": sum(float(m.get("cpu_s", 0)) for m in metrics) / max(evals, 1),
                "torch_threads": max(int(m.get("torch_threads", 0)) for m in metrics),
                "actors": len({m["pid"] for m in metrics}),
                "zero_copy": all(bool(m["zero_copy"]) for m in metrics),
                "weights_mb": size_mb,
                "store_mb_delta": during - before,
                "store_objects": objects,
                "uss_mb_max": max(m["uss_mb"] for m in metrics),
                "rss_mb_max": max(m["rss_mb"] for m in metrics),
            }
        )
        del ref
        print(format_table(rows[-1:]), flush=True)
    out: dict[str, Any] = {"rows": rows}
    for batch in sorted({r["eval_batch"] for r in rows}):
        rate = {r["workers"]: r["evals_per_s_steady"] for r in rows if r["eval_batch"] == batch}
        key = "speedup_2_vs_1" if batch == a.eval_batch else f"speedup_2_vs_1_batch{batch}"
        out[key] = rate[2] / rate[1]
        print(
            f"evaluation throughput (steady), {batch} architecture(s) per trial: 1 worker "
            f"{rate[1]:.2f} evals/s, 2 workers {rate[2]:.2f} evals/s -> {out[key]:.2f}x",
            flush=True,
        )
    return out


def _scaling_runs(eval_batch: int) -> list[tuple[int, int, float]]:
    """(architectures per trial, workers, CPUs per trial) of the scaling section: 4 trials
    on 2 CPUs share one copy; 1 and 2 workers, batched and (for contrast) one per trial."""
    runs = [(eval_batch, 4, 0.5), (eval_batch, 1, 1.0), (eval_batch, 2, 1.0)]
    return runs + ([(1, 1, 1.0), (1, 2, 1.0)] if eval_batch > 1 else [])


def zerocost_sections(task: Any, quick: bool) -> dict[str, Any]:
    """The zero-cost proxy and DARTS sections, from :mod:`raysearch.bench.zerocost`."""
    try:
        from raysearch.bench import zerocost
    except ImportError:
        print("zero-cost proxy and DARTS sections: not available (raysearch.bench.zerocost)")
        return {}
    out: dict[str, Any] = {}
    for name in ("proxy_rows", "darts_rows"):
        fn: Callable[..., Any] | None = getattr(zerocost, name, None)
        if fn is None:
            print(f"{name}: not available in raysearch.bench.zerocost")
            continue
        try:
            rows = fn(quick=quick)
        except TypeError:
            rows = fn()
        out[name] = rows
        print(f"\n{name}:\n" + (format_table(rows) if isinstance(rows, list) else str(rows)))
    return out


# ----------------------------------------------------------------------------- main
def _parser() -> Any:
    ap = bench_parser("oneshot", __doc__)
    ap.add_argument("--out", default="bench-oneshot", help="cache and experiments folder")
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-val", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=5, help="stand-alone epochs")
    ap.add_argument("--archs", type=int, default=30, help="architectures ranked")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="supernet seeds")
    ap.add_argument(
        "--standalone-seeds",
        type=int,
        default=2,
        help="ranking: stand-alone accuracy = mean over this many training seeds (0, 1, ...)",
    )
    ap.add_argument("--supernet-epochs", type=int, default=30)
    ap.add_argument("--sampler", default="auto", choices=sorted(SAMPLERS))
    ap.add_argument(
        "--depth-power",
        type=float,
        default=None,
        help="depth_weighted's power (default: 1 with --distill, else 2)",
    )
    ap.add_argument("--split", default=None, choices=["n_blocks", "op"], help="few-shot NAS")
    ap.add_argument("--split-epoch", type=int, default=None, help="default: half the epochs")
    ap.add_argument(
        "--distill",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ranking and search: in-place distillation from the largest subnet",
    )
    ap.add_argument("--distill-every", type=int, default=1, help="teacher every k-th step")
    ap.add_argument(
        "--search-metric",
        default="loss",
        choices=["loss", "acc"],
        help="search: rank and evolve by the inherited validation loss (min) or accuracy (max)",
    )
    ap.add_argument("--lr", type=float, default=3e-3, help="supernet learning rate")
    ap.add_argument("--batch-size", type=int, default=128, help="every training's batch size")
    ap.add_argument("--calib", type=int, default=1000, help="BN calibration rows")
    ap.add_argument("--evals", type=int, default=100, help="stand-alone evolution evaluations")
    ap.add_argument("--search-samples", type=int, default=100)
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--search-seed", type=int, default=None, help="default: from --seeds")
    ap.add_argument(
        "--confirm-seeds",
        type=int,
        default=3,
        help="search: both winners trained again with this many fresh training seeds",
    )
    ap.add_argument("--search-eval-batch", type=int, default=1, help="architectures per trial")
    ap.add_argument("--scaling-samples", type=int, default=128)
    ap.add_argument(
        "--eval-batch", type=int, default=8, help="architectures per evaluation trial (scaling)"
    )
    ap.add_argument("--space", default="macro", choices=["macro", "cell"], help="the space")
    ap.add_argument("--sections", nargs="+", default=["ranking", "search", "scaling", "zerocost"])
    ap.add_argument("--quick", action="store_true", help="toy sizes (smoke test)")
    add_cpus_option(ap)
    add_json_option(ap)
    return ap


def _quick(a: Any) -> None:
    a.n_train, a.n_val, a.epochs, a.archs, a.seeds = 256, 128, 2, 6, a.seeds[:1]
    a.supernet_epochs, a.calib, a.evals, a.search_samples = 1, 64, 6, 4
    a.top_k, a.scaling_samples, a.eval_batch, a.confirm_seeds = 2, 4, 2, 1


def _scaling_weights(out: Any, space: Any) -> dict[str, Any]:
    """The searched supernet's weights, or (scaling alone) an untrained supernet's: the
    values do not change what an evaluation costs."""
    from raysearch.nas.sampling import SuperNetTrainer
    from raysearch.nas.supernet import SuperNet

    if out is not None:
        return SuperNetTrainer.load_weights(out.supernet_path)
    print("scaling: untrained supernet weights (run with the search section for trained ones)")
    return dict(SuperNet(space, (40,), 10, seed=0).state_dict())


def main(argv: list[str] | None = None) -> int:
    import torch

    from raysearch.nas.datasets import mnist1d_task

    a = _parser().parse_args(argv)
    if a.quick:
        _quick(a)
    torch.set_num_threads(1)
    folder = os.path.abspath(a.out)
    os.makedirs(folder, exist_ok=True)
    task = mnist1d_task(
        max_epochs=a.epochs, n_train=a.n_train, n_val=a.n_val, batch_size=a.batch_size
    )
    task.latency_repeats = 0
    space = bench_space(a.quick, a.space)
    cache = StandaloneCache(folder, task, a.epochs)
    report: dict[str, Any] = {"args": vars(a)}
    start = time.perf_counter()
    if "ranking" in a.sections:
        print(f"ranking: {a.archs} architectures, {a.epochs} stand-alone epochs", flush=True)
        report["ranking"] = ranking(a, task, space, cache)
    out = None
    if "search" in a.sections or "scaling" in a.sections:
        import ray

        if not ray.is_initialized():
            init_local_ray(a.cpus)
    if "search" in a.sections:
        out = oneshot_search(a, task, space, folder)
        report["oneshot"] = {
            "winner": out.winner,
            "metrics": out.winner_metrics,
            "compute": out.compute,
            "top_k": out.top_k,
        }
    if "search" in a.sections and out is not None:
        evolution = evolution_baseline(a, space, cache)
        report["compare"] = compare(evolution, out, cache, a.confirm_seeds)
        report["evolution_curve"] = evolution["curve"]
        print("\none-shot vs stand-alone EvolutionSearch\n" + format_table([report["compare"]]))
    if "scaling" in a.sections:
        report["scaling"] = scaling(a, task, space, _scaling_weights(out, space), folder)
    if "zerocost" in a.sections:
        report["zerocost"] = zerocost_sections(task, a.quick)
    report["elapsed_s"] = time.perf_counter() - start
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\noneshot bench: {report['elapsed_s']:.0f} s on {os.cpu_count()} CPUs, load {load:.1f}"
    )
    if a.json:
        write_json(a.json, report)
    return 0
