"""The report commands of the ``raysearch`` CLI::

    raysearch report EXPERIMENT_DIR [--out report.html]   # a raysearch or Ray Tune experiment
    raysearch report MODEL_DIR                            # an AutoML model (AutoML.save)
    raysearch run EXPERIMENT.yaml --report [SECONDS]      # the same page, rewritten during the run

One self-contained HTML file (see :mod:`raysearch.report`): open it from disk.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_report_command", "add_run_report_options", "live_report_callbacks"]

#: seconds between two pages of ``raysearch run --report`` without a value
DEFAULT_INTERVAL_S = 30.0


def _objectives(text: str | None) -> list[tuple[str, str]] | None:
    """``"acc:max,latency:min"`` -> ``[("acc", "max"), ("latency", "min")]``."""
    if not text:
        return None
    out = []
    for item in text.split(","):
        name, _, mode = item.strip().rpartition(":")
        if not name or mode not in ("min", "max"):
            raise ValueError(f"--objectives: expected METRIC:min or METRIC:max, got {item!r}")
        out.append((name, mode))
    return out


def cmd_report(args: argparse.Namespace) -> int:
    from raysearch.report import write_report

    directory = Path(args.directory).expanduser()
    if not directory.is_dir():
        raise ValueError(f"{str(directory)!r} is not a directory")
    kwargs: dict[str, Any] = {}
    if args.metric:
        kwargs["metric"] = args.metric
    if args.mode:
        kwargs["mode"] = args.mode
    objectives = _objectives(args.objectives)
    if objectives:
        kwargs["objectives"] = objectives
    try:
        out = write_report(directory, args.out, **kwargs)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from None
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); open it in a browser")
    return 0


def add_report_command(sub: Any) -> None:
    """``raysearch report``."""
    p = sub.add_parser(
        "report",
        help="write one self-contained HTML page of an experiment or AutoML model directory",
    )
    p.add_argument("directory", help="experiment directory (raysearch or Ray Tune) or model dir")
    p.add_argument("--out", help="HTML file (default DIRECTORY/report.html)")
    p.add_argument("--metric", help="default: the metric recorded with the experiment")
    p.add_argument("--mode", choices=("min", "max"))
    p.add_argument(
        "--objectives",
        help="draw the Pareto front of these, e.g. acc:max,latency_ms:min "
        "(default: the searcher's objectives)",
    )
    p.set_defaults(func=cmd_report)


def add_run_report_options(p: argparse.ArgumentParser) -> None:
    """``--report [SECONDS]`` and ``--report-out`` of ``raysearch run``."""
    p.add_argument(
        "--report",
        nargs="?",
        type=float,
        const=DEFAULT_INTERVAL_S,
        default=None,
        metavar="SECONDS",
        help="rewrite an HTML report of the run every SECONDS "
        f"(default {DEFAULT_INTERVAL_S:g}) and at its end",
    )
    p.add_argument(
        "--report-out", help="the live report's file (default ./<experiment name>-report.html)"
    )


def live_report_callbacks(args: argparse.Namespace) -> list[Any]:
    """The Tune callbacks ``raysearch run`` adds for ``--report`` (none without it)."""
    interval = getattr(args, "report", None)
    if interval is None:
        return []
    if not interval > 0:
        raise ValueError(f"--report takes seconds > 0, got {interval:g}")
    from raysearch.tune.callbacks import LiveReport

    return [LiveReport(getattr(args, "report_out", None), interval_s=interval)]
