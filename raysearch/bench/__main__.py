"""``python -m raysearch.bench <benchmark> [options]``; ``--help`` lists them."""

from __future__ import annotations

import sys

from raysearch.bench import BENCHMARKS
from raysearch.core.registry import import_object


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m raysearch.bench {" + ",".join(BENCHMARKS) + "} [options]")
        print("       python -m raysearch.bench <benchmark> --help")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    code: int = import_object(BENCHMARKS[name])(rest)
    return code


if __name__ == "__main__":
    sys.exit(main())
