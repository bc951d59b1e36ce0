"""A 1,000-trial experiment's report: under 5 MB, and rendered in under 3 s in Chromium.

Slow (about a minute on a 2-core machine: writing the directory and the report); run it
with ``pytest -m slow tests/report/test_report_scale.py -s`` to see the numbers.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from raysearch.report import write_report
from tests.report.browser import open_page, require_chromium
from tests.report.synth import write_experiment

pytestmark = pytest.mark.slow

MAX_BYTES = 5_000_000
MAX_RENDER_MS = 3000.0


def test_thousand_trials_page_is_small_and_fast(tmp_path: Path) -> None:
    require_chromium()
    directory = write_experiment(tmp_path / "exp", 1000)
    wall, cpu = time.perf_counter(), time.process_time()
    page = write_report(directory)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = page.stat().st_size
    view = open_page(page, tmp_path / "shot.png")
    print(
        f"\n1000 trials: page {size / 1e6:.2f} MB; report written in {wall:.1f} s "
        f"({cpu:.1f} s CPU); Chromium: first frame {view.paint_ms:.0f} ms after navigation "
        f"(load event {view.load_ms:.0f} ms), full-page screenshot {view.screenshot_ms:.0f} ms"
    )
    assert view.errors == [] and view.external_requests == []
    assert {"best-so-far", "learning-curves", "parallel-coordinates", "importance"} <= set(
        view.plots
    )
    assert size < MAX_BYTES
    assert view.paint_ms < MAX_RENDER_MS
    assert view.screenshot_ms < MAX_RENDER_MS
