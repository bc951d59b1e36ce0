"""Plain-text tables and JSON output shared by the benchmarks."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table", "write_json", "machine"]


def _cell(v: Any, digits: int) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def format_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 4
) -> str:
    """A fixed-width text table of ``rows`` (dicts), columns in order."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[_cell(r.get(c, ""), digits) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))
        )

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(path: str, payload: Mapping[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump({"machine": machine(), **payload}, f, indent=2, default=str)
