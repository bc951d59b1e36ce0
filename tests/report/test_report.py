"""Reports of experiment directories written without Ray: what is read, what is drawn, the
page in a real browser, the CLI."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from raysearch.cli import main as cli_main
from raysearch.report import load_experiment, render_report, write_report
from raysearch.report.curves import rungs, time_attr
from raysearch.report.figures import param_columns
from raysearch.report.importance import permutation_importance
from raysearch.report.page import page
from tests.report.browser import open_page, require_chromium
from tests.report.synth import write_experiment

TRIAL_PLOTS = ["best-so-far", "learning-curves", "parallel-coordinates", "importance"]


def _plots(html: str) -> list[str]:
    return re.findall(r'data-plot="([a-z-]+)"', html)


@pytest.fixture(scope="module")
def experiment_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_experiment(tmp_path_factory.mktemp("report") / "exp", 120)


@pytest.fixture(scope="module")
def report_page(experiment_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(experiment_dir, tmp_path_factory.mktemp("page") / "report.html")


def test_reads_trials_curves_errors_and_states(experiment_dir: Path) -> None:
    exp = load_experiment(experiment_dir)
    assert (exp.metric, exp.mode) == ("loss", "min")
    assert len(exp.trials) == 120
    failed = exp.failed()
    assert failed and all(
        t.error == "RuntimeError: diverged at step 2 (synthetic)" for t in failed
    )
    assert all(t.curve for t in exp.trials)
    assert exp.space_spec() is not None and "momentum" in exp.space_spec()  # type: ignore[operator]
    found = rungs(exp.scheduler)
    assert [r["milestone"] for r in found] == [1.0, 3.0, 9.0]
    assert time_attr(exp, found) == "training_iteration"
    # ended in order of their end time
    ends = [t.end_time for t in exp.trials]
    assert ends == sorted(ends)


def test_the_rungs_resource_is_found_from_the_data(tmp_path: Path) -> None:
    """Rungs counted in ``epoch`` (twice the iteration): the curves are drawn against it."""
    exp = load_experiment(write_experiment(tmp_path / "epochs", 40, time_attr="epoch"))
    assert time_attr(exp, rungs(exp.scheduler)) == "epoch"


def test_conditional_parameters_are_missing_where_inactive(experiment_dir: Path) -> None:
    exp = load_experiment(experiment_dir)
    finished = exp.finished()
    columns = {c.name: c for c in param_columns(exp, finished)}
    assert set(columns) == {"lr", "optimizer", "momentum", "layers"}
    sgd = np.array([t.config["optimizer"] == "sgd" for t in finished])
    assert np.isnan(columns["momentum"].values[~sgd]).all()
    assert np.isfinite(columns["momentum"].values[sgd]).all()
    # the searcher's space says lr is log-scaled and momentum is not
    assert columns["lr"].log and not columns["momentum"].log
    assert columns["optimizer"].categories == ["sgd", "adam"]


def test_importance_finds_the_parameter_that_matters() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(80, 3))
    X[rng.uniform(size=80) < 0.3, 2] = math.nan  # a conditional parameter
    y = np.sin(3 * X[:, 1]) + 0.05 * rng.normal(size=80)
    shares = permutation_importance(X, y, ["a", "b", "c"], seed=0)
    assert max(shares, key=lambda k: shares[k]) == "b" and shares["b"] > 0.7
    assert math.isclose(sum(shares.values()), 1.0)
    assert permutation_importance(X[:5], y[:5], ["a", "b", "c"]) == {}


def test_page_has_every_plot_and_the_failures(report_page: Path) -> None:
    html = report_page.read_text()
    assert _plots(html) == [*TRIAL_PLOTS, "leaderboard", "failed-trials"]
    assert "RuntimeError: diverged at step 2 (synthetic)" in html
    assert "<script" not in html and "http-equiv" not in html
    # self-contained: nothing is loaded from anywhere (xmlns names are not requests)
    assert not re.search(r'(src|href)="(?!#|data:)', html)
    # ids are unique although every figure's SVG names its parts alike
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    live = page("t", "s", [], [], refresh_s=7)
    assert '<meta http-equiv="refresh" content="7">' in live


def test_plain_tune_directory(experiment_dir: Path, tmp_path: Path) -> None:
    """Without raysearch's files: trials from Tune's snapshot and result.json files."""
    plain = tmp_path / "plain"
    shutil.copytree(experiment_dir, plain)
    for name in ("raysearch_trials.jsonl", "raysearch_experiment.json"):
        (plain / name).unlink()
    for path in plain.glob("searcher-state-*"):
        path.unlink()
    exp = load_experiment(plain, mode="min")
    assert exp.metric == "loss" and len(exp.trials) == 120
    assert sum(t.status == "ERROR" for t in exp.trials) == len(
        load_experiment(experiment_dir).failed()
    )
    html = render_report(plain, mode="min")
    assert set(TRIAL_PLOTS) <= set(_plots(html))


def test_cli_writes_the_page(experiment_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "page.html"
    assert cli_main(["report", str(experiment_dir), "--out", str(out)]) == 0
    assert _plots(out.read_text())[:2] == TRIAL_PLOTS[:2]
    assert "wrote" in capsys.readouterr().out
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["report", str(empty)]) == 2
    assert "no trials" in capsys.readouterr().err
    assert cli_main(["report", str(experiment_dir), "--objectives", "loss"]) == 2


def test_a_page_in_chromium(report_page: Path, tmp_path: Path) -> None:
    require_chromium()
    view = open_page(report_page, tmp_path / "shot.png")
    assert view.errors == [] and view.external_requests == []
    assert view.plots == [*TRIAL_PLOTS, "leaderboard", "failed-trials"]
    assert view.screenshot is not None and view.screenshot.stat().st_size > 50_000


def test_the_browser_check_sees_errors(tmp_path: Path) -> None:
    """The check above could fail: a page with a script error, a missing file and a request
    to the network is caught."""
    require_chromium()
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><div data-plot="x"></div><script>undefinedFunction()</script>'
        '<img src="missing.png"><img src="http://example.invalid/a.png"></body></html>'
    )
    view = open_page(bad)
    assert len(view.errors) >= 2 and view.external_requests == ["http://example.invalid/a.png"]
    assert view.plots == ["x"]


def test_trial_log_lines_cut_short_are_skipped(experiment_dir: Path, tmp_path: Path) -> None:
    """A live report reads files Tune is writing: a half-written line or snapshot is no error."""
    live = tmp_path / "live"
    shutil.copytree(experiment_dir, live)
    with open(live / "raysearch_trials.jsonl", "a") as f:
        f.write('{"trial_id": "cut", "status": "TERM')
    snapshot = next(live.glob("experiment_state-*.json"))
    snapshot.write_text(snapshot.read_text()[:100])
    exp = load_experiment(live)
    assert len(exp.trials) == 120 and "cut" not in {t.trial_id for t in exp.trials}
    assert json.loads((live / "raysearch_experiment.json").read_text())["metric"] == "loss"


def test_run_report_options() -> None:
    from raysearch.cli.main import build_parser
    from raysearch.cli.report import live_report_callbacks
    from raysearch.tune.callbacks import LiveReport

    parser = build_parser()
    assert parser.parse_args(["run", "x.yaml"]).report is None
    assert live_report_callbacks(parser.parse_args(["run", "x.yaml"])) == []
    args = parser.parse_args(["run", "x.yaml", "--report"])
    assert args.report == 30.0
    args = parser.parse_args(["run", "x.yaml", "--report", "5", "--report-out", "page.html"])
    (callback,) = live_report_callbacks(args)
    assert isinstance(callback, LiveReport) and callback.interval_s == 5.0
    assert callback.out is not None and callback.out.name == "page.html"
    with pytest.raises(ValueError, match="seconds > 0"):
        live_report_callbacks(parser.parse_args(["run", "x.yaml", "--report", "0"]))


def test_hyperband_rungs_and_promotions_are_found() -> None:
    """Hyperband keeps its rungs inside brackets; promotions are marked at the milestone."""
    from raysearch.report.curves import promotions

    state = {
        "data": {
            "brackets": [
                {
                    "s": 1,
                    "members": ["a", "b", "c"],
                    "rungs": [
                        {
                            "milestone": 1.0,
                            "recorded": [["a", 0.5], ["b", 0.9]],
                            "promoted": ["a"],
                        },
                        {"milestone": 3.0, "recorded": [["a", 0.2]], "promoted": []},
                    ],
                },
                {"s": 0, "members": ["c"], "rungs": []},
            ],
            "trials": {"a": {"status": "done"}},
        }
    }
    found = rungs(state)
    assert [r["milestone"] for r in found] == [1.0, 3.0]
    curves = {"a": np.array([[1.0, 0.5], [2.0, 0.3], [3.0, 0.2]]), "b": np.array([[1.0, 0.9]])}
    assert promotions(found, curves).tolist() == [[1.0, 0.5]]
