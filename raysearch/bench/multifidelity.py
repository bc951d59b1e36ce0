"""``python -m raysearch.bench multifidelity``: early stopping on real learning curves.

Real learning curves are computed once and cached (a *tabular* benchmark, as HPOBench and
LCBench do): LightGBM validation loss after every 5 boosting rounds (27 steps) on diamonds
(RMSE of log price) and health_insurance (log loss), and a torch MLP's validation
cross-entropy after each of 27 epochs on digits, for every configuration of a grid. Then
every scheduler x searcher pair is simulated on the recorded curves with
:func:`raysearch.testing.simulate.simulate` (``--workers`` trials at once, one step per tick,
no Ray), many seeds in seconds. Compute is the number of steps trained (the sum of the
resources used).

Compared: FIFO + random search, Ray's ``ASHAScheduler`` and ``HyperBandScheduler`` (their
own code, driven through a shim that plays Tune's controller on the simulated clock: pause,
resume, stop of waiting trials through ``on_trial_remove``, and up to 16 trials added ahead
of a free worker, as Tune does with random search; Ray's Hyperband fills its brackets with
the trials added so far, and with trials added only as workers free up, its first
(``max_t``) bracket is refilled as its trials finish, so all trials would run to
``max_t``), raysearch ASHA (stopping and promotion variants), Hyperband, the BOHB preset
(TPE on the highest well-sampled rung + ASHA, with the stopping and the promotion variant)
and the ASHA+GP preset. Every method gets the same number of trials. Reported per task
(mean over seeds): the final best validation loss, the compute used, the fraction of
FIFO's compute a method needs to reach FIFO's final best (``to_fifo``, lower is better,
``-`` if never), and the area under the best-so-far regret curve over FIFO's compute range
(``regret_auc``, lower is better). ``--plot`` writes the anytime plot.

``--grid wide`` records and uses finer grids of the same hyperparameters (504 LightGBM and
384 MLP configurations instead of 120 and 108), so that the trials cover less of the grid
and FIFO + random's final best is further from the grid's optimum. ``--max-t 81`` records
81-step curves (405 boosting rounds, 81 epochs; cached apart): the grace period stays one
step, so the fidelity range max_t / grace grows from 27 to 81, the range the ASHA and
Hyperband papers work with.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.bench.report import format_table, write_json
from raysearch.core.scheduler import FIFOScheduler, Scheduler
from raysearch.core.searcher import Searcher
from raysearch.core.types import Decision, Exploit, TrialStatus
from raysearch.testing.simulate import simulate

__all__ = ["main", "TASKS", "METHODS", "load_curves", "run_method"]

logger = logging.getLogger(__name__)

TASKS = ("diamonds", "health_insurance", "digits")
MAX_T = 27
ROUNDS_PER_STEP = 5
VERSION = 1

GRIDS: dict[str, dict[str, list[Any]]] = {
    "lightgbm": {
        "learning_rate": [0.01, 0.02, 0.05, 0.1, 0.2],
        "num_leaves": [4, 16, 64, 256],
        "min_child_samples": [2, 20, 100],
        "feature_fraction": [0.5, 1.0],
    },
    "mlp": {
        "lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
        "width": [16, 64, 256],
        "weight_decay": [0.0, 1e-4, 1e-3],
        "momentum": [0.0, 0.9],
    },
}


#: ``--grid wide``: finer values of the same hyperparameters (504 and 384 configurations), so
#: that 64 random trials cover an eighth of the grid instead of half of it
WIDE_GRIDS: dict[str, dict[str, list[Any]]] = {
    "lightgbm": {
        "learning_rate": [0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3],
        "num_leaves": [4, 8, 16, 32, 64, 256],
        "min_child_samples": [2, 10, 30, 100],
        "feature_fraction": [0.5, 0.75, 1.0],
    },
    "mlp": {
        "lr": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3],
        "width": [16, 32, 64, 256],
        "weight_decay": [0.0, 1e-4, 3e-4, 1e-3],
        "momentum": [0.0, 0.5, 0.9],
    },
}


#: ``--grid`` name -> grids per model family
GRID_SETS = {"default": GRIDS, "wide": WIDE_GRIDS}


def _family(task: str) -> str:
    return "mlp" if task == "digits" else "lightgbm"


def _values(task: str, grid: str) -> dict[str, list[Any]]:
    if grid not in GRID_SETS:
        raise ValueError(f"unknown grid {grid!r} (known: {', '.join(GRID_SETS)})")
    return GRID_SETS[grid][_family(task)]


def _grid(task: str, grid: str = "default") -> list[dict[str, Any]]:
    values = _values(task, grid)
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def _key(config: dict[str, Any]) -> str:
    return json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True)


# ----------------------------------------------------------------------------- curves
def _lightgbm_curves(task: str, grid: str, max_t: int) -> dict[str, list[float]]:
    import lightgbm as lgb
    import pandas as pd

    from raysearch.data import load_dataset

    ds = load_dataset(task)
    frame = ds.frame.sample(n=min(len(ds.frame), 12000), random_state=0).reset_index(drop=True)
    X = frame.drop(columns=[ds.label])
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = X[c].astype("category")
    if ds.task == "regression":
        y = np.log1p(frame[ds.label].to_numpy(dtype=float))
        objective, metric = "regression", "rmse"
    else:
        values = sorted(frame[ds.label].astype(str).unique())
        y = (frame[ds.label].astype(str) == values[-1]).to_numpy(dtype=float)
        objective, metric = "binary", "binary_logloss"
    n_train = int(len(X) * 2 / 3)
    train = lgb.Dataset(X.iloc[:n_train], y[:n_train], free_raw_data=False)
    valid = lgb.Dataset(X.iloc[n_train:], y[n_train:], reference=train)
    out: dict[str, list[float]] = {}
    for config in _grid(task, grid):
        record: dict[str, Any] = {}
        params = {
            "objective": objective,
            "metric": metric,
            "verbosity": -1,
            "num_threads": 1,
            "seed": 0,
            "bagging_seed": 0,
            "feature_fraction_seed": 0,
            **config,
        }
        lgb.train(
            params,
            train,
            num_boost_round=max_t * ROUNDS_PER_STEP,
            valid_sets=[valid],
            valid_names=["valid"],
            callbacks=[lgb.record_evaluation(record)],
        )
        losses = record["valid"][metric]
        out[_key(config)] = [float(losses[(s + 1) * ROUNDS_PER_STEP - 1]) for s in range(max_t)]
    return out


def _mlp_curves(task: str, grid: str, max_t: int) -> dict[str, list[float]]:
    import torch

    from raysearch.core.rng import torch_generator
    from raysearch.data import load_dataset

    ds = load_dataset(task)
    X = ds.features.to_numpy(dtype=np.float32)
    y = ds.target.to_numpy().astype(np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    n_train = int(0.6 * len(X))
    tr, va = order[:n_train], order[n_train:]
    mean, sd = X[tr].mean(0), X[tr].std(0) + 1e-6
    X = (X - mean) / sd
    Xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    Xv, yv = torch.from_numpy(X[va]), torch.from_numpy(y[va])
    n_out = int(y.max()) + 1
    out: dict[str, list[float]] = {}
    torch.set_num_threads(1)
    for i, config in enumerate(_grid(task, grid)):
        gen = torch_generator(np.random.default_rng([0, i]))
        width = int(config["width"])
        layers = [torch.nn.Linear(X.shape[1], width), torch.nn.Linear(width, n_out)]
        for layer in layers:
            bound = 1.0 / math.sqrt(layer.in_features)
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=gen)
                layer.bias.uniform_(-bound, bound, generator=gen)
        model = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1])
        opt = torch.optim.SGD(
            model.parameters(),
            lr=float(config["lr"]),
            momentum=float(config["momentum"]),
            weight_decay=float(config["weight_decay"]),
        )
        curve: list[float] = []
        for _ in range(max_t):
            perm = torch.randperm(len(Xt), generator=gen)
            model.train()
            for start in range(0, len(Xt), 64):
                idx = perm[start : start + 64]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                v = float(torch.nn.functional.cross_entropy(model(Xv), yv))
            curve.append(v if math.isfinite(v) else math.nan)
        out[_key(config)] = curve
    return out


def load_curves(
    task: str, cache_dir: str | os.PathLike[str], grid: str = "default", max_t: int = MAX_T
) -> dict[str, list[float]]:
    """Learning curves (``max_t`` steps) of every configuration of ``task``'s ``grid``
    (computed once, cached)."""
    if max_t < 1:
        raise ValueError(f"max_t must be at least 1, got {max_t}")
    name = task if grid == "default" else f"{task}-{grid}"
    name = name if max_t == MAX_T else f"{name}-t{max_t}"
    path = Path(cache_dir) / f"multifidelity-{name}-v{VERSION}.json"
    if path.exists():
        data: dict[str, list[float]] = json.loads(path.read_text())
        return data
    start = time.monotonic()
    make = _mlp_curves if _family(task) == "mlp" else _lightgbm_curves
    curves = make(task, grid, max_t)
    logger.info("computed %d curves of %s in %.0f s", len(curves), task, time.monotonic() - start)
    path.parent.mkdir(parents=True, exist_ok=True)
    serial = {k: [None if not math.isfinite(v) else v for v in c] for k, c in curves.items()}
    path.write_text(json.dumps(serial))
    return json.loads(path.read_text())


def _space(task: str, grid: str = "default") -> Any:
    from raysearch.space import Categorical, Space

    return Space({k: Categorical(v, ordered=True) for k, v in _values(task, grid).items()})


# ----------------------------------------------------------------------------- drivers
class _Feed(Scheduler):
    """Forwards to a scheduler and feeds every result to the searcher (so model-based
    searchers see intermediate results, and paused trials stay pending to them)."""

    stateful = False

    def __init__(
        self,
        inner: Scheduler,
        searcher: Searcher,
        trace: list[tuple[int, float]],
        max_t: int,
    ):
        super().__init__(seed=0)
        self.inner, self.searcher, self.trace, self.max_t = inner, searcher, trace, max_t
        self.compute = 0
        self.best = math.inf
        self.last: dict[str, float] = {}

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        self.inner.on_add(trial_id, config)

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        self.compute += 1
        if value is not None:
            self.searcher.report(trial_id, step, value)
            self.last[trial_id] = step
            if value < self.best:
                self.best = value
                self.trace.append((self.compute, value))
        return self.inner.on_result(trial_id, step, value)

    def _tell(self, trial_id: str, value: float | None, failed: bool = False) -> None:
        trial = self.searcher.trials.get(trial_id)
        if trial is None or trial.status is not TrialStatus.PENDING:
            return
        if failed or value is None:
            status = TrialStatus.PRUNED if trial.intermediate else TrialStatus.FAILED
            self.searcher.tell(trial_id, None, status=status)
        elif self.last.get(trial_id, 0) >= self.max_t:
            self.searcher.tell(trial_id, value)
        else:
            self.searcher.tell(trial_id, value, status=TrialStatus.PRUNED)

    def on_complete(self, trial_id: str, value: float | None) -> None:
        self.inner.on_complete(trial_id, value)
        self._tell(trial_id, value)

    def on_error(self, trial_id: str) -> None:
        self.inner.on_error(trial_id)
        self._tell(trial_id, None, failed=True)

    def on_remove(self, trial_id: str) -> None:
        self.inner.on_remove(trial_id)

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        return self.inner.choose(pending, paused)


class _FakeTrial:
    """What Ray's schedulers read from a Tune trial."""

    PENDING, RUNNING, PAUSED, TERMINATED = "PENDING", "RUNNING", "PAUSED", "TERMINATED"

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = config
        self.status = "PENDING"
        self.is_saving = False
        self.last_result: dict[str, Any] = {}
        self.evaluated_params = config
        self.run_metadata = None

    def __repr__(self) -> str:
        return self.trial_id

    def __hash__(self) -> int:
        return hash(self.trial_id)


class _FakeController:
    def __init__(self, shim: _RayShim) -> None:
        self.shim = shim

    def get_trials(self) -> list[_FakeTrial]:
        return list(self.shim.trials.values())

    def stop_trial(self, trial: _FakeTrial) -> None:
        # As Tune's controller: a trial stopped while it waits (PENDING/PAUSED) leaves the
        # scheduler through ``on_trial_remove`` (Hyperband's brackets drop it there); the
        # running trial's STOP reaches the scheduler as ``on_trial_complete``.
        waiting = trial.status in ("PENDING", "PAUSED")
        self.shim.stopped.add(trial.trial_id)
        trial.status = "TERMINATED"
        if waiting:
            self.shim.ray.on_trial_remove(self, trial)

    def pause_trial(self, trial: _FakeTrial, should_checkpoint: bool = True) -> None:
        trial.status = "PAUSED"

    def _set_trial_status(self, trial: _FakeTrial, status: str) -> None:
        trial.status = status

    @property
    def search_alg(self) -> None:
        return None


class _RayShim(Scheduler):
    """Plays Tune's part for one of Ray's own schedulers on the simulated clock."""

    stateful = False
    #: trials Tune keeps added ahead of a free worker with its random-search generator
    #: (``TUNE_MAX_PENDING_TRIALS_PG``); see :func:`simulate`'s ``n_pending``
    n_pending = 16

    def __init__(self, ray_scheduler: Any) -> None:
        super().__init__(seed=0)
        self.ray = ray_scheduler
        self.trials: dict[str, _FakeTrial] = {}
        self.stopped: set[str] = set()
        self.controller = _FakeController(self)

    def on_add(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        trial = _FakeTrial(trial_id, dict(config or {}))
        self.trials[trial_id] = trial
        self.ray.on_trial_add(self.controller, trial)

    def on_result(self, trial_id: str, step: float, value: float | None) -> Decision | Exploit:
        trial = self.trials[trial_id]
        trial.status = "RUNNING"
        result = {
            "t": step,
            "training_iteration": step,
            "loss": math.nan if value is None else value,
        }
        trial.last_result = result
        action = self.ray.on_trial_result(self.controller, trial, result)
        if trial_id in self.stopped:
            return Decision.STOP
        if action == "PAUSE":
            trial.status = "PAUSED"
            return Decision.PAUSE
        if action == "STOP":
            return Decision.STOP
        return Decision.CONTINUE

    def on_complete(self, trial_id: str, value: float | None) -> None:
        trial = self.trials[trial_id]
        if trial.status != "TERMINATED":
            trial.status = "TERMINATED"
            self.ray.on_trial_complete(self.controller, trial, trial.last_result)

    def choose(self, pending: Sequence[str], paused: Sequence[str]) -> str | None:
        chosen = self.ray.choose_trial_to_run(self.controller)
        if chosen is None:
            return None
        if chosen.trial_id in self.stopped:
            return None
        chosen.status = "RUNNING"
        return str(chosen.trial_id)


def _ray_asha(seed: int = 0, max_t: int = MAX_T) -> Scheduler:
    from ray.tune.schedulers import ASHAScheduler

    return _RayShim(
        ASHAScheduler(
            time_attr="t",
            metric="loss",
            mode="min",
            max_t=max_t,
            grace_period=1,
            reduction_factor=3,
        )
    )


def _ray_hyperband(seed: int = 0, max_t: int = MAX_T) -> Scheduler:
    from ray.tune.schedulers import HyperBandScheduler

    return _RayShim(
        HyperBandScheduler(
            time_attr="t", metric="loss", mode="min", max_t=max_t, reduction_factor=3
        )
    )


def _random(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.random import RandomSearch

    return RandomSearch(space, seed=seed)


def _bohb_searcher(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.tpe import TPESearch

    return TPESearch(space, seed=seed, multi_fidelity=True, n_startup=8, n_min=8)


def _gp_searcher(space: Any, seed: int) -> Searcher:
    from raysearch.searchers.multifidelity import MultiFidelitySearch

    return MultiFidelitySearch(
        space, searcher="gp", searcher_kwargs={"n_init": 8}, n_min=8, seed=seed
    )


def _asha(variant: str) -> Callable[[int, int], Scheduler]:
    from raysearch.schedulers.asha import ASHAScheduler

    return lambda seed, max_t: ASHAScheduler(
        grace_period=1, max_t=max_t, reduction_factor=3, variant=variant, seed=seed
    )


def _hyperband(seed: int, max_t: int) -> Scheduler:
    from raysearch.schedulers.hyperband import HyperbandScheduler

    return HyperbandScheduler(grace_period=1, max_t=max_t, reduction_factor=3)


#: method -> (scheduler factory(seed, max_t), searcher factory(space, seed))
METHODS: dict[str, tuple[Callable[[int, int], Scheduler], Callable[[Any, int], Searcher]]] = {
    "fifo+random": (lambda seed, max_t: FIFOScheduler(), _random),
    "ray-asha": (_ray_asha, _random),
    "ray-hyperband": (_ray_hyperband, _random),
    "asha-stop": (_asha("stop"), _random),
    "asha-promote": (_asha("promote"), _random),
    "hyperband": (_hyperband, _random),
    "bohb": (_asha("stop"), _bohb_searcher),
    "bohb-promote": (_asha("promote"), _bohb_searcher),
    "asha+gp": (_asha("stop"), _gp_searcher),
}


def run_method(
    method: str,
    task: str,
    curves: dict[str, list[float]],
    *,
    seed: int,
    n_trials: int,
    n_workers: int,
    grid: str = "default",
    max_t: int = MAX_T,
) -> dict[str, Any]:
    """One simulated experiment: the trace of best-so-far (compute, loss) and totals."""
    make_scheduler, make_searcher = METHODS[method]
    space = _space(task, grid)
    searcher = make_searcher(space, seed)
    trace: list[tuple[int, float]] = []
    scheduler = make_scheduler(seed, max_t)
    feed = _Feed(scheduler, searcher, trace, max_t)
    configs: dict[int, dict[str, Any]] = {}
    fallback = np.random.default_rng([seed, 1])
    points = _grid(task, grid)

    def config_of(index: int) -> dict[str, Any]:
        if index not in configs:
            params = searcher.ask(f"trial_{index}")
            if not isinstance(params, dict):  # finite space exhausted: any grid point
                params = points[int(fallback.integers(len(points)))]
            configs[index] = space.to_config(params) if isinstance(params, dict) else params
        return configs[index]

    def curve(trial_id: str, config: dict[str, Any]) -> list[float]:
        return [math.nan if v is None else float(v) for v in curves[_key(config)]]

    start = time.perf_counter()
    result = simulate(
        feed,
        curve,
        n_trials=n_trials,
        n_workers=n_workers,
        configs=config_of,
        n_pending=getattr(scheduler, "n_pending", 1),  # Ray's see trials as Tune adds them
    )
    return {
        "method": method,
        "task": task,
        "seed": seed,
        "trace": trace,
        "compute": result.compute,
        "best": feed.best,
        "seconds": time.perf_counter() - start,
    }


def _best_at(trace: Sequence[tuple[int, float]], grid: np.ndarray) -> np.ndarray:
    out = np.full(len(grid), np.nan)
    if not trace:
        return out
    xs = np.array([c for c, _ in trace])
    ys = np.array([v for _, v in trace])
    idx = np.searchsorted(xs, grid, side="right") - 1
    ok = idx >= 0
    out[ok] = ys[idx[ok]]
    return out


def summarise(runs: list[dict[str, Any]], optimum: dict[str, float]) -> list[dict[str, Any]]:
    """Table rows, mean over seeds, per task and method."""
    rows = []
    by = {(r["task"], r["method"], r["seed"]): r for r in runs}
    tasks = sorted({r["task"] for r in runs}, key=lambda t: TASKS.index(t) if t in TASKS else 99)
    methods = [m for m in METHODS if any(r["method"] == m for r in runs)]
    for task in tasks:
        seeds = sorted({r["seed"] for r in runs if r["task"] == task})
        for method in methods:
            bests, computes, to_fifo, aucs = [], [], [], []
            for seed in seeds:
                run, fifo = by.get((task, method, seed)), by.get((task, "fifo+random", seed))
                if run is None:
                    continue
                bests.append(run["best"])
                computes.append(run["compute"])
                if fifo is None:
                    continue
                budget = fifo["compute"]
                hit = next((c for c, v in run["trace"] if v <= fifo["best"] + 1e-12), None)
                to_fifo.append(math.nan if hit is None else hit / budget)
                grid = np.arange(1, budget + 1)
                regret = _best_at(run["trace"], grid) - optimum[task]
                first = regret[~np.isnan(regret)][0] if np.any(~np.isnan(regret)) else 1.0
                regret = np.where(np.isnan(regret), first, regret)
                aucs.append(float(regret.mean()))
            fin = [x for x in to_fifo if not math.isnan(x)]
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "best_loss": float(np.mean(bests)),
                    "regret": float(np.mean(bests)) - optimum[task],
                    "compute": float(np.mean(computes)),
                    "to_fifo": float(np.mean(fin))
                    if len(fin) == len(to_fifo) and fin
                    else math.nan,
                    "reached": f"{len(fin)}/{len(to_fifo)}",
                    "regret_auc": float(np.mean(aucs)) if aucs else math.nan,
                }
            )
    return rows


def _plot(runs: list[dict[str, Any]], optimum: dict[str, float], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if any(r["task"] == t for r in runs)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        budget = max(r["compute"] for r in runs if r["task"] == task)
        grid = np.unique(np.geomspace(1, budget, 200).astype(int))
        for method in METHODS:
            mine = [r for r in runs if r["task"] == task and r["method"] == method]
            if not mine:
                continue
            curves = np.array([_best_at(r["trace"], grid) for r in mine]) - optimum[task]
            mean = np.nanmean(np.where(np.isnan(curves), np.nan, curves), axis=0)
            ax.plot(grid, np.maximum(mean, 1e-6), label=method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(task)
        ax.set_xlabel("compute (steps trained)")
        ax.set_ylabel("best validation loss - optimum")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raysearch.bench multifidelity")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=64, help="trials per experiment")
    parser.add_argument("--workers", type=int, default=4)
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
    if "fifo+random" not in methods:
        methods.insert(0, "fifo+random")
    runs: list[dict[str, Any]] = []
    optimum: dict[str, float] = {}
    for task in tasks:
        t0 = time.monotonic()
        curves = load_curves(task, args.cache, args.grid, args.max_t)
        print(
            f"{task}: {len(curves)} configurations x {args.max_t} steps ({time.monotonic() - t0:.0f} s)"
        )
        optimum[task] = min(v for c in curves.values() for v in c if v is not None)
        n_trials = min(args.trials, len(curves))
        for method, seed in itertools.product(methods, range(args.seeds)):
            run = run_method(
                method,
                task,
                curves,
                seed=seed,
                n_trials=n_trials,
                n_workers=args.workers,
                grid=args.grid,
                max_t=args.max_t,
            )
            runs.append(run)
    rows = summarise(runs, optimum)
    print(
        f"\n{args.seeds} seeds, {args.trials} trials, {args.workers} workers, max_t={args.max_t}, "
        f"{args.grid} grid; "
        "compute = steps trained; to_fifo = compute to reach FIFO+random's final best / "
        "FIFO's compute; regret_auc = mean best-so-far regret over FIFO's compute\n"
    )
    print(format_table(rows))
    secs: dict[str, float] = {}
    for r in runs:
        secs[r["method"]] = secs.get(r["method"], 0.0) + r["seconds"]
    print("\nsimulation seconds per method: " + ", ".join(f"{m} {s:.1f}" for m, s in secs.items()))
    if args.plot:
        _plot(runs, optimum, args.plot)
        print(f"plot: {args.plot}")
    if args.json:
        write_json(args.json, {"rows": rows, "optimum": optimum, "args": vars(args)})
    return 0
