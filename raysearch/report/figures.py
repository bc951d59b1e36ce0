"""Figures to SVG, and the parameter table the trial plots share.

Every plot of a report is a matplotlib ``Figure`` (no pyplot: no display, no global state)
turned into inline SVG by :func:`to_svg`: text stays text (``svg.fonttype: none``, small and
searchable), ids are salted per figure (several SVGs share one page), and dense artists
(hundreds of curves or lines) are drawn ``rasterized=True`` by the plots, so they enter the
SVG as one embedded PNG instead of thousands of paths.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from raysearch.report.data import Experiment, Trial

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "ParamColumn",
    "new_figure",
    "to_svg",
    "param_columns",
    "losses",
    "DENSE",
    "DPI",
    "fmt",
]

#: above this many artists of one kind, a plot draws them rasterized
DENSE = 150
#: resolution of the rasterized parts
DPI = 110
#: an id, or a reference to one, in matplotlib's SVG
_ID_REF = re.compile(r'(\bid="|url\(#|href="#)')


def new_figure(width: float, height: float) -> Figure:
    """A Figure with raysearch's report style (no pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), its ids prefixed by ``name``."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": name, "svg.image_inline": True}
    ):
        fig.savefig(buffer, format="svg", dpi=DPI)
    text = buffer.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # matplotlib's own ids (figure_1, axes_1, ...) repeat in every figure: make them unique
    return _ID_REF.sub(lambda m: f"{m.group(1)}{name}-", text)


def fmt(value: Any) -> str:
    """A short label for a parameter or metric value."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def losses(experiment: Experiment, trials: list[Trial]) -> np.ndarray:
    """The metric of ``trials`` as losses (lower is better); NaN where missing."""
    metric = experiment.metric or ""
    return np.array(
        [experiment.sign * v if (v := t.value(metric)) is not None else math.nan for t in trials],
        dtype=float,
    )


@dataclass
class ParamColumn:
    """One parameter across trials, as numbers for plotting and importance.

    Attributes:
        name: the flat parameter name.
        values: ``(n,)`` log10 of a log-scaled value, the value, or the category's index;
            NaN where the parameter was inactive.
        log: whether ``values`` holds log10.
        categories: the category labels (None for a numeric parameter).
    """

    name: str
    values: np.ndarray
    log: bool
    categories: list[str] | None

    def unit(self) -> np.ndarray:
        """``values`` scaled to [0, 1] (NaN kept)."""
        v = self.values
        if self.categories is not None:
            span = max(1, len(self.categories) - 1)
            return v / span if len(self.categories) > 1 else np.where(np.isnan(v), v, 0.5)
        finite = v[np.isfinite(v)]
        if finite.size == 0:
            return v
        low, high = float(finite.min()), float(finite.max())
        return (v - low) / (high - low) if high > low else np.where(np.isnan(v), v, 0.5)

    def label(self, unit: float) -> str:
        """The parameter's value at ``unit`` in [0, 1] (ends of the axis)."""
        finite = self.values[np.isfinite(self.values)]
        if finite.size == 0:
            return ""
        low, high = float(finite.min()), float(finite.max())
        value = low + unit * (high - low)
        return fmt(10**value if self.log else value)


def _space_hints(experiment: Experiment) -> dict[str, tuple[bool, list[Any] | None]]:
    """name -> (log, choices) from the searcher's recorded space, where there is one."""
    spec = experiment.space_spec()
    if spec is None:
        return {}
    try:
        from raysearch.space import Categorical, Float, Int, Space

        space = Space.from_dict(spec)
        hints: dict[str, tuple[bool, list[Any] | None]] = {}
        for name in space.names:
            param = space[name]
            if isinstance(param, Categorical):
                choices = list(param.choices)
                if all(not isinstance(c, dict | list) for c in choices):
                    hints[name] = (False, choices)
            elif isinstance(param, Float | Int):
                hints[name] = (bool(param.log), None)
        return hints
    except Exception:  # a space this version cannot read: infer from the values
        return {}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def param_columns(experiment: Experiment, trials: list[Trial]) -> list[ParamColumn]:
    """One column per parameter that varies across ``trials`` (constants dropped)."""
    hints = _space_hints(experiment)
    names: dict[str, None] = {}
    for t in trials:
        names.update(dict.fromkeys(t.config))
    columns = []
    for name in names:
        raw = [t.config.get(name) for t in trials]
        present = [v for v in raw if v is not None]
        if any(isinstance(v, list | dict) for v in present):
            present = [repr(v) for v in present]
            raw = [None if v is None else repr(v) for v in raw]
        distinct = {repr(v) for v in present}
        if len(distinct) < 2 and len(present) == len(raw):
            continue  # a constant tells nothing
        log, choices = hints.get(name, (False, None))
        if choices is None and present and all(_is_number(v) for v in present):
            arr = np.array([math.nan if v is None else float(v) for v in raw])
            finite = arr[np.isfinite(arr)]
            if name not in hints and finite.size and finite.min() > 0:
                log = bool(finite.max() / finite.min() >= 1000)
            if log:
                with np.errstate(divide="ignore", invalid="ignore"):
                    arr = np.where(arr > 0, np.log10(arr), math.nan)
            columns.append(ParamColumn(name, arr, log, None))
            continue
        labels = [str(c) for c in choices] if choices else sorted({str(v) for v in present})
        for v in present:
            if str(v) not in labels:
                labels.append(str(v))
        index = {label: i for i, label in enumerate(labels)}
        codes = np.array([math.nan if v is None else float(index[str(v)]) for v in raw])
        columns.append(ParamColumn(name, codes, False, labels))
    return columns
