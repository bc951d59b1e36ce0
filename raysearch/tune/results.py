"""What :func:`raysearch.run` returns: :class:`RunResult`, with its leaderboard.

:func:`leaderboard_frame` turns trial records (read back from Tune's ``ResultGrid`` by
:func:`records_from_grid`, or from raysearch's trial log by ``raysearch leaderboard``) into
one row per trial, best first; :func:`run_result` assembles the whole :class:`RunResult`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.core.values import flatten

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune import ResultGrid

__all__ = ["RunResult", "leaderboard_frame", "records_from_grid", "reported_metrics", "run_result"]

_METRIC_COLUMNS = ("training_iteration", "time_total_s")


@dataclass
class RunResult:
    """What :func:`raysearch.run` returns.

    Attributes:
        results: Tune's ``ResultGrid``.
        leaderboard: one row per trial, best first (see :func:`leaderboard_frame`).
        best_config: the config of the best trial (None if every trial failed).
        best_metrics: the last reported metrics of the best trial.
        experiment_path: where Tune wrote the experiment (pass it to ``resume`` or
            ``raysearch leaderboard``).
        elapsed_s: wall time of the run.
    """

    results: ResultGrid
    leaderboard: pd.DataFrame
    best_config: dict[str, Any] | None
    best_metrics: dict[str, Any] | None
    experiment_path: str
    elapsed_s: float
    metric: str
    mode: str

    @property
    def num_trials(self) -> int:
        return len(self.leaderboard)

    @property
    def num_errors(self) -> int:
        return int((self.leaderboard["status"] == "ERROR").sum()) if len(self.leaderboard) else 0

    def report(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Path:
        """Writes the experiment's report page (one self-contained HTML file, see
        :mod:`raysearch.report`) to ``path`` (default ``report.html`` in the experiment
        directory); ``kwargs`` go to :func:`raysearch.report.write_report`. Returns its path."""
        from raysearch.report import write_report

        kwargs = {"metric": self.metric, "mode": self.mode, **kwargs}
        return write_report(self.experiment_path, path, **kwargs)


def records_from_grid(grid: ResultGrid) -> list[dict[str, Any]]:
    """One record per trial of ``grid`` (id, status, config, last metrics, error line)."""
    records = []
    for r in grid:
        metrics = dict(r.metrics or {})
        records.append(
            {
                "trial_id": metrics.get("trial_id") or (r.path or "").rsplit("/", 1)[-1],
                "status": "ERROR" if r.error is not None else "TERMINATED",
                "config": dict(r.config or {}),
                "metrics": metrics,
                "error": None if r.error is None else str(r.error).strip().splitlines()[-1][:300],
            }
        )
    return records


def reported_metrics(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The numeric metrics some trial of ``records`` reported, sorted by name."""
    names = {
        str(k)
        for rec in records
        for k, v in (rec.get("metrics") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return sorted(names)


def leaderboard_frame(
    records: Sequence[Mapping[str, Any]], metric: str, mode: str
) -> pd.DataFrame:
    """One row per trial: id, status, the metric, config columns (flattened ``a/b``), the
    iterations and seconds it ran, the error if any; best first, failures last."""
    import pandas as pd

    rows = []
    for rec in records:
        metrics = rec.get("metrics") or {}
        value = metrics.get(metric)
        try:
            value = float(value) if value is not None else math.nan
        except (TypeError, ValueError):
            value = math.nan
        row: dict[str, Any] = {
            "trial_id": rec.get("trial_id"),
            "status": rec.get("status"),
            metric: value,
        }
        for k, v in flatten(rec.get("config") or {}).items():
            row[f"config/{k}"] = v if not isinstance(v, list | tuple | dict) else repr(v)
        for k in _METRIC_COLUMNS:
            row[k] = metrics.get(k)
        row["error"] = rec.get("error")
        rows.append(row)
    columns = ["trial_id", "status", metric]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "error"])
    frame["_failed"] = frame[metric].isna() | (frame["status"] != "TERMINATED")
    frame = frame.sort_values(["_failed", metric], ascending=[True, mode == "min"], kind="stable")
    frame = frame.drop(columns="_failed").reset_index(drop=True)
    return frame


def run_result(grid: ResultGrid, metric: str, mode: str, elapsed_s: float) -> RunResult:
    """The :class:`RunResult` of a finished ``grid``: its leaderboard and best trial."""
    board = leaderboard_frame(records_from_grid(grid), metric, mode)
    best_config = best_metrics = None
    ok = board[board["status"] == "TERMINATED"].dropna(subset=[metric]) if len(board) else board
    if len(ok):
        best_id = ok.iloc[0]["trial_id"]
        for r in grid:
            if (r.metrics or {}).get("trial_id") == best_id:
                best_config, best_metrics = dict(r.config or {}), dict(r.metrics or {})
                break
    return RunResult(
        results=grid,
        leaderboard=board,
        best_config=best_config,
        best_metrics=best_metrics,
        experiment_path=str(grid.experiment_path),
        elapsed_s=elapsed_s,
        metric=metric,
        mode=mode,
    )
