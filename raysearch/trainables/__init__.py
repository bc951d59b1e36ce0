"""Ready-made, checkpointing Ray Tune trainables: tabular models, torch loops, DDP trials.

* :func:`tabular_trainable` (:mod:`.tabular`, :mod:`.families`): LightGBM, XGBoost,
  scikit-learn forests, linear and k-NN models and a torch MLP on a table, with validation
  splits, metrics with their direction, per-N-rounds reports and resumable checkpoints.
* :func:`torch_trainable` (:mod:`.torch`): a generic epoch loop around a model factory.
* :func:`ddp_trainable` (:mod:`.ddp`): a trial that is a Ray Train ``TorchTrainer``.
* :func:`gpu_resources` (:mod:`.resources`): fractional/whole-GPU trials and ``gpu="auto"``.
* :func:`darts_trainable` (:mod:`.darts`): a DARTS search per trial, its genotype every epoch.

Importing this package imports neither Ray nor torch; they are imported when used.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "tabular_trainable",
    "make_splits",
    "FAMILIES",
    "get_family",
    "torch_trainable",
    "TorchLoop",
    "ddp_trainable",
    "gpu_resources",
    "darts_trainable",
]

_WHERE = {
    "tabular_trainable": "raysearch.trainables.tabular",
    "make_splits": "raysearch.trainables.tabular",
    "FAMILIES": "raysearch.trainables.families",
    "get_family": "raysearch.trainables.families",
    "torch_trainable": "raysearch.trainables.torch",
    "TorchLoop": "raysearch.trainables.torch",
    "ddp_trainable": "raysearch.trainables.ddp",
    "gpu_resources": "raysearch.trainables.resources",
    "darts_trainable": "raysearch.trainables.darts",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'raysearch.trainables' has no attribute {name!r}")
