"""JSON-lines logs, read tolerantly: the experiment logs raysearch appends to (finished
trials, PBT lineage) may end in a line a crash cut short, which must not make the rest
unreadable."""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["read_jsonlines"]


def read_jsonlines(path: str | os.PathLike[str]) -> list[Any]:
    """The JSON values of a JSON-lines file, one per line, in order. Blank lines and lines
    that are not valid JSON (cut short by a crash) are skipped.

    Raises:
        OSError: if the file cannot be read (FileNotFoundError if it does not exist).
    """
    values: list[Any] = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
    return values
