"""Model families as incremental trainers: the pieces a tabular Tune trial is built from.

A :class:`Family` wraps one of AutoML's :data:`~raysearch.automl.learners.LEARNERS` (which
already declare the table view a model reads, a relative cost, a zero-shot portfolio whose
first entry is the cheap initial configuration, and a default search space as a function of
``(n_rows, task)``) and adds what a *trainable* needs on top: a **fidelity** (boosting
rounds, trees, epochs; ``None`` for models fitted in one go), how far it goes by default,
how often it reports, and a :class:`Runner` that trains on one fold *incrementally* and can
save and restore its state exactly (so a paused trial continues where it stopped).

Runners do not import Ray; they are unit-testable on their own.
"""

from __future__ import annotations

import difflib
import io
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from raysearch.automl.learners import LEARNERS, Learner
from raysearch.automl.learners import predict as sklearn_predict

__all__ = ["Family", "Runner", "FAMILIES", "get_family", "family_names"]


class Runner:
    """Trains one model on one fold, a few fidelity units at a time.

    Args:
        X, y: training rows (the family's table view) and encoded labels.
        Xv, yv: validation rows.
        config: the family's hyperparameters.
        task: ``binary``, ``multiclass`` or ``regression``.
        n_classes: number of classes (0 for regression).
        seed: seeds the model.
        threads: CPU threads the model may use.
        device: ``"cpu"`` or ``"cuda"``.
    """

    def __init__(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        Xv: pd.DataFrame,
        yv: np.ndarray,
        config: dict[str, Any],
        task: str,
        n_classes: int,
        seed: int,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        self.X, self.y, self.Xv, self.yv = X, y, Xv, yv
        self.config = dict(config)
        self.task = task
        self.n_classes = n_classes
        self.seed = int(seed)
        self.threads = max(1, int(threads))
        self.device = device
        self.units = 0

    def advance(self, n: int) -> None:
        """Trains ``n`` more fidelity units."""
        raise NotImplementedError

    def predict(self) -> np.ndarray:
        """Predictions on the validation rows: probabilities ``(n, k)`` or values ``(n,)``."""
        raise NotImplementedError

    def get_state(self) -> Any:
        """A picklable snapshot of the model (with ``units``)."""
        raise NotImplementedError

    def set_state(self, state: Any) -> None:
        """Continues from a snapshot taken by :meth:`get_state`."""
        raise NotImplementedError

    def close(self) -> None:
        """Releases the model's memory (GPU memory included)."""


#: a booster's objectives for regression, binary and multiclass tasks
_LGBM_OBJECTIVES = ("regression", "binary", "multiclass")
_XGB_OBJECTIVES = ("reg:squarederror", "binary:logistic", "multi:softprob")


def _set_objective(
    params: dict[str, Any], task: str, n_classes: int, objectives: tuple[str, str, str]
) -> None:
    """Puts the objective for ``task`` (and the number of classes if multiclass) in ``params``."""
    regression, binary, multiclass = objectives
    if task == "regression":
        params["objective"] = regression
    elif task == "binary":
        params["objective"] = binary
    else:
        params.update(objective=multiclass, num_class=n_classes)


def _binary_columns(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float).reshape(-1)
    return np.column_stack([1.0 - p, p])


# ----------------------------------------------------------------------------- LightGBM
class LightGBMRunner(Runner):
    """Native LightGBM booster, ``booster.update()`` once per round."""

    _ALIASES = {"n_estimators": None}
    saved: Any = None

    def _params(self) -> dict[str, Any]:
        params = {k: v for k, v in self.config.items() if k not in self._ALIASES}
        _set_objective(params, self.task, self.n_classes, _LGBM_OBJECTIVES)
        params.update(verbose=-1, num_threads=self.threads, seed=self.seed)
        return params

    def _dataset(self) -> Any:
        import lightgbm as lgb

        return lgb.Dataset(self.X, self.y, params={"verbose": -1}, free_raw_data=False)

    def advance(self, n: int) -> None:
        import lightgbm as lgb

        if n <= 0:
            return
        saved = getattr(self, "saved", None)
        if saved is not None:
            # lgb.train with init_model merges the saved trees into a booster that can go
            # on training with update() (keep_training_booster)
            self.booster = lgb.train(
                self._params(),
                self._dataset(),
                num_boost_round=n,
                init_model=saved,
                keep_training_booster=True,
            )
            self.saved = None
        else:
            booster = getattr(self, "booster", None)
            if booster is None:
                booster = self.booster = lgb.Booster(
                    params=self._params(), train_set=self._dataset()
                )
            for _ in range(n):
                booster.update()
        self.units += n

    def predict(self) -> np.ndarray:
        booster = self.saved if getattr(self, "saved", None) is not None else self.booster
        raw = np.asarray(booster.predict(self.Xv), dtype=float)
        return _binary_columns(raw) if self.task == "binary" else raw

    def get_state(self) -> Any:
        booster = self.saved if getattr(self, "saved", None) is not None else None
        booster = booster or getattr(self, "booster", None)
        return {"units": self.units, "model": booster.model_to_string() if booster else None}

    def set_state(self, state: Any) -> None:
        import lightgbm as lgb

        self.units = int(state["units"])
        self.booster = None
        self.saved = lgb.Booster(model_str=state["model"]) if state["model"] else None


# ----------------------------------------------------------------------------- XGBoost
class XGBoostRunner(Runner):
    """Native XGBoost booster, ``update(dtrain, i)`` once per round; ``device="cuda"`` on a GPU."""

    def _params(self) -> dict[str, Any]:
        params = dict(self.config)
        _set_objective(params, self.task, self.n_classes, _XGB_OBJECTIVES)
        params.update(
            tree_method="hist",
            device=self.device,
            nthread=self.threads,
            seed=self.seed,
            max_cat_to_onehot=8,
            verbosity=0,
        )
        return params

    def _matrices(self) -> tuple[Any, Any]:
        import xgboost as xgb

        if getattr(self, "dtrain", None) is None:
            self.dtrain = xgb.DMatrix(self.X, self.y, enable_categorical=True)
            self.dvalid = xgb.DMatrix(self.Xv, enable_categorical=True)
        return self.dtrain, self.dvalid

    def advance(self, n: int) -> None:
        import xgboost as xgb

        dtrain, _ = self._matrices()
        if getattr(self, "booster", None) is None:
            self.booster = xgb.Booster(self._params(), [dtrain])
        for i in range(self.units, self.units + n):
            self.booster.update(dtrain, i)
        self.units += n

    def predict(self) -> np.ndarray:
        _, dvalid = self._matrices()
        raw = np.asarray(
            self.booster.predict(dvalid, iteration_range=(0, self.units)), dtype=float
        )
        return _binary_columns(raw) if self.task == "binary" else raw

    def get_state(self) -> Any:
        model = bytes(self.booster.save_raw("ubj")) if getattr(self, "booster", None) else None
        return {"units": self.units, "model": model}

    def set_state(self, state: Any) -> None:
        import xgboost as xgb

        self.units = int(state["units"])
        self.booster = None
        if state["model"] is not None:
            dtrain, _ = self._matrices()
            self.booster = xgb.Booster(self._params(), [dtrain])
            self.booster.load_model(bytearray(state["model"]))
            self.booster.set_param(self._params())

    def close(self) -> None:
        self.booster = None
        self.dtrain = self.dvalid = None


# ----------------------------------------------------------------------------- forests
class ForestRunner(Runner):
    """Random forest / extra trees grown with ``warm_start``; trees are the fidelity."""

    kind = "random_forest"

    def _model(self) -> Any:
        from sklearn import ensemble

        name = ("ExtraTrees" if self.kind == "extra_trees" else "RandomForest") + (
            "Regressor" if self.task == "regression" else "Classifier"
        )
        return getattr(ensemble, name)(
            n_estimators=0,
            warm_start=True,
            random_state=self.seed,
            n_jobs=self.threads,
            **self.config,
        )

    def advance(self, n: int) -> None:
        if getattr(self, "model", None) is None:
            self.model = self._model()
        self.model.n_estimators += n
        self.model.fit(self.X, self.y)
        self.units += n

    def predict(self) -> np.ndarray:
        return sklearn_predict(self.model, self.Xv, self.task, self.n_classes)

    def get_state(self) -> Any:
        return {"units": self.units, "model": pickle.dumps(getattr(self, "model", None))}

    def set_state(self, state: Any) -> None:
        self.units = int(state["units"])
        self.model = pickle.loads(state["model"])
        if self.model is not None:
            self.model.set_params(n_jobs=self.threads)


class ExtraTreesRunner(ForestRunner):
    kind = "extra_trees"


# ----------------------------------------------------------------------------- one-shot
class OneShotRunner(Runner):
    """A model fitted in one go by its AutoML learner (linear with scaling, k-NN)."""

    learner = "linear"

    def advance(self, n: int) -> None:
        spec: Learner = LEARNERS[self.learner]
        self.model = spec.fit(
            self.X,
            self.y,
            self.Xv,
            self.yv,
            self.config,
            self.task,
            self.n_classes,
            float("inf"),
            self.seed,
            threads=self.threads,
        )
        self.units = 1

    def predict(self) -> np.ndarray:
        spec: Learner = LEARNERS[self.learner]
        return spec.predict(self.model, self.Xv, self.task, self.n_classes)

    def get_state(self) -> Any:
        return {"units": self.units, "model": pickle.dumps(getattr(self, "model", None))}

    def set_state(self, state: Any) -> None:
        self.units = int(state["units"])
        self.model = pickle.loads(state["model"])


class KNNRunner(OneShotRunner):
    learner = "knn"


# ----------------------------------------------------------------------------- torch MLP
class MLPRunner(Runner):
    """AutoML's tabular MLP trained epoch by epoch; state = weights, optimizer and RNG."""

    def _setup(self) -> None:
        import torch
        from torch import nn

        from raysearch.automl.mlp import build_net

        torch.set_num_threads(self.threads)
        self.generator = torch.Generator().manual_seed(self.seed)
        xs = np.asarray(self.X, dtype=np.float32)
        self.mean, self.scale = xs.mean(axis=0), xs.std(axis=0) + 1e-6
        dev = torch.device(self.device)
        self.xt = torch.from_numpy((xs - self.mean) / self.scale).to(dev)
        self.xv = torch.from_numpy(
            (np.asarray(self.Xv, dtype=np.float32) - self.mean) / self.scale
        ).to(dev)
        if self.task == "regression":
            self.y_mean, self.y_scale = float(np.mean(self.y)), float(np.std(self.y) + 1e-9)
            target = (np.asarray(self.y, dtype=float) - self.y_mean) / self.y_scale
            self.yt = torch.tensor(target, dtype=torch.float32, device=dev)
            self.out_dim, self.criterion = 1, nn.MSELoss()
        else:
            self.y_mean, self.y_scale = 0.0, 1.0
            self.yt = torch.tensor(np.asarray(self.y), dtype=torch.long, device=dev)
            self.out_dim, self.criterion = self.n_classes, nn.CrossEntropyLoss()
        self.net = build_net(self.xt.shape[1], self.out_dim, self.config, self.generator).to(dev)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(),
            lr=float(self.config["lr"]),
            weight_decay=float(self.config["weight_decay"]),
        )
        self.batch = 256 if len(self.xt) > 2048 else 64

    def _run(self, inputs: Any) -> Any:
        out = self.net(inputs)
        return out.squeeze(-1) if self.out_dim == 1 else out

    def advance(self, n: int) -> None:
        import torch

        if getattr(self, "net", None) is None:
            self._setup()
        for _ in range(n):
            self.net.train()
            order = torch.randperm(len(self.xt), generator=self.generator)
            for i in range(0, len(self.xt), self.batch):
                idx = order[i : i + self.batch].to(self.xt.device)
                self.optimizer.zero_grad()
                loss = self.criterion(self._run(self.xt[idx]), self.yt[idx])
                loss.backward()
                self.optimizer.step()
        self.units += n

    def predict(self) -> np.ndarray:
        import torch

        self.net.eval()
        with torch.no_grad():
            out = self._run(self.xv)
        if self.task == "regression":
            return np.asarray(out.float().cpu().numpy(), dtype=float) * self.y_scale + self.y_mean
        return np.asarray(torch.softmax(out, dim=1).float().cpu().numpy(), dtype=float)

    def get_state(self) -> Any:
        import torch

        if getattr(self, "net", None) is None:
            return {"units": self.units, "torch": None}
        buffer = io.BytesIO()
        torch.save(
            {
                "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(),
            },
            buffer,
        )
        return {"units": self.units, "torch": buffer.getvalue()}

    def set_state(self, state: Any) -> None:
        import torch

        self.units = int(state["units"])
        if state["torch"] is None:
            return
        self._setup()
        saved = torch.load(
            io.BytesIO(state["torch"]), map_location=self.device, weights_only=False
        )
        self.net.load_state_dict(saved["net"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.generator.set_state(saved["generator"])

    def close(self) -> None:
        import torch

        for name in ("net", "optimizer", "xt", "xv", "yt"):
            setattr(self, name, None)
        if self.device.startswith("cuda") and torch.cuda.is_available():
            torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Family:
    """A model family as a trainable: AutoML's learner plus fidelity and a runner.

    Attributes:
        name: the family name (as in AutoML).
        fidelity: what one unit of training is (``rounds``, ``trees``, ``epochs``) or None
            for a model fitted in one go.
        max_units: default training length (boosting: an upper bound; early stopping ends
            most trials sooner).
        report_every: default units between reports (and checkpoints).
        early_stopping: default patience in units (None: no early stopping).
        runner: the :class:`Runner` class.
        gpu: whether the family trains on a GPU when the trial has one.
    """

    name: str
    fidelity: str | None
    max_units: int
    report_every: int
    early_stopping: int | None
    runner: type[Runner]
    gpu: bool = False

    @property
    def learner(self) -> Learner:
        return LEARNERS[self.name]

    @property
    def view(self) -> str:
        """The table view it reads: ``native`` (categoricals kept) or ``numeric``."""
        return self.learner.view

    @property
    def relative_cost(self) -> float:
        """Rough time per configuration relative to LightGBM's default."""
        return self.learner.relative_cost

    def space(self, n_rows: int, task: str) -> dict[str, Any]:
        """The default search space (raysearch spec dict) for a table of ``n_rows``."""
        return self.learner.space(n_rows, task)

    def param_space(self, n_rows: int, task: str) -> Any:
        """:meth:`space` as a :class:`raysearch.space.Space`."""
        from raysearch.space import Space
        from raysearch.space.spec import obj_from_spec

        return Space(obj_from_spec(self.space(n_rows, task)))

    def initial_config(self, n_rows: int, task: str) -> dict[str, Any]:
        """The cheap default configuration (AutoML's first portfolio entry)."""
        return dict(self.learner.portfolio(n_rows, task)[0])

    def portfolio(self, n_rows: int, task: str) -> list[dict[str, Any]]:
        """Strong zero-shot configurations, the cheap default first."""
        return [dict(c) for c in self.learner.portfolio(n_rows, task)]


FAMILIES: dict[str, Family] = {
    "lightgbm": Family("lightgbm", "rounds", 1000, 10, 50, LightGBMRunner),
    "xgboost": Family("xgboost", "rounds", 1000, 10, 50, XGBoostRunner, gpu=True),
    "random_forest": Family("random_forest", "trees", 300, 25, None, ForestRunner),
    "extra_trees": Family("extra_trees", "trees", 300, 25, None, ExtraTreesRunner),
    "linear": Family("linear", None, 1, 1, None, OneShotRunner),
    "knn": Family("knn", None, 1, 1, None, KNNRunner),
    "mlp": Family("mlp", "epochs", 100, 1, 8, MLPRunner, gpu=True),
}


def family_names() -> list[str]:
    return list(FAMILIES)


def get_family(name: str) -> Family:
    """The family ``name``; an unknown name is an error naming the close match."""
    family = FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        hint = difflib.get_close_matches(str(name), list(FAMILIES), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"unknown model family {name!r}{extra}; known: {', '.join(FAMILIES)}")
    return family
