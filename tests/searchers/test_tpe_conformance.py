"""TPESearch passes the shipped searcher conformance suite, with its model phase in play."""

from __future__ import annotations

from raysearch.testing.conformance import SearcherConformance


class TestTPESearch(SearcherConformance):
    searcher = "raysearch.searchers.tpe:TPESearch"
    # Model-based from the 5th trial on, well before the suite's halfway point (10 of 20).
    kwargs = {"n_startup": 4}


class TestTPESearchUniformWeights(SearcherConformance):
    """Optuna's choices (uniform good weights, per-estimator clip, full-weight liar)."""

    searcher = "raysearch.searchers.tpe:TPESearch"
    kwargs = {"n_startup": 3, "weighting": "uniform", "magic_clip": "kernels", "liar_weight": 1.0}


class TestTPESearchMultiFidelity(SearcherConformance):
    searcher = "raysearch.searchers.tpe:TPESearch"
    kwargs = {"n_startup": 4, "multi_fidelity": True, "n_min": 2}
