"""Stand-alone training results for the NAS benches: a cache keyed by architecture and
training seed, and the fresh-seed confirmation of a search's winner."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import numpy as np

__all__ = ["StandaloneCache", "confirm"]


class StandaloneCache:
    """Stand-alone accuracies keyed by architecture JSON, kept in ``folder/standalone.json``
    (so reruns of the benchmark train each architecture once)."""

    def __init__(self, folder: str, task: Any, epochs: int) -> None:
        self.path = os.path.join(folder, f"standalone-e{epochs}-n{len(task.train_data[0])}.json")
        self.task, self.epochs = task, int(epochs)
        self.data: dict[str, dict[str, float]] = {}
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.data = json.load(f)
        self.trained = 0
        self.seconds = 0.0

    def __call__(self, arch: dict[str, Any], seed: int = 0) -> float:
        """Stand-alone accuracy of ``arch`` trained with training seed ``seed`` (seed 0 is
        the training default: its key is the bare architecture, as in older caches)."""
        from raysearch.nas.trainable import train_arch

        config = dict(arch) if seed == 0 else {**arch, "seed": int(seed)}
        key = json.dumps(config, sort_keys=True)
        if key not in self.data:
            start = time.perf_counter()
            _, metrics = train_arch(config, self.task, epochs=self.epochs, device="cpu")
            self.seconds += time.perf_counter() - start
            self.trained += 1
            self.data[key] = {"val_acc": float(metrics["val_acc"]), "params": metrics["params"]}
            tmp = self.path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)
        return float(self.data[key]["val_acc"])

    def flops(self, arch: dict[str, Any]) -> float:
        """FLOPs of one stand-alone training of ``arch``: forward multiply-accumulates per
        sample times samples, a training sample counting 3x (forward and backward)."""
        from raysearch.nas import cost
        from raysearch.nas.supernet import path_flops

        shape, classes = self.task.input_shape, self.task.num_classes
        if arch.get("kind") == "macro":
            per = float(path_flops(arch, shape, classes))
        else:
            per = float(cost(arch, shape, classes, latency=False)["flops"])
        n_train, n_val = len(self.task.train_data[0]), len(self.task.val_data[0])
        return self.epochs * (3.0 * n_train + n_val) * per

    def sample_passes(self) -> float:
        """Forward+backward samples of one stand-alone training (validation forward 1/3)."""
        n_train, n_val = len(self.task.train_data[0]), len(self.task.val_data[0])
        return float(self.epochs * (n_train + n_val / 3.0))


def confirm(
    cache: StandaloneCache, archs: dict[str, dict[str, Any]], seeds: int
) -> dict[str, Any]:
    """Each named architecture trained again with the fresh training seeds 1..``seeds``.

    A search's final accuracy is its best single training, biased upward by the selection
    (evolution keeps the best of 100 noisy trainings, a retrain phase the best of k); on
    MNIST-1D one architecture's accuracy varies by ~0.01-0.02 between training seeds. The
    fresh seeds (0 is the one the searches saw) estimate what each winner scores unselected:
    per name, the accuracies, their mean and sample standard deviation (NaN for one seed).
    """
    out: dict[str, Any] = {}
    for name, arch in archs.items():
        accs = [cache(arch, seed) for seed in range(1, int(seeds) + 1)]
        sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan")
        out[name] = {"accs": accs, "mean": float(np.mean(accs)) if accs else math.nan, "sd": sd}
    return out
