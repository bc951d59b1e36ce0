"""The tabular MLP learner of AutoML (torch is imported here, lazily, only when used).

Deterministic without global seeding: weight initialisation, batch order and dropout masks
all draw from one ``torch.Generator`` seeded by the trial.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

__all__ = ["fit_mlp", "predict_mlp", "build_net", "TorchModel"]


class GeneratorDropout(nn.Module):
    """Dropout drawing its masks from a ``torch.Generator`` (torch's own uses the global RNG)."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.bernoulli(torch.full_like(x, 1.0 - self.p), generator=self.generator)
        return x * keep / (1.0 - self.p)

    def __getstate__(self) -> dict[str, Any]:  # generators do not pickle; inference needs none
        state = self.__dict__.copy()
        state["generator"] = None
        return state


@dataclass
class TorchModel:
    net: nn.Module
    mean: np.ndarray
    scale: np.ndarray
    y_mean: float
    y_scale: float
    task: str
    epochs: int = 0  # the epochs of the kept weights (a refit on all rows trains this long)


def build_net(
    in_dim: int, out_dim: int, config: dict[str, Any], generator: torch.Generator
) -> nn.Sequential:
    """The MLP of ``config`` (width, depth, dropout), initialised from ``generator``."""
    layers: list[nn.Module] = []
    width = int(config["width"])
    for _ in range(int(config["depth"])):
        layers += [
            nn.Linear(in_dim, width),
            nn.ReLU(),
            GeneratorDropout(float(config["dropout"]), generator),
        ]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    net = nn.Sequential(*layers)
    for layer in net:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return net


def fit_mlp(X, y, Xv, yv, config, task, n_classes, deadline, seed, threads=1):  # type: ignore[no-untyped-def]
    torch.set_num_threads(max(1, threads))
    generator = torch.Generator().manual_seed(int(seed))
    xs = np.asarray(X, dtype=np.float32)
    mean, scale = xs.mean(axis=0), xs.std(axis=0) + 1e-6
    xt = torch.from_numpy((xs - mean) / scale)
    # Xv None: a refit on all rows for config["epochs"] epochs, without validation rows
    fixed = int(config.get("epochs", 0)) if Xv is None else 0
    if Xv is None:
        Xv, yv = X[:1], y[:1]
    xv = torch.from_numpy((np.asarray(Xv, dtype=np.float32) - mean) / scale)
    criterion: nn.Module
    if task == "regression":
        y_mean, y_scale = float(np.mean(y)), float(np.std(y) + 1e-9)
        yt = torch.tensor((np.asarray(y) - y_mean) / y_scale, dtype=torch.float32)
        yvt = torch.tensor((np.asarray(yv) - y_mean) / y_scale, dtype=torch.float32)
        out_dim, criterion = 1, nn.MSELoss()
    else:
        y_mean, y_scale = 0.0, 1.0
        yt = torch.tensor(np.asarray(y), dtype=torch.long)
        yvt = torch.tensor(np.asarray(yv), dtype=torch.long)
        out_dim, criterion = n_classes, nn.CrossEntropyLoss()
    net = build_net(xt.shape[1], out_dim, config, generator)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
    )
    best, best_state, patience, best_epoch = math.inf, None, 0, 0
    batch = 256 if len(xt) > 2048 else 64

    def run(inputs: torch.Tensor) -> torch.Tensor:
        out = net(inputs)
        return out.squeeze(-1) if out_dim == 1 else out

    for epoch in range(fixed or 200):
        net.train()
        order = torch.randperm(len(xt), generator=generator)
        for i in range(0, len(xt), batch):
            idx = order[i : i + batch]
            optimizer.zero_grad()
            loss = criterion(run(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
        net.eval()
        if fixed:
            best_epoch = epoch + 1
            continue
        with torch.no_grad():
            valid = float(criterion(run(xv), yvt))
        if valid < best - 1e-5:
            best, patience, best_epoch = valid, 0, epoch + 1
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            patience += 1
        if patience >= 8 or time.time() > deadline:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    return TorchModel(net.eval(), mean, scale, y_mean, y_scale, task, best_epoch)


def predict_mlp(model: TorchModel, X: pd.DataFrame, task: str, n_classes: int) -> np.ndarray:
    xs = torch.from_numpy((np.asarray(X, dtype=np.float32) - model.mean) / model.scale)
    with torch.no_grad():
        out = model.net(xs)
    if task == "regression":
        return out.squeeze(-1).numpy().astype(float) * model.y_scale + model.y_mean
    proba: np.ndarray = torch.softmax(out, dim=1).numpy().astype(float)
    return proba
