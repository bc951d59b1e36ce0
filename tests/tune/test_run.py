"""raysearch.run on a real local Ray: leaderboard, errors, and resuming an interrupted run."""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ray import tune

import raysearch
from raysearch.tune.callbacks import TRIAL_LOG, read_trial_log
from raysearch.tune.run import ResourceError, TrialsFailedError
from tests.helpers import trainables

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]


def test_run_returns_a_sorted_leaderboard(ray_local, tmp_path):
    result = raysearch.run(
        trainables.flaky,
        {"x": tune.uniform(-1, 1), "k": tune.choice([1, 2])},
        metric="score",
        mode="min",
        num_samples=12,
        seed=0,
        storage_path=str(tmp_path),
        name="board",
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 12 == result.num_trials
    ok = board[board["status"] == "TERMINATED"]["score"].dropna()
    assert list(ok) == sorted(ok)
    assert board.iloc[0]["score"] == ok.min()
    assert result.num_errors == int((board["status"] == "ERROR").sum()) > 0
    assert board[board["status"] == "ERROR"]["error"].str.contains("crashed on purpose").all()
    assert result.best_config is not None and result.best_config["x"] == board.iloc[0]["config/x"]
    log = read_trial_log(Path(result.experiment_path))
    assert len(log) == 12 and {r["status"] for r in log} == {"TERMINATED", "ERROR"}


def test_impossible_resources_are_refused(ray_local):
    with pytest.raises(ResourceError, match="1 GPU.*no node of the Ray cluster.*0 GPU, 2 CPU"):
        raysearch.run(
            trainables.quadratic,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=1,
            resources={"gpu": 1},
        )
    with pytest.raises(ResourceError, match="no node"):
        raysearch.run(
            trainables.quadratic,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=1,
            resources={"cpu": 64},
        )
    with pytest.raises(ResourceError, match="must be > 0"):
        raysearch.run(
            trainables.quadratic,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=1,
            resources={"cpu": 0},
        )
    with pytest.raises(
        ResourceError, match="resources\\['cpu'\\] must be a number >= 0, got 'lots'"
    ):
        raysearch.run(
            trainables.quadratic,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=1,
            resources={"cpu": "lots"},
        )


def test_bad_arguments_are_refused(ray_local):
    space = {"x": tune.uniform(0, 1)}
    with pytest.raises(ValueError, match="unknown searcher 'rnd'"):
        raysearch.run(
            trainables.quadratic, space, metric="score", mode="min", num_samples=1, searcher="rnd"
        )
    with pytest.raises(ValueError, match="mode must be"):
        raysearch.run(trainables.quadratic, space, metric="score", mode="best", num_samples=1)
    with pytest.raises(ValueError, match="give num_samples or time_budget_s"):
        raysearch.run(trainables.quadratic, space, metric="score", mode="min")


def test_metric_never_reported_gets_a_clear_error(ray_local, tmp_path):
    with pytest.raises(ValueError, match="never reported the metric 'score'.*other"):
        raysearch.run(
            trainables.no_metric,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=2,
            storage_path=str(tmp_path),
            verbose=0,
        )


def test_a_trainable_that_always_raises_stops_early_with_one_clear_error(ray_local, tmp_path):
    """fail_fast (default 3): the first 3 trials to end all failed, so the experiment stops
    instead of running all 20 into the same error; the error names it and where its
    traceback is. With a dict ``stop`` too (combined with the fail-fast stopper)."""
    with pytest.raises(TrialsFailedError) as info:
        raysearch.run(
            trainables.always_fails,
            {"x": tune.uniform(0, 1)},
            metric="score",
            mode="min",
            num_samples=20,
            seed=0,
            stop={"training_iteration": 5},
            storage_path=str(tmp_path),
            name="fails",
            verbose=0,
        )
    message = str(info.value)
    assert message.startswith("the first 3 trials all failed, so the experiment was stopped")
    assert "RuntimeError: always fails on purpose" in message and "fail_fast=None" in message
    error_file = Path(message.split("its traceback is in ")[1].split(". Fix")[0])
    assert error_file.parent.parent == tmp_path / "fails" and error_file.exists()
    started = read_trial_log(tmp_path / "fails")
    assert 3 <= len(started) <= 3 + 2  # the 3, and what was running on the 2 CPUs
    assert {r["status"] for r in started} == {"ERROR"}

    # fail_fast=0: every trial runs and the run returns its failures
    result = raysearch.run(
        trainables.always_fails,
        {"x": tune.uniform(0, 1)},
        metric="score",
        mode="min",
        num_samples=4,
        fail_fast=0,
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert result.num_trials == 4 == result.num_errors and result.best_config is None
    with pytest.raises(ValueError, match="fail_fast must be an integer >= 0.*-1"):
        raysearch.run(trainables.quadratic, {}, metric="score", mode="min", fail_fast=-1)


def test_dict_stop_criteria_still_stop_each_trial(ray_local, tmp_path):
    """A dict ``stop`` goes to Tune as a stopper beside the fail-fast one: same meaning."""
    result = raysearch.run(
        trainables.curve,
        {"x": tune.uniform(0, 1)},
        metric="score",
        mode="min",
        num_samples=2,
        stop={"training_iteration": 2},
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert list(result.leaderboard["training_iteration"]) == [2, 2]


def test_running_a_named_experiment_again_keeps_the_first_run(ray_local, tmp_path, caplog):
    """A second run with the same name and no resume adds its trials to the experiment's
    log (with a warning) instead of replacing the first run's."""
    kwargs = {
        "metric": "score",
        "mode": "min",
        "num_samples": 3,
        "storage_path": str(tmp_path),
        "name": "twice",
        "verbose": 0,
    }
    first = raysearch.run(trainables.quadratic, {"x": tune.uniform(0, 1)}, seed=0, **kwargs)
    with caplog.at_level(logging.WARNING, logger="raysearch"):
        second = raysearch.run(trainables.quadratic, {"x": tune.uniform(0, 1)}, seed=1, **kwargs)
    assert "holds an earlier run of this experiment" in caplog.text
    logged = {r["trial_id"] for r in read_trial_log(tmp_path / "twice")}
    assert logged == set(first.leaderboard["trial_id"]) | set(second.leaderboard["trial_id"])
    assert len(logged) == 6


def test_grid_runs_until_finished_without_num_samples(ray_local, tmp_path):
    result = raysearch.run(
        trainables.quadratic,
        {"x": tune.grid_search([0.0, 0.3, 0.6])},
        metric="score",
        mode="min",
        searcher="grid",
        storage_path=str(tmp_path),
        verbose=0,
    )
    assert result.num_trials == 3 and result.best_config == {"x": 0.3}


_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
import raysearch
from ray import tune
from tests.helpers import trainables
raysearch.run(trainables.sleepy, {{"x": tune.uniform(0, 1)}}, metric="score", mode="min",
              num_samples=24, seed=0, storage_path={storage!r}, name="exp",
              scheduler=trainables.StepLogScheduler(), checkpoint_every_s=600, verbose=0)
"""


_INTERRUPT_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
import raysearch
from ray import tune
from tests.helpers import trainables
try:
    raysearch.run(trainables.sleepy, {{"x": tune.uniform(0, 1)}}, metric="score", mode="min",
                  num_samples=40, storage_path={storage!r}, name="intr", checkpoint_every_s=0.2,
                  verbose=0)
except KeyboardInterrupt as err:
    print(type(err).__name__, err)
"""


def test_ctrl_c_raises_keyboard_interrupt_naming_resume(tmp_path):
    """Tune ends a fit gracefully on Ctrl-C and returns; raysearch.run raises a
    KeyboardInterrupt that says how to continue (resume=True), not Tune's Tuner.restore."""
    script = _INTERRUPT_SCRIPT.format(repo=str(REPO), storage=str(tmp_path))
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "intr" / TRIAL_LOG
    deadline = time.monotonic() + 120
    while not log.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert out.startswith("Interrupted interrupted; the experiment's state is saved in"), out + err
    assert f"storage_path={str(tmp_path)!r}, name='intr', resume=True" in out
    assert "Tuner.restore" not in err


def _experiment_state(directory: Path) -> dict:
    files = sorted(directory.glob("experiment_state-*.json"), key=lambda p: p.name)
    return json.loads(files[-1].read_text())


def test_interrupted_run_resumes_without_losing_completed_trials(ray_local, tmp_path):
    """SIGKILL the driver mid-run, resume with raysearch.run(resume=True)."""
    storage = tmp_path / "results"
    script = _SCRIPT.format(repo=str(REPO), storage=str(storage))
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log = storage / "exp" / TRIAL_LOG
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if log.exists() and len(log.read_text().splitlines()) >= 8:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        else:
            pytest.fail("the experiment did not get going")
        # No timed snapshot happens in this run (every 600 s): the trials that ended in the
        # last moments before the crash are in the snapshot only because trial ends write
        # one (at most every SNAPSHOT_GAP_S = 0.5 s); they used to be rerun by the resume.
        time.sleep(1.5)
    finally:
        killed_at = time.time()
        os.killpg(proc.pid, signal.SIGKILL)  # driver and its local Ray: a hard crash
        proc.wait()
    directory = storage / "exp"
    before = _experiment_state(directory)
    done_before = {}
    for trial_json, _ in before["trial_data"]:
        trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
        if trial.get("status") == "TERMINATED":
            done_before[trial["trial_id"]] = trial
    assert 8 <= len(done_before) < 24, f"{len(done_before)} trials were done at the kill"
    ended_well_before = {
        r["trial_id"]
        for r in map(json.loads, (directory / TRIAL_LOG).open())
        if r["time"] < killed_at - 0.8
    }
    assert ended_well_before <= set(done_before), (
        "a trial that had finished before the crash is not finished in the snapshot "
        f"(it would be rerun): {sorted(ended_well_before - set(done_before))}"
    )

    result = raysearch.run(
        trainables.sleepy,
        {"x": tune.uniform(0, 1)},
        metric="score",
        mode="min",
        num_samples=24,
        seed=0,
        storage_path=str(storage),
        name="exp",
        resume=True,
        scheduler=trainables.StepLogScheduler(),
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 24 and (board["status"] == "TERMINATED").all()
    assert set(done_before) <= set(board["trial_id"]), (
        "a trial completed before the crash is missing"
    )
    # raysearch's trial log (what `raysearch leaderboard` reads) too: every trial once, the
    # ones finished before the crash included (the resumed run used to replace the log)
    logged = [json.loads(line)["trial_id"] for line in (directory / TRIAL_LOG).open()]
    assert set(done_before) <= set(logged), "a trial completed before the crash left the log"
    assert len(set(logged)) == 24
    twice = {t for t in logged if logged.count(t) > 1}
    assert not twice & ended_well_before, f"finished trials ran again: {twice}"
    assert len(read_trial_log(directory)) == 24 and set(logged) == set(board["trial_id"])
    # The scheduler state travelled with the experiment: it knows the trials that were
    # finished before the crash (they were not re-run, so only the restored state has them).
    # Newest session by the timestamp in the name, as Tune picks it (syncing refreshes mtimes).
    states = sorted(directory.glob("callback-states-*.pkl"), key=lambda p: p.name)
    with open(states[-1], "rb") as f:
        callback_state = pickle.load(f)
    steps = next(s for s in callback_state.values() if s and "raysearch_scheduler" in s)
    known = steps["raysearch_scheduler"]["data"]["steps"]
    assert set(done_before) <= set(known)
    assert len(known) == 24
