"""Every registered searcher and scheduler passes the shipped conformance suites.

The suites are made from the registries (:func:`raysearch.testing.conformance.registered_suites`),
so registering a strategy is what puts it under test; the table below only says which small
arguments keep each run short (one row per configuration worth checking). A registered name
without a row fails :func:`test_every_registered_strategy_has_a_row`.
"""

from __future__ import annotations

from typing import Any

from raysearch.core.registry import SCHEDULERS, SEARCHERS, Registry
from raysearch.testing.conformance import conformance_spaces, registered_suites, unlisted

MIXED = conformance_spaces()["mixed"]
CONDITIONAL = conformance_spaces()["conditional"]
TRAINING = conformance_spaces()["training"]
ASHA = {"grace_period": 1, "max_t": 27, "reduction_factor": 3}

#: registry name -> suite settings per configuration (``kwargs`` over the registered ones)
SEARCHER_ROWS: dict[str, list[dict[str, Any]]] = {
    "random": [{}],
    "sobol": [{}],
    "grid": [{}],
    "tpe": [
        # model-based from the 5th trial on, well before the suite's halfway point (10 of 20)
        {"kwargs": {"n_startup": 4}},
        # Optuna's choices (uniform good weights, per-estimator clip, full-weight liar)
        {
            "kwargs": {
                "n_startup": 3,
                "weighting": "uniform",
                "magic_clip": "kernels",
                "liar_weight": 1.0,
            }
        },
        {"kwargs": {"n_startup": 4, "multi_fidelity": True, "n_min": 2}},
    ],
    "gp": [
        # model-based from the 5th trial on; few candidates keep the suite fast
        {"kwargs": {"n_init": 4, "n_candidates": 64, "n_restarts": 2}},
        {
            "kwargs": {"n_init": 4, "n_candidates": 32, "n_restarts": 2, "tr_dims": None},
            "spaces": ("mixed", "conditional"),
        },
    ],
    # NAS searchers run on ordinary spaces: the same suite, small populations
    "evolution": [
        {"kwargs": {"population_size": 6, "n_init": 4, "init_searcher": None}},
        {"kwargs": {"population_size": 6, "n_init": 4}},
        {"kwargs": {"population_size": 6, "sample_size": 3, "init_searcher": "sobol"}},
    ],
    "controller": [{}],
}
SCHEDULER_ROWS: dict[str, list[dict[str, Any]]] = {
    "fifo": [{}],
    "asha": [
        {"kwargs": ASHA},
        {"kwargs": {**ASHA, "variant": "promote"}},
        {"kwargs": {**ASHA, "brackets": 3}},
    ],
    "hyperband": [{"kwargs": ASHA}],
    "pbt": [
        {"kwargs": {"hyperparam_mutations": MIXED, "perturbation_interval": 4}},
        {
            "kwargs": {
                "hyperparam_mutations": CONDITIONAL,
                "perturbation_interval": 5,
                "synch": True,
            }
        },
    ],
    "pb2": [
        {
            "kwargs": {"hyperparam_bounds": TRAINING, "perturbation_interval": 4, "synch": True},
            "n_trials": 12,
        }
    ],
}

globals().update(registered_suites(SEARCHERS, SEARCHER_ROWS, __name__))
globals().update(registered_suites(SCHEDULERS, SCHEDULER_ROWS, __name__))


def test_every_registered_strategy_has_a_row() -> None:
    missing = unlisted(SEARCHERS, SEARCHER_ROWS) + unlisted(SCHEDULERS, SCHEDULER_ROWS)
    assert not missing, (
        f"registered without conformance arguments: {missing}; add a row to the tables "
        "of tests/testing/test_registered.py"
    )


def test_no_row_for_an_unregistered_name() -> None:
    stale = sorted(set(SEARCHER_ROWS) - set(SEARCHERS.names())) + sorted(
        set(SCHEDULER_ROWS) - set(SCHEDULERS.names())
    )
    assert not stale, f"rows for names no registry has: {stale}"


def test_a_suite_per_row() -> None:
    suites = registered_suites(SEARCHERS, SEARCHER_ROWS, __name__)
    assert len(suites) == sum(len(rows) for rows in SEARCHER_ROWS.values())
    sobol = suites["TestSearcher_sobol"]
    assert sobol.searcher == "raysearch.searchers.random:RandomSearch"  # type: ignore[attr-defined]
    assert sobol.kwargs == {"sampler": "sobol"}  # type: ignore[attr-defined]
    assert suites["TestSearcher_gp_1"].spaces == ("mixed", "conditional")  # type: ignore[attr-defined]


def test_unlisted_names_what_a_table_forgets() -> None:
    registry = Registry("searcher")
    registry.register("mine", "raysearch.searchers.random:RandomSearch")
    assert unlisted(registry, {}) == ["mine"]
    assert unlisted(registry, {"mine": []}) == ["mine"]  # an empty row list tests nothing
    assert unlisted(registry, {"mine": [{}]}) == []
