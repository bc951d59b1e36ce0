"""``python -m raysearch.cli``: the same as the ``raysearch`` console script."""

from __future__ import annotations

import sys

from raysearch.cli import main

if __name__ == "__main__":
    sys.exit(main())
