"""The raysearch command line, run as a real subprocess on its own local Ray."""

from __future__ import annotations

import os
import subprocess
import sys
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
            "trainable: raysearch.examples.demo:train_lightgbm\nmetric: a\nmode: max\nspace: {x: {float: [0, 1]}}\nbudget: 3\n",
            "unknown key 'budget'",
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


def test_demo_tune_runs(tmp_path):
    out = raysearch_cli(
        "demo-tune", "--num-samples", "3", "--storage-path", str(tmp_path), "--quiet", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "best config" in out.stdout and "3 trials, 0 failed" in out.stdout


def test_demo_is_automl_on_a_bundled_data_set(tmp_path):
    out = raysearch_cli(
        "demo", "--time-budget", "25", "--out", str(tmp_path / "m"), "--quiet", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-3000:]
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


def test_automl_with_a_missing_label_exits_2(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
    out = raysearch_cli(
        "automl", "t.csv", "--label", "y", "--out", "m", "--time-budget", "5", cwd=tmp_path
    )
    assert out.returncode == 2 and "'y'" in out.stderr and "Traceback" not in out.stderr
