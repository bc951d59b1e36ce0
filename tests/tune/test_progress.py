"""The progress line (tune/callbacks.Progress): counts, rate and ETA."""

from __future__ import annotations

import logging

from raysearch.tune.callbacks import Progress


def test_progress_line_has_an_eta_once_part_of_the_trials_ended(caplog, monkeypatch):
    clock = iter([100.0, 110.0, 110.0])  # start, then "10 s later" for the line
    monkeypatch.setattr("raysearch.tune.callbacks.time.monotonic", lambda: next(clock))
    progress = Progress("loss", "min", total=8, interval_s=0.0)
    for _ in range(2):  # 2 of 8 trials ended (failed) in 10 s: 30 s to go
        progress.on_trial_error(0, [], None)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="raysearch.progress"):
        progress.on_step_end(0, [])
    (line,) = [r.getMessage() for r in caplog.records]
    assert "0/8 trials done, 0 running, 2 failed" in line and line.endswith("ETA 30 s"), line


def test_no_eta_without_a_total_or_a_budget(caplog, monkeypatch):
    clock = iter([0.0, 5.0, 5.0])
    monkeypatch.setattr("raysearch.tune.callbacks.time.monotonic", lambda: next(clock))
    progress = Progress("loss", "min", total=None, interval_s=0.0)
    progress.on_trial_error(0, [], None)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="raysearch.progress"):
        progress.on_step_end(0, [])
    assert "ETA" not in caplog.records[0].getMessage()
