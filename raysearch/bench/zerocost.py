"""Zero-cost proxies and DARTS against stand-alone accuracy on MNIST-1D.

Two parts, each also callable from other benchmarks (``bench oneshot`` uses them):

* :func:`proxy_rows`: ``n_archs`` distinct random NAS-Bench-201 cells (1-D, ``channels``
  wide, one cell per stage) are trained stand-alone for ``epochs`` epochs on MNIST-1D
  (4000/1000; cached on disk under ``out_dir``, so a rerun only adds what is missing); each
  zero-cost proxy (synflow, NASWOT, grad_norm, snip) and the baselines (params, FLOPs) is
  computed at initialisation on one 64-sample batch per proxy seed; the rows give the
  Spearman (and Kendall) correlation of each with stand-alone accuracy, and the top-5
  accuracy a ``ProxyScreen``-style pick of the proxy-best of the ``n_archs`` reaches.
* :func:`darts_rows`: DARTS (:class:`raysearch.nas.darts.DartsSearch`) on the same space
  with the collapse guard on, one search per seed, and one with the guard off; each
  derived cell is trained stand-alone like the random cells and compared with their
  median (the random-cell distribution of :func:`proxy_rows`).

Usage::

    python -m raysearch.bench zerocost                       # both parts, full size
    python -m raysearch.bench zerocost --part proxies --n-archs 50 --out /tmp/zc
    python -m raysearch.bench zerocost --quick                # a smoke run (minutes)

Torch runs single-threaded (the runs are small; threads only contend).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from raysearch.bench.common import add_json_option, bench_parser
from raysearch.bench.report import format_table, write_json
from raysearch.core.rng import make_rng
from raysearch.core.state import atomic_write_json, read_json

__all__ = [
    "main",
    "proxy_rows",
    "darts_rows",
    "random_cells",
    "standalone_accuracy",
    "PROXY_NAMES",
]

logger = logging.getLogger(__name__)

PROXY_NAMES: tuple[str, ...] = ("synflow", "naswot", "grad_norm", "snip", "params", "flops")
DEFAULT_OUT = os.path.join(os.path.expanduser("~"), ".cache", "raysearch", "bench-zerocost")


def _task(n_train: int | None, n_val: int | None, epochs: int) -> Any:
    from raysearch.nas.datasets import mnist1d_task

    return mnist1d_task(max_epochs=epochs, n_train=n_train, n_val=n_val, latency_repeats=0)


def random_cells(
    n: int, *, seed: int = 0, channels: int = 8, cells_per_stage: int = 1
) -> list[dict[str, Any]]:
    """``n`` distinct uniformly random NAS-Bench-201 cells (architecture configs)."""
    from raysearch.nas.spaces import NB201_EDGES, NB201_OPS

    rng = make_rng(seed)
    seen: set[tuple[str, ...]] = set()
    out: list[dict[str, Any]] = []
    while len(out) < n:
        edges = tuple(
            str(NB201_OPS[int(i)]) for i in rng.integers(0, len(NB201_OPS), len(NB201_EDGES))
        )
        if edges in seen:
            continue
        seen.add(edges)
        out.append(
            {
                "kind": "cell",
                "edges": list(edges),
                "channels": channels,
                "cells_per_stage": cells_per_stage,
            }
        )
    return out


def standalone_accuracy(
    arch: dict[str, Any], task: Any, *, epochs: int, out_dir: str, tag: str = ""
) -> dict[str, Any]:
    """Trains ``arch`` from scratch (training seed 0) for ``epochs`` epochs; returns
    ``{"val_acc", "seconds", "params", "flops"}``, cached as JSON under ``out_dir``."""
    from raysearch.nas.trainable import train_arch

    key = json.dumps({"arch": arch, "epochs": epochs, "tag": tag}, sort_keys=True)
    path = os.path.join(out_dir, "standalone", hashlib.sha1(key.encode()).hexdigest() + ".json")
    if os.path.exists(path):
        cached: dict[str, Any] = read_json(path)
        return cached
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t0 = time.process_time()
    _, metrics = train_arch(arch, task, epochs=epochs, device="cpu")
    record = {
        "arch": arch,
        "epochs": epochs,
        "tag": tag,
        "val_acc": float(metrics["val_acc"]),
        "cpu_seconds": time.process_time() - t0,
        "params": float(metrics["params"]),
        "flops": float(metrics["flops"]),
    }
    atomic_write_json(path, record)
    return record


def _correlations(scores: Sequence[float], accs: Sequence[float]) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    s = np.asarray(scores, dtype=float)
    s = np.where(np.isfinite(s), s, np.nanmin(np.where(np.isfinite(s), s, np.nan)) - 1.0)
    rho = float(spearmanr(s, accs).statistic)
    tau = float(kendalltau(s, accs).statistic)
    return rho, tau


def _random_accuracies(
    n_archs: int, epochs: int, channels: int, out_dir: str, n_train: int | None
) -> tuple[list[dict[str, Any]], list[float], Any]:
    task = _task(n_train, None, epochs)
    archs = random_cells(n_archs, seed=0, channels=channels)
    accs = []
    for i, arch in enumerate(archs):
        rec = standalone_accuracy(arch, task, epochs=epochs, out_dir=out_dir, tag=str(n_train))
        accs.append(rec["val_acc"])
        logger.info("random cell %d/%d: %s val_acc %.3f", i + 1, n_archs, arch["edges"], accs[-1])
    return archs, accs, task


def proxy_rows(
    *,
    n_archs: int = 50,
    seeds: Sequence[int] = (0, 1),
    epochs: int = 3,
    channels: int = 8,
    batch_size: int = 64,
    proxies: Sequence[str] = PROXY_NAMES,
    out_dir: str = DEFAULT_OUT,
    n_train: int | None = None,
    quick: bool = False,
) -> list[dict[str, Any]]:
    """One row per (proxy, seed): ``proxy``, ``seed``, ``n_archs``, ``spearman``,
    ``kendall`` (against stand-alone accuracy), ``pick_acc`` (stand-alone accuracy of the
    proxy-best architecture), ``top5_acc`` (mean of the proxy's top 5), ``proxy_seconds``
    (CPU time of all the scores), plus ``best_acc``/``median_acc`` of the population.
    ``seeds`` seed the proxy's batch and the networks' initial weights; ``quick``: a smoke
    run (8 cells, 1 epoch, 512 training rows, one seed)."""
    from raysearch.nas.proxies import proxy_score

    if quick:
        n_archs, epochs, n_train, seeds = 8, 1, 512, seeds[:1]

    archs, accs, task = _random_accuracies(n_archs, epochs, channels, out_dir, n_train)
    x, y = task.train_data
    rows = []
    for seed in seeds:
        idx = np.sort(make_rng(seed).choice(len(x), size=batch_size, replace=False))
        batch = (x[idx], y[idx])
        for proxy in proxies:
            t0 = time.process_time()
            scores = [
                proxy_score(proxy, a, batch, input_shape=(40,), num_classes=10, seed=seed)
                for a in archs
            ]
            seconds = time.process_time() - t0
            rho, tau = _correlations(scores, accs)
            order = np.argsort(-np.asarray(scores), kind="stable")
            rows.append(
                {
                    "proxy": proxy,
                    "seed": int(seed),
                    "n_archs": len(archs),
                    "spearman": rho,
                    "kendall": tau,
                    "pick_acc": float(accs[int(order[0])]),
                    "top5_acc": float(np.mean([accs[int(i)] for i in order[:5]])),
                    "proxy_seconds": seconds,
                    "best_acc": float(max(accs)),
                    "median_acc": float(statistics.median(accs)),
                }
            )
            logger.info("proxy %s seed %d: spearman %.3f", proxy, seed, rho)
    return rows


def _darts_run(
    task: Any, seed: int, guard: str | None, settings: dict[str, Any]
) -> dict[str, Any]:
    from raysearch.nas.darts import DartsSearch

    t0 = time.process_time()
    search = DartsSearch(task, seed=seed, guard=guard, **settings)
    shares = []
    while not search.done:
        m = search.train_epoch()
        shares.append(m["param_free_share"])
        logger.info(
            "darts seed %d guard %s epoch %d: %s", seed, guard, m["epoch"], m["argmax_edges"]
        )
    return {
        "genotype": search.genotype(),
        "argmax_edges": search.argmax_edges(),
        "with_none": search.argmax_edges(exclude_none=False),
        "epochs_run": search.epoch,
        "stopped": search.stopped,
        "share_trace": shares,
        "search_cpu_seconds": time.process_time() - t0,
    }


def darts_rows(
    *,
    seeds: Sequence[int] = (0, 1, 2),
    guard_off_seeds: Sequence[int] = (0,),
    order: int = 1,
    search_epochs: int = 10,
    epochs: int = 3,
    n_archs: int = 50,
    channels: int = 8,
    out_dir: str = DEFAULT_OUT,
    n_train: int | None = None,
    quick: bool = False,
    **darts: Any,
) -> list[dict[str, Any]]:
    """One row per DARTS search (``seeds`` with the guard on, ``guard_off_seeds`` with it
    off): ``seed``, ``guard``, ``order``, ``edges`` (derived), ``argmax_edges`` (at the end),
    ``param_free_share`` (of the final argmax), ``max_share`` (over epochs), ``stopped``,
    ``epochs_run``, ``standalone_acc`` of the derived cell (trained like the random ones),
    ``random_median``/``random_best`` of the ``n_archs`` random cells, ``beats_median``,
    ``percentile`` (share of random cells it beats), ``search_cpu_seconds``, and the
    final argmax with ``none`` allowed (NAS-Bench-201's derivation): ``edges_with_none``,
    ``acc_with_none``. ``quick``: a smoke run (one seed of each, 2 search epochs, 8 cells
    trained 1 epoch on 512 rows); ``darts``: more :class:`DartsSearch` arguments."""
    if quick:
        seeds, guard_off_seeds = seeds[:1], guard_off_seeds[:1]
        search_epochs, n_archs, epochs, n_train = 2, 8, 1, 512
    task = _task(n_train, None, epochs)
    settings = {"order": order, "epochs": search_epochs, "channels": channels, **darts}
    runs = [(s, "es") for s in seeds] + [(s, None) for s in guard_off_seeds]
    results = [_darts_run(task, int(seed), guard, settings) for seed, guard in runs]
    archs, accs, task = _random_accuracies(n_archs, epochs, channels, out_dir, n_train)
    median = float(statistics.median(accs))
    rows = []
    for (seed, guard), result in zip(runs, results):
        rec = standalone_accuracy(
            result["genotype"], task, epochs=epochs, out_dir=out_dir, tag=str(n_train)
        )
        acc = float(rec["val_acc"])
        with_none = {**result["genotype"], "edges": result["with_none"]}
        rec_none = standalone_accuracy(
            with_none, task, epochs=epochs, out_dir=out_dir, tag=str(n_train)
        )
        rows.append(
            {
                "seed": int(seed),
                "guard": guard or "off",
                "order": order,
                "edges": "|".join(result["genotype"]["edges"]),
                "argmax_edges": "|".join(result["argmax_edges"]),
                "max_share": max(result["share_trace"]),
                "stopped": result["stopped"],
                "epochs_run": result["epochs_run"],
                "standalone_acc": acc,
                "random_median": median,
                "random_best": float(max(accs)),
                "beats_median": acc > median,
                "percentile": float(np.mean([acc > a for a in accs])),
                "search_cpu_seconds": result["search_cpu_seconds"],
                "edges_with_none": "|".join(result["with_none"]),
                "acc_with_none": float(rec_none["val_acc"]),
            }
        )
    return rows


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean Spearman per proxy over seeds, best first, and whether it beats params."""
    by: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["proxy"], []).append(r)
    out: list[dict[str, Any]] = [
        {
            "proxy": p,
            "spearman": float(np.mean([r["spearman"] for r in rs])),
            "kendall": float(np.mean([r["kendall"] for r in rs])),
            "top5_acc": float(np.mean([r["top5_acc"] for r in rs])),
            "proxy_seconds": float(np.mean([r["proxy_seconds"] for r in rs])),
        }
        for p, rs in by.items()
    ]
    params = next((r["spearman"] for r in out if r["proxy"] == "params"), float("nan"))
    for r in out:
        r["beats_params"] = r["proxy"] != "params" and r["spearman"] > params
    return sorted(out, key=lambda r: -r["spearman"])


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = bench_parser("zerocost", __doc__)
    ap.add_argument("--part", choices=("all", "proxies", "darts"), default="all")
    ap.add_argument("--n-archs", type=int, default=50, help="random cells trained stand-alone")
    ap.add_argument("--epochs", type=int, default=3, help="stand-alone training epochs")
    ap.add_argument("--proxy-seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--darts-seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--guard-off-seeds", type=int, nargs="*", default=[0])
    ap.add_argument("--darts-epochs", type=int, default=10, help="DARTS search epochs")
    ap.add_argument("--order", type=int, choices=(1, 2), default=1)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--n-train", type=int, default=None, help="subsample MNIST-1D's 4000")
    ap.add_argument("--out", default=DEFAULT_OUT, help="cache of stand-alone results")
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 cells, 1 epoch")
    ap.add_argument("--progress", action="store_true", help="log each architecture")
    add_json_option(ap)
    a = ap.parse_args(argv)
    if a.progress:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    common = {"n_archs": a.n_archs, "epochs": a.epochs, "channels": a.channels}
    common.update(out_dir=a.out, n_train=a.n_train, quick=a.quick)
    payload: dict[str, Any] = {"args": vars(a)}
    if a.part in ("all", "proxies"):
        rows = proxy_rows(seeds=a.proxy_seeds, **common)
        payload["proxies"], payload["proxy_summary"] = rows, _summary(rows)
        print(format_table(rows, digits=3))
        print()
        print(format_table(payload["proxy_summary"], digits=3))
    if a.part in ("all", "darts"):
        drows = darts_rows(
            seeds=a.darts_seeds,
            guard_off_seeds=a.guard_off_seeds,
            order=a.order,
            search_epochs=a.darts_epochs,
            **common,
        )
        payload["darts"] = drows
        print(format_table(drows, digits=3))
    if a.json:
        write_json(a.json, payload)
    return 0
