"""ASHA (promotion variant) and Hyperband on a real local Ray: pause, resume from checkpoints,
and rungs that survive a SIGKILL + resume."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from ray import tune
from ray.tune import Checkpoint

import raysearch
from raysearch.schedulers.asha import ASHAScheduler as CoreASHA
from raysearch.tune import ASHAScheduler, HyperbandScheduler, RandomSearch

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]


def stepper(config: dict[str, Any], starts: str | None = None) -> None:
    """Loss ``x + 1 / step``; checkpoints every step; logs ``trial_id start_step`` to
    ``starts`` (a file) each time it (re)starts, so tests see resumes from checkpoints."""
    checkpoint = tune.get_checkpoint()
    step = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "step.json")) as f:
                step = int(json.load(f)["step"])
    me = tune.get_context().get_trial_id()
    if starts:
        with open(starts, "a") as f:
            f.write(f"{me} {step}\n")
    while step < int(config.get("steps", 9)):
        time.sleep(float(config.get("sleep", 0.0)))
        step += 1
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "step.json"), "w") as f:
                json.dump({"step": step}, f)
            tune.report(
                {"loss": config["x"] + 1.0 / step, "step": step},
                checkpoint=Checkpoint.from_directory(d),
            )


def _starts(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(a, int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]


@pytest.mark.parametrize("kind", ["asha-promote", "hyperband"])
def test_pauses_resume_from_checkpoints(ray_local, tmp_path, kind):
    starts = tmp_path / "starts.txt"
    if kind == "asha-promote":
        scheduler: Any = ASHAScheduler(
            "step", max_t=9, grace_period=1, reduction_factor=3, variant="promote", seed=0
        )
    else:
        scheduler = HyperbandScheduler("step", max_t=9, grace_period=1, reduction_factor=3)
    # Hyperband fills its conservative brackets first (as Ray's does): one full round of
    # its three brackets (3 + 5 + 9 trials) is what saves compute
    n = 9 if kind == "asha-promote" else 17
    tuner = tune.Tuner(
        tune.with_parameters(stepper, starts=str(starts)),
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=n,
            scheduler=scheduler,
            search_alg=RandomSearch(seed=0),
        ),
        run_config=tune.RunConfig(
            storage_path=str(tmp_path / "results"),
            callbacks=[scheduler.state_callback()],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
    grid = tuner.fit()
    assert len(grid) == n and not grid.errors
    reached = [r.metrics["step"] for r in grid]
    assert max(reached) == 9, "no trial ran to max_t"
    assert sum(reached) < n * 9 / 2, f"successive halving saved no compute: {reached}"
    log = _starts(starts)
    resumed = [(t, s) for t, s in log if s > 0]
    assert resumed, "no trial was paused and resumed"
    assert len([1 for _, s in log if s == 0]) == n, "a trial restarted from scratch"
    best = grid.get_best_result()
    assert best.metrics["step"] == 9


class SlowSave(tune.Trainable):
    """Loss ``x + 1 / step``; saving takes ``save_s`` seconds (Tune reports a pausing trial
    RUNNING until its checkpoint is saved); every trial waits at step 1 until ``n`` trials
    have reached it (files in ``barrier``), so that a rung's members report together."""

    def setup(self, config: dict[str, Any]) -> None:
        self.x, self.steps = float(config["x"]), 0

    def step(self) -> dict[str, Any]:
        self.steps += 1
        if self.steps == 1:
            barrier = Path(self.config["barrier"])
            (barrier / self.trial_id).touch()
            deadline = time.monotonic() + 120
            while len(list(barrier.iterdir())) < self.config["n"] and time.monotonic() < deadline:
                time.sleep(0.01)
        return {"loss": self.x + 1.0 / self.steps, "step": self.steps}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        time.sleep(self.config["save_s"])
        Path(checkpoint_dir, "step.json").write_text(json.dumps(self.steps))

    def load_checkpoint(self, checkpoint_dir: str) -> None:
        self.steps = json.loads(Path(checkpoint_dir, "step.json").read_text())


class Deadline(tune.Stopper):
    """Ends the experiment after ``seconds`` (and says so): a stall fails, not hangs."""

    def __init__(self, seconds: float) -> None:
        self.end, self.fired = time.monotonic() + seconds, False

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        self.fired = self.fired or time.monotonic() > self.end
        return self.fired


def test_a_rung_loser_dropped_while_its_pause_is_saved_is_stopped(ray_local, tmp_path):
    """Hyperband (max_t=3, rf=3): a bracket of 2 trials run to 3 steps, then one of 3 with a
    rung at step 1. The first two of the three to report pause; Tune keeps them RUNNING
    while their checkpoints save (1 s), and the third's result closes the rung meanwhile:
    the losers must still be stopped once paused, not left paused with the experiment
    waiting on them for ever (the intermittent hang of the full suite)."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    scheduler = HyperbandScheduler("step", max_t=3, grace_period=1, reduction_factor=3)
    deadline = Deadline(240)
    grid = tune.Tuner(
        tune.with_resources(SlowSave, {"cpu": 0.4}),
        param_space={"x": tune.uniform(0.0, 1.0), "barrier": str(barrier), "n": 5, "save_s": 1},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=5,
            scheduler=scheduler,
            search_alg=RandomSearch(seed=0),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "results"), stop=deadline),
    ).fit()
    assert not deadline.fired, "the experiment stalled on a paused trial"
    assert len(grid) == 5 and not grid.errors
    assert sorted(r.metrics["step"] for r in grid) == [1, 1, 3, 3, 3]


_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
import raysearch
from ray import tune
from raysearch.schedulers.asha import ASHAScheduler
from tests.tune.test_asha_ray import stepper
raysearch.run(tune.with_parameters(stepper, starts={starts!r}),
              {{"x": tune.uniform(0, 1), "sleep": 0.15}}, metric="loss", mode="min",
              num_samples=12, seed=0, storage_path={storage!r}, name="exp",
              scheduler=ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3,
                                      variant="promote", seed=0),
              checkpoint_every_s=0.2, verbose=0)
"""


def _scheduler_state(directory: Path) -> dict[str, Any] | None:
    states = sorted(directory.glob("callback-states-*.pkl"), key=lambda p: p.name)
    if not states:
        return None
    try:
        with open(states[-1], "rb") as f:
            callback_state = pickle.load(f)
    except Exception:  # being written
        return None
    for s in callback_state.values():
        if s and "raysearch_scheduler" in s:
            return s["raysearch_scheduler"]["data"]
    return None


def _with_checkpoint(directory: Path) -> set[str]:
    """Trials with a checkpoint in Tune's newest experiment snapshot."""
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    files = sorted(directory.glob("experiment_state-*.json"), key=lambda p: p.name)
    state = json.loads(files[-1].read_text())
    out = set()
    for trial_json, meta_json in state["trial_data"]:
        trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
        meta = _TrainingRunMetadata.from_json_state(meta_json)
        manager = getattr(meta, "checkpoint_manager", None)
        if manager is not None and manager.latest_checkpoint_result is not None:
            out.add(trial["trial_id"])
    return out


def _records(data: dict[str, Any]) -> dict[tuple[int, int, str], Any]:
    return {
        (b, k, t): v
        for b, rungs in enumerate(data["rungs"])
        for k, rung in enumerate(rungs)
        for t, v in rung["recorded"]
    }


def test_interrupted_asha_keeps_its_rungs(ray_local, tmp_path):
    """SIGKILL the driver mid-run, resume with raysearch.run(resume=True): the rungs come
    back, and no trial that had a checkpoint starts again from scratch."""
    storage = tmp_path / "results"
    starts = tmp_path / "starts.txt"
    script = _SCRIPT.format(repo=str(REPO), storage=str(storage), starts=str(starts))
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    directory = storage / "exp"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            data = _scheduler_state(directory) if directory.exists() else None
            if data is not None and len(_records(data)) >= 6:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        else:
            pytest.fail("the experiment did not get going")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # driver and its local Ray: a hard crash
        proc.wait()
    before = _scheduler_state(directory)
    assert before is not None
    checkpointed = _with_checkpoint(directory)
    records_before = _records(before)
    starts_before = _starts(starts)

    result = raysearch.run(
        tune.with_parameters(stepper, starts=str(starts)),
        {"x": tune.uniform(0, 1), "sleep": 0.15},
        metric="loss",
        mode="min",
        num_samples=12,
        seed=0,
        storage_path=str(storage),
        name="exp",
        resume=True,
        scheduler=CoreASHA(
            max_t=9, grace_period=1, reduction_factor=3, variant="promote", seed=123
        ),
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 12
    after = _scheduler_state(directory)
    assert after is not None
    records_after = _records(after)
    lost = {k: v for k, v in records_before.items() if records_after.get(k, "missing") != v}
    assert not lost, f"rung records lost or changed by the restore: {lost}"
    assert len(records_after) > len(records_before)
    # every trial that had a checkpoint in the experiment snapshot resumed from it
    assert checkpointed
    scratch = [t for t, s in _starts(starts)[len(starts_before) :] if s == 0 and t in checkpointed]
    assert not scratch, f"trials re-run from scratch after the restore: {scratch}"
    # and a trial re-run from scratch (no checkpoint yet) did not get past its rung unpromoted
    for rungs in after["rungs"]:
        for low, high in zip(rungs, rungs[1:]):
            passed = {t for t, _ in high["recorded"]}
            assert passed <= set(low["promoted"]), "a trial skipped a rung decision"


def test_presets_build_a_learning_searcher_and_asha():
    from raysearch.searchers.multifidelity import MultiFidelitySearch
    from raysearch.searchers.tpe import TPESearch
    from raysearch.tune import presets

    space = {"x": tune.uniform(0.0, 1.0), "lr": tune.loguniform(1e-4, 1e-1)}
    search_alg, scheduler = presets.bohb(space, "loss", "min", max_t=9, seed=0)
    assert isinstance(search_alg.core, TPESearch) and search_alg.core.multi_fidelity
    assert isinstance(scheduler, ASHAScheduler) and scheduler.core.max_t == 9
    search_alg, scheduler = presets.asha_gp(space, "loss", "min", max_t=9, variant="promote")
    assert isinstance(search_alg.core, MultiFidelitySearch)
    assert scheduler.core.pauses
    # the model learns from rung results: the searcher sees reports through Tune's hook
    params = search_alg.core.ask("a")
    search_alg.core.report("a", 1, 0.5)
    assert search_alg.core.trials["a"].intermediate == {1.0: 0.5} and isinstance(params, dict)
