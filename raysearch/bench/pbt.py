"""Population-based training: raysearch PBT and PB2 against random search and Ray's PBT.

Two tasks where the schedule of the optimiser's hyperparameters matters, each trained with
SGD (learning rate, momentum, weight decay; log scales for the first and last):

* ``digits``: an MLP classifying scikit-learn's 8x8 digits
  (``raysearch.data.load_dataset("digits")``), 60/20/20 train/validation/test split;
* ``friedman``: an MLP regressing Friedman #1 with label noise (generated offline by
  scikit-learn), small batches, so that the gradient noise floor rewards a decaying
  learning rate.

Side by side in one run and one Ray instance, per task and seed, the *same* initial
population of ``--population`` random configurations, ``--epochs`` epochs each:

* ``random``: the population trained with fixed hyperparameters (random search at equal
  compute: every method trains the same number of epochs);
* ``raysearch PBT`` and ``raysearch PB2``: asynchronous, ``--interval`` epochs between
  perturbations, bottom/top quartile, the population from raysearch's random searcher;
* ``Ray PBT``: Ray Tune's ``PopulationBasedTraining`` with the same population, interval,
  quartile and resample probability (its own defaults otherwise).

Each method's result is the test score of its member with the best final validation loss.
Against random search and against Ray's PBT, paired by seed: the seeds a method wins and the
paired t-test's p-value (runs of one seed differ by chance, so a few seeds decide little).
All trainables run one torch thread; the whole run fits 2 CPU cores (a few minutes per seed).

Run: ``python -m raysearch.bench pbt [--seeds 3] [--epochs 20] [--population 8]
[--interval 4] [--tasks digits friedman] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysearch.bench.common import add_cpus_option, add_json_option, bench_parser, init_local_ray
from raysearch.bench.report import format_table, machine, write_json

__all__ = ["main", "train_sgd", "TASKS", "space_for", "paired"]

TASKS = ("digits", "friedman")
_DATA: dict[str, Any] = {}


def _load(task: str) -> dict[str, Any]:
    """Standardised train/validation/test tensors of a task (cached per process)."""
    if task in _DATA:
        return _DATA[task]
    import torch

    rng = np.random.default_rng(0)
    if task == "digits":
        from raysearch.data import load_dataset

        ds = load_dataset("digits")
        X = ds.features.to_numpy(dtype=np.float32)
        y = ds.target.to_numpy().astype(np.int64)
    elif task == "friedman":
        from sklearn.datasets import make_friedman1

        Xd, yd = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        X = Xd.astype(np.float32)
        y = ((yd - yd.mean()) / yd.std()).astype(np.float32)
    else:
        raise ValueError(f"unknown task {task!r} (known: {', '.join(TASKS)})")
    order = rng.permutation(len(X))
    n_train, n_val = int(0.6 * len(X)), int(0.2 * len(X))
    parts = {
        "train": order[:n_train],
        "val": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    mean, sd = X[parts["train"]].mean(0), X[parts["train"]].std(0) + 1e-6
    X = (X - mean) / sd
    data: dict[str, Any] = {"classes": int(y.max()) + 1 if task == "digits" else 0}
    for name, idx in parts.items():
        data[name] = (torch.from_numpy(X[idx]), torch.from_numpy(y[idx]))
    _DATA[task] = data
    return data


def space_for(task: str) -> dict[str, Any]:
    """The Tune search space of a task: SGD learning rate, momentum, weight decay."""
    from ray import tune

    return {
        "lr": tune.loguniform(1e-3, 1.0) if task == "digits" else tune.loguniform(1e-4, 0.3),
        "momentum": tune.uniform(0.0, 0.99),
        "weight_decay": tune.loguniform(1e-6, 1e-2),
    }


def _model(task: str, n_in: int, n_out: int) -> Any:
    import torch.nn as nn

    hidden = 128 if task == "digits" else 64
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, n_out),
    )


def _evaluate(task: str, model: Any, X: Any, y: Any) -> tuple[float, float]:
    """(loss, score): cross-entropy and accuracy, or MSE and R^2."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        out = model(X)
        if task == "digits":
            loss = float(F.cross_entropy(out, y))
            score = float((out.argmax(1) == y).float().mean())
        else:
            loss = float(F.mse_loss(out.squeeze(1), y))
            score = 1.0 - loss / float(y.var(unbiased=False))
    return loss, score


def train_sgd(config: Mapping[str, Any]) -> None:
    """A Tune function trainable: SGD on ``config["task"]`` for ``config["epochs"]`` epochs,
    one result and one checkpoint per epoch; resumes from ``tune.get_checkpoint()`` (PBT
    hands a donor's checkpoint over this way) with the config's current hyperparameters."""
    import torch
    import torch.nn.functional as F
    from ray import tune
    from ray.tune import Checkpoint

    torch.set_num_threads(1)
    task = str(config["task"])
    data = _load(task)
    X, y = data["train"]
    n_out = data["classes"] or 1
    torch.manual_seed(int(config.get("init_seed", 0)))
    model = _model(task, X.shape[1], n_out)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=float(config["lr"]),
        momentum=float(config["momentum"]),
        weight_decay=float(config["weight_decay"]),
    )
    epoch = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = torch.load(os.path.join(d, "state.pt"), weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        epoch = int(state["epoch"])
    for group in opt.param_groups:  # the config's values win over the checkpoint's
        group["lr"] = float(config["lr"])
        group["momentum"] = float(config["momentum"])
        group["weight_decay"] = float(config["weight_decay"])
    batch = 32 if task == "digits" else 16
    epochs = int(config["epochs"])
    while epoch < epochs:
        generator = torch.Generator().manual_seed(int(config.get("init_seed", 0)) * 1000 + epoch)
        order = torch.randperm(len(X), generator=generator)
        model.train()
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            out = model(X[idx])
            if task == "digits":
                loss = F.cross_entropy(out, y[idx])
            else:
                loss = F.mse_loss(out.squeeze(1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        model.eval()
        val_loss, val_score = _evaluate(task, model, *data["val"])
        test_loss, test_score = _evaluate(task, model, *data["test"])
        if not math.isfinite(val_loss):
            val_loss = test_loss = math.nan
        with tempfile.TemporaryDirectory() as d:
            torch.save(
                {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch},
                os.path.join(d, "state.pt"),
            )
            tune.report(
                {
                    "epoch": epoch,
                    "val_loss": val_loss,
                    "val_score": val_score,
                    "test_loss": test_loss,
                    "test_score": test_score,
                },
                checkpoint=Checkpoint.from_directory(d),
            )


def _population(task: str, n: int, seed: int) -> list[dict[str, Any]]:
    """The initial population every method starts from (raysearch's seeded sampler)."""
    from raysearch.searchers import RandomSearch
    from raysearch.tune.space import from_tune

    space = from_tune(space_for(task))
    searcher = RandomSearch(space, seed=seed)
    out = []
    for i in range(n):
        params = searcher.ask(f"p{i}")
        assert isinstance(params, dict)
        out.append(space.to_config(params))
    return out


def _summarise(grid: Any, counter: int) -> dict[str, Any]:
    best = None
    for r in grid:
        m = r.metrics or {}
        v = m.get("val_loss")
        if v is None or not math.isfinite(float(v)):
            continue
        if best is None or float(v) < float(best["val_loss"]):
            best = m
    if best is None:
        return {
            "val_loss": math.nan,
            "test_loss": math.nan,
            "test_score": math.nan,
            "epochs": counter,
        }
    return {
        "val_loss": float(best["val_loss"]),
        "test_loss": float(best["test_loss"]),
        "test_score": float(best["test_score"]),
        "epochs": counter,
    }


def _epoch_counter() -> Any:
    from ray.tune import Callback

    class EpochCounter(Callback):
        def __init__(self) -> None:
            self.n = 0

        def on_trial_result(
            self,
            iteration: int,
            trials: list[Any],
            trial: Any,
            result: dict[str, Any],
            **info: Any,
        ) -> None:
            self.n += 1

    return EpochCounter()


@dataclass(frozen=True)
class _Setup:
    """What every method gets on one task and seed: the same initial population, the
    options, and the storage directory."""

    task: str
    population: list[dict[str, Any]]
    args: argparse.Namespace
    seed: int
    storage: str

    def fixed(self) -> dict[str, Any]:
        """The constant entries of every member's config: the task, its epochs, its seed."""
        return {"task": self.task, "epochs": self.args.epochs, "init_seed": self.seed}


def _run_raysearch(method: str, setup: _Setup) -> dict[str, Any]:
    import raysearch
    from raysearch.tune import PB2Scheduler, PBTScheduler, RandomSearch

    task, population, args, seed = setup.task, setup.population, setup.args, setup.seed
    fixed = setup.fixed()
    space = {**space_for(task), **fixed}
    points = [{**p, **fixed} for p in population]
    scheduler: Any = None
    if method == "raysearch PBT":
        scheduler = PBTScheduler(
            perturbation_interval=args.interval,
            hyperparam_mutations=space_for(task),
            quantile_fraction=0.25,
            resample_probability=0.25,
            seed=seed,
        )
    elif method == "raysearch PB2":
        scheduler = PB2Scheduler(
            perturbation_interval=args.interval,
            hyperparam_bounds=space_for(task),
            quantile_fraction=0.25,
            seed=seed,
        )
    counter = _epoch_counter()
    result = raysearch.run(
        train_sgd,
        space,
        metric="val_loss",
        mode="min",
        searcher=RandomSearch(points_to_evaluate=points, seed=seed),
        scheduler=scheduler,
        num_samples=len(population),
        stop={"training_iteration": args.epochs},
        storage_path=setup.storage,
        name=f"{task}-{method.replace(' ', '_')}-{seed}",
        callbacks=[counter],
        verbose=0,
    )
    return _summarise(result.results, counter.n)


def _run_ray_pbt(setup: _Setup) -> dict[str, Any]:
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search import BasicVariantGenerator

    task, population, args, seed = setup.task, setup.population, setup.args, setup.seed
    random.seed(seed)  # Ray's PBT draws from the global random module
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=args.interval,
        hyperparam_mutations=space_for(task),
        quantile_fraction=0.25,
        resample_probability=0.25,
    )
    fixed = setup.fixed()
    points = [{**p, **fixed} for p in population]
    counter = _epoch_counter()
    tuner = tune.Tuner(
        tune.with_resources(train_sgd, {"cpu": 1}),
        param_space={**space_for(task), **fixed},
        tune_config=tune.TuneConfig(
            metric="val_loss",
            mode="min",
            scheduler=scheduler,
            search_alg=BasicVariantGenerator(points_to_evaluate=points, random_state=seed),
            num_samples=len(population),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"{task}-ray_pbt-{seed}",
            storage_path=setup.storage,
            stop={"training_iteration": args.epochs},
            callbacks=[counter],
            verbose=0,
        ),
    )
    return _summarise(tuner.fit(), counter.n)


METHODS = ("random", "raysearch PBT", "raysearch PB2", "Ray PBT")


def _run(method: str, setup: _Setup) -> dict[str, Any]:
    """One method on one task and seed: its summary with the wall time, printed as a line."""
    start = time.perf_counter()
    if method == "Ray PBT":
        out = _run_ray_pbt(setup)
    else:
        out = _run_raysearch(method, setup)
    task, seed = setup.task, setup.seed
    out.update(task=task, seed=seed, method=method, wall_s=time.perf_counter() - start)
    print(
        f"  {task} seed {seed} {method:14s} test={out['test_score']:.4f} "
        f"test_loss={out['test_loss']:.4f} val_loss={out['val_loss']:.4f} "
        f"epochs={out['epochs']} ({out['wall_s']:.0f} s)",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("pbt", __doc__)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per task (default 3)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per member (default 20)")
    parser.add_argument("--population", type=int, default=8, help="members (default 8)")
    parser.add_argument("--interval", type=int, default=4, help="epochs between perturbations")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        choices=METHODS,
        metavar="METHOD",
        help=f"default: all of {', '.join(METHODS)}",
    )
    add_cpus_option(parser)
    add_json_option(parser)
    args = parser.parse_args(argv)

    import ray

    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    cpus = init_local_ray(
        args.cpus, quiet=("ray", "ray.tune", "ray.tune.schedulers.pbt", "ray.tune.logger")
    )
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as storage:
        for task in args.tasks:
            for seed in range(args.seeds):
                population = _population(task, args.population, seed)
                setup = _Setup(task, population, args, seed, storage)
                for method in args.methods:
                    runs.append(_run(method, setup))
    ray.shutdown()

    rows = []
    for task in args.tasks:
        for method in args.methods:
            mine = [r for r in runs if r["task"] == task and r["method"] == method]
            rows.append(_row(task, method, mine, runs))
    score = {"digits": "accuracy", "friedman": "R^2"}
    print(
        f"\n{args.population} members x {args.epochs} epochs, perturbation every {args.interval}, "
        f"{args.seeds} seeds, {cpus} CPUs ({machine()['platform']}). Test score of the member "
        f"with the best final validation loss ({', '.join(f'{t}: {score[t]}' for t in args.tasks)}), "
        "mean over seeds; 'wins vs X' counts the seeds where the method's test loss is below X's, "
        "'p vs X' is the paired t-test over seeds (two-sided).\n"
    )
    print(format_table(rows))
    if args.json:
        write_json(
            args.json,
            {"benchmark": "pbt", "cpus": cpus, "args": vars(args), "rows": rows, "runs": runs},
        )
    return 0


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.fmean(finite) if finite else math.nan


def paired(mine: list[dict[str, Any]], other: list[dict[str, Any]]) -> tuple[int, int, float]:
    """Test losses of two methods paired by seed: (seeds where ``mine`` is lower, seeds
    compared, two-sided paired t-test p-value; NaN with fewer than 3 pairs)."""
    theirs = {r["seed"]: r["test_loss"] for r in other}
    pairs = [
        (r["test_loss"], theirs[r["seed"]])
        for r in mine
        if r["seed"] in theirs
        and math.isfinite(r["test_loss"])
        and math.isfinite(theirs[r["seed"]])
    ]
    wins = sum(1 for a, b in pairs if a < b)
    p = math.nan
    if len(pairs) >= 3 and any(a != b for a, b in pairs):
        from scipy.stats import ttest_rel

        p = float(ttest_rel([a for a, _ in pairs], [b for _, b in pairs]).pvalue)
    return wins, len(pairs), p


def _row(
    task: str, method: str, mine: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    scores = [r["test_score"] for r in mine]
    row: dict[str, Any] = {
        "task": task,
        "method": method,
        "test score": _mean(scores),
        "sd": statistics.stdev(scores)
        if len(scores) > 1 and all(math.isfinite(s) for s in scores)
        else math.nan,
        "test loss": _mean([r["test_loss"] for r in mine]),
        "val loss": _mean([r["val_loss"] for r in mine]),
    }
    for peer in ("random", "Ray PBT"):
        other = [r for r in runs if r["task"] == task and r["method"] == peer]
        if method == peer or not other:
            row[f"wins vs {peer}"] = row[f"p vs {peer}"] = "-"
            continue
        wins, n, p = paired(mine, other)
        row[f"wins vs {peer}"] = f"{wins}/{n}"
        row[f"p vs {peer}"] = "-" if math.isnan(p) else f"{p:.2f}"
    row["epochs"] = round(_mean([float(r["epochs"]) for r in mine]))
    row["wall s"] = _mean([r["wall_s"] for r in mine])
    return row
