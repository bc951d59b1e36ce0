"""raysearch.run(budget=...) on a real local Ray: trials keep starting until the compute is
spent, the run stops within one step of it, and a resumed run counts what was spent."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ray import tune

import raysearch
from raysearch.cli.main import main as cli_main
from raysearch.tune.budget import SECONDS, Budget, BudgetStop, parse_budget

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]


def stepper(config):
    """``max_t`` steps; appends one line per step to ``config["log"]`` when given."""
    for step in range(1, config["max_t"] + 1):
        time.sleep(config.get("sleep", 0.0))
        if config.get("log"):
            with open(config["log"], "a") as f:
                f.write(f"{step}\n")
        tune.report({"score": (config["x"] - 0.3) ** 2 + 1.0 / step, "epoch": 2 * step})


def test_parse_budget():
    assert parse_budget(500) == Budget(500.0) and parse_budget("500") == Budget(500.0)
    assert parse_budget("30m") == Budget(1800.0, SECONDS) == parse_budget(" 0.5 h")
    assert parse_budget("90s") == Budget(90.0, SECONDS)
    for bad in (0, -1, float("inf"), "lots", "10 days", True, None, [5]):
        with pytest.raises(ValueError, match="budget"):
            parse_budget(bad)


_WITHOUT_RAY = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"blocked {name}")
sys.meta_path.insert(0, Block())
from raysearch.cli.experiment import ExperimentError, parse_experiment
from raysearch.core.budget import SECONDS, Budget, parse_budget
base = {"trainable": "m:f", "metric": "a", "mode": "max", "space": {"x": {"float": [0, 1]}}}
assert parse_experiment({**base, "budget": "30m"}).budget == "30m"
try:
    parse_experiment({**base, "budget": "lots"})
except ExperimentError as err:
    assert "budget" in str(err)
else:
    raise AssertionError("a bad budget passed")
assert parse_budget("2h") == Budget(7200.0, SECONDS)
assert "ray" not in sys.modules
print("ok")
"""


def test_budgets_parse_and_experiment_files_validate_without_ray():
    """Budget and parse_budget are Ray-free (raysearch.core.budget): checking an experiment
    file's budget loads no Ray; raysearch.tune.budget still exports them."""
    import raysearch.core.budget

    assert (Budget, parse_budget, SECONDS) == (
        raysearch.core.budget.Budget,
        raysearch.core.budget.parse_budget,
        raysearch.core.budget.SECONDS,
    )
    code = [sys.executable, "-c", _WITHOUT_RAY]
    out = subprocess.run(code, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"


def _steps(board):
    return int(board["training_iteration"].fillna(0).sum())


def test_budget_stops_within_one_step_and_keeps_starting_trials(ray_local, tmp_path):
    result = raysearch.run(
        stepper,
        {"x": tune.uniform(0, 1), "max_t": 5},
        metric="score",
        mode="min",
        searcher="random",
        budget=23,
        max_concurrent=2,
        seed=0,
        storage_path=str(tmp_path),
        name="steps",
        verbose=0,
    )
    board = result.leaderboard
    # steps are whole, so "within one step" is exact: 23 steps reported over the trials
    assert _steps(board) == 23 and BudgetStop.last() == (23.0, 23.0, "training_iteration")
    assert len(board) >= 5  # no num_samples: trials kept starting until the budget was spent
    assert (board["status"] == "TERMINATED").all() and result.best_config is not None


def test_a_budget_in_the_schedulers_time_attr(ray_local, tmp_path):
    """ASHA measuring progress in "epoch" (2 per step): the budget counts epochs."""
    from raysearch.tune import ASHAScheduler

    result = raysearch.run(
        stepper,
        {"x": tune.uniform(0, 1), "max_t": 6},
        metric="score",
        mode="min",
        searcher="random",
        scheduler=ASHAScheduler(time_attr="epoch", max_t=12, grace_period=2, reduction_factor=2),
        budget=30,
        max_concurrent=2,
        seed=0,
        storage_path=str(tmp_path),
        name="epochs",
        verbose=0,
    )
    assert BudgetStop.last() == (30.0, 30.0, "epoch")  # even steps of 2 epochs: exactly 30
    assert _steps(result.leaderboard) == 15 and len(result.leaderboard) >= 3


def test_a_trial_time_budget(ray_local, tmp_path):
    """budget="1.2s": seconds of training summed over trials, whatever the concurrency."""
    result = raysearch.run(
        stepper,
        {"x": tune.uniform(0, 1), "max_t": 4, "sleep": 0.05},
        metric="score",
        mode="min",
        searcher="random",
        budget="1.2s",
        max_concurrent=2,
        seed=0,
        storage_path=str(tmp_path),
        name="seconds",
        verbose=0,
    )
    spent, amount, attr = BudgetStop.last()
    assert (amount, attr) == (1.2, SECONDS)
    step = float(result.leaderboard["time_total_s"].max())  # longer than any one step
    assert 1.2 <= spent < 1.2 + step
    assert abs(float(result.leaderboard["time_total_s"].sum()) - spent) < 1e-6


_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from ray import tune
import raysearch
from tests.tune.test_budget import stepper
raysearch.run(stepper, {{"x": tune.uniform(0, 1), "max_t": 5, "sleep": 0.1, "log": {log!r}}},
              metric="score", mode="min", searcher="random", budget=80, max_concurrent=2, seed=0,
              storage_path={storage!r}, name="exp", checkpoint_every_s=0.2, verbose=0)
"""


def _spent_saved(directory: Path) -> float:
    """The budget spent in the experiment's newest callback snapshot."""
    states = sorted(directory.glob("callback-states-*.pkl"), key=lambda p: p.name)
    with open(states[-1], "rb") as f:
        saved = pickle.load(f)
    return next(float(s["spent"]) for s in saved.values() if s and "spent" in s)


def test_a_resumed_run_counts_the_budget_spent_before_a_crash(ray_local, tmp_path):
    storage, log = tmp_path / "results", tmp_path / "steps.txt"
    script = _SCRIPT.format(repo=str(REPO), storage=str(storage), log=str(log))
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    try:
        while not (log.exists() and len(log.read_text().split()) >= 30):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the experiment did not get going"
            time.sleep(0.05)
        time.sleep(0.5)  # a snapshot after these steps (every 0.2 s)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # driver and its local Ray: a hard crash
        proc.wait()
    before = len(log.read_text().split())
    spent = _spent_saved(storage / "exp")
    assert 25 <= spent <= before < 80, (spent, before)

    result = raysearch.run(
        stepper,
        {"x": tune.uniform(0, 1), "max_t": 5, "sleep": 0.1, "log": str(log)},
        metric="score",
        mode="min",
        budget=80,
        storage_path=str(storage),
        name="exp",
        resume=True,
        verbose=0,
    )
    after = len(log.read_text().split()) - before
    assert BudgetStop.last() == (80.0, 80.0, "training_iteration")
    # the resumed run spent what was left (plus the steps of the trials it re-ran from
    # their start: the ones running at the crash, at most 2 x 5 steps), not 80 again
    assert 80 - spent <= after <= 80 - spent + 2 * 5, (spent, before, after)
    assert _steps(result.leaderboard) <= 80


def test_budget_from_an_experiment_file_and_the_command_line(ray_local, tmp_path, capsys):
    experiment = {
        "name": "cli",
        "trainable": "tests.tune.test_budget:stepper",
        "metric": "score",
        "mode": "min",
        "space": {"x": {"float": [0, 1]}, "max_t": 4},
        "budget": 1000,  # the command line's --budget wins
        "max_concurrent": 2,
        "storage_path": str(tmp_path),
        "seed": 0,
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(experiment))
    assert cli_main(["run", str(path), "--budget", "10", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert BudgetStop.last() == (10.0, 10.0, "training_iteration")
    assert "trials, 0 failed" in out
    assert cli_main(["run", str(path), "--budget", "ten", "--quiet"]) == 2
    assert "budget must be a number" in capsys.readouterr().err
