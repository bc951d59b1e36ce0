"""The ``raysearch`` command line: experiment files, the commands, cluster checks.

* :mod:`.main`: the parser and the search commands (``run``, ``leaderboard``, ``submit``, ...);
* :mod:`.automl`: ``automl``, ``predict`` and ``demo``;
* :mod:`.experiment`: the experiment YAML/JSON schema (``raysearch run EXP.yaml``);
* :mod:`.clusters`: offline checks of the launcher and KubeRay files in ``cluster/``.

Importing this package imports neither Ray nor torch.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The ``raysearch`` console script (see :func:`raysearch.cli.main.main`)."""
    from raysearch.cli.main import main as _main

    return _main(argv)


__all__ = ["main"]
