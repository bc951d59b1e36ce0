"""Benchmarks: ``python -m raysearch.bench <name> [options]``.

Each benchmark measures raysearch side by side with its peers in one run and prints a
table (``--json PATH`` also writes the numbers). Speed and quality targets live here, not
in unit tests. :mod:`.report` holds the table and JSON output they share, :mod:`.common`
their parser, common options and local Ray start.
"""

from __future__ import annotations

from raysearch.bench.report import format_table

__all__ = ["format_table", "BENCHMARKS"]

#: name -> "module:main"; main(argv) -> int
BENCHMARKS: dict[str, str] = {
    "multifidelity": "raysearch.bench.multifidelity:main",
    "hpo": "raysearch.bench.hpo:main",
    "overhead": "raysearch.bench.overhead:main",
    "pbt": "raysearch.bench.pbt:main",
    "tabular": "raysearch.bench.tabular:main",
    "trainables": "raysearch.bench.trainables:main",
    "nas": "raysearch.bench.nas:main",
    "oneshot": "raysearch.bench.oneshot:main",
    "forecast": "raysearch.bench.forecast:main",
    "zerocost": "raysearch.bench.zerocost:main",
    "gpu": "raysearch.bench.gpu:main",
}
