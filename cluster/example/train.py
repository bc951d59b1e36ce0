"""The example project's trainable: a small iterative job that checkpoints every step.

It reports which Ray node ran each step and from which iteration it was restored, so a
lost node (and the retry from the last checkpoint) is visible in the results.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import ray
from ray import tune


def objective(config: dict) -> None:
    start, loss = 0, 10.0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory, open(os.path.join(directory, "state.json")) as f:
            state = json.load(f)
        start, loss = state["iteration"], state["loss"]
    restored_from = start
    node = ray.get_runtime_context().get_node_id()
    for iteration in range(start + 1, config["iterations"] + 1):
        time.sleep(config["step_s"])
        loss = loss * (1.0 - config["lr"]) + config["noise"]
        with tempfile.TemporaryDirectory() as directory:
            with open(os.path.join(directory, "state.json"), "w") as f:
                json.dump({"iteration": iteration, "loss": loss}, f)
            tune.report(
                {"loss": loss, "node": node, "restored_from": restored_from},
                checkpoint=tune.Checkpoint.from_directory(directory),
            )
