"""DARTS as one Ray Tune trial: the derived genotype reported at every epoch.

:func:`darts_trainable` wraps :class:`raysearch.nas.darts.DartsSearch`. The trial config
sets the search's arguments (``order``, ``arch_lr``, ``lr``, ``guard``, ``seed``, ...;
anything :class:`~raysearch.nas.darts.DartsSearch` takes except ``task``), so a Tune
experiment can run several seeds or orders side by side, or tune DARTS' own
hyperparameters. Every epoch reports ``epoch``, ``train_loss``, ``val_acc`` (the
supernet's), ``genotype`` (a JSON string of the derived architecture config, which
:func:`raysearch.nas.build` accepts after ``json.loads``), ``genotype_edges`` (the same as
one ``|``-joined string), ``param_free_share``, ``guard_triggered`` and ``stopped``, with
a checkpoint: a restored trial continues the search exactly where it stopped. The trial
ends when the search has run its epochs or the collapse guard stopped it.

Example::

    from ray import tune
    from raysearch.nas.datasets import mnist1d_task
    from raysearch.trainables.darts import darts_trainable

    trainable = darts_trainable(mnist1d_task(), epochs=10)
    tuner = tune.Tuner(trainable, param_space={"order": tune.grid_search([1, 2]),
                                               "seed": tune.grid_search([0, 1, 2])})
    grid = tuner.fit()
    best = json.loads(grid.get_best_result("val_acc", "max").metrics["genotype"])
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from raysearch.core.registry import init_parameters, reject_unknown
from raysearch.nas.darts import DartsSearch
from raysearch.nas.trainable import NASTask

__all__ = ["darts_trainable", "darts_metrics"]

_STATE_FILE = "darts.pt"


def darts_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """An epoch's metrics of :meth:`DartsSearch.train_epoch` as Tune results (flat)."""
    out = {k: v for k, v in metrics.items() if k not in ("genotype", "argmax_edges", "alphas")}
    out["genotype"] = json.dumps(metrics["genotype"], sort_keys=True)
    out["genotype_edges"] = "|".join(metrics["genotype"]["edges"])
    out["argmax_edges"] = "|".join(metrics["argmax_edges"])
    return out


def _darts_trial(config: dict[str, Any], task: NASTask, defaults: dict[str, Any]) -> None:
    import torch
    from ray import tune

    from raysearch.trainables.tabular import trial_device

    device = "cuda" if trial_device() == "cuda" and torch.cuda.is_available() else "cpu"
    settings = {**defaults, **config}
    search = DartsSearch(task, device=device, **settings)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(
                os.path.join(folder, _STATE_FILE), map_location=search.device, weights_only=False
            )
        search.load_state_dict(state)
    while not search.done:
        metrics = darts_metrics(search.train_epoch())
        with tempfile.TemporaryDirectory(prefix="raysearch-darts-") as folder:
            torch.save(search.state_dict(), os.path.join(folder, _STATE_FILE))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def darts_trainable(task: NASTask, **defaults: Any) -> Any:
    """A Tune function trainable running one DARTS search per trial.

    Args:
        task: the :class:`~raysearch.nas.trainable.NASTask` (``(X, y)`` arrays; sent to the
            object store once).
        defaults: :class:`~raysearch.nas.darts.DartsSearch` arguments under the config's
            (``epochs``, ``order``, ``channels``, ``guard``, ...).

    Attributes of the result: ``metric="val_acc"``, ``mode="max"``, ``time_attr="epoch"``,
    ``max_t`` (``epochs``).
    """
    from ray import tune

    if "task" in defaults or "device" in defaults:
        raise ValueError("darts_trainable takes the task positionally and picks the device")
    allowed = [
        p.name for p in init_parameters(DartsSearch) or [] if p.name not in ("task", "device")
    ]
    reject_unknown("darts_trainable", defaults, allowed)
    trainable = tune.with_parameters(_darts_trial, task=task, defaults=dict(defaults))
    trainable.metric = "val_acc"
    trainable.mode = "max"
    trainable.time_attr = "epoch"
    trainable.max_t = int(defaults.get("epochs", 10))
    trainable.__name__ = "darts_trainable"
    return trainable
