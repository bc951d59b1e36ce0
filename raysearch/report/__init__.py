"""``raysearch report``: one self-contained HTML page per experiment or AutoML model.

::

    from raysearch.report import write_report
    write_report("~/ray_results/my_experiment")            # -> .../my_experiment/report.html
    result = raysearch.run(...); result.report("search.html")
    # shell: raysearch report EXPERIMENT_DIR [--out report.html]

The page holds the plots that fit what ran (see :mod:`raysearch.report.build`) as inline SVG
drawn by matplotlib: no server, no network, no script; it opens from disk. Matplotlib rather
than plotly: it is already what the notebooks and benchmarks draw with, a static SVG needs
no 3.5 MB JavaScript bundle inlined in every page, and ``rasterized=True`` keeps a page of
a thousand learning curves small (they enter as one image). The price is no hovering.

This package reads files (Tune's and raysearch's, see :mod:`raysearch.report.data`) and
never imports Ray, so a report can be made anywhere the experiment directory is readable:
during a run (:class:`raysearch.tune.callbacks.LiveReport` rewrites it every few seconds),
after it, or on a laptop from a synced copy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from raysearch.report.data import Experiment, Trial, load_experiment

__all__ = ["render_report", "write_report", "load_experiment", "Experiment", "Trial"]

#: the report's file name when no ``out`` is given (in the experiment or model directory)
DEFAULT_NAME = "report.html"


def render_report(
    source: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    objectives: list[tuple[str, str]] | None = None,
    refresh_s: float | None = None,
) -> str:
    """The report page (HTML text) of ``source``.

    Args:
        source: an experiment directory (raysearch or Ray Tune), an AutoML model directory
            (``AutoML.save``), or a fitted :class:`raysearch.AutoML`.
        metric, mode: override the experiment's recorded metric and mode.
        objectives: ``[(metric, "min"|"max"), ...]``: draw the Pareto front of these
            (default: the searcher's objectives, when it has several).
        refresh_s: make the page reload itself every this many seconds (a live view).

    Raises:
        FileNotFoundError: ``source`` is no directory, or one without trials.
    """
    from raysearch.report.automl import is_model_dir, load_automl
    from raysearch.report.build import automl_page, experiment_page

    if not isinstance(source, str | os.PathLike):
        return automl_page(source, type(source).__name__)
    if is_model_dir(source):
        return automl_page(load_automl(source), Path(source).resolve().name)
    experiment = load_experiment(source, metric=metric, mode=mode, objectives=objectives)
    return experiment_page(experiment, refresh_s)


def write_report(
    source: Any,
    out: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Path:
    """Writes the report of ``source`` (see :func:`render_report`, which takes ``kwargs``)
    to ``out`` (default ``report.html`` in the source directory) atomically: a browser that
    reloads it never reads half a page. Returns the file's path."""
    if out is None:
        if not isinstance(source, str | os.PathLike):
            raise ValueError("give out= to write the report of a model object")
        out = Path(source) / DEFAULT_NAME
    path = Path(out).expanduser()
    text = render_report(source, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the page from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
