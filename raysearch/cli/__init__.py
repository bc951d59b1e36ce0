"""The ``raysearch`` command line: experiment files, the commands, cluster checks.

* :mod:`.main`: the parser and the search commands (``run``, ``leaderboard``, ``submit``, ...);
* :mod:`.automl`: ``automl``, ``predict`` and ``demo``;
* :mod:`.experiment`: the experiment YAML/JSON schema (``raysearch run EXP.yaml``);
* :mod:`.clusters`: offline checks of the launcher and KubeRay files in ``cluster/``.

Importing this package imports neither Ray nor torch.
"""

from __future__ import annotations

# The function, not the submodule of the same name: importing ``raysearch.cli.main`` here
# first means no later import of it can rebind ``raysearch.cli.main`` to the module.
from raysearch.cli.main import main

__all__ = ["main"]
