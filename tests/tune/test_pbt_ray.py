"""PBT and PB2 on a real local Ray: checkpoint hand-over, any searcher, crashes, SIGKILL + resume."""

from __future__ import annotations

import json
import math
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
from raysearch.cli import main as cli_main
from raysearch.core.scheduler import FIFOScheduler as CoreFIFO
from raysearch.schedulers.pbt import PB2Scheduler as CorePB2
from raysearch.schedulers.pbt.lineage import LINEAGE_FILE, read_lineage
from raysearch.space import Float, Space
from raysearch.tune import PB2Scheduler, PBTScheduler, RandomSearch, TuneScheduler
from raysearch.tune.callbacks import read_trial_log
from raysearch.tune.exploit import ExploitingTuneScheduler, wrap

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]


def toy(config: dict[str, Any]) -> None:
    """A member whose quality grows fastest with lr near an optimum that decays over time
    (a schedule wins). Its checkpoint records who trained each step with which lr."""
    checkpoint = tune.get_checkpoint()
    me = tune.get_context().get_trial_id()
    state: dict[str, Any] = {"step": 0, "q": 0.0, "history": [], "restores": []}
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            with open(os.path.join(d, "state.json")) as f:
                state = json.load(f)
        state["restores"].append([me, state["owner"], state["step"]])
    steps = int(config.get("steps", 12))
    while state["step"] < steps:
        if config.get("crash_at") == state["step"]:
            raise RuntimeError("member crashed on purpose")
        time.sleep(float(config.get("sleep", 0.01)))
        lr = float(config["lr"])
        best = 0.5 * 0.8 ** state["step"]
        state["q"] += 0.1 * max(0.0, 1.0 - abs(math.log10(lr / best)) / 2)
        state["step"] += 1
        state["history"].append([me, state["step"], lr])
        state["owner"] = me
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "state.json"), "w") as f:
                json.dump(state, f)
            tune.report(
                {"q": state["q"], "step": state["step"]}, checkpoint=Checkpoint.from_directory(d)
            )


def _state(result: Any) -> dict[str, Any]:
    with result.checkpoint.as_directory() as d:
        with open(os.path.join(d, "state.json")) as f:
            state: dict[str, Any] = json.load(f)
            return state


def _history(result: Any) -> list[list[Any]]:
    return list(_state(result)["history"])


def test_wrap_picks_the_adapter_that_carries_out_exploits():
    core = CorePB2(Space({"lr": Float(1e-4, 1.0, log=True)}), time_attr="step")
    adapter = wrap(core, "q", "max")
    assert isinstance(adapter, ExploitingTuneScheduler) and adapter.time_attr == "step"
    plain = wrap(CoreFIFO(), time_attr="epoch")
    assert type(plain) is TuneScheduler and plain.time_attr == "epoch"
    with pytest.raises(TypeError, match="exploit.wrap"):
        TuneScheduler(core)  # it could not carry out the exploits


def test_exploit_continues_from_a_copy_of_the_donor_checkpoint(ray_local, tmp_path):
    """A plain Tuner with the plugin and a Sobol searcher; num_to_keep=1 deletes the donors'
    old checkpoints as they go (ray-project/ray#9036): every hand-over still works."""
    scheduler = PBTScheduler(
        time_attr="step",
        perturbation_interval=3,
        hyperparam_mutations={"lr": tune.loguniform(1e-4, 1.0)},
        quantile_fraction=0.25,
        seed=0,
    )
    tuner = tune.Tuner(
        toy,
        param_space={"lr": tune.loguniform(1e-4, 1.0), "steps": 12},
        tune_config=tune.TuneConfig(
            metric="q",
            mode="max",
            scheduler=scheduler,
            search_alg=RandomSearch(sampler="sobol", seed=0),  # Ray's PBT refuses any searcher
            num_samples=6,
            max_concurrent_trials=2,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name="handover",
            storage_path=str(tmp_path),
            callbacks=[scheduler.state_callback()],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    assert not grid.errors and len(grid) == 6
    lineage = read_lineage(tmp_path / "handover")
    exploits: list[dict[str, Any]] = []
    for e in lineage.events:
        if e["event"] == "exploit":
            exploits.append(e)
        elif e["event"] == "exploit_failed":  # undone: the member kept its own weights
            undone = [x for x in exploits if x["trial_id"] == e["trial_id"]][-1]
            exploits.remove(undone)
    assert exploits, "no member exploited another"
    states = {r.metrics["trial_id"]: _state(r) for r in grid}
    for tid, state in states.items():
        assert [h[1] for h in state["history"]] == list(range(1, 13))  # none lost or redone
        mine = [e for e in exploits if e["trial_id"] == tid]
        if not mine:
            assert {h[0] for h in state["history"]} == {tid}  # its own weights throughout
            continue
        last = mine[-1]
        step = int(last["step"])
        # it restarted from the donor's checkpoint at the hand-over step (written by the
        # donor, or by the donor's own donor if the donor had not saved since its exploit)
        donors = {last["donor"]} | {
            e["donor"] for e in exploits if e["trial_id"] == last["donor"] and e["step"] == step
        }
        assert any(r[0] == tid and r[1] in donors and r[2] == step for r in state["restores"]), (
            tid,
            mine,
            state["restores"],
        )
        # and trained on from there with the explored lr
        after = [h for h in state["history"] if h[1] > step]
        assert after and {h[0] for h in after} == {tid}
        assert all(h[2] == pytest.approx(last["params"]["lr"]) for h in after)
    # each member restarted from the copy it owns; copies are deleted once superseded
    copies = list((tmp_path / "handover").glob("*/pbt_exploit_*"))
    latest = {str(Path(r.checkpoint.path)) for r in grid}
    assert all(str(c) in latest for c in copies)
    # the population, with the exploits, is what the state callback persists
    state = scheduler.state_callback().get_state()["raysearch_scheduler"]
    assert len(state["data"]["members"]) == 6
    assert sum(m["n_exploits"] for m in state["data"]["members"].values()) == len(exploits)


@pytest.mark.parametrize("name", ["pbt", "pb2"])
def test_raysearch_run_with_pbt_by_name_and_the_lineage_plot(ray_local, tmp_path, name, capsys):
    result = raysearch.run(
        toy,
        {"lr": tune.loguniform(1e-4, 1.0), "steps": 10},
        metric="q",
        mode="max",
        searcher="sobol",
        scheduler=name,  # mutates the searcher's space, seeded by seed=
        num_samples=6,
        seed=1,
        storage_path=str(tmp_path),
        name=name,
        verbose=0,
    )
    assert result.num_errors == 0 and result.num_trials == 6
    assert (result.leaderboard["training_iteration"] == 10).all()
    lineage = read_lineage(result.experiment_path)
    assert lineage.header["metric"] == "q"
    # the searcher's space: lr mutates, the constant steps is carried along unchanged
    assert lineage.header["space"]["lr"] == {"float": [0.0001, 1.0], "log": True}
    assert lineage.n_exploits() > 0
    explores = {e["explore"] for e in lineage.events if e["event"] == "exploit"}
    assert explores <= ({"perturb"} if name == "pbt" else {"pb2", "perturb (pb2 warm-up)"})
    png = tmp_path / "lineage.png"
    assert cli_main(["pbt-lineage", result.experiment_path, "--out", str(png)]) == 0
    assert png.exists() and png.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert f"best member {lineage.best()}" in out and "from step 0" not in out


@pytest.mark.parametrize("replace_crashed", [1, 0])
def test_synch_pbt_does_not_wait_for_a_crashed_member(ray_local, tmp_path, replace_crashed):
    """ray-project/ray#12122: synchronous PBT hangs when a member dies. Here the round
    goes on without it; Tune runs it again and it is replaced by a copy of a top member
    (replace_crashed=1, the default) or it just leaves the population (0)."""
    # crash_at is searched (a constant would override the points): one member crashes
    points = [{"lr": lr, "crash_at": -1} for lr in (0.3, 0.05, 0.01)] + [
        {"lr": 0.1, "crash_at": 4}
    ]
    scheduler = PB2Scheduler(
        time_attr="step",
        perturbation_interval=3,
        hyperparam_bounds={"lr": tune.loguniform(1e-4, 1.0)},
        synch=True,
        replace_crashed=replace_crashed,
        seed=0,
    )
    result = raysearch.run(
        toy,
        {"lr": tune.loguniform(1e-4, 1.0), "crash_at": tune.choice([-1, 4]), "steps": 9},
        metric="q",
        mode="max",
        searcher=RandomSearch(points_to_evaluate=points, seed=0),
        scheduler=scheduler,
        num_samples=4,
        storage_path=str(tmp_path),
        name="synch",
        verbose=0,
    )
    board = result.leaderboard
    lineage = read_lineage(result.experiment_path)
    rounds = {e.get("round") for e in lineage.events if e["event"] == "ready"}
    assert {1, 2} <= rounds  # both rounds ran
    errors = [e for e in lineage.events if e["event"] == "error"]
    assert len(errors) == 1
    crashed = errors[0]["trial_id"]
    if replace_crashed:
        # the crashed member came back as a copy of a top member and finished
        assert (board["status"] == "TERMINATED").all() and len(board) == 4
        assert (board["training_iteration"] == 9).all()
        # the crashed member's own events after its error (other members' "ready"
        # events may interleave, depending on which trial reports first)
        mine_events = [e for e in lineage.events if e.get("trial_id") == crashed]
        kinds = [e["event"] for e in mine_events]
        i = kinds.index("error")
        assert kinds[i + 1 : i + 3] == ["replace", "exploit"]
        donor = mine_events[i + 1]["donor"]
        (mine,) = [r for r in result.results if r.metrics["trial_id"] == crashed]
        state = _state(mine)
        assert any(r[0] == crashed and r[1] != crashed for r in state["restores"])
        assert donor != crashed and state["history"][-1][0] == crashed
        assert lineage.final(crashed).get("status") == "complete"
    else:
        assert (board["status"] == "ERROR").sum() == 1
        assert board[board["status"] == "ERROR"]["error"].str.contains("on purpose").all()
        done = board[board["status"] == "TERMINATED"]
        assert len(done) == 3 and (done["training_iteration"] == 9).all()


_SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
import raysearch
from ray import tune
from raysearch.schedulers.pbt.scheduler import PBTScheduler
from tests.tune.test_pbt_ray import toy
raysearch.run(toy, {{"lr": tune.loguniform(1e-4, 1.0), "steps": 16, "sleep": 0.15}},
              metric="q", mode="max", searcher="sobol",
              scheduler=PBTScheduler(time_attr="step", perturbation_interval=2, seed=0),
              num_samples=6, seed=0, storage_path={storage!r}, name="exp",
              checkpoint_every_s=0.2, verbose=0)
"""


def _callback_state(directory: Path) -> dict[str, Any]:
    states = sorted(directory.glob("callback-states-*.pkl"), key=lambda p: p.name)
    with open(states[-1], "rb") as f:
        saved = pickle.load(f)
    return next(s for s in saved.values() if s and "raysearch_scheduler" in s)


def test_interrupted_pbt_run_resumes_with_its_population(ray_local, tmp_path):
    """SIGKILL the driver half way through a PBT run, resume it: every member finishes,
    none restarts from scratch, the population and its exploits are the restored ones."""
    storage = tmp_path / "results"
    directory = storage / "exp"
    script = _SCRIPT.format(repo=str(REPO), storage=str(storage))
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log = directory / LINEAGE_FILE
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            if log.exists():
                events = [json.loads(x) for x in log.read_text().splitlines() if x.endswith("}")]
                steps = [e["step"] for e in events if e.get("event") == "ready"]
                exploits = [e for e in events if e.get("event") == "exploit"]
                if exploits and steps and max(steps) >= 8:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.1)
        else:
            pytest.fail("the experiment did not get half way")
        time.sleep(1.0)  # a few snapshots after that (every 0.2 s)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # driver and its local Ray: a hard crash
        proc.wait()
    before = _callback_state(directory)["raysearch_scheduler"]["data"]["members"]
    assert len(before) == 6
    exploited_before = sum(m["n_exploits"] for m in before.values())
    assert exploited_before > 0
    assert not all(m["status"] == "done" for m in before.values()), "it had finished already"

    result = raysearch.run(
        toy,
        {"lr": tune.loguniform(1e-4, 1.0), "steps": 16, "sleep": 0.15},
        metric="q",
        mode="max",
        searcher="sobol",
        scheduler=PBTScheduler(time_attr="step", perturbation_interval=2, seed=0),
        num_samples=6,
        seed=0,
        storage_path=str(storage),
        name="exp",
        resume=True,
        verbose=0,
    )
    board = result.leaderboard
    assert len(board) == 6 and (board["status"] == "TERMINATED").all()
    assert set(board["trial_id"]) == set(before)  # the same population, no member lost
    for r in result.results:
        history = _history(r)
        assert [h[1] for h in history] == list(range(1, 17))  # continued, not restarted
    after = _callback_state(directory)["raysearch_scheduler"]["data"]["members"]
    assert set(after) == set(before)
    assert all(m["status"] == "done" for m in after.values())
    assert sum(m["n_exploits"] for m in after.values()) >= exploited_before
    lineage = read_lineage(directory)
    assert any(json.loads(x).get("event") == "restore" for x in log.read_text().splitlines())
    assert set(lineage.members()) == set(before) and lineage.best() in before
    assert len(read_trial_log(directory)) == 6
