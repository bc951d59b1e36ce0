"""The raysearch command line, run as a real subprocess on its own local Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.ray
REPO = Path(__file__).resolve().parents[2]


def raysearch_cli(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "raysearch.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_run_then_resume_then_leaderboard(tmp_path):
    example = yaml.safe_load((files("raysearch") / "examples" / "quickstart.yaml").read_text())
    example["num_samples"] = 4
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(example))
    out = raysearch_cli("run", str(path), "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "4 trials, 0 failed" in out.stdout
    experiment_dir = tmp_path / "raysearch_results" / "quickstart"
    assert (experiment_dir / "raysearch_trials.jsonl").exists()

    # --resume of a finished experiment with a larger budget is refused by nothing and
    # re-runs nothing: the 4 finished trials stay, the count is Tune's (num_samples fixed).
    again = raysearch_cli("run", str(path), "--quiet", "--resume", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "4 trials, 0 failed" in again.stdout

    board = raysearch_cli(
        "leaderboard",
        str(experiment_dir),
        "--top",
        "2",
        "--csv",
        str(tmp_path / "b.csv"),
        cwd=tmp_path,
    )
    assert board.returncode == 0, board.stderr
    assert "best auc" in board.stdout
    assert len((tmp_path / "b.csv").read_text().splitlines()) == 5

    # a metric no trial reported is an error naming the ones reported, not a column of NaN
    nope = raysearch_cli("leaderboard", str(experiment_dir), "--metric", "nope", cwd=tmp_path)
    assert nope.returncode == 2 and "Traceback" not in nope.stderr
    assert "--metric 'nope': no trial reported it" in nope.stderr
    assert "auc" in nope.stderr.split("reported:")[1] and "nan" not in nope.stdout.lower()


def test_local_trainable_module_from_the_working_directory(tmp_path):
    (tmp_path / "mytrain.py").write_text(
        "def objective(config):\n    return {'loss': (config['x'] - 2) ** 2}\n"
    )
    (tmp_path / "exp.yaml").write_text(
        "name: local\ntrainable: mytrain:objective\nmetric: loss\nmode: min\n"
        "space: {x: {float: [0, 4]}}\nnum_samples: 3\nstorage_path: out\nseed: 1\n"
    )
    out = raysearch_cli("run", "exp.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "3 trials, 0 failed" in out.stdout


def test_quiet_run_prints_no_ray_lines(tmp_path):
    (tmp_path / "slow.py").write_text(
        "import time\ndef objective(config):\n    time.sleep(0.5)\n    return {'loss': config['x']}\n"
    )
    (tmp_path / "exp.yaml").write_text(
        "name: quiet\ntrainable: slow:objective\nmetric: loss\nmode: min\n"
        "space: {x: {float: [0, 4]}}\ntime_budget_s: 6\nstorage_path: out\nseed: 1\n"
    )
    # 6 s: under load a worker can take ~3 s to start, and a budget spent before any trial
    # reports is an error (exit 1), not what this test is about
    out = raysearch_cli("run", "exp.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "0 failed" in out.stdout
    # the time budget ran out (Tune logs "Reached timeout"), Ray started (and may log its
    # token-authentication notice): none of it under --quiet
    for line in ("Reached timeout", "Token authentication", "Started a local Ray"):
        assert line not in out.stderr, out.stderr


def test_failing_trainables_are_reported_truthfully(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import math\n"
        "def nan(config):\n    return {'loss': math.nan}\n"
        "def boom(config):\n    raise RuntimeError('boom on purpose')\n"
        "def silent(config):\n    return None\n"
    )
    for name in ("nan", "boom", "silent"):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\ntrainable: bad:{name}\nmetric: loss\nmode: min\n"
            "space: {x: {float: [0, 4]}}\nnum_samples: 10\nstorage_path: out\nseed: 1\n"
        )
    # NaN every time: the summary and the last line agree (it used to say "10 trials,
    # 0 failed" above "every trial failed")
    out = raysearch_cli("run", "nan.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-3000:]
    assert (
        "10 trials, 0 failed, 10 without a value of loss (NaN or never reported); no best loss"
        in out.stdout
    )
    assert (
        out.stderr.strip()
        == "no trial reported a value of 'loss' (10 reported NaN or nothing, 0 failed)"
    )
    # raises every time: stopped after the first 3 with one line, no traceback
    out = raysearch_cli("run", "boom.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 1
    # Ray forwards what a worker prints as it is stopped; sometimes that is its SIGTERM
    # handler's "Exception ignored ... SystemExit" (a Ray wart, not raysearch's traceback)
    lines = [line for line in out.stderr.strip().splitlines() if "(boom pid=" not in line]
    forwarded = out.stderr.count("(boom pid=")
    assert not forwarded or "sigterm_handler" in out.stderr, out.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in "\n".join(lines), out.stderr[-3000:]
    assert lines[0].startswith("raysearch: error: the first 3 trials all failed")
    assert "RuntimeError: boom on purpose" in lines[0] and "'fail_fast: 0' in the file" in lines[0]
    board = raysearch_cli("leaderboard", "out/boom", cwd=tmp_path)
    assert board.returncode == 0 and "0 failed" not in board.stdout
    assert int(board.stdout.split("\n\n")[-1].split(" trials")[0]) < 10
    # reports nothing: one warning, not one per trial (nor Tune's "Trial X completed" lines)
    out = raysearch_cli("run", "silent.yaml", "--quiet", cwd=tmp_path)
    assert out.returncode == 1
    both = out.stdout + out.stderr
    assert both.count("finished without reporting 'loss' (it reported") == 1, both[-3000:]
    assert "10 without a value of loss" in out.stdout and " completed. Last result" not in both


def _trial_ids(log: Path) -> list[str]:
    return [json.loads(line)["trial_id"] for line in log.read_text().splitlines()]


def test_ctrl_c_exits_130_with_the_resume_command_and_resume_keeps_every_trial(tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it): exit status 130 and the
    ``--resume`` command instead of Tune's ``Tuner.restore`` hint; the resumed run ends with
    every trial in the leaderboard, once, the ones finished before the interrupt included."""
    (tmp_path / "slow.py").write_text(
        "import time\ndef objective(config):\n    time.sleep(1.0)\n    return {'loss': config['x']}\n"
    )
    (tmp_path / "exp.yaml").write_text(
        "name: intr\ntrainable: slow:objective\nmetric: loss\nmode: min\n"
        "space: {x: {float: [0, 4]}}\nnum_samples: 12\nstorage_path: out\nseed: 1\n"
    )
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "raysearch.cli", "run", "exp.yaml", "--quiet"],
        cwd=tmp_path, env=env, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    log = tmp_path / "out" / "intr" / "raysearch_trials.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and len(log.read_text().splitlines()) >= 2):  # synced every 5 s
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:] + err[-3000:]
    assert "continue it with: raysearch run exp.yaml --resume" in err, err[-3000:]
    assert "Tuner.restore" not in err and "Traceback" not in err
    before = _trial_ids(log)
    assert 2 <= len(before) < 12

    again = raysearch_cli("run", "exp.yaml", "--quiet", "--resume", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "12 trials, 0 failed" in again.stdout
    after = _trial_ids(log)
    assert len(after) == len(set(after)) == 12, "a trial is missing or was run twice"
    assert set(before) <= set(after)
    board = raysearch_cli("leaderboard", "out/intr", cwd=tmp_path)
    assert "12 trials, 0 failed" in board.stdout, board.stdout + board.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "trainable: nope.module:f\nmetric: a\nmode: max\nspace: {x: {float: [0, 1]}}\nnum_samples: 1\n",
            "cannot load the trainable",
        ),
        (
            "trainable: raysearch.examples.demo:train_lightgbm\nmetric: a\nmode: max\nsearcher: rnd\nspace: {x: {float: [0, 1]}}\n",
            "unknown searcher 'rnd'",
        ),
        (
            "trainable: raysearch.examples.demo:train_lightgbm\nmetric: a\nmode: max\nspace: {x: {float: [0, 1]}}\nbudgets: 3\n",
            "unknown key 'budgets' (did you mean 'budget'?)",
        ),
    ],
)
def test_bad_experiment_files_exit_2_with_a_message(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    out = raysearch_cli("run", str(path), cwd=tmp_path, timeout=120)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_leaderboard_of_a_non_experiment(tmp_path):
    out = raysearch_cli("leaderboard", str(tmp_path), cwd=tmp_path, timeout=60)
    assert out.returncode == 2 and "not a raysearch experiment directory" in out.stderr


@pytest.mark.parametrize(
    "command", ["run x.yaml", "demo-tune", "automl t.csv --label y --out m", "demo"]
)
def test_every_running_command_takes_quiet_and_verbose(command):
    from raysearch.cli.automl import verbosity
    from raysearch.cli.main import build_parser

    parser = build_parser()
    levels = [
        verbosity(parser.parse_args([*command.split(), *flag]))
        for flag in ([], ["--quiet"], ["-v"], ["--verbose"])
    ]
    assert levels == [1, 0, 2, 2]


def test_demo_tune_runs(tmp_path):
    out = raysearch_cli(
        "demo-tune", "--num-samples", "3", "--storage-path", str(tmp_path), "--quiet", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "best config" in out.stdout and "3 trials, 0 failed" in out.stdout


def test_demo_is_automl_on_a_bundled_data_set(tmp_path):
    """The README's first command: progress lines with the fit's phases, no Ray chatter."""
    out = raysearch_cli("demo", "--time-budget", "25", "--out", str(tmp_path / "m"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    both = out.stdout + out.stderr
    for phase in ("AutoML: 1/3", "AutoML: 2/3", "AutoML: 3/3"):
        assert phase in both, both[-3000:]
    for chatter in ("Token authentication", "Started a local Ray instance", "WARNING"):
        assert chatter not in both, both[-3000:]
    assert "held-out test" in out.stdout and "accuracy" in out.stdout
    accuracy = float(out.stdout.split("accuracy ")[1].split(";")[0])
    assert accuracy > 0.8, out.stdout  # digits, 10 classes: chance is 0.1
    assert (tmp_path / "m" / "automl.pkl").exists()


def test_automl_then_predict_from_csv(tmp_path):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    frame.iloc[:380].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[380:].drop(columns=["target"]).to_csv(tmp_path / "test.csv", index=False)
    out = raysearch_cli(
        "automl", "train.csv", "--label", "target", "--time-budget", "20",
        "--families", "linear,lightgbm", "--out", "model", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rmse" not in out.stderr and "model saved to model" in out.stdout
    out = raysearch_cli("predict", "model", "test.csv", "--out", "pred.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    import pandas as pd

    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == len(frame) - 380 and pred.iloc[:, -1].between(0, 400).all()

    # probabilities of a regression model: a clear error, nothing written
    out = raysearch_cli("predict", "model", "test.csv", "--proba", "--out", "p.csv", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--proba is for classification models" in out.stderr and "regression" in out.stderr
    assert not (tmp_path / "p.csv").exists()
    # a directory that holds no model: one line, exit status 2
    out = raysearch_cli("predict", ".", "test.csv", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "raysearch: error: no saved AutoML model in '.' (automl.pkl missing)"
    ]


def test_automl_with_a_missing_label_exits_2(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
    out = raysearch_cli(
        "automl", "t.csv", "--label", "y", "--out", "m", "--time-budget", "5", cwd=tmp_path
    )
    assert out.returncode == 2 and "'y'" in out.stderr and "Traceback" not in out.stderr


def test_automl_out_that_is_a_file_is_refused_before_fitting(tmp_path):
    (tmp_path / "t.csv").write_text("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    (tmp_path / "taken").write_text("not a model directory")
    start = time.monotonic()
    out = raysearch_cli(
        "automl", "t.csv", "--label", "y", "--out", "taken", "--time-budget", "60", cwd=tmp_path
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--out 'taken' is an existing file" in out.stderr
    assert time.monotonic() - start < 30  # refused up front, not after a 60 s fit
    assert (tmp_path / "taken").read_text() == "not a model directory"
    out = raysearch_cli("automl", "t.csv", "--label", "y", "--out", "taken/m", cwd=tmp_path)
    assert out.returncode == 2 and "'taken' is a file, not a directory" in out.stderr
