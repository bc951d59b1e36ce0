"""The multifidelity bench's tasks and configuration grids, and the search space over a grid.

Every configuration of a task's grid has one recorded learning curve
(:mod:`raysearch.bench.multifidelity.curves`); the search space offers exactly the grid's
values, so every configuration a searcher draws has a curve.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

__all__ = [
    "TASKS",
    "MAX_T",
    "ROUNDS_PER_STEP",
    "GRIDS",
    "WIDE_GRIDS",
    "GRID_SETS",
    "FIXED_GRID",
    "dataset_of",
    "family",
    "grid_values",
    "grid_points",
    "config_key",
    "task_space",
]

TASKS = (
    "diamonds",
    "health_insurance",
    "digits",
    "diamonds_wide",
    "health_insurance_wide",
    "digits_wide",
)
#: tasks whose grid is fixed, whatever ``--grid`` says: task -> (data set, grid). 64 trials
#: cover an eighth of a wide LightGBM grid's 504 configurations (a sixth of the MLP's 384)
#: instead of about half of a default grid, so there is something to find beyond what
#: FIFO + random sees (on the default grids it finds the optimum itself in 2-3 of 5 seeds)
FIXED_GRID = {
    "diamonds_wide": ("diamonds", "wide"),
    "health_insurance_wide": ("health_insurance", "wide"),
    "digits_wide": ("digits", "wide"),
}
MAX_T = 27
ROUNDS_PER_STEP = 5

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


def dataset_of(task: str) -> str:
    """The data set a task trains on (its name, unless the task fixes its grid)."""
    return FIXED_GRID[task][0] if task in FIXED_GRID else task


def family(task: str) -> str:
    """The model family whose curves a task records: ``"mlp"`` or ``"lightgbm"``."""
    return "mlp" if dataset_of(task) == "digits" else "lightgbm"


def grid_values(task: str, grid: str) -> dict[str, list[Any]]:
    """Hyperparameter -> its values in ``task``'s ``grid``.

    Raises:
        ValueError: an unknown grid name.
    """
    if grid not in GRID_SETS:
        raise ValueError(f"unknown grid {grid!r} (known: {', '.join(GRID_SETS)})")
    grid = FIXED_GRID[task][1] if task in FIXED_GRID else grid
    return GRID_SETS[grid][family(task)]


def grid_points(task: str, grid: str = "default") -> list[dict[str, Any]]:
    """Every configuration of ``task``'s ``grid``, in a fixed order."""
    values = grid_values(task, grid)
    return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]


def config_key(config: dict[str, Any]) -> str:
    """The cache key of a configuration's curve (JSON, keys sorted)."""
    return json.dumps({k: config[k] for k in sorted(config)}, sort_keys=True)


def task_space(task: str, grid: str = "default") -> Any:
    """The search space over ``task``'s ``grid`` (ordered categoricals, one per hyperparameter)."""
    from raysearch.space import Categorical, Space

    return Space({k: Categorical(v, ordered=True) for k, v in grid_values(task, grid).items()})
