"""A synthetic experiment directory: the files a ``raysearch.run`` with ASHA writes (trial
log, experiment record, per-trial ``result.json`` and ``error.txt``, Tune's experiment
snapshot, the searcher's JSON state, the scheduler state in ``callback-states-*.pkl``),
written directly, so that reports of any size are made in seconds without Ray.

    python -m tests.report.synth DIR 1000    # a 1,000-trial experiment in DIR
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

SPACE = {
    "lr": {"float": [1e-4, 1e-1], "log": True},
    "optimizer": {"choice": ["sgd", "adam"]},
    "momentum": {"float": [0.0, 0.99], "when": {"optimizer": "sgd"}},
    "layers": {"int": [1, 6]},
}
MILESTONES = (1.0, 3.0, 9.0)
MAX_T = 27


def _config(rng: np.random.Generator) -> dict[str, Any]:
    config: dict[str, Any] = {
        "lr": float(10 ** rng.uniform(-4, -1)),
        "optimizer": str(rng.choice(["sgd", "adam"])),
        "layers": int(rng.integers(1, 7)),
    }
    if config["optimizer"] == "sgd":
        config["momentum"] = float(rng.uniform(0.0, 0.99))
    return config


def _loss(config: dict[str, Any], step: int, rng: np.random.Generator) -> float:
    """A learning curve whose end depends mostly on lr (optimum 1e-2)."""
    final = 0.1 + 0.5 * abs(math.log10(config["lr"]) + 2.0) + 0.02 * config["layers"]
    return final + 1.5 / math.sqrt(step) + 0.01 * float(rng.normal())


def write_experiment(
    directory: Path, n_trials: int, *, seed: int = 0, time_attr: str = "training_iteration"
) -> Path:
    """Writes an ``n_trials`` ASHA experiment (stopping at rungs 1, 3, 9 of 27; every 50th
    trial fails) to ``directory``; ``time_attr``: the result key the rungs count
    (``epoch`` reports twice the iteration)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    factor = 2.0 if time_attr == "epoch" else 1.0
    rungs: list[dict[str, Any]] = [
        {"milestone": m * factor, "recorded": [], "promoted": []} for m in MILESTONES
    ]
    start = 1_700_000_000.0
    log, snapshot = [], []
    for i in range(n_trials):
        trial_id = f"{i:05d}abc"
        config = _config(rng)
        trial_dir = directory / f"f_{trial_id}_{i}_2026-01-01_00-00-00"
        trial_dir.mkdir(exist_ok=True)
        rows, status, error = [], "TERMINATED", None
        for step in range(1, MAX_T + 1):
            if i % 50 == 49 and step == 2:
                status, error = "ERROR", "RuntimeError: diverged at step 2 (synthetic)"
                break
            loss = _loss(config, step, rng)
            rows.append(
                {
                    "loss": loss,
                    "training_iteration": step,
                    "epoch": 2 * step,
                    "time_total_s": 0.05 * step,
                    "timestamp": int(start + 2 * i + 0.05 * step),
                    "trial_id": trial_id,
                    "config": config,
                }
            )
            at = [r for r in rungs if math.isclose(r["milestone"], step * factor)]
            if at:
                rung = at[0]
                rung["recorded"].append([trial_id, loss])
                values = sorted(v for _, v in rung["recorded"])
                if loss > values[max(0, math.ceil(len(values) / 3) - 1)]:
                    break  # not in the top third: stopped
        with open(trial_dir / "result.json", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
        (trial_dir / "params.json").write_text(json.dumps(config))
        if error:
            (trial_dir / "error.txt").write_text(f"Traceback (most recent call last):\n{error}\n")
        last = {k: v for k, v in rows[-1].items() if k not in ("config", "trial_id")}
        log.append(
            {
                "trial_id": trial_id,
                "status": status,
                "config": config,
                "metrics": last if status == "TERMINATED" else {},
                "error": error,
                "time": start + 2 * i + 0.05 * len(rows),
            }
        )
        snapshot.append([json.dumps({"trial_id": trial_id, "status": status, "config": config})])
    with open(directory / "raysearch_trials.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in log)
    info = {"metric": "loss", "mode": "min", "searcher": "TPESearch", "scheduler": "ASHA"}
    (directory / "raysearch_experiment.json").write_text(json.dumps(info))
    state = {"trial_data": snapshot, "runner_data": {"_metric": "loss"}, "stats": {}}
    (directory / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    searcher = {
        "format": "raysearch.tune-searcher/1",
        "mode": "min",
        "core": {"class": "raysearch.searchers.tpe:TPESearch", "recipe": {"space": SPACE}},
    }
    (directory / "searcher-state-2026-01-01_00-00-00.pkl").write_text(json.dumps(searcher))
    scheduler = {
        "class": "raysearch.schedulers.asha:ASHAScheduler",
        "recipe": {"grace_period": 1, "max_t": MAX_T, "reduction_factor": 3},
        "data": {"rungs": [rungs]},
    }
    with open(directory / "callback-states-2026-01-01_00-00-00.pkl", "wb") as f:
        pickle.dump({0: None, 1: {"raysearch_scheduler": scheduler}}, f)
    return directory


if __name__ == "__main__":
    print(write_experiment(Path(sys.argv[1]), int(sys.argv[2])))
