"""The toy classification data the supernet tests train on (16 features, 4 classes)."""

from __future__ import annotations

import numpy as np


def toy_data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of normal features; the class is which halves of the features sum > 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    y = (x[:, :8].sum(1) > 0).astype(np.int64) + 2 * (x[:, 8:].sum(1) > 0)
    return x, y
