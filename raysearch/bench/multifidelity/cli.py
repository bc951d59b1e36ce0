"""``python -m raysearch.bench multifidelity``: the options, the runs and the printed report."""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import time
from typing import Any

from raysearch.bench.multifidelity.curves import load_curves
from raysearch.bench.multifidelity.grids import GRID_SETS, MAX_T, ROUNDS_PER_STEP, TASKS
from raysearch.bench.multifidelity.methods import METHODS, run_method
from raysearch.bench.multifidelity.summary import plot, summarise
from raysearch.bench.report import format_table, write_json

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The bench's options."""
    parser = argparse.ArgumentParser(prog="python -m raysearch.bench multifidelity")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=64, help="trials per experiment")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--compute",
        default="equal",
        choices=["equal", "trials"],
        help="equal (default): every method gets FIFO + random's compute (--trials full "
        "trainings) and starts as many trials as it affords; trials: every method starts "
        "--trials trials",
    )
    parser.add_argument(
        "--grid",
        default="default",
        choices=list(GRID_SETS),
        help="the configuration grid: default (108-120 configurations) or wide (384-504)",
    )
    parser.add_argument(
        "--max-t",
        type=int,
        default=MAX_T,
        help=f"steps per full training ({ROUNDS_PER_STEP} boosting rounds or an epoch each; "
        f"default {MAX_T}); the grace period stays 1 step, so max_t / 1 is the fidelity range",
    )
    parser.add_argument(
        "--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "raysearch")
    )
    parser.add_argument("--plot", default=None, help="PNG path of the anytime plot")
    parser.add_argument("--json", default=None)
    return parser


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str], list[str]]:
    """The parsed options, the tasks and the methods (FIFO + random always among them);
    exits through ``parser.error`` on a bad value."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_t < 3:
        parser.error("--max-t must be at least 3 (one halving step at reduction factor 3)")
    logging.basicConfig(level=logging.WARNING)
    tasks = [t for t in args.tasks.split(",") if t]
    methods = [m for m in args.methods.split(",") if m]
    for name in tasks:
        if name not in TASKS:
            parser.error(f"unknown task {name!r} (known: {', '.join(TASKS)})")
    for name in methods:
        if name not in METHODS:
            parser.error(f"unknown method {name!r} (known: {', '.join(METHODS)})")
    if "fifo+random" not in methods:  # the reference every other method is measured against
        methods.insert(0, "fifo+random")
    return args, tasks, methods


def _run_task(
    task: str, methods: list[str], args: argparse.Namespace
) -> tuple[list[dict[str, Any]], float]:
    """Every method x seed on one task's curves; returns the runs and the grid's optimum."""
    t0 = time.monotonic()
    curves = load_curves(task, args.cache, args.grid, args.max_t)
    print(
        f"{task}: {len(curves)} configurations x {args.max_t} steps ({time.monotonic() - t0:.0f} s)"
    )
    optimum = min(v for c in curves.values() for v in c if v is not None)
    n_trials = min(args.trials, len(curves))
    budget = None
    if args.compute == "equal":  # FIFO's compute; any method may start this many trials
        budget, n_trials = n_trials * args.max_t, n_trials * args.max_t
    runs = [
        run_method(
            method,
            task,
            curves,
            seed=seed,
            n_trials=n_trials,
            n_workers=args.workers,
            grid=args.grid,
            max_t=args.max_t,
            budget=budget,
        )
        for method, seed in itertools.product(methods, range(args.seeds))
    ]
    return runs, optimum


def _report(
    args: argparse.Namespace, runs: list[dict[str, Any]], optimum: dict[str, float]
) -> None:
    """Prints the table and the simulation times; writes the plot and the JSON if asked."""
    rows = summarise(runs, optimum)
    print(
        f"\n{args.seeds} seeds, {args.workers} workers, max_t={args.max_t}, {args.grid} grid, "
        + (
            f"equal compute ({args.trials} full trainings, as many trials as it affords); "
            if args.compute == "equal"
            else f"{args.trials} trials; "
        )
        + "trials = trials started; beats_fifo = seeds whose final best is below FIFO's; "
        "compute = steps trained; to_fifo = compute to reach FIFO+random's final best / "
        "FIFO's compute; regret_auc = mean best-so-far regret over FIFO's compute; "
        "beats_beatable = wins over the seeds where FIFO+random missed the grid optimum (the "
        "most any method can win); auc_vs_ray = regret_auc relative to Ray's ASHA\n"
    )
    print(format_table(rows))
    secs: dict[str, float] = {}
    for r in runs:
        secs[r["method"]] = secs.get(r["method"], 0.0) + r["seconds"]
    print("\nsimulation seconds per method: " + ", ".join(f"{m} {s:.1f}" for m, s in secs.items()))
    if args.plot:
        plot(runs, optimum, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        write_json(args.json, {"rows": rows, "optimum": optimum, "args": vars(args)})


def main(argv: list[str] | None = None) -> int:
    """Runs the bench; returns the exit status."""
    args, tasks, methods = _parse(argv)
    runs: list[dict[str, Any]] = []
    optimum: dict[str, float] = {}
    for task in tasks:
        task_runs, optimum[task] = _run_task(task, methods, args)
        runs.extend(task_runs)
    _report(args, runs, optimum)
    return 0
