"""Reports of real runs on local Ray (GP with a conditional space and failures, ASHA, PBT,
two objectives, AutoML), each opened in headless Chromium: no console error, no request
off the file, every expected plot there; and the live report of ``LiveReport``."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ray import tune
from ray.tune import Checkpoint

import raysearch
from raysearch.cli import main as cli_main
from raysearch.space import Categorical, Float, Space, when
from raysearch.tune import GPSearch, PBTScheduler
from raysearch.tune.callbacks import LiveReport
from tests.report.browser import open_page

pytestmark = pytest.mark.ray


def _check(page: Path, expected: list[str], shot: Path) -> None:
    view = open_page(page, shot)
    assert view.errors == [], view.errors
    assert view.external_requests == []
    missing = [p for p in expected if p not in view.plots]
    assert not missing, f"{page}: missing plots {missing}; has {view.plots}"
    assert view.screenshot is not None and view.screenshot.stat().st_size > 20_000


def steps(config: dict[str, Any]) -> None:
    """Three reports of a quadratic; fails (after reporting) for large x."""
    for step in range(1, 4):
        time.sleep(float(config.get("sleep", 0.0)))
        loss = (config["x"] - 0.3) ** 2 + config.get("momentum", 0.5) * 0.1 + 1.0 / step
        tune.report({"loss": loss, "step": step})
    if config["x"] > 0.9:
        raise RuntimeError("x above 0.9 (on purpose)")


def test_gp_run_with_a_live_report(ray_local, tmp_path: Path) -> None:
    space = Space(
        {
            "x": Float(0.0, 1.0),
            "opt": Categorical(["sgd", "adam"]),
            "momentum": when({"opt": "sgd"}, Float(0.0, 0.99)),
            "sleep": 0.1,
        }
    )
    live = LiveReport(tmp_path / "live.html", interval_s=0.2)
    result = raysearch.run(
        steps,
        space,
        metric="loss",
        mode="min",
        searcher=GPSearch(points_to_evaluate=[{"x": 0.95, "opt": "adam"}], seed=0),
        num_samples=10,
        storage_path=str(tmp_path),
        name="gp",
        callbacks=[live],
        verbose=0,
    )
    assert result.num_errors >= 1
    page = result.report()
    assert page == Path(result.experiment_path) / "report.html"
    html = page.read_text()
    assert "x above 0.9 (on purpose)" in html and "GPSearch" in html
    _check(
        page,
        [
            "best-so-far",
            "learning-curves",
            "parallel-coordinates",
            "importance",
            "leaderboard",
            "failed-trials",
        ],
        tmp_path / "gp.png",
    )
    # the live view: pages during the run (they reload themselves), the final one without
    assert live.pages >= 2
    final = (tmp_path / "live.html").read_text()
    assert "http-equiv" not in final and 'data-plot="best-so-far"' in final


_ASHA_YAML = """
name: asha
trainable: tests.report.test_report_runs:curve
metric: loss
mode: min
space:
  x: {{float: [0, 1]}}
searcher: {{name: sobol}}
scheduler: {{name: asha, max_t: 9, grace_period: 1, reduction_factor: 3}}
num_samples: 12
seed: 0
storage_path: {storage}
"""


def test_asha_run_through_the_cli_with_a_live_report(ray_local, tmp_path: Path) -> None:
    """``raysearch run EXP.yaml --report 0.5 --report-out PAGE``: the page of the finished
    run is there when the command returns."""
    exp = tmp_path / "asha.yaml"
    exp.write_text(_ASHA_YAML.format(storage=tmp_path / "results"))
    page = tmp_path / "asha.html"
    code = cli_main(["run", str(exp), "--quiet", "--report", "0.5", "--report-out", str(page)])
    assert code == 0
    html = page.read_text()
    assert "stopped early" in html and "ASHAScheduler" in html
    _check(page, ["best-so-far", "learning-curves", "parallel-coordinates"], tmp_path / "a.png")


def curve(config: dict[str, Any]) -> None:
    for i in range(1, 10):
        tune.report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / i})


def member(config: dict[str, Any]) -> None:
    """A PBT member: its score grows fastest with lr near an optimum that decays."""
    state = {"step": 0, "q": 0.0}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = json.loads(Path(d, "state.json").read_text())
    while state["step"] < 8:
        best = 0.5 * 0.8 ** state["step"]
        state["q"] += 0.1 * max(0.0, 1.0 - abs(math.log10(config["lr"] / best)) / 2)
        state["step"] += 1
        with tempfile.TemporaryDirectory() as d:
            Path(d, "state.json").write_text(json.dumps(state))
            tune.report(
                {"q": state["q"], "step": state["step"]}, checkpoint=Checkpoint.from_directory(d)
            )


def test_pbt_run(ray_local, tmp_path: Path) -> None:
    result = raysearch.run(
        member,
        {"lr": tune.loguniform(1e-4, 1.0)},
        metric="q",
        mode="max",
        searcher="sobol",
        scheduler=PBTScheduler(time_attr="step", perturbation_interval=2, seed=0),
        num_samples=4,
        seed=0,
        storage_path=str(tmp_path),
        name="pbt",
        verbose=0,
    )
    page = result.report()
    _check(page, ["pbt-lineage", "pbt-schedule", "learning-curves"], tmp_path / "pbt.png")


def two_objectives(config: dict[str, Any]) -> dict[str, float]:
    width = config["width"]
    return {"acc": 1.0 - 1.0 / (1.0 + width) - 0.1 * config["drop"], "latency": 0.5 * width}


def test_multi_objective_run(ray_local, tmp_path: Path) -> None:
    from raysearch.tune.nas import EvolutionSearch

    space = Space({"width": Float(0.5, 16.0, log=True), "drop": Float(0.0, 0.5)})
    result = raysearch.run(
        two_objectives,
        space,
        metric="acc",
        mode="max",
        searcher=EvolutionSearch(
            space, population_size=6, seed=0, objectives=[("acc", "max"), ("latency", "min")]
        ),
        num_samples=12,
        storage_path=str(tmp_path),
        name="mo",
        verbose=0,
    )
    page = result.report()
    assert "Pareto front" in page.read_text()
    _check(page, ["pareto-front", "best-so-far", "parallel-coordinates"], tmp_path / "mo.png")


def test_automl_model_dir(ray_local, tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    from raysearch import AutoML
    from raysearch.report import write_report

    frame = load_breast_cancer(as_frame=True).frame.iloc[:300]
    model = AutoML(
        "target",
        time_budget_s=25,  # the budget is wall time: 20 s was too little on a loaded machine
        seed=0,
        families=["linear", "knn"],
        n_folds=3,
        verbose=0,
    ).fit(frame)
    model.save(tmp_path / "model")
    page = write_report(tmp_path / "model")
    assert page == tmp_path / "model" / "report.html"
    expected = ["automl-leaderboard", "family-scores", "fit-predict-times"]
    if len(model.weights_) > 1:
        expected.append("ensemble-weights")
    _check(page, expected, tmp_path / "automl.png")
    # the fitted object works as well as its directory
    same = model.report(tmp_path / "object.html").read_text()
    assert 'data-plot="family-scores"' in same
    assert np.isfinite(model.leaderboard()["score"]).all()
    assert os.path.getsize(page) < 5_000_000
