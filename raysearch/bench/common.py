"""Command-line pieces the benchmarks share: their parser, common options and local Ray."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

__all__ = ["bench_parser", "add_cpus_option", "add_json_option", "init_local_ray"]


def bench_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m raysearch.bench <name>``, its module docstring as help."""
    return argparse.ArgumentParser(
        prog=f"python -m raysearch.bench {name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_cpus_option(parser: argparse.ArgumentParser) -> None:
    """``--cpus N``: the CPUs of the local Ray instance a benchmark starts."""
    parser.add_argument("--cpus", type=int, default=None, help="CPUs for local Ray (default: all)")


def add_json_option(
    parser: argparse.ArgumentParser, help_text: str = "also write the results to this JSON file"
) -> None:
    """``--json PATH``: where :func:`raysearch.bench.report.write_json` writes the numbers."""
    parser.add_argument("--json", help=help_text)


def init_local_ray(cpus: int | None, quiet: Sequence[str] = ("ray",)) -> int:
    """Starts a local Ray instance for a benchmark (no dashboard, no worker logs on the
    driver, the ``quiet`` loggers at ERROR) and returns its CPU count."""
    import ray

    for name in quiet:
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return int(ray.cluster_resources().get("CPU", 1))
