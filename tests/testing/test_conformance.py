"""Every registered searcher and scheduler passes the shipped conformance suites."""

from __future__ import annotations

from raysearch.testing.conformance import SchedulerConformance, SearcherConformance


class TestRandomSearch(SearcherConformance):
    searcher = "raysearch.searchers.random:RandomSearch"


class TestSobolSearch(SearcherConformance):
    searcher = "raysearch.searchers.random:RandomSearch"
    kwargs = {"sampler": "sobol"}


class TestGridSearch(SearcherConformance):
    searcher = "raysearch.searchers.grid:GridSearch"


class TestFIFOScheduler(SchedulerConformance):
    scheduler = "raysearch.core.scheduler:FIFOScheduler"
