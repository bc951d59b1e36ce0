"""The report page: one self-contained HTML file (inline SVG and CSS, no script, no link to
anything outside it), so it opens from disk, from a mail attachment or a CI artifact alike.

Each plot is a ``<figure data-plot="NAME">`` and each table a ``<table data-plot="NAME">``;
the names are stable (tests and scripts look for them): ``best-so-far``,
``parallel-coordinates``, ``importance``, ``learning-curves``, ``pbt-lineage``,
``pbt-schedule``, ``pareto-front``, ``leaderboard``, ``failed-trials``,
``automl-leaderboard``, ``ensemble-weights``, ``family-scores``, ``fit-predict-times``.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raysearch.report.figures import fmt, to_svg

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["Section", "figure_section", "table_section", "page", "frame_table"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;opacity:.9}
main{padding:8px 24px 40px;max-width:1280px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:14px 0;padding:10px 16px}
h2{font-size:16px;margin:4px 0 8px} .note{color:#555;font-size:12.5px;margin:6px 0}
figure{margin:0;overflow-x:auto} figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:12.5px} td,th{border-bottom:1px solid #eee;
padding:3px 8px;text-align:left;white-space:nowrap} th{background:#f3f3f3}
td.err{white-space:normal;max-width:760px;font-family:ui-monospace,monospace;color:#a00}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:6px 0}
dt{color:#555} dd{margin:0}
"""


@dataclass
class Section:
    """A titled block of the page: its plot or table (HTML) and a note under it."""

    name: str
    title: str
    body: str
    note: str = ""


def figure_section(name: str, title: str, fig: Figure | None, note: str = "") -> Section | None:
    """A section holding ``fig`` as inline SVG (None without a figure)."""
    if fig is None:
        return None
    body = f'<figure data-plot="{name}" id="plot-{name}">{to_svg(fig, name)}</figure>'
    return Section(name, title, body, note)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(fmt(value))


def frame_table(frame: pd.DataFrame, columns: Sequence[str], top: int) -> str:
    """Rows of ``frame`` (the first ``top``) as table rows of ``columns`` (those present)."""
    columns = [c for c in columns if c in frame.columns]
    rows = []
    for _, row in frame.head(top).iterrows():
        rows.append("".join(f"<td>{_cell(row[c])}</td>" for c in columns))
    return _table_html(columns, rows)


def _table_html(columns: Sequence[str], rows: Sequence[str], name: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    attrs = f' data-plot="{name}" id="plot-{name}"' if name else ""
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def table_section(
    name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str = ""
) -> Section:
    """A section holding a table; a cell given as ``("err", text)`` is shown as an error."""
    html_rows = []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, tuple) and value and value[0] == "err":
                cells.append(f'<td class="err">{html.escape(str(value[1]))}</td>')
            else:
                cells.append(f"<td>{_cell(value)}</td>")
        html_rows.append("".join(cells))
    return Section(name, title, _table_html(columns, html_rows, name), note)


def facts_html(facts: Sequence[tuple[str, str]]) -> str:
    """A definition list of ``(label, text)``."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts)
    return f"<dl>{items}</dl>"


def page(
    title: str,
    subtitle: str,
    facts: Sequence[tuple[str, str]],
    sections: Sequence[Section | None],
    refresh_s: float | None = None,
) -> str:
    """The whole HTML document."""
    refresh = (
        f'<meta http-equiv="refresh" content="{max(1, int(refresh_s))}">' if refresh_s else ""
    )
    generated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    live = f" Live: this page reloads every {int(refresh_s)} s." if refresh_s else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request: the page is one file
        refresh,
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header><main>",
        f'<section id="summary"><h2>Summary</h2>{facts_html(facts)}'
        f'<p class="note">Generated by raysearch report at {generated}.{live}</p></section>',
    ]
    for section in sections:
        if section is None:
            continue
        note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
        parts.append(
            f'<section id="{section.name}"><h2>{html.escape(section.title)}</h2>'
            f"{section.body}{note}</section>"
        )
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p)
