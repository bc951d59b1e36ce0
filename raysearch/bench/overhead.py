"""Per-trial overhead: trials per second for a trivial trainable.

Side by side in one process and one Ray instance:
    * Ray Tune's defaults (``tune.Tuner`` with only metric/mode/num_samples set);
    * Ray Tune with ``reuse_actors=True`` (the first thing a Tune user tunes by hand);
    * ``raysearch.run`` with its defaults (random search, JSON logger, progress line);
    * ``raysearch.run(loggers="none")``.

Run: ``python -m raysearch.bench overhead [--trials 400] [--tune-trials 40] [--cpus N]``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from raysearch.bench.common import add_cpus_option, add_json_option, bench_parser, init_local_ray
from raysearch.bench.report import format_table, machine, write_json

__all__ = ["main", "trivial"]


def trivial(config: dict[str, Any]) -> dict[str, float]:
    """The cheapest possible trainable."""
    return {"score": (config["x"] - 0.3) ** 2}


def _tune_run(n: int, storage: str, reuse: bool) -> float:
    from ray import tune

    tuner = tune.Tuner(
        trivial,
        param_space={"x": tune.uniform(-1.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=n, metric="score", mode="min", reuse_actors=reuse),
        run_config=tune.RunConfig(storage_path=storage, verbose=0),
    )
    start = time.perf_counter()
    grid = tuner.fit()
    elapsed = time.perf_counter() - start
    assert len(grid) == n and not grid.errors, "Tune trials failed"
    return elapsed


def _raysearch_run(n: int, storage: str, loggers: str) -> float:
    from ray import tune

    import raysearch

    start = time.perf_counter()
    result = raysearch.run(
        trivial,
        {"x": tune.uniform(-1.0, 1.0)},
        metric="score",
        mode="min",
        num_samples=n,
        searcher="random",  # framework overhead, not a model-based searcher's suggest time
        seed=0,
        storage_path=storage,
        loggers=loggers,
        verbose=0,
    )
    elapsed = time.perf_counter() - start
    assert result.num_trials == n and result.num_errors == 0, "raysearch trials failed"
    return elapsed


def _measure(label: str, n: int, fn: Callable[[int], float], cpus: int) -> dict[str, Any]:
    """Runs one configuration's ``n`` trials and returns its table row."""
    elapsed = fn(n)
    print(f"  {label}: {n} trials in {elapsed:.1f} s", flush=True)
    return {
        "configuration": label,
        "trials": n,
        "wall_s": elapsed,
        "trials_per_s": n / elapsed,
        "overhead_ms_per_trial": 1000.0 * elapsed * cpus / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("overhead", __doc__)
    parser.add_argument(
        "--trials", type=int, default=400, help="trials for the fast configurations"
    )
    parser.add_argument(
        "--tune-trials", type=int, default=40, help="trials for Tune's defaults (~1/s)"
    )
    add_cpus_option(parser)
    add_json_option(parser)
    args = parser.parse_args(argv)

    import ray

    cpus = init_local_ray(args.cpus)
    with tempfile.TemporaryDirectory() as storage:
        os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
        configs = [
            ("Tune defaults", args.tune_trials, lambda n: _tune_run(n, storage, reuse=False)),
            ("Tune reuse_actors=True", args.trials, lambda n: _tune_run(n, storage, reuse=True)),
            ("raysearch.run defaults", args.trials, lambda n: _raysearch_run(n, storage, "json")),
            (
                'raysearch.run loggers="none"',
                args.trials,
                lambda n: _raysearch_run(n, storage, "none"),
            ),
        ]
        rows = [_measure(label, n, fn, cpus) for label, n, fn in configs]
    ray.shutdown()
    print(f"\nTrivial trainable, {cpus} CPUs ({machine()['platform']}):\n")
    print(format_table(rows))
    base = rows[0]["trials_per_s"]
    print(
        f"\nraysearch.run defaults: {rows[2]['trials_per_s'] / base:.0f}x Tune's default trial rate"
    )
    if args.json:
        write_json(args.json, {"benchmark": "overhead", "cpus": cpus, "rows": rows})
    return 0
